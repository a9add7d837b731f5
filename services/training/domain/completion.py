"""Completion: a participant completes when, at the training's close, every requirement of its
:class:`CompletionRule` is met by their facts as they stand; see :func:`evaluate` and
:func:`decide`. Until the close a participant's standing is provisional. A correction after the
close that changes the outcome opens a review; an officer re-decides (use case ``redecide``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.training.domain.facts import EMPTY_RECORD, Assessment, Fact, ParticipantRecord, fold
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


def outcome_of(evaluation: Evaluation) -> Outcome:
    return Outcome.COMPLETED if evaluation.met else Outcome.NOT_COMPLETED


def decide(rule: CompletionRule, sessions: Sequence[Session], facts: Iterable[Fact], *, withdrawn: bool) -> Decision:
    """The decision about one participant (``facts`` are all of theirs), taken when the training
    closes, over every fact known then: each subject (a session's attendance, the pre-test, the
    post-test, the OJT assignment and completion) counts with its latest fact, the greatest
    ``(occurred_at, fact_id)``. So the decision is a function of the set of facts: any order of
    arrival, any repeats, one by one or in batches, decide the same. A withdrawn participant does
    not complete."""
    facts = list(facts)
    record = fold(facts).get(facts[0].facilitator_id, EMPTY_RECORD) if facts else EMPTY_RECORD
    evaluation = evaluate(rule, sessions, record)
    if withdrawn:
        return Decision(Outcome.NOT_COMPLETED, (WITHDRAWN,), evaluation.attendance_ratio, record)
    return Decision(outcome_of(evaluation), evaluation.unmet, evaluation.attendance_ratio, record)


def gain(pre: Assessment | None, post: Assessment | None) -> float | None:
    """Learning gain: post-test minus pre-test, each as a fraction of its maximum score."""
    if pre is None or post is None:
        return None
    return round(post.ratio - pre.ratio, 4)
