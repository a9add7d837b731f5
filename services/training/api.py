"""HTTP entrypoints of the training service (``/api/v1``). They only translate requests into
use-case calls and results into responses."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel

from services.training import usecases
from services.training.schemas import (
    Assessments,
    AttendanceSheet,
    CancelTraining,
    ClassAssignments,
    OJTAssignments,
    OJTCompletionIn,
    ScheduleDetails,
    ScheduleTraining,
    SyncBatch,
)
from shared.auth import Caller, Principal, ensure_may_read, ensure_may_write
from shared.contracts import CompletionRule, Module, Role, Session, TrainingClass, TrainingType
from shared.service import Runtime, runtime_of

router = APIRouter(prefix="/api/v1", tags=["training"])
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

ROSTER_OF_TRAINING = """
SELECT facilitator_id, enrollment_id, region, role, status, enrolled_at, withdrawn_at, province_code, kabkota_code
FROM roster WHERE training_id = $1 ORDER BY enrolled_at, facilitator_id
"""


def _no_check(_: str) -> None:
    return None


# -- responses ---------------------------------------------------------------------------------


class RosterEntry(BaseModel):
    facilitator_id: uuid.UUID
    enrollment_id: uuid.UUID
    region: str
    role: str
    status: str
    enrolled_at: datetime
    withdrawn_at: datetime | None
    province_code: str | None = None
    kabkota_code: str | None = None


class Roster(BaseModel):
    training_id: uuid.UUID
    enrolled: int
    entries: list[RosterEntry]


class TrainingOut(BaseModel):
    training_id: uuid.UUID
    region: str
    training_type: TrainingType
    title: str
    organiser: str
    venue: str
    start_date: date
    end_date: date
    capacity: int
    eligible_roles: list[Role]
    modules: list[Module]
    classes: list[TrainingClass]
    sessions: list[Session]
    completion_rule: CompletionRule
    status: str
    status_reason: str
    version: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    enrolled: int
    withdrawn: int
    completed: int
    not_completed: int
    certificates: int

    @classmethod
    def of(cls, s: usecases.TrainingSummary) -> TrainingOut:
        t = s.training
        return cls(
            **{k: getattr(t, k) for k in cls.model_fields if hasattr(t, k)},
            enrolled=s.enrolled,
            withdrawn=s.withdrawn,
            completed=s.completed,
            not_completed=s.not_completed,
            certificates=s.certificates,
        )


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
    def of(cls, outcome: usecases.FactsOutcome) -> FactsOut:
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
    decision: DecisionOut | None
    certificate_code: str | None

    @classmethod
    def of(cls, v: usecases.ParticipantView) -> ParticipantOut:
        decision = None
        if v.outcome is not None and v.decided_by is not None and v.decided_at is not None:
            decision = DecisionOut(
                outcome=v.outcome,
                unmet=v.unmet or [],
                decided_by=v.decided_by,
                decided_at=v.decided_at,
                outdated=v.decision_outdated,
            )
        return cls(
            facilitator_id=v.facilitator_id,
            status=v.status,
            role=v.role,
            province_code=v.province_code,
            kabkota_code=v.kabkota_code,
            class_id=v.class_id,
            attendance=v.attendance,
            attended=v.attended,
            attendance_ratio=v.attendance_ratio,
            pre_test=AssessmentOut.model_validate(v.pre, from_attributes=True) if v.pre else None,
            post_test=AssessmentOut.model_validate(v.post, from_attributes=True) if v.post else None,
            gain=v.gain,
            ojt_assignment=OJTAssignmentOut.model_validate(v.ojt_assignment, from_attributes=True)
            if v.ojt_assignment
            else None,
            ojt_completion=OJTCompletionOut.model_validate(v.ojt_completion, from_attributes=True)
            if v.ojt_completion
            else None,
            unmet_now=v.unmet_now,
            decision=decision,
            certificate_code=v.certificate_code,
        )


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
    """A valid certificate. The training service knows participants by id only, not by name."""

    certificate_code: str
    valid: bool = True
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


async def _summary(runtime: Runtime, training_id: uuid.UUID) -> TrainingOut:
    return TrainingOut.of(await usecases.get_training(runtime, training_id, _no_check))


@router.post(
    "/trainings",
    status_code=status.HTTP_201_CREATED,
    response_model=TrainingOut,
    responses={409: {"description": "training_exists: a training with this training_id exists"}},
)
async def schedule_training(body: ScheduleTraining, runtime: RuntimeDep, caller: Caller) -> TrainingOut:
    async with runtime.outbox.unit_of_work() as uow:
        training = await usecases.schedule_training(runtime, uow, body, partial(ensure_may_write, caller))
    return await _summary(runtime, training.training_id)


@router.get("/trainings/{training_id}", response_model=TrainingOut)
async def get_training(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> TrainingOut:
    return TrainingOut.of(await usecases.get_training(runtime, training_id, partial(ensure_may_read, caller)))


@router.put("/trainings/{training_id}", response_model=TrainingOut, summary="Update the schedule (full new state)")
async def update_training(
    training_id: uuid.UUID, body: ScheduleDetails, runtime: RuntimeDep, caller: Caller
) -> TrainingOut:
    async with runtime.outbox.unit_of_work() as uow:
        await usecases.update_training(runtime, uow, training_id, body, partial(ensure_may_write, caller))
    return await _summary(runtime, training_id)


@router.post("/trainings/{training_id}/cancel", response_model=TrainingOut)
async def cancel_training(
    training_id: uuid.UUID, body: CancelTraining, runtime: RuntimeDep, caller: Caller
) -> TrainingOut:
    async with runtime.outbox.unit_of_work() as uow:
        await usecases.cancel_training(runtime, uow, training_id, body.reason, partial(ensure_may_write, caller))
    return await _summary(runtime, training_id)


@router.post(
    "/trainings/{training_id}/close",
    response_model=TrainingOut,
    summary="Close: decide completion for everyone not decided yet, issue certificates",
)
async def close_training(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> TrainingOut:
    async with runtime.outbox.unit_of_work() as uow:
        await usecases.close_training(runtime, uow, training_id, partial(ensure_may_write, caller))
    return await _summary(runtime, training_id)


@router.get("/trainings/{training_id}/roster", response_model=Roster)
async def get_roster(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> Roster:
    rows = await runtime.pool.fetch(ROSTER_OF_TRAINING, training_id)
    for region in {r["region"] for r in rows}:
        ensure_may_read(caller, region)
    entries = [RosterEntry.model_validate(dict(r)) for r in rows]
    return Roster(training_id=training_id, enrolled=sum(e.status == "enrolled" for e in entries), entries=entries)


@router.post("/trainings/{training_id}/class-assignments", response_model=AssignedOut)
async def assign_classes(
    training_id: uuid.UUID, body: ClassAssignments, runtime: RuntimeDep, caller: Caller
) -> AssignedOut:
    async with runtime.outbox.unit_of_work() as uow:
        n = await usecases.assign_classes(runtime, uow, training_id, body, partial(ensure_may_write, caller))
    return AssignedOut(assigned=n)


# -- participation -----------------------------------------------------------------------------


async def _record_facts(
    record: Callable[..., Awaitable[usecases.FactsOutcome]],
    runtime: Runtime,
    training_id: uuid.UUID,
    body: Any,
    caller: Principal,
) -> FactsOut:
    """Run a fact-recording use case for an HTTP caller: facts recorded now, ids generated."""
    async with runtime.outbox.unit_of_work() as uow:
        outcome = await record(
            runtime,
            uow,
            training_id,
            body,
            partial(ensure_may_write, caller),
            channel="http",
            occurred_at=datetime.now(UTC),
            ids=usecases.FactIds(),
        )
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
    return await _record_facts(usecases.record_attendance, runtime, training_id, body, caller)


@router.post("/trainings/{training_id}/assessments", response_model=FactsOut, summary="Pre-test or post-test scores")
async def record_assessments(
    training_id: uuid.UUID, body: Assessments, runtime: RuntimeDep, caller: Caller
) -> FactsOut:
    return await _record_facts(usecases.record_assessments, runtime, training_id, body, caller)


@router.post(
    "/trainings/{training_id}/ojt-assignments",
    response_model=FactsOut,
    summary="Assign participants, or a whole class, to OJT in a kelurahan",
    responses={422: {"description": "unknown_kelurahan, not_enrolled, unknown_class"}},
)
async def assign_ojt(training_id: uuid.UUID, body: OJTAssignments, runtime: RuntimeDep, caller: Caller) -> FactsOut:
    return await _record_facts(usecases.assign_ojt, runtime, training_id, body, caller)


@router.post("/trainings/{training_id}/ojt-completions", response_model=FactsOut)
async def complete_ojt(training_id: uuid.UUID, body: OJTCompletionIn, runtime: RuntimeDep, caller: Caller) -> FactsOut:
    return await _record_facts(usecases.complete_ojt, runtime, training_id, body, caller)


@router.post(
    "/trainings/{training_id}/sync",
    response_model=FactsOut,
    summary="Offline sync: facts recorded offline, in any order, duplicates allowed",
)
async def sync(training_id: uuid.UUID, body: SyncBatch, runtime: RuntimeDep, caller: Caller) -> FactsOut:
    async with runtime.outbox.unit_of_work() as uow:
        outcome = await usecases.sync_facts(
            runtime, uow, training_id, body.facts, partial(ensure_may_write, caller), channel="sync"
        )
    return FactsOut.of(outcome)


@router.get(
    "/trainings/{training_id}/participants",
    response_model=ParticipantsOut,
    summary="Every participant's attendance, scores and gain, OJT, and completion",
)
async def get_participants(training_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> ParticipantsOut:
    training, views = await usecases.participants(runtime, training_id, partial(ensure_may_read, caller))
    return ParticipantsOut(
        training_id=training_id,
        status=training.status,
        sessions=len(training.sessions),
        participants=[ParticipantOut.of(v) for v in views],
    )


@router.get(
    "/trainings/{training_id}/participants/{facilitator_id}/history",
    response_model=list[HistoryEntryOut],
    summary="Every fact recorded about a participant, corrections included",
)
async def get_history(
    training_id: uuid.UUID, facilitator_id: uuid.UUID, runtime: RuntimeDep, caller: Caller
) -> list[HistoryEntryOut]:
    entries = await usecases.participant_history(runtime, training_id, facilitator_id, partial(ensure_may_read, caller))
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
    row = await usecases.verify_certificate(runtime, code)
    return CertificateOut(
        certificate_code=row["code"],
        facilitator_id=row["facilitator_id"],
        training_id=row["training_id"],
        training_title=row["title"],
        training_type=row["training_type"],
        organiser=row["organiser"],
        venue=row["venue"],
        region=row["region"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        issued_at=row["issued_at"],
    )


@router.get(
    "/reference/kelurahan",
    response_model=list[KelurahanOut],
    summary="Kelurahan known from the registration service's reference data (OJT places)",
)
async def list_kelurahan(
    runtime: RuntimeDep,
    caller: Caller,
    code_prefix: Annotated[str, Query(max_length=20, pattern=r"^[\d.]*$")] = "",
) -> list[KelurahanOut]:
    return [KelurahanOut.model_validate(dict(r)) for r in await usecases.known_kelurahan(runtime, code_prefix)]
