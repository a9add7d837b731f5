"""What the use cases need from the outside world, as protocols: repositories, the unit of work
that commits a state change together with its events, and the caller's authorization checks.

``services.registration.repositories`` implements them over PostgreSQL and the outbox;
``tests/unit/registration/fakes.py`` implements them in memory. A method that says ``lock`` takes
the row lock a concurrent change of the same row waits for (the caller's transaction holds it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, Protocol, TypeVar

from services.registration.domain.enrollments import Enrollment, KnownTraining
from services.registration.domain.facilitators import AssignmentRecord, Facilitator
from services.registration.domain.orgunits import OrgUnit, RegionAssignment
from shared.kernel.contracts import OrgUnitLevel, Role
from shared.kernel.envelope import Event, EventPayload

# The caller's check that it may act on (or read) a region: an HTTP credential's regions, or the
# region of the intake topic a message arrived on. It raises to refuse.
Authorize = Callable[[str], None]
# The caller's check that it may change reference data (admin credentials only).
AuthorizeAdmin = Callable[[], None]


@dataclass(frozen=True)
class FacilitatorFilter:
    regions: list[str] | None  # None: every region (national and admin readers)
    province_code: str | None = None
    kabkota_code: str | None = None
    role: Role | None = None
    status: str | None = None


@dataclass(frozen=True)
class OrgUnitFilter:
    on: date  # the date of the region grouping
    level: OrgUnitLevel | None = None
    parent: str | None = None
    region: str | None = None


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    total: int
    items: list[T]


@dataclass(frozen=True)
class UnitInRegion:
    """An org unit with the OC region its province belongs to on the date asked for."""

    unit: OrgUnit
    region: str | None


@dataclass(frozen=True)
class NikHolder:
    """Who holds a NIK: the facilitator registered with it, and the region they belong to."""

    facilitator_id: uuid.UUID
    region: str


class Facilitators(Protocol):
    async def get(self, facilitator_id: uuid.UUID) -> Facilitator | None: ...
    async def lock(self, facilitator_id: uuid.UUID) -> Facilitator | None: ...
    async def holder_of_nik(self, nik_hash: bytes) -> NikHolder | None:
        """The facilitator registered with this NIK (hash), with its region."""
        ...

    async def add(self, facilitator: Facilitator, nik_hash: bytes, phone_hash: bytes | None) -> bool:
        """Insert; False (and nothing written) when the NIK was registered concurrently."""
        ...

    async def record_assignment(self, facilitator: Facilitator) -> None:
        """Append the facilitator's current role and area to the history."""
        ...

    async def phone_hash(self, facilitator_id: uuid.UUID) -> bytes | None: ...
    async def set_name(self, facilitator_id: uuid.UUID, full_name: str) -> None: ...
    async def set_phone_hash(self, facilitator_id: uuid.UUID, phone_hash: bytes | None) -> None: ...
    async def reassign(self, facilitator: Facilitator) -> None:
        """Store the facilitator's new current assignment (role, speciality, area, effective_from)."""
        ...

    async def deactivate(self, facilitator_id: uuid.UUID, on: date, reason: str) -> None: ...
    async def history(self, facilitator_id: uuid.UUID) -> list[AssignmentRecord]: ...
    async def find(self, where: FacilitatorFilter, limit: int, offset: int) -> Page[Facilitator]: ...


class Trainings(Protocol):
    """The trainings learned from the training service's events (``known_trainings``)."""

    async def get(self, training_id: uuid.UUID) -> KnownTraining | None: ...
    async def lock(self, training_id: uuid.UUID) -> KnownTraining | None: ...
    async def schedule(self, training: KnownTraining, details_as_of: datetime) -> None:
        """Record the details of a scheduled or updated training (a later schedule wins; the
        training type is kept when an update does not carry it)."""
        ...

    async def finish(self, training_id: uuid.UUID, region: str, status: str) -> None:
        """Record a cancellation or closure (closed wins over cancelled, both over scheduled)."""
        ...


class Enrollments(Protocol):
    async def lock(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> Enrollment | None: ...
    async def count_active(self, training_id: uuid.UUID) -> int: ...
    async def add(self, enrollment: Enrollment, region: str) -> None: ...
    async def reenroll(self, enrollment: Enrollment) -> None:
        """Enroll again after a withdrawal, under a new enrollment id."""
        ...

    async def withdraw(self, training_id: uuid.UUID, facilitator_id: uuid.UUID, reason: str) -> None: ...
    async def withdraw_open(self, facilitator_id: uuid.UUID, reason: str) -> list[Enrollment]:
        """Withdraw every active enrollment of the facilitator except in closed trainings;
        returns them (as they were before)."""
        ...


@dataclass(frozen=True)
class Merged:
    """What a bulk load did: codes added, codes changed (``update``), codes that differ and were kept."""

    added: list[str]
    changed: list[str]
    differing: list[str]


class OrgUnits(Protocol):
    async def get(self, code: str) -> OrgUnit | None: ...
    async def lock(self, code: str) -> OrgUnit | None: ...
    async def add(self, unit: OrgUnit) -> None: ...
    async def add_new(self, unit: OrgUnit) -> bool:
        """Insert; False (and nothing written) when the code was defined concurrently."""
        ...

    async def rename(self, code: str, name: str, effective_from: date) -> None: ...
    async def subtree(self, province_code: str) -> list[OrgUnit]: ...
    async def all(self) -> list[OrgUnit]: ...
    async def find(self, where: OrgUnitFilter, limit: int, offset: int) -> Page[UnitInRegion]: ...
    async def region_on(self, province_code: str, on: date) -> str | None: ...
    async def region_history(self, province_code: str) -> list[RegionAssignment]: ...
    async def lock_assignment(self, province_code: str, effective_from: date) -> str | None:
        """The region of the assignment that starts on ``effective_from`` (locked), if any."""
        ...

    async def assign(self, assignment: RegionAssignment) -> None: ...
    async def assign_new(self, assignment: RegionAssignment) -> bool:
        """Insert; False (and nothing written) when it was recorded concurrently."""
        ...

    async def change_assignment(self, assignment: RegionAssignment) -> None: ...
    async def assignments(self) -> list[RegionAssignment]: ...
    async def lock_seed(self) -> None:
        """Make concurrent seeds run one after the other (until the transaction ends)."""
        ...

    async def regions_on(self, on: date) -> dict[str, str]:
        """The region of every province that has one on ``on``."""
        ...

    async def merge(self, units: Sequence[OrgUnit], *, update: bool) -> Merged:
        """Add the units whose code is missing; with ``update``, also apply the name and the
        dates of those that differ (otherwise they are reported and kept)."""
        ...


class Repositories(Protocol):
    """What a read needs; a unit of work has the same repositories."""

    @property
    def facilitators(self) -> Facilitators: ...
    @property
    def trainings(self) -> Trainings: ...
    @property
    def enrollments(self) -> Enrollments: ...
    @property
    def orgunits(self) -> OrgUnits: ...


class UnitOfWork(Repositories, Protocol):
    """One transaction: the repositories' changes and the emitted events commit together, or
    nothing does (the unit of work ends without committing when the use case raises)."""

    def emit(self, event: Event[EventPayload]) -> None: ...
    async def flush(self) -> None:
        """Write the events emitted so far into the transaction now (a large load writes them
        in parts instead of all at the commit)."""
        ...


# Opens a new unit of work (used by the bulk import: one per row).
UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


def require(value: T | None) -> T:
    """A row the same transaction just wrote or locked."""
    assert value is not None
    return value


__all__ = [
    "Authorize",
    "AuthorizeAdmin",
    "Enrollments",
    "FacilitatorFilter",
    "Facilitators",
    "Merged",
    "OrgUnitFilter",
    "OrgUnits",
    "Page",
    "Repositories",
    "Trainings",
    "UnitInRegion",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "require",
]
