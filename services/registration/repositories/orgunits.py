"""Org units and region assignments in PostgreSQL."""

from __future__ import annotations

from datetime import date

import asyncpg

from services.registration.domain.orgunits import OrgUnit, RegionAssignment
from services.registration.repositories.keyed import KeyedRows
from services.registration.usecases.ports import OrgUnitFilter, Page, UnitInRegion
from shared.kernel.contracts import OrgUnitLevel
from shared.kernel.db import Conn

UNIT_BY_CODE = "SELECT code, level, name, parent_code, effective_from FROM org_units WHERE code = $1"
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


def unit_of(row: asyncpg.Record) -> OrgUnit:
    return OrgUnit(
        code=row["code"],
        level=OrgUnitLevel(row["level"]),
        name=row["name"],
        parent_code=row["parent_code"],
        effective_from=row["effective_from"],
    )


class PgOrgUnits(KeyedRows[str, OrgUnit]):
    def __init__(self, conn: Conn) -> None:
        super().__init__(conn, UNIT_BY_CODE, unit_of)

    async def add(self, unit: OrgUnit) -> None:
        await self.conn.execute(
            INSERT_UNIT, unit.code, unit.level.value, unit.name, unit.parent_code, unit.effective_from
        )

    async def add_new(self, unit: OrgUnit) -> bool:
        try:
            async with self.conn.transaction():  # a savepoint: a concurrent definition of the code wins
                await self.add(unit)
        except asyncpg.UniqueViolationError:
            return False
        return True

    async def rename(self, code: str, name: str, effective_from: date) -> None:
        await self.conn.execute(UPDATE_UNIT, code, name, effective_from)

    async def subtree(self, province_code: str) -> list[OrgUnit]:
        return [unit_of(r) for r in await self.conn.fetch(SUBTREE, province_code)]

    async def all(self) -> list[OrgUnit]:
        return [unit_of(r) for r in await self.conn.fetch(ALL_UNITS)]

    async def find(self, where: OrgUnitFilter, limit: int, offset: int) -> Page[UnitInRegion]:
        args = (where.on, where.level.value if where.level else None, where.parent, where.region)
        total = await self.conn.fetchval(COUNT_UNITS, *args)
        rows = await self.conn.fetch(LIST_UNITS, *args, limit, offset)
        return Page(int(total), [UnitInRegion(unit_of(r), r["region"]) for r in rows])

    async def region_on(self, province_code: str, on: date) -> str | None:
        region: str | None = await self.conn.fetchval(REGION_ON, province_code, on)
        return region

    async def region_history(self, province_code: str) -> list[RegionAssignment]:
        rows = await self.conn.fetch(REGION_HISTORY, province_code)
        return [RegionAssignment(province_code, r["region"], r["effective_from"]) for r in rows]

    async def lock_assignment(self, province_code: str, effective_from: date) -> str | None:
        region: str | None = await self.conn.fetchval(ASSIGNMENT, province_code, effective_from)
        return region

    async def assign(self, assignment: RegionAssignment) -> None:
        a = assignment
        await self.conn.execute(INSERT_ASSIGNMENT, a.province_code, a.region, a.effective_from)

    async def assign_new(self, assignment: RegionAssignment) -> bool:
        try:
            async with self.conn.transaction():  # a savepoint: a concurrent assignment wins
                await self.assign(assignment)
        except asyncpg.UniqueViolationError:
            return False
        return True

    async def change_assignment(self, assignment: RegionAssignment) -> None:
        a = assignment
        await self.conn.execute(UPDATE_ASSIGNMENT, a.province_code, a.effective_from, a.region)

    async def assignments(self) -> list[RegionAssignment]:
        rows = await self.conn.fetch(ALL_ASSIGNMENTS)
        return [RegionAssignment(r["province_code"], r["region"], r["effective_from"]) for r in rows]

    async def lock_seed(self) -> None:
        await self.conn.execute(SEED_LOCK)
