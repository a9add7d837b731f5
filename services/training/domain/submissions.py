"""The verification chain of what trainers record: a session's attendance sheet and the close of a
training (with its decisions) move ``submitted -> verified (OC region) -> accepted (national)``, or
are ``returned`` with a reason by either level; a correction reopens them (back to ``submitted``).

The rules are a table of transitions: which level may take which action from which status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.training.domain.errors import WrongLevel, WrongStatus
from shared.kernel.contracts import SubmissionKind


class Status(StrEnum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class Level(StrEnum):
    """Who acts: the OC region's training coordinator, or the national office."""

    REGION = "region"
    NATIONAL = "national"


class Action(StrEnum):
    VERIFY = "verify"
    RETURN = "return"
    ACCEPT = "accept"


# (action, level) -> the statuses it may be taken from, and the status it leads to
TRANSITIONS: dict[tuple[Action, Level], tuple[frozenset[Status], Status]] = {
    (Action.VERIFY, Level.REGION): (frozenset({Status.SUBMITTED}), Status.VERIFIED),
    (Action.RETURN, Level.REGION): (frozenset({Status.SUBMITTED}), Status.RETURNED),
    (Action.RETURN, Level.NATIONAL): (frozenset({Status.VERIFIED}), Status.RETURNED),
    (Action.ACCEPT, Level.NATIONAL): (frozenset({Status.VERIFIED}), Status.ACCEPTED),
}


def next_status(action: Action, level: Level, status: Status) -> Status:
    """The status after ``level`` takes ``action`` on a submission in ``status``, or a refusal."""
    rule = TRANSITIONS.get((action, level))
    if rule is None:
        raise WrongLevel(action.value, level.value, sorted(lv.value for (a, lv) in TRANSITIONS if a is action))
    allowed, after = rule
    if status not in allowed:
        raise WrongStatus(action.value, level.value, status.value, sorted(s.value for s in allowed))
    return after


SUBMISSION_ID = r"^(close|attendance:[A-Za-z0-9][A-Za-z0-9._:\-]{0,39})$"


def submission_id(kind: SubmissionKind, session_id: str | None = None) -> str:
    return f"{kind.value}:{session_id}" if kind is SubmissionKind.ATTENDANCE else kind.value


@dataclass(frozen=True)
class Submission:
    training_id: object
    submission_id: str
    kind: SubmissionKind
    session_id: str | None
    status: Status
    since: datetime | None = None
    by: str = ""
    reason: str = ""
    reopened: int = 0
