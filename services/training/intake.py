"""Kafka intake of the training service (``<region>.training.intake.v1``): the same use cases as
the HTTP API, for regional systems and field teams that publish instead of calling. See
shared.intake: every message ends accepted, rejected with a reason on ``<region>.rejections.v1``,
or dead-lettered.

Message types: ScheduleTraining, RecordAttendance, ScoreAssessments, AssignOJT, CompleteOJT,
SyncFacts, CloseTraining. Facts without their own ``fact_id`` get one derived from the message,
so a message sent again under a new ``message_id`` is still recognised as a duplicate only if it
carries fact ids; SyncFacts facts always do.

SyncFacts records the valid facts of a batch and answers for the others: when some facts were
refused, an ``IntakeRejected`` with reason ``facts_refused`` lists them (``errors[].field`` is
``facts[<fact_id>]``), while the rest of the batch stays recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from services.training import usecases
from services.training.schemas import (
    AssignOJTIntake,
    CloseTrainingIntake,
    CompleteOJTIntake,
    RecordAttendanceIntake,
    ScheduleTrainingIntake,
    ScoreAssessmentsIntake,
    SyncFactsIntake,
)
from shared.contracts.intake import FieldError, IntakeRejected
from shared.envelope import new_event
from shared.intake import Handler, IntakeCommand, IntakeMessage, intake_consumer
from shared.outbox import UnitOfWork
from shared.service import Runtime
from shared.topics import TRAINING_INTAKE


def _ids(message: IntakeMessage) -> usecases.FactIds:
    return usecases.FactIds(uuid.uuid5(usecases.FACT_NAMESPACE, f"intake/{message.dedupe_id}"))


async def schedule_training(
    runtime: Runtime, uow: UnitOfWork, body: ScheduleTrainingIntake, message: IntakeMessage
) -> None:
    await usecases.schedule_training(runtime, uow, body, message.authorize)


def _facts(record: Callable[..., Awaitable[usecases.FactsOutcome]]) -> Handler:
    """An intake handler for a fact-recording use case: the message's region check, its
    ``sent_at`` as the facts' time, and fact ids derived from the message (a resend is a duplicate)."""

    async def handle(runtime: Runtime, uow: UnitOfWork, body: Any, message: IntakeMessage) -> None:
        await record(
            runtime,
            uow,
            body.training_id,
            body,
            message.authorize,
            channel="intake",
            occurred_at=message.occurred_at,
            ids=_ids(message),
        )

    return handle


async def sync_facts(runtime: Runtime, uow: UnitOfWork, body: SyncFactsIntake, message: IntakeMessage) -> None:
    outcome = await usecases.sync_facts(runtime, uow, body.training_id, body.facts, message.authorize, channel="intake")
    refused = [r for r in outcome.results if r.outcome == "refused"]
    if not refused:
        return
    uow.emit(
        new_event(
            IntakeRejected(
                message_id=message.message_id,
                message_type="SyncFacts",
                intake_topic=message.topic,
                reason="facts_refused",
                detail=f"{len(refused)} of {len(outcome.results)} facts were refused; the others were recorded",
                errors=[
                    FieldError(field=f"facts[{r.fact_id}]"[:200], message=f"{r.code}: {r.message}"[:500])
                    for r in refused[:50]
                ],
            ),
            region=message.topic_region,
            source=runtime.source,
            correlation_id=message.correlation_id,
        )
    )


async def close_training(runtime: Runtime, uow: UnitOfWork, body: CloseTrainingIntake, message: IntakeMessage) -> None:
    await usecases.close_training(runtime, uow, body.training_id, message.authorize)


INTAKE = intake_consumer(
    "training.intake",
    TRAINING_INTAKE,
    {
        "ScheduleTraining": IntakeCommand(ScheduleTrainingIntake, schedule_training),
        "RecordAttendance": IntakeCommand(RecordAttendanceIntake, _facts(usecases.record_attendance)),
        "ScoreAssessments": IntakeCommand(ScoreAssessmentsIntake, _facts(usecases.record_assessments)),
        "AssignOJT": IntakeCommand(AssignOJTIntake, _facts(usecases.assign_ojt)),
        "CompleteOJT": IntakeCommand(CompleteOJTIntake, _facts(usecases.complete_ojt)),
        "SyncFacts": IntakeCommand(SyncFactsIntake, sync_facts),
        "CloseTraining": IntakeCommand(CloseTrainingIntake, close_training),
    },
)
