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

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.registration.usecases.common import AuthorizeAdmin, today
from shared.contracts import OrgUnitDefined, OrgUnitLevel, ProvinceAssignedToRegion
from shared.db import Conn
from shared.envelope import new_event
from shared.http import ApiError
from shared.outbox import UnitOfWork
from shared.service import Runtime
from shared.validation import RegionCode

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "orgunits.json"
CODE_PATTERN = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
LEVELS: tuple[OrgUnitLevel, ...] = (
    OrgUnitLevel.PROVINCE,
    OrgUnitLevel.KABKOTA,
    OrgUnitLevel.KECAMATAN,
    OrgUnitLevel.KELURAHAN,
)

UNIT_BY_CODE = "SELECT code, level, name, parent_code, effective_from FROM org_units WHERE code = $1"
LOCK_UNIT = UNIT_BY_CODE + " FOR UPDATE"
INSERT_UNIT = """
INSERT INTO org_units (code, level, name, parent_code, effective_from) VALUES ($1, $2, $3, $4, $5)
"""
UPDATE_UNIT = "UPDATE org_units SET name = $2, effective_from = $3, updated_at = now() WHERE code = $1"
SUBTREE = """
SELECT code, level, name, parent_code, effective_from FROM org_units
WHERE code = $1 OR code LIKE $1 || '.%'
ORDER BY length(code), code
"""
ALL_UNITS = "SELECT code, level, name, parent_code, effective_from FROM org_units ORDER BY length(code), code"
REGION_ON = """
SELECT region FROM region_assignments
WHERE province_code = $1 AND effective_from <= $2
ORDER BY effective_from DESC LIMIT 1
"""
REGION_HISTORY = """
SELECT region, effective_from FROM region_assignments WHERE province_code = $1 ORDER BY effective_from
"""
ASSIGNMENT = "SELECT region FROM region_assignments WHERE province_code = $1 AND effective_from = $2 FOR UPDATE"
INSERT_ASSIGNMENT = "INSERT INTO region_assignments (province_code, region, effective_from) VALUES ($1, $2, $3)"
UPDATE_ASSIGNMENT = """
UPDATE region_assignments SET region = $3, recorded_at = now() WHERE province_code = $1 AND effective_from = $2
"""
SEED_LOCK = "SELECT pg_advisory_xact_lock(hashtext('kotaku-orgunit-seed-' || current_schema()))"
ALL_ASSIGNMENTS = "SELECT province_code, region, effective_from FROM region_assignments ORDER BY province_code"
# Units with the region their province belongs to on a date ($1), filtered and paged.
LIST_UNITS = """
WITH current_region AS (
    SELECT DISTINCT ON (province_code) province_code, region
    FROM region_assignments WHERE effective_from <= $1
    ORDER BY province_code, effective_from DESC
)
SELECT u.code, u.level, u.name, u.parent_code, u.effective_from, r.region
FROM org_units u LEFT JOIN current_region r ON r.province_code = left(u.code, 2)
WHERE ($2::text IS NULL OR u.level = $2)
  AND ($3::text IS NULL OR u.parent_code = $3)
  AND ($4::text IS NULL OR r.region = $4)
ORDER BY u.code LIMIT $5 OFFSET $6
"""
COUNT_UNITS = """
WITH current_region AS (
    SELECT DISTINCT ON (province_code) province_code, region
    FROM region_assignments WHERE effective_from <= $1
    ORDER BY province_code, effective_from DESC
)
SELECT count(*)
FROM org_units u LEFT JOIN current_region r ON r.province_code = left(u.code, 2)
WHERE ($2::text IS NULL OR u.level = $2)
  AND ($3::text IS NULL OR u.parent_code = $3)
  AND ($4::text IS NULL OR r.region = $4)
"""


def level_of(code: str) -> OrgUnitLevel:
    return LEVELS[code.count(".")]


def parent_of(code: str) -> str | None:
    return code.rsplit(".", 1)[0] if "." in code else None


# -- checks used by the facilitator use cases ---------------------------------------------------


async def region_on(conn: Conn, province_code: str, on: date) -> str | None:
    """The OC region the province belongs to on ``on`` (None before its first assignment)."""
    region: str | None = await conn.fetchval(REGION_ON, province_code, on)
    return region


async def check_area(conn: Conn, region: str, province_code: str, kabkota_code: str, on: date) -> None:
    """Refuse a province/kota pair that is not in the reference data, or not in ``region`` on ``on``."""
    province = await conn.fetchrow(UNIT_BY_CODE, province_code)
    if province is None or province["level"] != OrgUnitLevel.PROVINCE:
        raise ApiError(
            422,
            "unknown_orgunit",
            f"province {province_code} is not in the reference data",
            {"field": "province_code", "code": province_code},
        )
    kabkota = await conn.fetchrow(UNIT_BY_CODE, kabkota_code)
    if kabkota is None or kabkota["level"] != OrgUnitLevel.KABKOTA:
        raise ApiError(
            422,
            "unknown_orgunit",
            f"kota/kabupaten {kabkota_code} is not in the reference data",
            {"field": "kabkota_code", "code": kabkota_code},
        )
    if kabkota["parent_code"] != province_code:
        raise ApiError(
            422,
            "orgunit_not_in_province",
            f"kota/kabupaten {kabkota_code} lies in province {kabkota['parent_code']}, not {province_code}",
            {"field": "kabkota_code", "code": kabkota_code},
        )
    actual = await region_on(conn, province_code, on)
    if actual != region:
        where = f"OC region {actual}" if actual else "no OC region"
        raise ApiError(
            422,
            "orgunit_not_in_region",
            f"province {province_code} ({province['name']}) belongs to {where} on {on.isoformat()}, not {region}",
            {"field": "province_code", "code": province_code, "region": actual, "on": on.isoformat()},
        )


# -- reads --------------------------------------------------------------------------------------


async def list_orgunits(
    runtime: Runtime,
    *,
    level: OrgUnitLevel | None,
    parent: str | None,
    region: str | None,
    as_of: date | None,
    limit: int,
    offset: int,
) -> tuple[int, list[asyncpg.Record]]:
    on = as_of or today()
    args = (on, level.value if level else None, parent, region)
    async with runtime.pool.acquire() as conn:
        total = await conn.fetchval(COUNT_UNITS, *args)
        rows = await conn.fetch(LIST_UNITS, *args, limit, offset)
    return int(total), list(rows)


async def get_orgunit(
    runtime: Runtime, code: str, as_of: date | None
) -> tuple[asyncpg.Record, str | None, list[asyncpg.Record]]:
    """The unit, its region on ``as_of`` (today by default), and its province's region history."""
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow(UNIT_BY_CODE, code)
        if row is None:
            raise ApiError(404, "orgunit_not_found", f"no org unit {code}")
        region = await region_on(conn, code[:2], as_of or today())
        history = await conn.fetch(REGION_HISTORY, code[:2])
    return row, region, list(history)


# -- writes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitDefinition:
    code: str
    name: str
    effective_from: date

    @property
    def level(self) -> OrgUnitLevel:
        return level_of(self.code)

    @property
    def parent_code(self) -> str | None:
        return parent_of(self.code)


@dataclass
class Published:
    """What a write published (only regions this deployment serves are published)."""

    events: int = 0
    skipped_regions: set[str] = field(default_factory=set)


def _publish_units(
    runtime: Runtime, uow: UnitOfWork, rows: Iterable[asyncpg.Record], region: str | None, published: Published
) -> None:
    if region is None:
        return
    if region not in runtime.settings.regions:
        published.skipped_regions.add(region)
        return
    for row in rows:
        uow.emit(
            new_event(
                OrgUnitDefined(
                    code=row["code"],
                    level=OrgUnitLevel(row["level"]),
                    name=row["name"],
                    parent_code=row["parent_code"],
                    effective_from=row["effective_from"],
                ),
                region=region,
                source=runtime.source,
            )
        )
        published.events += 1


async def _publish_assignment(
    runtime: Runtime, uow: UnitOfWork, province: asyncpg.Record, region: str, on: date, published: Published
) -> None:
    if region not in runtime.settings.regions:
        published.skipped_regions.add(region)
        return
    uow.emit(
        new_event(
            ProvinceAssignedToRegion(province_code=province["code"], province_name=province["name"], effective_from=on),
            region=region,
            source=runtime.source,
        )
    )
    published.events += 1
    subtree = await uow.conn.fetch(SUBTREE, province["code"])
    _publish_units(runtime, uow, subtree, region, published)


async def define_orgunit(
    runtime: Runtime, uow: UnitOfWork, unit: UnitDefinition, authorize: AuthorizeAdmin, *, replace: bool
) -> tuple[asyncpg.Record, bool, Published]:
    """Add a unit (``replace=False``: an existing code is a conflict) or add-or-rename it
    (``replace=True``). Returns the row, whether it was created, and what was published."""
    authorize()
    conn = uow.conn
    parent = unit.parent_code
    if parent is not None:
        parent_row = await conn.fetchrow(UNIT_BY_CODE, parent)
        if parent_row is None:
            raise ApiError(
                422,
                "unknown_orgunit",
                f"the parent unit {parent} of {unit.code} is not in the reference data; define it first",
                {"field": "parent_code", "code": parent},
            )
    existing = await conn.fetchrow(LOCK_UNIT, unit.code)
    published = Published()
    if existing is not None and not replace:
        raise ApiError(
            409, "orgunit_exists", f"org unit {unit.code} exists; PUT /api/v1/orgunits/{unit.code} renames it"
        )
    if existing is None:
        try:
            async with conn.transaction():  # a savepoint: a concurrent definition of the code wins
                await conn.execute(INSERT_UNIT, unit.code, unit.level.value, unit.name, parent, unit.effective_from)
        except asyncpg.UniqueViolationError:
            raise ApiError(409, "orgunit_exists", f"org unit {unit.code} was defined concurrently; retry") from None
    elif (existing["name"], existing["effective_from"]) != (unit.name, unit.effective_from):
        await conn.execute(UPDATE_UNIT, unit.code, unit.name, unit.effective_from)
    else:
        return existing, False, published
    row = await conn.fetchrow(UNIT_BY_CODE, unit.code)
    assert row is not None
    _publish_units(runtime, uow, [row], await region_on(conn, unit.code[:2], today()), published)
    return row, existing is None, published


async def assign_province(
    runtime: Runtime,
    uow: UnitOfWork,
    province_code: str,
    region: str,
    effective_from: date,
    authorize: AuthorizeAdmin,
) -> tuple[bool, Published]:
    """Record that the province belongs to ``region`` from ``effective_from`` on. Returns whether
    anything changed (repeating the same assignment is a no-op) and what was published."""
    authorize()
    conn = uow.conn
    province = await conn.fetchrow(LOCK_UNIT, province_code)
    if province is None or province["level"] != OrgUnitLevel.PROVINCE:
        raise ApiError(404, "orgunit_not_found", f"no province {province_code}")
    existing = await conn.fetchval(ASSIGNMENT, province_code, effective_from)
    published = Published()
    if existing == region:
        return False, published
    if existing is not None:
        raise ApiError(
            409,
            "assignment_conflict",
            f"province {province_code} is already assigned to {existing} from {effective_from.isoformat()}",
            {"region": existing},
        )
    try:
        async with conn.transaction():
            await conn.execute(INSERT_ASSIGNMENT, province_code, region, effective_from)
    except asyncpg.UniqueViolationError:
        raise ApiError(409, "assignment_conflict", "the assignment was recorded concurrently; retry") from None
    await _publish_assignment(runtime, uow, province, region, effective_from, published)
    return True, published


# -- the committed reference data file ----------------------------------------------------------


class ReferenceUnit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE_PATTERN)
    level: OrgUnitLevel
    name: str = Field(min_length=1, max_length=200)
    parent_code: str | None
    effective_from: date
    code_status: Literal["official", "illustrative"]
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReferenceUnit:
        if self.level != level_of(self.code):
            raise ValueError(f"{self.code}: a code of this shape is a {level_of(self.code).value}, not {self.level}")
        if self.parent_code != parent_of(self.code):
            raise ValueError(f"{self.code}: its parent is {parent_of(self.code)}, not {self.parent_code}")
        return self


class ReferenceAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    province_code: str = Field(pattern=r"^\d{2}$")
    region: RegionCode
    effective_from: date
    illustrative: bool


class ReferenceData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    edition: str
    notes: list[str]
    regions: list[ReferenceAssignment]
    units: list[ReferenceUnit]

    @model_validator(mode="after")
    def _complete(self) -> ReferenceData:
        codes = [u.code for u in self.units]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"codes defined twice: {duplicates}")
        known = set(codes)
        orphans = sorted(u.code for u in self.units if u.parent_code is not None and u.parent_code not in known)
        if orphans:
            raise ValueError(f"units whose parent is not in the file: {orphans}")
        provinces = {u.code for u in self.units if u.level is OrgUnitLevel.PROVINCE}
        stray = sorted({a.province_code for a in self.regions} - provinces)
        if stray:
            raise ValueError(f"region assignments of provinces not in the file: {stray}")
        return self


def load_reference_data(path: Path = DATA_FILE) -> ReferenceData:
    return ReferenceData.model_validate(json.loads(path.read_text(encoding="utf-8")))


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


async def seed_orgunits(
    runtime: Runtime, uow: UnitOfWork, data: ReferenceData, *, update: bool = False, republish: bool = False
) -> SeedReport:
    """Load reference data: add what is missing; with ``update``, also apply names and regions
    that differ; with ``republish``, publish every unit and assignment again. One transaction."""
    conn = uow.conn
    await conn.execute(SEED_LOCK)  # concurrent seeds (two replicas' prestart) run one after the other
    report = SeedReport()
    changed_units: list[str] = []
    for unit in sorted(data.units, key=lambda u: (u.code.count("."), u.code)):
        existing = await conn.fetchrow(LOCK_UNIT, unit.code)
        if existing is None:
            await conn.execute(
                INSERT_UNIT, unit.code, unit.level.value, unit.name, unit.parent_code, unit.effective_from
            )
            report.units_added += 1
            changed_units.append(unit.code)
        elif (existing["name"], existing["effective_from"]) != (unit.name, unit.effective_from):
            if update:
                await conn.execute(UPDATE_UNIT, unit.code, unit.name, unit.effective_from)
                report.units_renamed += 1
                changed_units.append(unit.code)
            else:
                report.units_differing.append(unit.code)
    new_assignments: list[tuple[str, str, date]] = []
    for a in sorted(data.regions, key=lambda a: (a.province_code, a.effective_from)):
        existing_region = await conn.fetchval(ASSIGNMENT, a.province_code, a.effective_from)
        if existing_region is None:
            await conn.execute(INSERT_ASSIGNMENT, a.province_code, a.region, a.effective_from)
            report.assignments_added += 1
            new_assignments.append((a.province_code, a.region, a.effective_from))
        elif existing_region != a.region:
            if update:
                await conn.execute(UPDATE_ASSIGNMENT, a.province_code, a.effective_from, a.region)
                report.assignments_changed += 1
                new_assignments.append((a.province_code, a.region, a.effective_from))
            else:
                report.assignments_differing.append(f"{a.province_code}@{a.effective_from.isoformat()}")
    if republish:
        new_assignments = [
            (r["province_code"], r["region"], r["effective_from"]) for r in await conn.fetch(ALL_ASSIGNMENTS)
        ]
        changed_units = [r["code"] for r in await conn.fetch(ALL_UNITS)]
    await _publish_seed(runtime, uow, changed_units, new_assignments, report.published)
    return report


async def _publish_seed(
    runtime: Runtime,
    uow: UnitOfWork,
    changed_units: Sequence[str],
    assignments: Sequence[tuple[str, str, date]],
    published: Published,
) -> None:
    conn = uow.conn
    # Each (unit, region) pair is published once, in level order: units on their province's
    # current region, and every unit of a newly assigned province on that region.
    plan: dict[tuple[str, str], asyncpg.Record] = {}
    current: dict[str, str | None] = {}
    on = today()
    rows = {r["code"]: r for r in await conn.fetch(ALL_UNITS)}
    for code in changed_units:
        province = code[:2]
        if province not in current:
            current[province] = await region_on(conn, province, on)
        region = current[province]
        if region is not None:
            plan[(code, region)] = rows[code]
    for province, region, _ in assignments:
        for code, row in rows.items():
            if code[:2] == province:
                plan[(code, region)] = row
    ordered = sorted(plan.items(), key=lambda item: (item[0][0].count("."), item[0][0], item[0][1]))
    for (_, region), row in ordered:
        _publish_units(runtime, uow, [row], region, published)
    for province, region, effective_from in assignments:
        if region not in runtime.settings.regions:
            published.skipped_regions.add(region)
            continue
        uow.emit(
            new_event(
                ProvinceAssignedToRegion(
                    province_code=province, province_name=rows[province]["name"], effective_from=effective_from
                ),
                region=region,
                source=runtime.source,
            )
        )
        published.events += 1
