"""Org-unit reference data: provinces, kota/kabupaten, kecamatan and kelurahan/desa, and the OC
region each province belongs to over time.

Every change is published through the outbox so that other services never read this database:
``OrgUnitDefined`` for a unit, on the topic of the region its province belongs to today, and
``ProvinceAssignedToRegion`` on the topic of the region the province joins (followed by the
province and all its units, so that region's consumers know the whole subtree). Events are
published only for regions this deployment serves: other regions' topics belong to their own
deployments. ``seed-orgunits --republish`` publishes everything again (e.g. after a region was
added to the deployment, or when a new consumer needs the data after the topic's retention).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from services.registration.domain import errors
from services.registration.domain.orgunits import (
    OrgUnit,
    RegionAssignment,
    level_of,
    parent_of,
    province_of,
)
from services.registration.usecases.facilitators import publish
from services.registration.usecases.ports import (
    AuthorizeAdmin,
    OrgUnitFilter,
    Page,
    Repositories,
    UnitInRegion,
    UnitOfWork,
    require,
)
from shared.kernel.contracts import OrgUnitDefined, OrgUnitLevel, ProvinceAssignedToRegion
from shared.kernel.fields import build

# -- commands and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class DefineOrgUnit:
    """Add a unit (``replace=False``: an existing code is a conflict) or add-or-rename it
    (``replace=True``). The level and the parent follow from the code."""

    code: str
    name: str
    effective_from: date
    replace: bool = False

    @property
    def level(self) -> OrgUnitLevel:
        return level_of(self.code)

    @property
    def parent_code(self) -> str | None:
        return parent_of(self.code)


@dataclass(frozen=True)
class AssignProvince:
    """``correct``: the province may already have another region from that same date (a
    correction of the grouping, e.g. from the OC regions file); otherwise that is a conflict."""

    province_code: str
    region: str
    effective_from: date
    correct: bool = False


@dataclass(frozen=True)
class SeedOrgUnits:
    """Load reference data: add what is missing; with ``update``, also apply names and regions
    that differ; with ``republish``, publish every unit and assignment again."""

    units: tuple[OrgUnit, ...]
    assignments: tuple[RegionAssignment, ...]
    update: bool = False
    republish: bool = False


@dataclass(frozen=True)
class LoadUnits:
    """Load many units at once (the whole country): set-based, idempotent. Adds what is missing;
    with ``update``, also applies names and dates that differ; with ``republish``, publishes every
    unit of the load again. Events go on the region of each unit's province today."""

    units: Sequence[OrgUnit]
    update: bool = False
    republish: bool = False


# Called with (events written, events to write) while a load writes its events.
Progress = Callable[[int, int], None]


@dataclass
class Published:
    """What a write published (only regions this deployment serves are published)."""

    events: int = 0
    skipped_regions: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class UnitWritten:
    unit: OrgUnit
    region: str | None  # the OC region of the unit's province today
    created: bool
    published: Published


@dataclass(frozen=True)
class AssignmentWritten:
    assignment: RegionAssignment
    changed: bool  # False: the same assignment existed already
    published: Published


@dataclass(frozen=True)
class UnitDetail:
    unit: OrgUnit
    region: str | None  # on the date asked for
    region_history: list[RegionAssignment]


@dataclass
class SeedReport:
    units_added: int = 0
    units_renamed: int = 0
    units_differing: list[str] = field(default_factory=list)  # kept as they are (no --update)
    assignments_added: int = 0
    assignments_changed: int = 0
    assignments_differing: list[str] = field(default_factory=list)
    published: Published = field(default_factory=Published)

    def summary(self) -> str:
        parts = [
            f"{self.units_added} unit(s) added",
            f"{self.units_renamed} renamed",
            f"{self.assignments_added} region assignment(s) added",
            f"{self.assignments_changed} changed",
            f"{self.published.events} event(s) published",
        ]
        if self.units_differing or self.assignments_differing:
            parts.append(
                f"{len(self.units_differing) + len(self.assignments_differing)} differ from the file and were "
                "kept (use --update to apply the file)"
            )
        if self.published.skipped_regions:
            parts.append(
                f"not published for regions not served here: {', '.join(sorted(self.published.skipped_regions))}"
            )
        return "; ".join(parts)


# -- reads --------------------------------------------------------------------------------------


async def list_orgunits(repos: Repositories, where: OrgUnitFilter, limit: int, offset: int) -> Page[UnitInRegion]:
    return await repos.orgunits.find(where, limit, offset)


async def get_orgunit(repos: Repositories, code: str, as_of: date | None) -> UnitDetail:
    """The unit, its region on ``as_of`` (today by default), and its province's region history."""
    unit = await repos.orgunits.get(code)
    if unit is None:
        raise errors.orgunit_not_found(f"no org unit {code}")
    region = await repos.orgunits.region_on(province_of(code), as_of or date.today())
    return UnitDetail(unit, region, await repos.orgunits.region_history(province_of(code)))


# -- writes -------------------------------------------------------------------------------------


def _publish_units(
    uow: UnitOfWork, units: Iterable[OrgUnit], region: str | None, served: Collection[str], published: Published
) -> None:
    if region is None:
        return
    if region not in served:
        published.skipped_regions.add(region)
        return
    for unit in units:
        publish(uow, region, build(OrgUnitDefined, unit))
        published.events += 1


async def _publish_assignment(
    uow: UnitOfWork, province: OrgUnit, region: str, on: date, served: Collection[str], published: Published
) -> None:
    if region not in served:
        published.skipped_regions.add(region)
        return
    publish(
        uow,
        region,
        ProvinceAssignedToRegion(province_code=province.code, province_name=province.name, effective_from=on),
    )
    published.events += 1
    _publish_units(uow, await uow.orgunits.subtree(province.code), region, served, published)


async def define_orgunit(
    uow: UnitOfWork, cmd: DefineOrgUnit, *, served: Collection[str], authorize: AuthorizeAdmin
) -> UnitWritten:
    """Returns the unit, its region today, whether it was created, and what was published."""
    authorize()
    units = uow.orgunits
    parent = cmd.parent_code
    if parent is not None and await units.get(parent) is None:
        raise errors.unknown_orgunit(
            f"the parent unit {parent} of {cmd.code} is not in the reference data; define it first",
            "parent_code",
            parent,
        )
    existing = await units.lock(cmd.code)
    published = Published()
    if existing is not None and not cmd.replace:
        raise errors.orgunit_exists(f"org unit {cmd.code} exists; PUT /api/v1/orgunits/{cmd.code} renames it")
    wanted = OrgUnit(cmd.code, cmd.level, cmd.name, parent, cmd.effective_from)
    if existing is None:
        if not await units.add_new(wanted):
            raise errors.orgunit_exists(f"org unit {cmd.code} was defined concurrently; retry")
    elif not existing.same_as(cmd.name, cmd.effective_from):
        await units.rename(cmd.code, cmd.name, cmd.effective_from)
    else:
        region = await units.region_on(province_of(cmd.code), date.today())
        return UnitWritten(existing, region, False, published)
    unit = require(await units.get(cmd.code))
    region = await units.region_on(province_of(cmd.code), date.today())
    _publish_units(uow, [unit], region, served, published)
    return UnitWritten(unit, region, existing is None, published)


async def assign_province(
    uow: UnitOfWork, cmd: AssignProvince, *, served: Collection[str], authorize: AuthorizeAdmin
) -> AssignmentWritten:
    """Record that the province belongs to ``cmd.region`` from ``cmd.effective_from`` on.
    Repeating the same assignment changes nothing."""
    authorize()
    units = uow.orgunits
    assignment = RegionAssignment(cmd.province_code, cmd.region, cmd.effective_from)
    province = await units.lock(cmd.province_code)
    if province is None or province.level != OrgUnitLevel.PROVINCE:
        raise errors.orgunit_not_found(f"no province {cmd.province_code}")
    existing = await units.lock_assignment(cmd.province_code, cmd.effective_from)
    published = Published()
    if existing == cmd.region:
        return AssignmentWritten(assignment, False, published)
    if existing is not None and not cmd.correct:
        raise errors.assignment_conflict(
            f"province {cmd.province_code} is already assigned to {existing} from {cmd.effective_from.isoformat()}",
            {"region": existing},
        )
    if existing is not None:
        await units.change_assignment(assignment)
    elif not await units.assign_new(assignment):
        raise errors.assignment_conflict("the assignment was recorded concurrently; retry")
    await _publish_assignment(uow, province, cmd.region, cmd.effective_from, served, published)
    return AssignmentWritten(assignment, True, published)


async def seed_orgunits(uow: UnitOfWork, cmd: SeedOrgUnits, *, served: Collection[str]) -> SeedReport:
    """One transaction; concurrent seeds (two replicas' prestart) run one after the other."""
    units = uow.orgunits
    await units.lock_seed()
    report = SeedReport()
    changed_units: list[str] = []
    for unit in sorted(cmd.units, key=lambda u: (u.code.count("."), u.code)):
        existing = await units.lock(unit.code)
        if existing is None:
            await units.add(unit)
            report.units_added += 1
            changed_units.append(unit.code)
        elif not existing.same_as(unit.name, unit.effective_from):
            if cmd.update:
                await units.rename(unit.code, unit.name, unit.effective_from)
                report.units_renamed += 1
                changed_units.append(unit.code)
            else:
                report.units_differing.append(unit.code)
    new_assignments: list[RegionAssignment] = []
    for a in sorted(cmd.assignments, key=lambda a: (a.province_code, a.effective_from)):
        existing_region = await units.lock_assignment(a.province_code, a.effective_from)
        if existing_region is None:
            await units.assign(a)
            report.assignments_added += 1
            new_assignments.append(a)
        elif existing_region != a.region:
            if cmd.update:
                await units.change_assignment(a)
                report.assignments_changed += 1
                new_assignments.append(a)
            else:
                report.assignments_differing.append(f"{a.province_code}@{a.effective_from.isoformat()}")
    if cmd.republish:
        new_assignments = await units.assignments()
        changed_units = [u.code for u in await units.all()]
    await _publish_seed(uow, changed_units, new_assignments, served, report.published)
    return report


async def _publish_seed(
    uow: UnitOfWork,
    changed_units: list[str],
    assignments: list[RegionAssignment],
    served: Collection[str],
    published: Published,
) -> None:
    # Each (unit, region) pair is published once, in level order: units on their province's
    # current region, and every unit of a newly assigned province on that region.
    plan: dict[tuple[str, str], OrgUnit] = {}
    current: dict[str, str | None] = {}
    on = date.today()
    units = {u.code: u for u in await uow.orgunits.all()}
    for code in changed_units:
        province = province_of(code)
        if province not in current:
            current[province] = await uow.orgunits.region_on(province, on)
        region = current[province]
        if region is not None:
            plan[(code, region)] = units[code]
    for a in assignments:
        for code, unit in units.items():
            if province_of(code) == a.province_code:
                plan[(code, a.region)] = unit
    ordered = sorted(plan.items(), key=lambda item: (item[0][0].count("."), item[0][0], item[0][1]))
    for (_, region), unit in ordered:
        _publish_units(uow, [unit], region, served, published)
    for a in assignments:
        if a.region not in served:
            published.skipped_regions.add(a.region)
            continue
        publish(
            uow,
            a.region,
            ProvinceAssignedToRegion(
                province_code=a.province_code,
                province_name=units[a.province_code].name,
                effective_from=a.effective_from,
            ),
        )
        published.events += 1


async def load_units(
    uow: UnitOfWork,
    cmd: LoadUnits,
    *,
    served: Collection[str],
    progress: Progress | None = None,
    chunk: int = 5000,
) -> SeedReport:
    """One transaction: the units are merged in two statements (repositories), then an
    ``OrgUnitDefined`` is written for each unit added or changed (every unit of the load with
    ``republish``), ``chunk`` at a time, parents first. A second run adds and publishes nothing."""
    units = uow.orgunits
    await units.lock_seed()
    merged = await units.merge(cmd.units, update=cmd.update)
    report = SeedReport(
        units_added=len(merged.added), units_renamed=len(merged.changed), units_differing=merged.differing
    )
    wanted = None if cmd.republish else {*merged.added, *merged.changed}
    todo = sorted(
        (u for u in cmd.units if wanted is None or u.code in wanted), key=lambda u: (u.code.count("."), u.code)
    )
    regions = await units.regions_on(date.today())
    for n, unit in enumerate(todo, 1):
        _publish_units(uow, [unit], regions.get(province_of(unit.code)), served, report.published)
        if n % chunk == 0:
            await uow.flush()
            if progress:
                progress(n, len(todo))
    await uow.flush()
    if progress:
        progress(len(todo), len(todo))
    return report
