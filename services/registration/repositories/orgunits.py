"""Org units and region assignments in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import asyncpg

from services.registration.domain.orgunits import OrgUnit, RegionAssignment
from services.registration.repositories.keyed import KeyedRows
from services.registration.usecases.ports import Merged, OrgUnitFilter, Page, UnitInRegion
from shared.kernel.contracts import OrgUnitLevel
from shared.kernel.db import Conn

UNIT_BY_CODE = "SELECT code, level, name, parent_code, effective_from, effective_to FROM org_units WHERE code = $1"
INSERT_UNIT = """
INSERT INTO org_units (code, level, name, parent_code, effective_from, effective_to) VALUES ($1, $2, $3, $4, $5, $6)
"""
UPDATE_UNIT = "UPDATE org_units SET name = $2, effective_from = $3, updated_at = now() WHERE code = $1"
SUBTREE = """
SELECT code, level, name, parent_code, effective_from, effective_to FROM org_units
WHERE code = $1 OR code LIKE $1 || '.%'
ORDER BY length(code), code
"""
ALL_UNITS = """
SELECT code, level, name, parent_code, effective_from, effective_to FROM org_units ORDER BY length(code), code
"""
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
REGIONS_ON = """
SELECT DISTINCT ON (province_code) province_code, region
FROM region_assignments WHERE effective_from <= $1
ORDER BY province_code, effective_from DESC
"""
# The bulk load: rows are copied into org_units_staged (under the seed lock), then merged with
# two statements.
STAGE = "DELETE FROM org_units_staged"
STAGED_DIFFERING = """
SELECT s.code FROM org_units_staged s JOIN org_units u USING (code)
WHERE (u.name, u.effective_from, u.effective_to) IS DISTINCT FROM (s.name, s.effective_from, s.effective_to)
ORDER BY s.code
"""
UPDATE_STAGED = """
UPDATE org_units u SET name = s.name, effective_from = s.effective_from, effective_to = s.effective_to,
    updated_at = now()
FROM org_units_staged s WHERE u.code = s.code
  AND (u.name, u.effective_from, u.effective_to) IS DISTINCT FROM (s.name, s.effective_from, s.effective_to)
RETURNING u.code
"""
# One statement: the foreign key on parent_code is checked at its end, so order does not matter.
INSERT_STAGED = """
INSERT INTO org_units (code, level, name, parent_code, effective_from, effective_to)
SELECT code, level, name, parent_code, effective_from, effective_to FROM org_units_staged s
WHERE NOT EXISTS (SELECT 1 FROM org_units u WHERE u.code = s.code)
RETURNING code
"""
CLEAR_STAGED = "DELETE FROM org_units_staged"
# Units in force on a date ($1) with the region their province belongs to then, filtered and paged.
LIST_UNITS = """
WITH current_region AS (
    SELECT DISTINCT ON (province_code) province_code, region
    FROM region_assignments WHERE effective_from <= $1
    ORDER BY province_code, effective_from DESC
)
SELECT u.code, u.level, u.name, u.parent_code, u.effective_from, u.effective_to, r.region
FROM org_units u LEFT JOIN current_region r ON r.province_code = left(u.code, 2)
WHERE u.effective_from <= $1 AND (u.effective_to IS NULL OR u.effective_to > $1)
  AND ($2::text IS NULL OR u.level = $2)
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
WHERE u.effective_from <= $1 AND (u.effective_to IS NULL OR u.effective_to > $1)
  AND ($2::text IS NULL OR u.level = $2)
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
        effective_to=row["effective_to"],
    )


class PgOrgUnits(KeyedRows[str, OrgUnit]):
    def __init__(self, conn: Conn) -> None:
        super().__init__(conn, UNIT_BY_CODE, unit_of)

    async def add(self, unit: OrgUnit) -> None:
        u = unit
        await self.conn.execute(
            INSERT_UNIT, u.code, u.level.value, u.name, u.parent_code, u.effective_from, u.effective_to
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

    async def regions_on(self, on: date) -> dict[str, str]:
        return {r["province_code"]: r["region"] for r in await self.conn.fetch(REGIONS_ON, on)}

    async def merge(self, units: Sequence[OrgUnit], *, update: bool) -> Merged:
        """Copy ``units`` into the staging table (COPY), then add the missing ones and, with
        ``update``, apply the names and dates that differ: two statements for any number of units."""
        await self.conn.execute(STAGE)
        await self.conn.copy_records_to_table(
            "org_units_staged",
            records=[(u.code, u.level.value, u.name, u.parent_code, u.effective_from, u.effective_to) for u in units],
        )
        differing = [r["code"] for r in await self.conn.fetch(STAGED_DIFFERING)]
        changed = [r["code"] for r in await self.conn.fetch(UPDATE_STAGED)] if update and differing else []
        added = [r["code"] for r in await self.conn.fetch(INSERT_STAGED)]
        await self.conn.execute(CLEAR_STAGED)
        return Merged(added=added, changed=changed, differing=[] if update else differing)
