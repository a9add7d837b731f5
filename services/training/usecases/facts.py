"""Participation facts: attendance, assessments, OJT assignments and completions. A request with
several facts is all or nothing (``record``, strict); offline sync records what it can (``sync``).

Facts without their own ``fact_id`` get one from :class:`FactIds`: random for an HTTP request,
derived from a seed (an intake message, a sheet id) so that the same command sent again makes the
same ids, and is recognised as a duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from services.training import domain
from services.training.domain import CLOSED, Fact, FactKind, Training
from services.training.domain.errors import EmptyClass, NotInClass, UnknownClass, facts_refused
from services.training.usecases.common import emit, locked
from services.training.usecases.completion import review_after_close
from services.training.usecases.ports import Authorize, Deployment, UnitOfWork
from services.training.usecases.submissions import submit
from shared.kernel.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    AttendanceStatus,
    OJTAssigned,
    OJTCompleted,
    SubmissionKind,
)
from shared.kernel.envelope import EventPayload

FACT_NAMESPACE = uuid.UUID("0b6f3c1e-7a0d-4f57-9d2e-3c5a8e41b9d7")
OJT_DATA = (domain.OJTAssignment, domain.OJTCompletion)


class FactIds:
    """Fact ids for commands that do not carry them: random, or derived from a seed (an intake
    message, a sheet id) so that the same command sent again makes the same ids (duplicates)."""

    def __init__(self, seed: uuid.UUID | None = None) -> None:
        self.seed = seed

    def make(self, kind: FactKind, subject: str, facilitator_id: uuid.UUID) -> str:
        if self.seed is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(self.seed, f"{kind.value}/{subject}/{facilitator_id}"))


def sheet_seed(training_id: uuid.UUID, sheet_id: str) -> uuid.UUID:
    return uuid.uuid5(FACT_NAMESPACE, f"{training_id}/sheet/{sheet_id}")


@dataclass(frozen=True)
class Origin:
    """Where a fact-recording command comes from: its ``channel`` (http, intake, sync), the time
    of facts that carry none, and how ids are made for facts that carry none."""

    channel: str
    occurred_at: datetime
    ids: FactIds


@dataclass(frozen=True)
class FactResult:
    fact_id: str
    facilitator_id: uuid.UUID
    outcome: str  # recorded | duplicate | refused
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class FactsOutcome:
    results: list[FactResult]

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceEntry:
    facilitator_id: uuid.UUID
    status: AttendanceStatus
    note: str = ""
    fact_id: str | None = None


@dataclass(frozen=True)
class RecordAttendance:
    """Attendance at one session: listed participants and, with ``class_id`` and
    ``default_status``, everyone else of the class (the usual sheet)."""

    training_id: uuid.UUID
    session_id: str
    records: tuple[AttendanceEntry, ...] = ()
    occurred_at: datetime | None = None
    class_id: str | None = None
    default_status: AttendanceStatus | None = None
    sheet_id: str | None = None


@dataclass(frozen=True)
class ScoreEntry:
    facilitator_id: uuid.UUID
    score: float
    fact_id: str | None = None


@dataclass(frozen=True)
class ScoreAssessments:
    training_id: uuid.UUID
    kind: AssessmentKind
    max_score: float
    scores: tuple[ScoreEntry, ...]
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class AssignOJT:
    """Listed participants, or a whole class, to OJT in a kelurahan."""

    training_id: uuid.UUID
    kelurahan_code: str
    mentor: str
    task: str = ""
    facilitator_ids: tuple[uuid.UUID, ...] = ()
    class_id: str | None = None
    occurred_at: datetime | None = None
    fact_id: str | None = None  # the caller's id: one person's fact id, or the seed of each listed person's


@dataclass(frozen=True)
class CompleteOJT:
    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    kelurahan_code: str
    rating: int
    report: str = ""
    occurred_at: datetime | None = None
    fact_id: str | None = None


# -- use cases ---------------------------------------------------------------------------------


async def open_for_facts(
    uow: UnitOfWork, deployment: Deployment, training_id: uuid.UUID, authorize: Authorize
) -> Training:
    training = await locked(uow, deployment, training_id, authorize)
    training.ensure_accepts_facts()
    return training


async def record_attendance(
    cmd: RecordAttendance, uow: UnitOfWork, deployment: Deployment, authorize: Authorize, origin: Origin
) -> FactsOutcome:
    training = await open_for_facts(uow, deployment, cmd.training_id, authorize)
    at = cmd.occurred_at or origin.occurred_at
    ids = FactIds(sheet_seed(cmd.training_id, cmd.sheet_id)) if cmd.sheet_id is not None else origin.ids
    facts = [
        Fact(
            r.fact_id or ids.make(FactKind.ATTENDANCE, cmd.session_id, r.facilitator_id),
            r.facilitator_id,
            at,
            domain.Attendance(cmd.session_id, r.status, r.note),
        )
        for r in cmd.records
    ]
    if cmd.class_id is not None:
        if cmd.class_id not in training.class_ids:
            raise UnknownClass([cmd.class_id])
        members = await uow.classes.members(cmd.training_id, cmd.class_id)
        listed = {r.facilitator_id for r in cmd.records}
        outside = sorted(str(f) for f in listed - set(members))
        if outside:
            raise NotInClass(cmd.class_id, outside)
        if cmd.default_status is not None:
            facts += [
                Fact(
                    ids.make(FactKind.ATTENDANCE, cmd.session_id, fid),
                    fid,
                    at,
                    domain.Attendance(cmd.session_id, cmd.default_status),
                )
                for fid in members
                if fid not in listed
            ]
    return await record(uow, deployment, training, facts, channel=origin.channel, strict=True)


async def record_assessments(
    cmd: ScoreAssessments, uow: UnitOfWork, deployment: Deployment, authorize: Authorize, origin: Origin
) -> FactsOutcome:
    training = await open_for_facts(uow, deployment, cmd.training_id, authorize)
    at = cmd.occurred_at or origin.occurred_at
    facts = [
        Fact(
            s.fact_id or origin.ids.make(FactKind.ASSESSMENT, cmd.kind.value, s.facilitator_id),
            s.facilitator_id,
            at,
            domain.Assessment(cmd.kind, s.score, cmd.max_score),
        )
        for s in cmd.scores
    ]
    return await record(uow, deployment, training, facts, channel=origin.channel, strict=True)


async def assign_ojt(
    cmd: AssignOJT, uow: UnitOfWork, deployment: Deployment, authorize: Authorize, origin: Origin
) -> FactsOutcome:
    training = await open_for_facts(uow, deployment, cmd.training_id, authorize)
    who = list(cmd.facilitator_ids)
    if cmd.class_id is not None:
        if cmd.class_id not in training.class_ids:
            raise UnknownClass([cmd.class_id])
        who = await uow.classes.members(cmd.training_id, cmd.class_id)
        if not who:
            raise EmptyClass(cmd.class_id)
    at = cmd.occurred_at or origin.occurred_at
    data = domain.OJTAssignment(cmd.kelurahan_code, cmd.mentor, cmd.task)
    people = list(dict.fromkeys(who))
    ids = origin.ids if cmd.fact_id is None else FactIds(sheet_seed(cmd.training_id, f"ojt/{cmd.fact_id}"))
    facts = [
        Fact(
            cmd.fact_id if cmd.fact_id is not None and len(people) == 1 else ids.make(FactKind.OJT_ASSIGNMENT, "", fid),
            fid,
            at,
            data,
        )
        for fid in people
    ]
    return await record(uow, deployment, training, facts, channel=origin.channel, strict=True)


async def complete_ojt(
    cmd: CompleteOJT, uow: UnitOfWork, deployment: Deployment, authorize: Authorize, origin: Origin
) -> FactsOutcome:
    training = await open_for_facts(uow, deployment, cmd.training_id, authorize)
    fact = Fact(
        cmd.fact_id or origin.ids.make(FactKind.OJT_COMPLETION, "", cmd.facilitator_id),
        cmd.facilitator_id,
        cmd.occurred_at or origin.occurred_at,
        domain.OJTCompletion(cmd.kelurahan_code, cmd.rating, cmd.report),
    )
    return await record(uow, deployment, training, [fact], channel=origin.channel, strict=True)


async def record(
    uow: UnitOfWork,
    deployment: Deployment,
    training: Training,
    facts: Sequence[Fact],
    *,
    channel: str,
    strict: bool,
) -> FactsOutcome:
    """Record ``facts`` of a locked training: refuse those the rules refuse, recognise duplicates
    by ``fact_id``, publish each new fact once, submit (or reopen) the attendance sheets it
    touched for verification; on a closed training, open the reviews the new facts make due.
    ``strict``: one refusal refuses the whole request, nothing is recorded."""
    people = list({f.facilitator_id for f in facts})
    places = list({f.data.kelurahan_code for f in facts if isinstance(f.data, OJT_DATA)})
    enrolled = await uow.roster.enrolled_among(training.training_id, people)
    known = await uow.kelurahan.known_among(places) if places else set()
    ctx = domain.FactContext(
        sessions={s.session_id: s for s in training.sessions},
        enrolled=frozenset(enrolled),
        known_kelurahan=frozenset(known),
        now=deployment.clock(),
    )
    refused: dict[int, domain.Refusal] = {}
    for i, fact in enumerate(facts):
        refusal = domain.refusal_of(fact, ctx)
        if refusal is not None:
            refused[i] = refusal
    if strict and refused:
        raise facts_refused([(facts[i], r) for i, r in sorted(refused.items())])
    valid = [f for i, f in enumerate(facts) if i not in refused]
    inserted: set[str] = set()
    if valid:
        inserted = await uow.facts.add(training.training_id, valid, channel)
    stored: dict[str, Fact] = {}
    if len(inserted) < len(valid):
        again = [f.fact_id for f in valid if f.fact_id not in inserted]
        stored.update(await uow.facts.by_id(training.training_id, again))
    results: list[FactResult] = []
    recorded: list[Fact] = []
    for i, fact in enumerate(facts):
        if i in refused:
            results.append(_refused(fact, refused[i]))
        elif fact.fact_id in inserted:
            inserted.discard(fact.fact_id)
            stored[fact.fact_id] = fact
            recorded.append(fact)
            results.append(FactResult(fact.fact_id, fact.facilitator_id, "recorded"))
        elif stored[fact.fact_id].same_as(fact):
            results.append(FactResult(fact.fact_id, fact.facilitator_id, "duplicate"))
        else:
            refused[i] = domain.Refusal(
                domain.FACT_ID_CONFLICT, f"fact {fact.fact_id} was recorded before with different content"
            )
            results.append(_refused(fact, refused[i]))
    if strict and refused:
        raise facts_refused([(facts[i], r) for i, r in sorted(refused.items())])
    for fact in recorded:
        emit(uow, deployment, training, event_of(training.training_id, fact), occurred_at=fact.occurred_at)
    sheets = sorted({f.data.session_id for f in recorded if isinstance(f.data, domain.Attendance)})
    if sheets:
        await submit(uow, deployment, training, SubmissionKind.ATTENDANCE, sheets)
    if recorded and training.status == CLOSED:
        await review_after_close(uow, deployment, training, list(dict.fromkeys(f.facilitator_id for f in recorded)))
    return FactsOutcome(results)


def _refused(fact: Fact, refusal: domain.Refusal) -> FactResult:
    return FactResult(fact.fact_id, fact.facilitator_id, "refused", refusal.code, refusal.message)


# The event that publishes each kind of fact: its fields are the fact's data, plus the ids.
EVENT_OF_DATA: dict[type[domain.FactData], type[EventPayload]] = {
    domain.Attendance: AttendanceRecorded,
    domain.Assessment: AssessmentScored,
    domain.OJTAssignment: OJTAssigned,
    domain.OJTCompletion: OJTCompleted,
}


def event_of(training_id: uuid.UUID, fact: Fact) -> EventPayload:
    data = {f.name: getattr(fact.data, f.name) for f in fields(fact.data)}
    event = EVENT_OF_DATA[type(fact.data)]
    return event(training_id=training_id, facilitator_id=fact.facilitator_id, fact_id=fact.fact_id, **data)
