"""HTTP entrypoints of the training service (``/api/v1``). They only translate requests into
commands, run the use case in a unit of work, and translate its result into a response."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from services.training.domain import Outcome, Training
from services.training.domain.submissions import SUBMISSION_ID, Action, Level, Submission
from services.training.entrypoints import runtime as wiring
from services.training.entrypoints.schemas import (
    Assessments,
    AttendanceSheet,
    CancelTraining,
    ClassAssignments,
    OJTAssignments,
    OJTCompletionIn,
    Redecision,
    ScheduleDetails,
    ScheduleTraining,
    SubmissionStep,
    SyncBatch,
)
from services.training.usecases import classes, completion, facts, queries, submissions, trainings
from services.training.usecases.facts import FactIds, FactsOutcome, Origin
from services.training.usecases.ports import Authorize, Deployment, Review, RosterEntry, UnitOfWork
from services.training.usecases.sync import sync_facts
from shared.kernel.auth import Caller, Principal, ensure_may_read, ensure_may_write
from shared.kernel.auth import Role as AuthRole
from shared.kernel.errors import Forbidden
from shared.kernel.fields import build, same_named
from shared.kernel.http import ApiError
from shared.kernel.runtime import Runtime, current_runtime

router = APIRouter(prefix="/api/v1", tags=["training"])
RuntimeDep = Annotated[Runtime, Depends(current_runtime)]

# -- responses ---------------------------------------------------------------------------------


class Roster(BaseModel):
    training_id: uuid.UUID
    enrolled: int
    entries: list[RosterEntry]


# A training as the API answers it: the training and its counts.
@dataclass(frozen=True)
class TrainingOut(Training):
    enrolled: int
    withdrawn: int
    completed: int
    not_completed: int
    certificates: int

    @classmethod
    def of(cls, s: trainings.TrainingSummary) -> TrainingOut:
        return build(cls, s.counts, **same_named(cls, s.training))


class FactResultOut(BaseModel):
    fact_id: str
    facilitator_id: uuid.UUID
    outcome: str
    code: str | None = None
    message: str | None = None


class FactsOut(BaseModel):
    """What became of each fact: ``recorded``, ``duplicate`` (seen before), or ``refused`` (sync only;
    the other endpoints refuse the whole request with a 4xx instead)."""

    recorded: int
    duplicates: int
    refused: int
    results: list[FactResultOut]

    @classmethod
    def of(cls, outcome: FactsOutcome) -> FactsOut:
        return cls(
            recorded=outcome.count("recorded"),
            duplicates=outcome.count("duplicate"),
            refused=outcome.count("refused"),
            results=[FactResultOut.model_validate(r, from_attributes=True) for r in outcome.results],
        )


class AssessmentOut(BaseModel):
    score: float
    max_score: float


class OJTAssignmentOut(BaseModel):
    kelurahan_code: str
    mentor: str
    task: str


class OJTCompletionOut(BaseModel):
    kelurahan_code: str
    rating: int
    report: str


class DecisionOut(BaseModel):
    outcome: str
    unmet: list[str]
    decided_by: str
    decided_at: datetime
    outdated: bool


Out = TypeVar("Out", bound=BaseModel)


def _out_of(model: type[Out], value: object | None) -> Out | None:
    return model.model_validate(value, from_attributes=True) if value is not None else None


class ParticipantOut(BaseModel):
    facilitator_id: uuid.UUID
    status: str
    role: str
    province_code: str | None
    kabkota_code: str | None
    class_id: str | None
    attendance: dict[str, str]
    attended: int
    attendance_ratio: float
    pre_test: AssessmentOut | None
    post_test: AssessmentOut | None
    gain: float | None
    ojt_assignment: OJTAssignmentOut | None
    ojt_completion: OJTCompletionOut | None
    unmet_now: list[str]
    provisional: bool = Field(description="true until the training closes: outcome_now is what the facts say so far")
    outcome_now: str = Field(description="completed or not_completed on the facts as they stand now")
    decision: DecisionOut | None
    review: ReviewOut | None = Field(description="open when facts recorded after the close disagree with the decision")
    certificate_code: str | None

    @classmethod
    def of(cls, v: queries.ParticipantView) -> ParticipantOut:
        decision = None
        if v.outcome is not None and v.decided_by is not None and v.decided_at is not None:
            decision = DecisionOut(
                outcome=v.outcome,
                unmet=v.unmet or [],
                decided_by=v.decided_by,
                decided_at=v.decided_at,
                outdated=v.decision_outdated,
            )
        return build(
            cls,
            v,
            pre_test=_out_of(AssessmentOut, v.pre),
            post_test=_out_of(AssessmentOut, v.post),
            ojt_assignment=_out_of(OJTAssignmentOut, v.ojt_assignment),
            ojt_completion=_out_of(OJTCompletionOut, v.ojt_completion),
            decision=decision,
            review=ReviewOut.of(v.review) if v.review is not None else None,
        )


class ReviewOut(BaseModel):
    review_id: uuid.UUID
    facilitator_id: uuid.UUID
    decided_outcome: str
    outcome_now: str
    unmet_now: list[str]
    status: str
    opened_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None

    @classmethod
    def of(cls, r: Review) -> ReviewOut:
        return build(cls, r, unmet_now=list(r.unmet_now))


class DecisionEntryOut(BaseModel):
    outcome: str
    unmet: list[str]
    attendance_ratio: float
    decided_by: str = Field(description="training_closed, or officer (a re-decision after a review)")
    decided_by_who: str | None
    reason: str | None
    decided_at: datetime


class RedecisionOut(BaseModel):
    previous_outcome: str
    outcome: str
    certificate_revoked: str | None
    certificate_issued: str | None


class SubmissionOut(BaseModel):
    submission_id: str
    kind: str
    session_id: str | None
    status: str = Field(description="submitted, verified (region), accepted (national) or returned")
    since: datetime | None
    by: str
    reason: str
    reopened: int = Field(description="how many times a correction sent it back to submitted")

    @classmethod
    def of(cls, v: Submission) -> SubmissionOut:
        return build(cls, v, kind=v.kind.value, status=v.status.value)


class ParticipantsOut(BaseModel):
    training_id: uuid.UUID
    status: str
    sessions: int
    participants: list[ParticipantOut]


class HistoryEntryOut(BaseModel):
    fact_id: str
    kind: str
    subject: str
    occurred_at: datetime
    recorded_at: datetime
    channel: str
    data: dict[str, object]
    current: bool


class CertificateOut(BaseModel):
    """A certificate, valid or revoked. The training service knows participants by id only."""

    certificate_code: str
    valid: bool = Field(description="false once revoked (see revoked_at and revoke_reason)")
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    facilitator_id: uuid.UUID
    training_id: uuid.UUID
    training_title: str
    training_type: str
    organiser: str
    venue: str
    region: str
    start_date: date
    end_date: date
    issued_at: datetime


class KelurahanOut(BaseModel):
    code: str
    name: str
    parent_code: str | None
    region: str
    effective_from: date


class AssignedOut(BaseModel):
    assigned: int


# -- trainings ---------------------------------------------------------------------------------


def _writer(caller: Principal) -> Authorize:
    return partial(ensure_may_write, caller)


def _reader(caller: Principal) -> Authorize:
    return partial(ensure_may_read, caller)


Command = TypeVar("Command")
ChangeTraining = Callable[[Command, UnitOfWork, Deployment, Authorize], Awaitable[trainings.TrainingSummary]]


async def _change_training(
    change: ChangeTraining[Command], command: Command, runtime: Runtime, caller: Principal
) -> TrainingOut:
    """Run a use case that changes a training for an HTTP caller, and answer with the training."""
    async with wiring.new_unit_of_work(runtime) as uow:
        summary = await change(command, uow, wiring.deployment(runtime), _writer(caller))
    return TrainingOut.of(summary)


@router.post(
    "/trainings",
    status_code=status.HTTP_201_CREATED,
    response_model=TrainingOut,
    responses={409: {"description": "training_exists: a training with this training_id exists"}},
)
async def schedule_training(body: ScheduleTraining, runtime: RuntimeDep, caller: Caller) -> TrainingOut:
    return await _change_training(trainings.schedule_training, body.command(), runtime, caller)


@router.get("/trainings/{training_id}", response_model=TrainingOut)
async def get_training(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> TrainingOut:
    return TrainingOut.of(await queries.get_training(wiring.reads(runtime), training_id, _reader(caller)))


@router.put("/trainings/{training_id}", response_model=TrainingOut, summary="Update the schedule (full new state)")
async def update_training(
    training_id: uuid.UUID, body: ScheduleDetails, runtime: RuntimeDep, caller: Caller
) -> TrainingOut:
    return await _change_training(
        trainings.update_training, trainings.UpdateTraining(training_id, body.schedule()), runtime, caller
    )


@router.post("/trainings/{training_id}/cancel", response_model=TrainingOut)
async def cancel_training(
    training_id: uuid.UUID, body: CancelTraining, runtime: RuntimeDep, caller: Caller
) -> TrainingOut:
    return await _change_training(
        trainings.cancel_training, trainings.CancelTraining(training_id, body.reason), runtime, caller
    )


@router.post(
    "/trainings/{training_id}/close",
    response_model=TrainingOut,
    summary="Close: decide completion for everyone not decided yet, issue certificates",
)
async def close_training(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> TrainingOut:
    return await _change_training(trainings.close_training, trainings.CloseTraining(training_id), runtime, caller)


@router.get("/trainings/{training_id}/roster", response_model=Roster)
async def get_roster(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> Roster:
    roster = await queries.roster(wiring.reads(runtime), training_id, _reader(caller))
    return Roster(training_id=training_id, enrolled=roster.enrolled, entries=roster.entries)


@router.post("/trainings/{training_id}/class-assignments", response_model=AssignedOut)
async def assign_classes(
    training_id: uuid.UUID, body: ClassAssignments, runtime: RuntimeDep, caller: Caller
) -> AssignedOut:
    async with wiring.new_unit_of_work(runtime) as uow:
        done = await classes.assign_classes(body.command(training_id), uow, wiring.deployment(runtime), _writer(caller))
    return AssignedOut(assigned=done.assigned)


# -- participation -----------------------------------------------------------------------------

RecordFacts = Callable[[Any, UnitOfWork, Deployment, Authorize, Origin], Awaitable[FactsOutcome]]


async def _record_facts(record: RecordFacts, command: object, runtime: Runtime, caller: Principal) -> FactsOut:
    """Run a fact-recording use case for an HTTP caller: facts recorded now, ids generated."""
    origin = Origin(channel="http", occurred_at=datetime.now(UTC), ids=FactIds())
    async with wiring.new_unit_of_work(runtime) as uow:
        outcome = await record(command, uow, wiring.deployment(runtime), _writer(caller), origin)
    return FactsOut.of(outcome)


@router.post(
    "/trainings/{training_id}/attendance",
    response_model=FactsOut,
    summary="Attendance at a session: one participant, or a whole class sheet",
    responses={
        422: {"description": "not_enrolled, unknown_session, session_not_yet_held, occurred_in_future, not_in_class"}
    },
)
async def record_attendance(
    training_id: uuid.UUID, body: AttendanceSheet, runtime: RuntimeDep, caller: Caller
) -> FactsOut:
    return await _record_facts(facts.record_attendance, body.command(training_id), runtime, caller)


@router.post("/trainings/{training_id}/assessments", response_model=FactsOut, summary="Pre-test or post-test scores")
async def record_assessments(
    training_id: uuid.UUID, body: Assessments, runtime: RuntimeDep, caller: Caller
) -> FactsOut:
    return await _record_facts(facts.record_assessments, body.command(training_id), runtime, caller)


@router.post(
    "/trainings/{training_id}/ojt-assignments",
    response_model=FactsOut,
    summary="Assign participants, or a whole class, to OJT in a kelurahan",
    responses={422: {"description": "unknown_kelurahan, not_enrolled, unknown_class"}},
)
async def assign_ojt(training_id: uuid.UUID, body: OJTAssignments, runtime: RuntimeDep, caller: Caller) -> FactsOut:
    return await _record_facts(facts.assign_ojt, body.command(training_id), runtime, caller)


@router.post("/trainings/{training_id}/ojt-completions", response_model=FactsOut)
async def complete_ojt(training_id: uuid.UUID, body: OJTCompletionIn, runtime: RuntimeDep, caller: Caller) -> FactsOut:
    return await _record_facts(facts.complete_ojt, body.command(training_id), runtime, caller)


@router.post(
    "/trainings/{training_id}/sync",
    response_model=FactsOut,
    summary="Offline sync: facts recorded offline, in any order, duplicates allowed",
)
async def sync(training_id: uuid.UUID, body: SyncBatch, runtime: RuntimeDep, caller: Caller) -> FactsOut:
    async with wiring.new_unit_of_work(runtime) as uow:
        outcome = await sync_facts(
            body.command(training_id), uow, wiring.deployment(runtime), _writer(caller), channel="sync"
        )
    return FactsOut.of(outcome)


@router.get(
    "/trainings/{training_id}/participants",
    response_model=ParticipantsOut,
    summary="Every participant's attendance, scores and gain, OJT, and completion",
)
async def get_participants(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> ParticipantsOut:
    training, views = await queries.participants(wiring.reads(runtime), training_id, _reader(caller))
    return ParticipantsOut(
        training_id=training_id,
        status=training.status,
        sessions=len(training.sessions),
        participants=[ParticipantOut.of(v) for v in views],
    )


@router.get(
    "/trainings/{training_id}/reviews",
    response_model=list[ReviewOut],
    summary="Decisions to review: facts recorded after the close disagree with them (open first)",
)
async def get_reviews(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> list[ReviewOut]:
    return [ReviewOut.of(r) for r in await queries.reviews(wiring.reads(runtime), training_id, _reader(caller))]


@router.get(
    "/trainings/{training_id}/participants/{facilitator_id}/decisions",
    response_model=list[DecisionEntryOut],
    summary="Every decision about a participant: the close's, then each officer's re-decision",
)
async def get_decisions(
    training_id: uuid.UUID, facilitator_id: uuid.UUID, runtime: RuntimeDep, caller: Caller
) -> list[DecisionEntryOut]:
    entries = await queries.decision_history(wiring.reads(runtime), training_id, facilitator_id, _reader(caller))
    return [build(DecisionEntryOut, e) for e in entries]


@router.post(
    "/trainings/{training_id}/participants/{facilitator_id}/decision",
    response_model=RedecisionOut,
    summary="Re-decide a participant of a closed training, with a reason (the region's training officer)",
    responses={
        404: {"description": "training_not_found, decision_not_found"},
        409: {"description": "training_not_closed, nothing_to_review"},
    },
)
async def redecide(
    training_id: uuid.UUID, facilitator_id: uuid.UUID, body: Redecision, runtime: RuntimeDep, caller: Caller
) -> RedecisionOut:
    async with wiring.new_unit_of_work(runtime) as uow:
        done = await completion.redecide(
            completion.Redecide(training_id, facilitator_id, Outcome(body.outcome), body.reason),
            uow,
            wiring.deployment(runtime),
            _writer(caller),
            caller.label or caller.key_id,
        )
    return build(RedecisionOut, done)


@router.get(
    "/trainings/{training_id}/submissions",
    response_model=list[SubmissionOut],
    summary="The verification chain: each session's attendance sheet and the close, and where they wait",
)
async def get_submissions(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> list[SubmissionOut]:
    views = await queries.submissions(wiring.reads(runtime), training_id, _reader(caller))
    return [SubmissionOut.of(v) for v in views]


def _actor(caller: Principal) -> submissions.Actor:
    """A region credential acts as its OC region (on its own trainings only); a national one as the
    national office (on every region's). An admin credential is neither."""
    if caller.role is AuthRole.REGION:
        return submissions.Actor(Level.REGION, _writer(caller), caller.label or caller.key_id)
    if caller.role is AuthRole.NATIONAL:
        return submissions.Actor(Level.NATIONAL, _reader(caller), caller.label or caller.key_id)
    raise Forbidden("verifier_required", "verification steps need a region or a national credential")


def _submission_step(action: Action, summary: str) -> None:
    @router.post(
        f"/trainings/{{training_id}}/submissions/{{submission_id}}/{action.value}",
        response_model=SubmissionOut,
        summary=summary,
        name=f"{action.value}_submission",
        responses={
            403: {"description": "wrong_level, region_forbidden, verifier_required"},
            404: {"description": "training_not_found, submission_not_found"},
            409: {"description": "wrong_status"},
        },
    )
    async def step(
        training_id: uuid.UUID,
        submission_id: Annotated[str, PathParam(max_length=60, pattern=SUBMISSION_ID)],
        body: SubmissionStep,
        runtime: RuntimeDep,
        caller: Caller,
    ) -> SubmissionOut:
        if action is Action.RETURN and not body.reason:
            raise ApiError(422, "reason_required", "a return needs the reason")
        async with wiring.new_unit_of_work(runtime) as uow:
            done = await submissions.act(
                submissions.Act(training_id, submission_id, action, body.reason),
                uow,
                wiring.deployment(runtime),
                _actor(caller),
            )
        return SubmissionOut.of(done)


_submission_step(Action.VERIFY, "Verify a submission (a credential of the training's OC region)")
_submission_step(Action.RETURN, "Return a submission with a reason (the region, or the national office once verified)")
_submission_step(Action.ACCEPT, "Accept a verified submission (a national credential)")


@router.get(
    "/trainings/{training_id}/participants/{facilitator_id}/history",
    response_model=list[HistoryEntryOut],
    summary="Every fact recorded about a participant, corrections included",
)
async def get_history(
    training_id: uuid.UUID, facilitator_id: uuid.UUID, runtime: RuntimeDep, caller: Caller
) -> list[HistoryEntryOut]:
    entries = await queries.participant_history(wiring.reads(runtime), training_id, facilitator_id, _reader(caller))
    return [
        HistoryEntryOut(
            fact_id=e.fact.fact_id,
            kind=e.fact.kind.value,
            subject=e.fact.subject,
            occurred_at=e.fact.occurred_at,
            recorded_at=e.recorded_at,
            channel=e.channel,
            data=e.fact.payload(),
            current=e.current,
        )
        for e in entries
    ]


# -- public verification and reference data ---------------------------------------------------


@router.get(
    "/certificates/{code}",
    response_model=CertificateOut,
    summary="Verify a certificate (public, no credential)",
    responses={404: {"description": "certificate_not_found"}},
)
async def verify_certificate(code: str, runtime: RuntimeDep) -> CertificateOut:
    c = await queries.verify_certificate(wiring.reads(runtime), code)
    return build(CertificateOut, c, certificate_code=c.code, training_title=c.title, valid=c.revoked_at is None)


@router.get(
    "/reference/kelurahan",
    response_model=list[KelurahanOut],
    summary="Kelurahan known from the registration service's reference data (OJT places)",
)
async def list_kelurahan(
    runtime: RuntimeDep,
    caller: Caller,
    code_prefix: Annotated[str, Query(max_length=20, pattern=r"^[0-9.]*$")] = "",
) -> list[KelurahanOut]:
    known = await queries.known_kelurahan(wiring.reads(runtime), code_prefix)
    return [KelurahanOut.model_validate(k, from_attributes=True) for k in known]
