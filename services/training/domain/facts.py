"""Participation facts (attendance, assessments, OJT assignments and completions) and their history.

Every fact is kept, corrections included. The current value of one (participant, kind, subject)
is the fact with the greatest ``(occurred_at, fact_id)``; facts are deduplicated by ``fact_id``.
So :func:`fold` is a function of the *set* of facts: delivered in any order, any number of times,
the same facts give the same state (proved by the property tests). Whether a fact may be recorded
(:func:`refusal_of`) depends only on the fact and its context, never on other facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.kernel.contracts.training import AssessmentKind, AttendanceStatus, Session

# Refusal codes (stable: clients act on them).
NOT_ENROLLED = "not_enrolled"
UNKNOWN_SESSION = "unknown_session"
SESSION_NOT_YET_HELD = "session_not_yet_held"
OCCURRED_IN_FUTURE = "occurred_in_future"
UNKNOWN_KELURAHAN = "unknown_kelurahan"
FACT_ID_CONFLICT = "fact_id_conflict"

# Clocks of field devices drift; a fact a few minutes "in the future" is not refused.
FUTURE_TOLERANCE = timedelta(minutes=5)


class FactKind(StrEnum):
    ATTENDANCE = "attendance"
    ASSESSMENT = "assessment"
    OJT_ASSIGNMENT = "ojt_assignment"
    OJT_COMPLETION = "ojt_completion"


@dataclass(frozen=True)
class Attendance:
    session_id: str
    status: AttendanceStatus
    note: str = ""


@dataclass(frozen=True)
class Assessment:
    kind: AssessmentKind
    score: float
    max_score: float

    @property
    def ratio(self) -> float:
        return self.score / self.max_score


@dataclass(frozen=True)
class OJTAssignment:
    kelurahan_code: str
    mentor: str
    task: str = ""


@dataclass(frozen=True)
class OJTCompletion:
    kelurahan_code: str
    rating: int
    report: str = ""


FactData = Attendance | Assessment | OJTAssignment | OJTCompletion
FactKey = tuple[uuid.UUID, FactKind, str]


@dataclass(frozen=True)
class Fact:
    """One thing recorded about one participant, at ``occurred_at`` in the field."""

    fact_id: str
    facilitator_id: uuid.UUID
    occurred_at: datetime
    data: FactData

    @property
    def kind(self) -> FactKind:
        if isinstance(self.data, Attendance):
            return FactKind.ATTENDANCE
        if isinstance(self.data, Assessment):
            return FactKind.ASSESSMENT
        if isinstance(self.data, OJTAssignment):
            return FactKind.OJT_ASSIGNMENT
        return FactKind.OJT_COMPLETION

    @property
    def subject(self) -> str:
        """What the fact is about within its kind: a session, a test; OJT has one subject."""
        if isinstance(self.data, Attendance):
            return self.data.session_id
        if isinstance(self.data, Assessment):
            return self.data.kind.value
        return ""

    @property
    def key(self) -> FactKey:
        return (self.facilitator_id, self.kind, self.subject)

    @property
    def rank(self) -> tuple[datetime, str]:
        """Corrections: the greatest rank wins; ``fact_id`` breaks ties deterministically."""
        return (self.occurred_at, self.fact_id)

    def payload(self) -> dict[str, Any]:
        """The kind-specific part, as stored (JSON)."""
        d = self.data
        if isinstance(d, Attendance):
            return {"status": d.status.value, "note": d.note}
        if isinstance(d, Assessment):
            return {"score": d.score, "max_score": d.max_score}
        if isinstance(d, OJTAssignment):
            return {"kelurahan_code": d.kelurahan_code, "mentor": d.mentor, "task": d.task}
        return {"kelurahan_code": d.kelurahan_code, "rating": d.rating, "report": d.report}

    def same_as(self, other: Fact) -> bool:
        """Whether ``other`` (with the same ``fact_id``) says the same thing: a true duplicate."""
        return (
            self.facilitator_id == other.facilitator_id
            and self.occurred_at == other.occurred_at
            and self.kind == other.kind
            and self.subject == other.subject
            and self.payload() == other.payload()
        )


def fact_from_stored(
    fact_id: str, kind: str, facilitator_id: uuid.UUID, subject: str, occurred_at: datetime, data: Mapping[str, Any]
) -> Fact:
    """Rebuild a fact from its stored columns (the inverse of ``kind``/``subject``/``payload``)."""
    k = FactKind(kind)
    parsed: FactData
    if k is FactKind.ATTENDANCE:
        parsed = Attendance(subject, AttendanceStatus(data["status"]), str(data.get("note", "")))
    elif k is FactKind.ASSESSMENT:
        parsed = Assessment(AssessmentKind(subject), float(data["score"]), float(data["max_score"]))
    elif k is FactKind.OJT_ASSIGNMENT:
        parsed = OJTAssignment(str(data["kelurahan_code"]), str(data["mentor"]), str(data.get("task", "")))
    else:
        parsed = OJTCompletion(str(data["kelurahan_code"]), int(data["rating"]), str(data.get("report", "")))
    return Fact(fact_id, facilitator_id, occurred_at, parsed)


# -- state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantRecord:
    """The current value of every fact of one participant."""

    attendance: Mapping[str, Fact] = field(default_factory=dict)  # session_id -> fact
    pre: Fact | None = None
    post: Fact | None = None
    ojt_assignment: Fact | None = None
    ojt_completion: Fact | None = None

    def status_of(self, session_id: str) -> AttendanceStatus | None:
        fact = self.attendance.get(session_id)
        return fact.data.status if fact is not None and isinstance(fact.data, Attendance) else None

    def assessment(self, kind: AssessmentKind) -> Assessment | None:
        fact = self.pre if kind is AssessmentKind.PRE else self.post
        return fact.data if fact is not None and isinstance(fact.data, Assessment) else None

    @property
    def ojt_kelurahan(self) -> str | None:
        """Where the participant did (or, failing a completion, was assigned) OJT."""
        for fact in (self.ojt_completion, self.ojt_assignment):
            if fact is not None and isinstance(fact.data, OJTCompletion | OJTAssignment):
                return fact.data.kelurahan_code
        return None


EMPTY_RECORD = ParticipantRecord()


def current_facts(facts: Iterable[Fact]) -> dict[FactKey, Fact]:
    """The latest fact per (participant, kind, subject). A ``fact_id`` seen again is a duplicate
    and ignored (the first one recorded stands, as in the database)."""
    seen: set[str] = set()
    latest: dict[FactKey, Fact] = {}
    for fact in facts:
        if fact.fact_id in seen:
            continue
        seen.add(fact.fact_id)
        held = latest.get(fact.key)
        if held is None or fact.rank > held.rank:
            latest[fact.key] = fact
    return latest


def fold(facts: Iterable[Fact]) -> dict[uuid.UUID, ParticipantRecord]:
    """The current record of every participant the facts mention."""
    parts: dict[uuid.UUID, dict[str, Any]] = {}
    for (facilitator_id, kind, subject), fact in current_facts(facts).items():
        p = parts.setdefault(facilitator_id, {"attendance": {}})
        if kind is FactKind.ATTENDANCE:
            p["attendance"][subject] = fact
        elif kind is FactKind.ASSESSMENT:
            p[subject] = fact  # "pre" or "post"
        else:
            p[kind.value] = fact
    return {fid: ParticipantRecord(**p) for fid, p in parts.items()}


# -- refusals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True)
class FactContext:
    """What a fact is checked against: the training's sessions, who is enrolled, known places."""

    sessions: Mapping[str, Session]
    enrolled: frozenset[uuid.UUID]
    known_kelurahan: frozenset[str]
    now: datetime


def refusal_of(fact: Fact, ctx: FactContext) -> Refusal | None:
    """Why ``fact`` cannot be recorded, or None. Depends only on the fact and its context, never
    on other facts, so refusals too are independent of the order facts arrive in."""
    if fact.facilitator_id not in ctx.enrolled:
        return Refusal(NOT_ENROLLED, f"facilitator {fact.facilitator_id} is not enrolled in this training")
    if fact.occurred_at > ctx.now + FUTURE_TOLERANCE:
        return Refusal(OCCURRED_IN_FUTURE, f"occurred_at {fact.occurred_at.isoformat()} is in the future")
    data = fact.data
    if isinstance(data, Attendance):
        session = ctx.sessions.get(data.session_id)
        if session is None:
            return Refusal(UNKNOWN_SESSION, f"the training has no session {data.session_id!r}")
        # The date as the recorder saw it: occurred_at in the offset it was given with.
        if session.date > fact.occurred_at.date():
            return Refusal(
                SESSION_NOT_YET_HELD,
                f"session {data.session_id!r} is on {session.date.isoformat()}, after the attendance's "
                f"occurred_at ({fact.occurred_at.date().isoformat()})",
            )
    elif isinstance(data, OJTAssignment | OJTCompletion) and data.kelurahan_code not in ctx.known_kelurahan:
        return Refusal(UNKNOWN_KELURAHAN, f"kelurahan {data.kelurahan_code} is not in the reference data")
    return None
