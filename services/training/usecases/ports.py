"""What the use cases need from the outside world, as protocols: the repositories of one unit of
work (a transaction whose state change and emitted events commit together), the read side for
queries, and plain values of the deployment. ``repositories/`` implements them over PostgreSQL;
the unit tests implement them in memory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from services.training.domain import Decision, Fact, Schedule, Training
from services.training.domain.submissions import Submission
from shared.kernel.contracts import TrainingType
from shared.kernel.envelope import Event, EventPayload

# The caller's check that it may act on (or read) a region: an HTTP credential's regions, or the
# region of the intake topic a message arrived on. It raises to refuse.
Authorize = Callable[[str], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deployment:
    """Plain values of the running service: the ``source`` of its events, the regions it serves,
    and its clock."""

    source: str
    regions: tuple[str, ...]
    clock: Callable[[], datetime] = field(default=utc_now)


@dataclass(frozen=True)
class NewTraining:
    training_id: uuid.UUID
    region: str
    training_type: TrainingType
    schedule: Schedule


@dataclass(frozen=True)
class TrainingCounts:
    enrolled: int = 0
    withdrawn: int = 0
    completed: int = 0
    not_completed: int = 0
    certificates: int = 0


@dataclass(frozen=True)
class Review:
    """A decision to look at again: the facts recorded after it say ``outcome_now``."""

    review_id: uuid.UUID
    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    decided_outcome: str
    outcome_now: str
    unmet_now: tuple[str, ...]
    status: str = "open"
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class Participant:
    """A roster entry not decided yet."""

    facilitator_id: uuid.UUID
    withdrawn: bool


class Trainings(Protocol):
    async def add(self, training: NewTraining) -> bool:
        """Insert unless a training with this id exists; whether it was inserted."""

    async def get(self, training_id: uuid.UUID) -> Training | None: ...

    async def lock(self, training_id: uuid.UUID) -> Training | None:
        """Read and lock the training until the unit of work ends: every command on a training
        locks it first, which serialises commands per training."""

    async def update_schedule(self, training_id: uuid.UUID, schedule: Schedule) -> None: ...

    async def set_status(self, training_id: uuid.UUID, status: str, reason: str) -> None: ...

    async def counts(self, training_id: uuid.UUID) -> TrainingCounts: ...


class Roster(Protocol):
    async def count_enrolled(self, training_id: uuid.UUID) -> int: ...

    async def enrolled_among(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of ``facilitator_ids`` whose enrollment stands (not withdrawn)."""


class Classes(Protocol):
    async def in_use(self, training_id: uuid.UUID) -> set[str]:
        """The classes that have participants assigned."""

    async def members(self, training_id: uuid.UUID, class_id: str) -> list[uuid.UUID]:
        """The enrolled participants of a class, ordered by id."""

    async def assign(self, training_id: uuid.UUID, assignments: Sequence[tuple[uuid.UUID, str]]) -> None:
        """Put each (facilitator, class) in place, replacing a participant's earlier class."""


class Facts(Protocol):
    async def add(self, training_id: uuid.UUID, facts: Sequence[Fact], channel: str) -> set[str]:
        """Insert the facts whose ``fact_id`` is new for the training; the ids inserted."""

    async def by_id(self, training_id: uuid.UUID, fact_ids: Sequence[str]) -> dict[str, Fact]: ...

    async def of_participants(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> list[Fact]: ...


class Kelurahan(Protocol):
    async def known_among(self, codes: Sequence[str]) -> set[str]: ...


class Decisions(Protocol):
    async def count(self, training_id: uuid.UUID) -> int: ...

    async def undecided(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID] | None) -> list[Participant]:
        """Roster entries without a decision among ``facilitator_ids`` (all when None), by id."""

    async def add(self, training_id: uuid.UUID, facilitator_id: uuid.UUID, decision: Decision, decided_by: str) -> bool:
        """Record the decision unless the participant is decided; whether it was recorded."""

    async def outcome_counts(self, training_id: uuid.UUID) -> tuple[int, int]:
        """(completed, not completed)."""

    async def of(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Decision]:
        """The decisions taken about ``facilitator_ids`` (those decided)."""

    async def correct(
        self, training_id: uuid.UUID, facilitator_id: uuid.UUID, decision: Decision, reason: str, who: str
    ) -> None:
        """Replace the participant's decision by an officer's; the history keeps both."""

    async def open_review(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> Review | None: ...

    async def add_review(self, review: Review) -> bool:
        """Open ``review`` unless one is open for the participant; whether it was opened."""

    async def end_review(self, review_id: uuid.UUID, status: str, who: str, resolution: str) -> None: ...


class Certificates(Protocol):
    async def add(self, code: str, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> bool:
        """Record a certificate unless the code is taken or the participant holds a valid one;
        whether it was recorded."""

    async def valid_code(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> str | None:
        """The participant's certificate that is not revoked, if any."""

    async def revoke(self, code: str, reason: str) -> None: ...


class Submissions(Protocol):
    async def of(self, training_id: uuid.UUID, submission_ids: Sequence[str]) -> dict[str, Submission]: ...

    async def put(self, submission: Submission, action: str) -> None:
        """Store the submission's new status and add the step to its history."""


class UnitOfWork(Protocol):
    """One transaction: the repositories work in it, and the events emitted commit with it."""

    @property
    def trainings(self) -> Trainings: ...

    @property
    def roster(self) -> Roster: ...

    @property
    def classes(self) -> Classes: ...

    @property
    def facts(self) -> Facts: ...

    @property
    def kelurahan(self) -> Kelurahan: ...

    @property
    def decisions(self) -> Decisions: ...

    @property
    def certificates(self) -> Certificates: ...

    @property
    def submissions(self) -> Submissions: ...

    def emit(self, event: Event[EventPayload]) -> None: ...


# -- the read side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterEntry:
    facilitator_id: uuid.UUID
    enrollment_id: uuid.UUID
    region: str
    role: str
    status: str
    enrolled_at: datetime
    withdrawn_at: datetime | None
    province_code: str | None = None
    kabkota_code: str | None = None


@dataclass(frozen=True)
class ParticipantRow:
    """A roster entry with its class, decision and certificate as stored."""

    facilitator_id: uuid.UUID
    status: str
    role: str
    province_code: str | None
    kabkota_code: str | None
    class_id: str | None
    outcome: str | None
    unmet: list[str] | None
    decided_by: str | None
    decided_at: datetime | None
    certificate_code: str | None


@dataclass(frozen=True)
class DecisionEntry:
    outcome: str
    unmet: list[str]
    attendance_ratio: float
    decided_by: str
    decided_by_who: str | None
    reason: str | None
    decided_at: datetime


@dataclass(frozen=True)
class StoredFact:
    fact: Fact
    channel: str
    recorded_at: datetime


@dataclass(frozen=True)
class CertificateView:
    code: str
    facilitator_id: uuid.UUID
    issued_at: datetime
    training_id: uuid.UUID
    title: str
    training_type: str
    organiser: str
    venue: str
    start_date: date
    end_date: date
    region: str
    revoked_at: datetime | None = None  # a revoked certificate is still found, as revoked
    revoke_reason: str | None = None


@dataclass(frozen=True)
class KnownKelurahan:
    code: str
    name: str
    parent_code: str | None
    region: str
    effective_from: date


class Reads(Protocol):
    """Queries, each outside any unit of work."""

    async def training(self, training_id: uuid.UUID) -> Training | None: ...

    async def counts(self, training_id: uuid.UUID) -> TrainingCounts: ...

    async def roster(self, training_id: uuid.UUID) -> list[RosterEntry]:
        """Ordered by enrollment time, then facilitator id."""

    async def participants(self, training_id: uuid.UUID) -> list[ParticipantRow]:
        """Ordered by class (unassigned last), then facilitator id."""

    async def facts_of_training(self, training_id: uuid.UUID) -> list[Fact]: ...

    async def history(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> list[StoredFact]:
        """Every fact of the participant in ``(occurred_at, fact_id)`` order."""

    async def certificate(self, code: str) -> CertificateView | None: ...

    async def reviews(self, training_id: uuid.UUID) -> list[Review]:
        """Every review of the training, open ones first, then by opening time."""

    async def decision_history(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> list[DecisionEntry]:
        """Every decision taken about the participant, oldest first."""

    async def submissions(self, training_id: uuid.UUID) -> list[Submission]:
        """The training's submissions: the close first, then each session's sheet."""

    async def kelurahan(self, code_prefix: str) -> list[KnownKelurahan]:
        """Known kelurahan whose code starts with ``code_prefix``, by code, at most 1000."""
