"""Pure rules of training delivery: no I/O, no clock, no randomness (the caller passes ``now``).

Participation facts (attendance, assessments, OJT assignments and completions) are history: each
is kept, corrections included. The current value of one (participant, kind, subject) is the fact
with the greatest ``(occurred_at, fact_id)``; facts are deduplicated by ``fact_id``. So
:func:`fold` is a function of the *set* of facts: delivered in any order, any number of times,
the same facts give the same state (proved by the property tests).

Completion: a participant completes when every requirement of the training's
:class:`CompletionRule` is met; see :func:`evaluate` and :func:`decide`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.contracts.training import AssessmentKind, AttendanceStatus, CompletionRule, Module, Session, TrainingClass

# Refusal codes (stable: clients act on them).
NOT_ENROLLED = "not_enrolled"
UNKNOWN_SESSION = "unknown_session"
SESSION_NOT_YET_HELD = "session_not_yet_held"
OCCURRED_IN_FUTURE = "occurred_in_future"
UNKNOWN_KELURAHAN = "unknown_kelurahan"
FACT_ID_CONFLICT = "fact_id_conflict"

# Unmet requirement codes (the contract of TrainingNotCompleted names them).
ATTENDANCE_BELOW_MINIMUM = "attendance_below_minimum"
POST_TEST_MISSING = "post_test_missing"
OJT_NOT_COMPLETED = "ojt_not_completed"
WITHDRAWN = "withdrawn"

ATTENDED = frozenset({AttendanceStatus.PRESENT, AttendanceStatus.LATE})
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


# -- completion --------------------------------------------------------------------------------


def required_sessions(rule: CompletionRule, total: int) -> int:
    """How many sessions a participant must attend (present or late) out of ``total``."""
    return math.ceil(rule.min_attendance_ratio * total - 1e-9)


@dataclass(frozen=True)
class Evaluation:
    attended: int
    sessions: int
    unmet: tuple[str, ...]

    @property
    def attendance_ratio(self) -> float:
        return round(self.attended / self.sessions, 4) if self.sessions else 1.0

    @property
    def met(self) -> bool:
        return not self.unmet


def evaluate(rule: CompletionRule, sessions: Sequence[Session], record: ParticipantRecord) -> Evaluation:
    """Which requirements the participant's current record meets. Excused absences count as
    absences: the ratio is sessions attended (present or late) over all sessions."""
    attended = sum(1 for s in sessions if record.status_of(s.session_id) in ATTENDED)
    unmet: list[str] = []
    if attended < required_sessions(rule, len(sessions)):
        unmet.append(ATTENDANCE_BELOW_MINIMUM)
    if rule.require_post_test and record.post is None:
        unmet.append(POST_TEST_MISSING)
    if rule.require_ojt and record.ojt_completion is None:
        unmet.append(OJT_NOT_COMPLETED)
    return Evaluation(attended, len(sessions), tuple(unmet))


class Outcome(StrEnum):
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    unmet: tuple[str, ...]
    attendance_ratio: float
    record: ParticipantRecord = EMPTY_RECORD  # the participant's record the decision was taken on


def _unique(facts: Iterable[Fact]) -> list[Fact]:
    seen: set[str] = set()
    unique = []
    for fact in facts:
        if fact.fact_id not in seen:
            seen.add(fact.fact_id)
            unique.append(fact)
    return unique


def completion_point(
    rule: CompletionRule, sessions: Sequence[Session], facts: Iterable[Fact]
) -> tuple[Evaluation, ParticipantRecord] | None:
    """The first point of one participant's timeline (facts in ``(occurred_at, fact_id)`` order)
    at which every requirement was met, with the evaluation and record at that point; None if
    there is none. This is what delivering the facts one by one in order would have decided, and
    it depends only on the set of facts, not on the order they arrived in."""
    latest: dict[FactKey, Fact] = {}
    record = EMPTY_RECORD
    evaluation = evaluate(rule, sessions, record)
    if evaluation.met:
        return evaluation, record
    for fact in sorted(_unique(facts), key=lambda f: f.rank):
        latest[fact.key] = fact  # in timeline order, each fact is the latest of its subject
        record = fold(latest.values()).get(fact.facilitator_id, EMPTY_RECORD)
        evaluation = evaluate(rule, sessions, record)
        if evaluation.met:
            return evaluation, record
    return None


def decide(
    rule: CompletionRule, sessions: Sequence[Session], facts: Sequence[Fact], *, withdrawn: bool, closing: bool
) -> Decision | None:
    """The decision to take now about one participant (``facts`` are all of theirs), or None to wait.

    A participant completes as soon as the last requirement is met: at the first point of their
    timeline where every requirement holds (:func:`completion_point`). One who never met them is
    decided only when the training closes, since a missing fact may still arrive until then, and
    on their current record. A withdrawn participant is decided at close, as not completed.
    """
    if withdrawn:
        if not closing:
            return None
        record = fold(facts).get(facts[0].facilitator_id, EMPTY_RECORD) if facts else EMPTY_RECORD
        return Decision(Outcome.NOT_COMPLETED, (WITHDRAWN,), evaluate(rule, sessions, record).attendance_ratio, record)
    point = completion_point(rule, sessions, facts)
    if point is not None:
        evaluation, record = point
        return Decision(Outcome.COMPLETED, (), evaluation.attendance_ratio, record)
    if closing:
        record = fold(facts).get(facts[0].facilitator_id, EMPTY_RECORD) if facts else EMPTY_RECORD
        evaluation = evaluate(rule, sessions, record)
        return Decision(Outcome.NOT_COMPLETED, evaluation.unmet, evaluation.attendance_ratio, record)
    return None


def gain(pre: Assessment | None, post: Assessment | None) -> float | None:
    """Learning gain: post-test minus pre-test, each as a fraction of its maximum score."""
    if pre is None or post is None:
        return None
    return round(post.ratio - pre.ratio, 4)


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


# -- schedules ---------------------------------------------------------------------------------


def schedule_problems(
    start_date: date,
    end_date: date,
    modules: Sequence[Module],
    classes: Sequence[TrainingClass],
    sessions: Sequence[Session],
) -> list[str]:
    """What is inconsistent in a schedule (empty when it is fine)."""
    problems: list[str] = []
    if end_date < start_date:
        problems.append("end_date is before start_date")
    for label, ids in (
        ("module code", [m.code for m in modules]),
        ("class id", [c.class_id for c in classes]),
        ("session id", [s.session_id for s in sessions]),
    ):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"duplicate {label}s: {', '.join(dupes)}")
    module_codes = {m.code for m in modules}
    for s in sessions:
        if not start_date <= s.date <= end_date:
            problems.append(f"session {s.session_id} on {s.date.isoformat()} is outside the training's dates")
        if s.module_code is not None and s.module_code not in module_codes:
            problems.append(f"session {s.session_id} refers to unknown module {s.module_code}")
    return problems


# -- certificates ------------------------------------------------------------------------------

# Crockford-like alphabet: no 0/O, 1/I/L, so a code read aloud or typed from paper survives.
CERTIFICATE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CERTIFICATE_GROUPS = 4
CERTIFICATE_GROUP_LENGTH = 4


def format_certificate_code(symbols: Sequence[int]) -> str:
    """A code from random symbol indexes (the caller draws them from a secure source):
    16 symbols of a 31-letter alphabet, about 79 bits, as XXXX-XXXX-XXXX-XXXX."""
    if len(symbols) != CERTIFICATE_GROUPS * CERTIFICATE_GROUP_LENGTH:
        raise ValueError("wrong number of symbols")
    chars = "".join(CERTIFICATE_ALPHABET[i] for i in symbols)
    n = CERTIFICATE_GROUP_LENGTH
    return "-".join(chars[i : i + n] for i in range(0, len(chars), n))


def normalise_certificate_code(text: str) -> str | None:
    """The canonical form of a typed code (case and dashes forgiven), or None if it cannot be one."""
    chars = "".join(ch for ch in text.strip().upper() if ch not in "- ")
    if len(chars) != CERTIFICATE_GROUPS * CERTIFICATE_GROUP_LENGTH or any(
        ch not in CERTIFICATE_ALPHABET for ch in chars
    ):
        return None
    n = CERTIFICATE_GROUP_LENGTH
    return "-".join(chars[i : i + n] for i in range(0, len(chars), n))
