"""Completion: a participant completes when every requirement of the training's
:class:`CompletionRule` is met; see :func:`evaluate` and :func:`decide`. Decisions are final.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.training.domain.facts import EMPTY_RECORD, Assessment, Fact, FactKey, ParticipantRecord, fold
from shared.kernel.contracts.training import AttendanceStatus, CompletionRule, Session

# Unmet requirement codes (the contract of TrainingNotCompleted names them).
ATTENDANCE_BELOW_MINIMUM = "attendance_below_minimum"
POST_TEST_MISSING = "post_test_missing"
OJT_NOT_COMPLETED = "ojt_not_completed"
WITHDRAWN = "withdrawn"

ATTENDED = frozenset({AttendanceStatus.PRESENT, AttendanceStatus.LATE})


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
