"""A training: its schedule, its status, and the rules of changing it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from services.training.domain.errors import (
    InvalidSchedule,
    TrainingCancelled,
    TrainingClosed,
    TrainingNotOver,
)
from shared.kernel.contracts.registration import Role
from shared.kernel.contracts.training import CompletionRule, Module, Session, TrainingClass, TrainingType

SCHEDULED = "scheduled"
CANCELLED = "cancelled"
CLOSED = "closed"

# The latest calendar day anywhere in Indonesia (WIT, UTC+9): a training is over on its last day there.
LATEST_INDONESIAN_TZ = timezone(timedelta(hours=9))


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


@dataclass(frozen=True)
class Schedule:
    """What can change about a training after it was scheduled."""

    title: str
    organiser: str
    venue: str
    start_date: date
    end_date: date
    capacity: int
    eligible_roles: tuple[Role, ...]
    modules: tuple[Module, ...] = ()
    classes: tuple[TrainingClass, ...] = ()
    sessions: tuple[Session, ...] = ()
    completion_rule: CompletionRule = field(default_factory=CompletionRule)

    def fields(self) -> dict[str, Any]:
        """The schedule by field name, its tuples as lists: as a Training and the schedule's events hold it."""
        return {
            "title": self.title,
            "organiser": self.organiser,
            "venue": self.venue,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "capacity": self.capacity,
            "eligible_roles": list(self.eligible_roles),
            "modules": list(self.modules),
            "classes": list(self.classes),
            "sessions": list(self.sessions),
            "completion_rule": self.completion_rule,
        }

    def check(self) -> None:
        problems = schedule_problems(self.start_date, self.end_date, self.modules, self.classes, self.sessions)
        if problems:
            raise InvalidSchedule(problems)


@dataclass(frozen=True)
class Training:
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

    @property
    def last_day(self) -> date:
        return max((s.date for s in self.sessions), default=self.end_date)

    @property
    def class_ids(self) -> set[str]:
        return {c.class_id for c in self.classes}

    def ensure_open(self) -> None:
        """Schedule changes, class assignments, cancelling and closing need an open training."""
        if self.status == CANCELLED:
            raise TrainingCancelled()
        if self.status == CLOSED:
            raise TrainingClosed()

    def ensure_accepts_facts(self) -> None:
        """Facts are recorded until the training is cancelled, after the close too (corrections)."""
        if self.status == CANCELLED:
            raise TrainingCancelled()

    def ensure_over(self, now: datetime) -> None:
        """A training closes once its last session's day has begun everywhere in Indonesia."""
        if self.last_day > now.astimezone(LATEST_INDONESIAN_TZ).date():
            raise TrainingNotOver(self.last_day)
