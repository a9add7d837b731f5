"""Kafka intake of the training service (``<region>.training.intake.v1``): the same use cases as
the HTTP API, for regional systems and field teams that publish instead of calling. See
shared.kernel.intake: every message ends accepted, rejected with a reason on ``<region>.rejections.v1``,
or dead-lettered. A domain error of a use case becomes a rejection with its code.

Message types: ScheduleTraining, RecordAttendance, ScoreAssessments, AssignOJT, CompleteOJT,
SyncFacts, CloseTraining, and the region's verification steps VerifySubmission and
ReturnSubmission (AcceptSubmission is the national office's: refused with ``wrong_level``).
Facts without their own ``fact_id`` get one derived from the message,
so a message sent again under a new ``message_id`` is still recognised as a duplicate only if it
carries fact ids; SyncFacts facts always do.

SyncFacts records the valid facts of a batch and answers for each: an ``IntakeAccepted`` receipt
with one result per fact, and when some facts were refused, an ``IntakeRejected`` with reason
``facts_refused`` lists them (``errors[].field`` is ``facts[<fact_id>]``), while the rest of the
batch stays recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from services.training.domain.submissions import Action, Level
from services.training.entrypoints.runtime import deployment
from services.training.entrypoints.schemas import (
    AssignOJTIntake,
    CloseTrainingIntake,
    CompleteOJTIntake,
    RecordAttendanceIntake,
    ScheduleTrainingIntake,
    ScoreAssessmentsIntake,
    SubmissionStepIntake,
    SyncFactsIntake,
)
from services.training.repositories.unit_of_work import PostgresUnitOfWork
from services.training.usecases import facts, submissions, trainings
from services.training.usecases.facts import FACT_NAMESPACE, FactIds, FactsOutcome, Origin
from services.training.usecases.ports import Authorize, Deployment, UnitOfWork
from services.training.usecases.sync import sync_facts as sync_batch
from shared.kernel import outbox
from shared.kernel.contracts.intake import FactReceipt, FieldError, IntakeAccepted, IntakeRejected
from shared.kernel.envelope import new_event
from shared.kernel.http import ApiError
from shared.kernel.intake import Handler, IntakeCommand, IntakeMessage, intake_consumer
from shared.kernel.runtime import Runtime
from shared.kernel.topics import TRAINING_INTAKE


def _ids(message: IntakeMessage) -> FactIds:
    return FactIds(uuid.uuid5(FACT_NAMESPACE, f"intake/{message.dedupe_id}"))


async def schedule_training(
    runtime: Runtime, work: outbox.UnitOfWork, body: ScheduleTrainingIntake, message: IntakeMessage
) -> None:
    await trainings.schedule_training(body.command(), PostgresUnitOfWork(work), deployment(runtime), message.authorize)


RecordFacts = Callable[[Any, UnitOfWork, Deployment, Authorize, Origin], Awaitable[FactsOutcome]]


def _facts(record: RecordFacts) -> Handler:
    """An intake handler for a fact-recording use case: the message's region check, its
    ``sent_at`` as the facts' time, and fact ids derived from the message (a resend is a duplicate)."""

    async def handle(runtime: Runtime, work: outbox.UnitOfWork, body: Any, message: IntakeMessage) -> None:
        origin = Origin(channel="intake", occurred_at=message.occurred_at, ids=_ids(message))
        await record(
            body.command(body.training_id), PostgresUnitOfWork(work), deployment(runtime), message.authorize, origin
        )

    return handle


async def sync_facts(runtime: Runtime, work: outbox.UnitOfWork, body: SyncFactsIntake, message: IntakeMessage) -> None:
    outcome = await sync_batch(
        body.command(body.training_id),
        PostgresUnitOfWork(work),
        deployment(runtime),
        message.authorize,
        channel="intake",
    )
    work.emit(
        new_event(
            IntakeAccepted(
                message_id=message.message_id,
                message_type="SyncFacts",
                intake_topic=message.topic,
                results=[FactReceipt(fact_id=r.fact_id, outcome=r.outcome, code=r.code or "") for r in outcome.results],
            ),
            region=message.topic_region,
            source=runtime.source,
            correlation_id=message.correlation_id,
        )
    )
    refused = [r for r in outcome.results if r.outcome == "refused"]
    if not refused:
        return
    work.emit(
        new_event(
            IntakeRejected(
                message_id=message.message_id,
                message_type="SyncFacts",
                intake_topic=message.topic,
                reason="facts_refused",
                detail=f"{len(refused)} of {len(outcome.results)} facts were refused; the others were recorded",
                errors=[
                    FieldError(
                        field=f"facts[{r.fact_id}]"[:200], message=f"{r.code}: {r.message}"[:500], code=r.code or ""
                    )
                    for r in refused[:50]
                ],
            ),
            region=message.topic_region,
            source=runtime.source,
            correlation_id=message.correlation_id,
        )
    )


async def close_training(
    runtime: Runtime, work: outbox.UnitOfWork, body: CloseTrainingIntake, message: IntakeMessage
) -> None:
    await trainings.close_training(
        trainings.CloseTraining(body.training_id), PostgresUnitOfWork(work), deployment(runtime), message.authorize
    )


def _step(action: Action) -> Handler:
    """An intake handler for a verification step: a regional system acts as its OC region (the
    topic's region); accepting is the national office's, so it is refused here (``wrong_level``)."""

    async def handle(
        runtime: Runtime, work: outbox.UnitOfWork, body: SubmissionStepIntake, message: IntakeMessage
    ) -> None:
        if action is Action.RETURN and not body.reason:
            raise ApiError(422, "reason_required", "a return needs the reason")
        actor = submissions.Actor(Level.REGION, message.authorize, f"intake {message.topic_region}")
        cmd = submissions.Act(body.training_id, body.submission_id, action, body.reason)
        await submissions.act(cmd, PostgresUnitOfWork(work), deployment(runtime), actor)

    return handle


COMMANDS: dict[str, IntakeCommand] = {
    "ScheduleTraining": IntakeCommand(ScheduleTrainingIntake, schedule_training),
    "RecordAttendance": IntakeCommand(RecordAttendanceIntake, _facts(facts.record_attendance)),
    "ScoreAssessments": IntakeCommand(ScoreAssessmentsIntake, _facts(facts.record_assessments)),
    "AssignOJT": IntakeCommand(AssignOJTIntake, _facts(facts.assign_ojt)),
    "CompleteOJT": IntakeCommand(CompleteOJTIntake, _facts(facts.complete_ojt)),
    "SyncFacts": IntakeCommand(SyncFactsIntake, sync_facts),
    "CloseTraining": IntakeCommand(CloseTrainingIntake, close_training),
    "VerifySubmission": IntakeCommand(SubmissionStepIntake, _step(Action.VERIFY)),
    "ReturnSubmission": IntakeCommand(SubmissionStepIntake, _step(Action.RETURN)),
    "AcceptSubmission": IntakeCommand(SubmissionStepIntake, _step(Action.ACCEPT)),
}

INTAKE = intake_consumer("training.intake", TRAINING_INTAKE, COMMANDS)
