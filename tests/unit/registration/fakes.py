"""In-memory implementations of the registration ports (services/registration/usecases/ports.py).

A :class:`MemoryStore` holds the state; ``unit_of_work()`` works on it like a transaction: the
changes and the emitted events are kept when the block ends normally, and both are undone when it
raises. ``locks`` records the rows a unit of work locked, in order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from services.registration.domain.enrollments import Enrollment, KnownTraining
from services.registration.domain.facilitators import AssignmentRecord, Facilitator
from services.registration.domain.orgunits import OrgUnit, RegionAssignment
from services.registration.usecases.ports import (
    FacilitatorFilter,
    Merged,
    NikHolder,
    OrgUnitFilter,
    Page,
    UnitInRegion,
)
from shared.kernel.envelope import Event, EventPayload
from tests.unit.fakes_common import all_or_nothing


@dataclass
class State:
    facilitators: dict[uuid.UUID, Facilitator] = field(default_factory=dict)
    nik_hashes: dict[bytes, uuid.UUID] = field(default_factory=dict)
    nik_regions: dict[bytes, str] = field(default_factory=dict)  # of NIKs registered by "another transaction"
    phone_hashes: dict[uuid.UUID, bytes | None] = field(default_factory=dict)
    deactivation_reasons: dict[uuid.UUID, str] = field(default_factory=dict)
    history: dict[uuid.UUID, list[AssignmentRecord]] = field(default_factory=dict)
    trainings: dict[uuid.UUID, KnownTraining] = field(default_factory=dict)
    details_as_of: dict[uuid.UUID, datetime] = field(default_factory=dict)
    enrollments: dict[tuple[uuid.UUID, uuid.UUID], Enrollment] = field(default_factory=dict)  # (training, person)
    withdrawal_reasons: dict[tuple[uuid.UUID, uuid.UUID], str | None] = field(default_factory=dict)
    units: dict[str, OrgUnit] = field(default_factory=dict)
    assignments: dict[tuple[str, date], str] = field(default_factory=dict)  # (province, from) -> region


class MemoryFacilitators:
    def __init__(self, state: State, locks: list[tuple[str, Any]]) -> None:
        self.state = state
        self.locks = locks
        self.concurrent_nik: tuple[bytes, uuid.UUID] | None = None  # registered by "another transaction"
        self.concurrent_region = "oc02"  # ... in this region

    async def get(self, facilitator_id: uuid.UUID) -> Facilitator | None:
        return self.state.facilitators.get(facilitator_id)

    async def lock(self, facilitator_id: uuid.UUID) -> Facilitator | None:
        self.locks.append(("facilitator", facilitator_id))
        return self.state.facilitators.get(facilitator_id)

    async def holder_of_nik(self, nik_hash: bytes) -> NikHolder | None:
        found = self.state.nik_hashes.get(nik_hash)
        if found is None:
            return None
        holder = self.state.facilitators.get(found)
        return NikHolder(found, holder.region if holder else self.state.nik_regions[nik_hash])

    async def add(self, facilitator: Facilitator, nik_hash: bytes, phone_hash: bytes | None) -> bool:
        if self.concurrent_nik is not None and self.concurrent_nik[0] == nik_hash:
            self.state.nik_hashes[nik_hash] = self.concurrent_nik[1]
            self.state.nik_regions[nik_hash] = self.concurrent_region
        if nik_hash in self.state.nik_hashes:
            return False
        self.state.facilitators[facilitator.facilitator_id] = facilitator
        self.state.nik_hashes[nik_hash] = facilitator.facilitator_id
        self.state.phone_hashes[facilitator.facilitator_id] = phone_hash
        return True

    async def record_assignment(self, facilitator: Facilitator) -> None:
        f = facilitator
        record = AssignmentRecord(
            f.role, f.speciality, f.region, f.province_code, f.kabkota_code, f.effective_from, datetime.now(UTC)
        )
        self.state.history.setdefault(f.facilitator_id, []).append(record)

    async def phone_hash(self, facilitator_id: uuid.UUID) -> bytes | None:
        return self.state.phone_hashes.get(facilitator_id)

    async def set_name(self, facilitator_id: uuid.UUID, full_name: str) -> None:
        self._change(facilitator_id, full_name=full_name)

    async def set_phone_hash(self, facilitator_id: uuid.UUID, phone_hash: bytes | None) -> None:
        self.state.phone_hashes[facilitator_id] = phone_hash

    async def reassign(self, facilitator: Facilitator) -> None:
        self.state.facilitators[facilitator.facilitator_id] = facilitator

    async def deactivate(self, facilitator_id: uuid.UUID, on: date, reason: str) -> None:
        self._change(facilitator_id, status="inactive", deactivated_on=on)
        self.state.deactivation_reasons[facilitator_id] = reason

    async def history(self, facilitator_id: uuid.UUID) -> list[AssignmentRecord]:
        return sorted(self.state.history.get(facilitator_id, []), key=lambda r: r.effective_from)

    async def find(self, where: FacilitatorFilter, limit: int, offset: int) -> Page[Facilitator]:
        found = [
            f
            for f in self.state.facilitators.values()
            if (where.regions is None or f.region in where.regions)
            and where.province_code in (None, f.province_code)
            and where.kabkota_code in (None, f.kabkota_code)
            and where.role in (None, f.role)
            and where.status in (None, f.status)
        ]
        return Page(len(found), found[offset : offset + limit])

    def _change(self, facilitator_id: uuid.UUID, **changes: Any) -> None:
        self.state.facilitators[facilitator_id] = replace(self.state.facilitators[facilitator_id], **changes)


class MemoryTrainings:
    def __init__(self, state: State, locks: list[tuple[str, Any]]) -> None:
        self.state = state
        self.locks = locks

    async def get(self, training_id: uuid.UUID) -> KnownTraining | None:
        return self.state.trainings.get(training_id)

    async def lock(self, training_id: uuid.UUID) -> KnownTraining | None:
        self.locks.append(("training", training_id))
        return self.state.trainings.get(training_id)

    async def schedule(self, training: KnownTraining, details_as_of: datetime) -> None:
        known = self.state.trainings.get(training.training_id)
        if known is None:
            self.state.trainings[training.training_id] = training
            self.state.details_as_of[training.training_id] = details_as_of
            return
        previous = self.state.details_as_of.get(training.training_id)
        if previous is not None and previous > details_as_of:
            return
        self.state.trainings[training.training_id] = replace(
            training, status=known.status, training_type=training.training_type or known.training_type
        )
        self.state.details_as_of[training.training_id] = details_as_of

    async def finish(self, training_id: uuid.UUID, region: str, status: str) -> None:
        known = self.state.trainings.get(training_id)
        if known is None:
            self.state.trainings[training_id] = KnownTraining(training_id, region, status)  # type: ignore[arg-type]
        elif known.status != "closed":
            self.state.trainings[training_id] = replace(known, status=status)  # type: ignore[arg-type]


class MemoryEnrollments:
    def __init__(self, state: State, locks: list[tuple[str, Any]]) -> None:
        self.state = state
        self.locks = locks

    async def lock(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> Enrollment | None:
        self.locks.append(("enrollment", (training_id, facilitator_id)))
        return self.state.enrollments.get((training_id, facilitator_id))

    async def count_active(self, training_id: uuid.UUID) -> int:
        return sum(e.training_id == training_id and e.status == "enrolled" for e in self.state.enrollments.values())

    async def add(self, enrollment: Enrollment, region: str) -> None:
        key = (enrollment.training_id, enrollment.facilitator_id)
        assert key not in self.state.enrollments, "the primary key would refuse this"
        self.state.enrollments[key] = enrollment

    async def reenroll(self, enrollment: Enrollment) -> None:
        key = (enrollment.training_id, enrollment.facilitator_id)
        assert key in self.state.enrollments
        self.state.enrollments[key] = enrollment
        self.state.withdrawal_reasons.pop(key, None)

    async def withdraw(self, training_id: uuid.UUID, facilitator_id: uuid.UUID, reason: str) -> None:
        key = (training_id, facilitator_id)
        self.state.enrollments[key] = replace(self.state.enrollments[key], status="withdrawn")
        self.state.withdrawal_reasons[key] = reason

    async def withdraw_open(self, facilitator_id: uuid.UUID, reason: str) -> list[Enrollment]:
        ended = []
        for key, e in list(self.state.enrollments.items()):
            training = self.state.trainings.get(e.training_id)
            if e.facilitator_id != facilitator_id or e.status != "enrolled":
                continue
            if training is not None and training.status == "closed":
                continue
            ended.append(e)
            self.state.enrollments[key] = replace(e, status="withdrawn")
            self.state.withdrawal_reasons[key] = reason
        return ended


class MemoryOrgUnits:
    def __init__(self, state: State, locks: list[tuple[str, Any]]) -> None:
        self.state = state
        self.locks = locks
        self.seed_locked = False

    async def get(self, code: str) -> OrgUnit | None:
        return self.state.units.get(code)

    async def lock(self, code: str) -> OrgUnit | None:
        self.locks.append(("orgunit", code))
        return self.state.units.get(code)

    async def add(self, unit: OrgUnit) -> None:
        assert unit.code not in self.state.units, "the primary key would refuse this"
        self.state.units[unit.code] = unit

    async def add_new(self, unit: OrgUnit) -> bool:
        if unit.code in self.state.units:
            return False
        self.state.units[unit.code] = unit
        return True

    async def rename(self, code: str, name: str, effective_from: date) -> None:
        self.state.units[code] = replace(self.state.units[code], name=name, effective_from=effective_from)

    async def subtree(self, province_code: str) -> list[OrgUnit]:
        return self._ordered(
            u for c, u in self.state.units.items() if c == province_code or c.startswith(province_code + ".")
        )

    async def all(self) -> list[OrgUnit]:
        return self._ordered(self.state.units.values())

    async def find(self, where: OrgUnitFilter, limit: int, offset: int) -> Page[UnitInRegion]:
        found = []
        for code in sorted(self.state.units):
            unit = self.state.units[code]
            if not unit.in_force(where.on):
                continue
            region = await self.region_on(code[:2], where.on)
            if where.level not in (None, unit.level) or where.parent not in (None, unit.parent_code):
                continue
            if where.region is not None and region != where.region:
                continue
            found.append(UnitInRegion(unit, region))
        return Page(len(found), found[offset : offset + limit])

    async def region_on(self, province_code: str, on: date) -> str | None:
        dates = sorted(d for (p, d) in self.state.assignments if p == province_code and d <= on)
        return self.state.assignments[(province_code, dates[-1])] if dates else None

    async def region_history(self, province_code: str) -> list[RegionAssignment]:
        return [RegionAssignment(p, r, d) for (p, d), r in sorted(self.state.assignments.items()) if p == province_code]

    async def lock_assignment(self, province_code: str, effective_from: date) -> str | None:
        self.locks.append(("assignment", (province_code, effective_from)))
        return self.state.assignments.get((province_code, effective_from))

    async def assign(self, assignment: RegionAssignment) -> None:
        key = (assignment.province_code, assignment.effective_from)
        assert key not in self.state.assignments, "the primary key would refuse this"
        self.state.assignments[key] = assignment.region

    async def assign_new(self, assignment: RegionAssignment) -> bool:
        key = (assignment.province_code, assignment.effective_from)
        if key in self.state.assignments:
            return False
        self.state.assignments[key] = assignment.region
        return True

    async def change_assignment(self, assignment: RegionAssignment) -> None:
        self.state.assignments[(assignment.province_code, assignment.effective_from)] = assignment.region

    async def assignments(self) -> list[RegionAssignment]:
        return [RegionAssignment(p, r, d) for (p, d), r in sorted(self.state.assignments.items())]

    async def lock_seed(self) -> None:
        self.seed_locked = True

    async def regions_on(self, on: date) -> dict[str, str]:
        provinces = {p for p, _ in self.state.assignments}
        found = {p: await self.region_on(p, on) for p in provinces}
        return {p: r for p, r in found.items() if r is not None}

    async def merge(self, units: Sequence[OrgUnit], *, update: bool) -> Merged:
        added: list[str] = []
        changed: list[str] = []
        differing: list[str] = []
        for unit in units:
            existing = self.state.units.get(unit.code)
            if existing is None:
                added.append(unit.code)
                self.state.units[unit.code] = unit
            elif existing != unit:
                (changed if update else differing).append(unit.code)
                if update:
                    self.state.units[unit.code] = unit
        return Merged(added, changed, sorted(differing))

    @staticmethod
    def _ordered(units: Any) -> list[OrgUnit]:
        return sorted(units, key=lambda u: (len(u.code), u.code))


class MemoryRepositories:
    def __init__(self, state: State) -> None:
        self.locks: list[tuple[str, Any]] = []
        self.facilitators = MemoryFacilitators(state, self.locks)
        self.trainings = MemoryTrainings(state, self.locks)
        self.enrollments = MemoryEnrollments(state, self.locks)
        self.orgunits = MemoryOrgUnits(state, self.locks)


class MemoryUnitOfWork(MemoryRepositories):
    def __init__(self, state: State) -> None:
        super().__init__(state)
        self.events: list[Event[EventPayload]] = []
        self.flushes = 0

    def emit(self, event: Event[EventPayload]) -> None:
        self.events.append(event)

    async def flush(self) -> None:
        self.flushes += 1


class MemoryStore:
    """The state, the events committed so far, and the last unit of work (to look at its locks)."""

    def __init__(self) -> None:
        self.state = State()
        self.events: list[Event[EventPayload]] = []
        self.last: MemoryUnitOfWork | None = None
        self.commits = 0

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[MemoryUnitOfWork]:
        uow = MemoryUnitOfWork(self.state)
        self.last = uow
        async with all_or_nothing(self.state):
            yield uow
        self.events.extend(uow.events)
        self.commits += 1

    def reading(self) -> MemoryRepositories:
        return MemoryRepositories(self.state)

    def payloads(self, event_type: str | None = None) -> list[Any]:
        return [e.payload for e in self.events if event_type is None or e.envelope.event_type == event_type]
