"""Enrollments into trainings, validated against the trainings this service learned from the
training service's events (see usecases.trainings).

Lock order: the facilitator's row, then the training's row, then the enrollment's. Holding the
training's row while the active enrollments are counted makes the capacity check safe against
concurrent enrollments.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from services.registration.domain import errors
from services.registration.domain.enrollments import (
    Enrollment,
    KnownTraining,
    check_enrollable,
    check_not_enrolled,
    check_place_left,
    check_withdrawable,
    open_training,
)
from services.registration.domain.reasons import WithdrawalReason
from services.registration.usecases.facilitators import locked_for_writing, publish
from services.registration.usecases.ports import Authorize, Repositories, UnitOfWork
from shared.kernel.contracts import EnrollmentWithdrawn, FacilitatorEnrolled
from shared.kernel.fields import build


@dataclass(frozen=True)
class Enroll:
    training_id: uuid.UUID
    facilitator_id: uuid.UUID


@dataclass(frozen=True)
class Withdraw:
    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    reason: WithdrawalReason = WithdrawalReason.OTHER


@dataclass(frozen=True)
class TrainingSummary:
    training: KnownTraining
    enrolled: int  # active enrollments


async def enroll_facilitator(
    uow: UnitOfWork, cmd: Enroll, *, served: Collection[str], authorize: Authorize
) -> Enrollment:
    facilitator = await locked_for_writing(uow, cmd.facilitator_id, served, authorize)
    region = facilitator.region
    training = open_training(await uow.trainings.lock(cmd.training_id), cmd.training_id)
    check_enrollable(facilitator, training)
    existing = await uow.enrollments.lock(cmd.training_id, cmd.facilitator_id)
    check_not_enrolled(existing)
    check_place_left(training, await uow.enrollments.count_active(cmd.training_id))
    enrollment = Enrollment(uuid.uuid4(), cmd.training_id, cmd.facilitator_id, "enrolled")
    if existing is None:
        await uow.enrollments.add(enrollment, region)
    else:  # enrolling again after a withdrawal
        await uow.enrollments.reenroll(enrollment)
    enrolled = build(
        FacilitatorEnrolled, facilitator, enrollment_id=enrollment.enrollment_id, training_id=cmd.training_id
    )
    publish(uow, region, enrolled)
    return enrollment


async def withdraw_enrollment(
    uow: UnitOfWork, cmd: Withdraw, *, served: Collection[str], authorize: Authorize
) -> Enrollment:
    facilitator = await locked_for_writing(uow, cmd.facilitator_id, served, authorize)
    region = facilitator.region
    training = await uow.trainings.lock(cmd.training_id)
    enrollment = check_withdrawable(
        await uow.enrollments.lock(cmd.training_id, cmd.facilitator_id), training, cmd.facilitator_id, cmd.training_id
    )
    await uow.enrollments.withdraw(cmd.training_id, cmd.facilitator_id, cmd.reason.value)
    publish(uow, region, build(EnrollmentWithdrawn, enrollment, reason=cmd.reason.value))
    return Enrollment(enrollment.enrollment_id, cmd.training_id, cmd.facilitator_id, "withdrawn")


async def get_training(repos: Repositories, training_id: uuid.UUID, authorize_read: Authorize) -> TrainingSummary:
    training = await repos.trainings.get(training_id)
    if training is None:
        raise errors.training_unknown(training_id)
    authorize_read(training.region)
    return TrainingSummary(training, await repos.enrollments.count_active(training_id))
