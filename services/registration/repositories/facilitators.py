"""Facilitators and their assignment history in PostgreSQL. Personal identifiers are stored only
as the keyed hashes the use cases compute."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from services.registration.domain.facilitators import AssignmentRecord, Facilitator
from services.registration.repositories.keyed import KeyedRows
from services.registration.usecases.ports import FacilitatorFilter, NikHolder, Page
from shared.kernel.contracts import Role, Speciality
from shared.kernel.db import Conn

INSERT_FACILITATOR = """
INSERT INTO facilitators (facilitator_id, nik_hash, phone_hash, full_name, region, role, speciality,
                          province_code, kabkota_code, effective_from)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
INSERT_ASSIGNMENT = """
INSERT INTO facilitator_assignments
    (facilitator_id, region, role, speciality, province_code, kabkota_code, effective_from)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
FACILITATOR_BY_NIK = "SELECT facilitator_id, region FROM facilitators WHERE nik_hash = $1"
FACILITATOR_BY_ID = """
SELECT facilitator_id, full_name, role, speciality, region, province_code, kabkota_code, status, effective_from,
       deactivated_on
FROM facilitators WHERE facilitator_id = $1
"""
PHONE_HASH_OF = "SELECT phone_hash FROM facilitators WHERE facilitator_id = $1"
ASSIGNMENTS_OF = """
SELECT role, speciality, region, province_code, kabkota_code, effective_from, recorded_at
FROM facilitator_assignments WHERE facilitator_id = $1 ORDER BY effective_from, assignment_id
"""
UPDATE_NAME = "UPDATE facilitators SET full_name = $2, updated_at = now() WHERE facilitator_id = $1"
UPDATE_PHONE = "UPDATE facilitators SET phone_hash = $2, updated_at = now() WHERE facilitator_id = $1"
UPDATE_ASSIGNMENT = """
UPDATE facilitators
SET role = $2, speciality = $3, province_code = $4, kabkota_code = $5, effective_from = $6, updated_at = now()
WHERE facilitator_id = $1
"""
DEACTIVATE = """
UPDATE facilitators
SET status = 'inactive', deactivated_on = $2, deactivation_reason = $3, updated_at = now()
WHERE facilitator_id = $1
"""
LIST_FACILITATORS = """
SELECT facilitator_id, full_name, role, speciality, region, province_code, kabkota_code, status, effective_from,
       deactivated_on
FROM facilitators
WHERE ($1::text[] IS NULL OR region = ANY($1::text[]))
  AND ($2::text IS NULL OR province_code = $2)
  AND ($3::text IS NULL OR kabkota_code = $3)
  AND ($4::text IS NULL OR role = $4)
  AND ($5::text IS NULL OR status = $5)
ORDER BY seq LIMIT $6 OFFSET $7
"""
COUNT_FACILITATORS = """
SELECT count(*) FROM facilitators
WHERE ($1::text[] IS NULL OR region = ANY($1::text[]))
  AND ($2::text IS NULL OR province_code = $2)
  AND ($3::text IS NULL OR kabkota_code = $3)
  AND ($4::text IS NULL OR role = $4)
  AND ($5::text IS NULL OR status = $5)
"""


def _speciality(value: str | None) -> Speciality | None:
    return Speciality(value) if value is not None else None


def _typed(row: asyncpg.Record) -> dict[str, Any]:
    """The columns of a facilitator or assignment row by name, the role and speciality as enums."""
    return {**dict(row), "role": Role(row["role"]), "speciality": _speciality(row["speciality"])}


def facilitator_of(row: asyncpg.Record) -> Facilitator:
    return Facilitator(**_typed(row))


def _assignment_columns(f: Facilitator) -> tuple[Any, ...]:
    """role .. effective_from, in the order of the statements above."""
    speciality = f.speciality.value if f.speciality else None
    return (f.role.value, speciality, f.province_code, f.kabkota_code, f.effective_from)


class PgFacilitators(KeyedRows[uuid.UUID, Facilitator]):
    def __init__(self, conn: Conn) -> None:
        super().__init__(conn, FACILITATOR_BY_ID, facilitator_of)

    async def holder_of_nik(self, nik_hash: bytes) -> NikHolder | None:
        row = await self.conn.fetchrow(FACILITATOR_BY_NIK, nik_hash)
        return None if row is None else NikHolder(row["facilitator_id"], row["region"])

    async def add(self, facilitator: Facilitator, nik_hash: bytes, phone_hash: bytes | None) -> bool:
        f = facilitator
        try:
            async with self.conn.transaction():  # a savepoint: losing a race leaves the transaction usable
                await self.conn.execute(
                    INSERT_FACILITATOR,
                    f.facilitator_id,
                    nik_hash,
                    phone_hash,
                    f.full_name,
                    f.region,
                    *_assignment_columns(f),
                )
        except asyncpg.UniqueViolationError:
            return False
        return True

    async def record_assignment(self, facilitator: Facilitator) -> None:
        f = facilitator
        await self.conn.execute(INSERT_ASSIGNMENT, f.facilitator_id, f.region, *_assignment_columns(f))

    async def phone_hash(self, facilitator_id: uuid.UUID) -> bytes | None:
        digest: bytes | None = await self.conn.fetchval(PHONE_HASH_OF, facilitator_id)
        return digest

    async def set_name(self, facilitator_id: uuid.UUID, full_name: str) -> None:
        await self.conn.execute(UPDATE_NAME, facilitator_id, full_name)

    async def set_phone_hash(self, facilitator_id: uuid.UUID, phone_hash: bytes | None) -> None:
        await self.conn.execute(UPDATE_PHONE, facilitator_id, phone_hash)

    async def reassign(self, facilitator: Facilitator) -> None:
        await self.conn.execute(UPDATE_ASSIGNMENT, facilitator.facilitator_id, *_assignment_columns(facilitator))

    async def deactivate(self, facilitator_id: uuid.UUID, on: date, reason: str) -> None:
        await self.conn.execute(DEACTIVATE, facilitator_id, on, reason)

    async def history(self, facilitator_id: uuid.UUID) -> list[AssignmentRecord]:
        return [AssignmentRecord(**_typed(r)) for r in await self.conn.fetch(ASSIGNMENTS_OF, facilitator_id)]

    async def find(self, where: FacilitatorFilter, limit: int, offset: int) -> Page[Facilitator]:
        args = (
            where.regions,
            where.province_code,
            where.kabkota_code,
            where.role.value if where.role else None,
            where.status,
        )
        total = await self.conn.fetchval(COUNT_FACILITATORS, *args)
        rows = await self.conn.fetch(LIST_FACILITATORS, *args, limit, offset)
        return Page(int(total), [facilitator_of(r) for r in rows])
