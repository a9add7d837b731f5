"""Trainings: schedule, update, cancel, close. Every command on an existing training locks it
first (``common.locked``), which serialises commands per training: decisions exactly once, events
in order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.training.domain import CANCELLED, CLOSED, Schedule, Training
from services.training.domain.errors import (
    CapacityBelowEnrolled,
    ClassInUse,
    TrainingExists,
    TrainingHasDecisions,
)
from services.training.usecases.common import check_region_served, emit, locked, reload
from services.training.usecases.completion import decide_at_close
from services.training.usecases.ports import Authorize, Deployment, NewTraining, TrainingCounts, UnitOfWork
from services.training.usecases.submissions import submit
from shared.kernel.contracts import (
    SubmissionKind,
    TrainingCancelled,
    TrainingClosed,
    TrainingScheduled,
    TrainingType,
    TrainingUpdated,
)


@dataclass(frozen=True)
class ScheduleTraining:
    region: str
    training_type: TrainingType
    schedule: Schedule
    training_id: uuid.UUID | None = None  # chosen by the caller for idempotent retries


@dataclass(frozen=True)
class UpdateTraining:
    training_id: uuid.UUID
    schedule: Schedule  # the full new schedule


@dataclass(frozen=True)
class CancelTraining:
    training_id: uuid.UUID
    reason: str = ""


@dataclass(frozen=True)
class CloseTraining:
    training_id: uuid.UUID


@dataclass(frozen=True)
class TrainingSummary:
    """A training with its counts, as the command left it."""

    training: Training
    counts: TrainingCounts


async def _summary(uow: UnitOfWork, training_id: uuid.UUID) -> TrainingSummary:
    return TrainingSummary(await reload(uow, training_id), await uow.trainings.counts(training_id))


async def schedule_training(
    cmd: ScheduleTraining, uow: UnitOfWork, deployment: Deployment, authorize: Authorize
) -> TrainingSummary:
    authorize(cmd.region)
    check_region_served(deployment, cmd.region)
    s = cmd.schedule
    s.check()
    training_id = cmd.training_id or uuid.uuid4()
    if not await uow.trainings.add(NewTraining(training_id, cmd.region, cmd.training_type, s)):
        raise TrainingExists(training_id)
    summary = await _summary(uow, training_id)
    emit(
        uow,
        deployment,
        summary.training,
        TrainingScheduled(training_id=training_id, training_type=cmd.training_type, **s.fields()),
    )
    return summary


async def update_training(
    cmd: UpdateTraining, uow: UnitOfWork, deployment: Deployment, authorize: Authorize
) -> TrainingSummary:
    training_id, s = cmd.training_id, cmd.schedule
    training = await locked(uow, deployment, training_id, authorize)
    training.ensure_open()
    s.check()
    enrolled = await uow.roster.count_enrolled(training_id)
    if s.capacity < enrolled:
        raise CapacityBelowEnrolled(enrolled, s.capacity)
    dropped = sorted(await uow.classes.in_use(training_id) - {c.class_id for c in s.classes})
    if dropped:
        raise ClassInUse(dropped)
    await uow.trainings.update_schedule(training_id, s)
    updated = await reload(uow, training_id)
    emit(
        uow,
        deployment,
        updated,
        TrainingUpdated(training_id=training_id, **s.fields()),
    )
    return TrainingSummary(updated, await uow.trainings.counts(training_id))


async def cancel_training(
    cmd: CancelTraining, uow: UnitOfWork, deployment: Deployment, authorize: Authorize
) -> TrainingSummary:
    training = await locked(uow, deployment, cmd.training_id, authorize)
    training.ensure_open()
    if await uow.decisions.count(cmd.training_id):
        raise TrainingHasDecisions()
    await uow.trainings.set_status(cmd.training_id, CANCELLED, cmd.reason)
    emit(uow, deployment, training, TrainingCancelled(training_id=cmd.training_id, reason=cmd.reason))
    return await _summary(uow, cmd.training_id)


async def close_training(
    cmd: CloseTraining, uow: UnitOfWork, deployment: Deployment, authorize: Authorize
) -> TrainingSummary:
    """Decide every participant over all facts known now, then close (see README: corrections
    after the close open reviews)."""
    training = await locked(uow, deployment, cmd.training_id, authorize)
    training.ensure_open()
    training.ensure_over(deployment.clock())
    await decide_at_close(uow, deployment, training)
    completed, not_completed = await uow.decisions.outcome_counts(cmd.training_id)
    await uow.trainings.set_status(cmd.training_id, CLOSED, "")
    emit(
        uow,
        deployment,
        training,
        TrainingClosed(training_id=cmd.training_id, completed=completed, not_completed=not_completed),
    )
    await submit(uow, deployment, training, SubmissionKind.CLOSE)  # the close with its decisions, to verify
    return await _summary(uow, cmd.training_id)
