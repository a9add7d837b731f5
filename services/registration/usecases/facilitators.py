"""Facilitators: register, read, list, update, reassign, deactivate.

Each write runs in the caller's unit of work and locks the facilitator's row first, so that one
facilitator's events get increasing outbox ids and are published in the order they happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg

from services.registration.reasons import WITHDRAWN_BY_DEACTIVATION, DeactivationReason
from services.registration.usecases import orgunits
from services.registration.usecases.common import (
    Authorize,
    check_region_served,
    check_speciality,
    hash_key,
    nik_hash,
    phone_hash,
    today,
)
from shared.contracts import (
    EnrollmentWithdrawn,
    FacilitatorDeactivated,
    FacilitatorReassigned,
    FacilitatorRegistered,
    FacilitatorUpdated,
    Role,
    Speciality,
)
from shared.envelope import new_event
from shared.http import ApiError
from shared.outbox import UnitOfWork
from shared.service import Runtime

INSERT_FACILITATOR = """
INSERT INTO facilitators (facilitator_id, nik_hash, phone_hash, full_name, role, speciality, region,
                          province_code, kabkota_code, effective_from)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
INSERT_ASSIGNMENT = """
INSERT INTO facilitator_assignments
    (facilitator_id, role, speciality, region, province_code, kabkota_code, effective_from)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
FACILITATOR_BY_NIK = "SELECT facilitator_id FROM facilitators WHERE nik_hash = $1"
FACILITATOR_BY_ID = """
SELECT facilitator_id, full_name, role, speciality, region, province_code, kabkota_code, status, effective_from,
       deactivated_on
FROM facilitators WHERE facilitator_id = $1
"""
LOCK_FACILITATOR = FACILITATOR_BY_ID + " FOR UPDATE"
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
# Enrollments that end with the facilitator: every active one, except in trainings already closed.
WITHDRAW_OPEN_ENROLLMENTS = """
UPDATE enrollments e
SET status = 'withdrawn', withdrawn_at = now(), withdrawal_reason = $2
WHERE e.facilitator_id = $1 AND e.status = 'enrolled'
  AND NOT EXISTS (SELECT 1 FROM known_trainings t WHERE t.training_id = e.training_id AND t.status = 'closed')
RETURNING e.enrollment_id, e.training_id
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


@dataclass(frozen=True)
class NewFacilitator:
    nik: str
    full_name: str
    role: Role
    region: str
    province_code: str
    kabkota_code: str
    effective_from: date
    speciality: Speciality | None = None
    phone: str | None = None  # normalised (see services.registration.schemas); stored only hashed


@dataclass(frozen=True)
class Assignment:
    role: Role
    speciality: Speciality | None
    province_code: str
    kabkota_code: str
    effective_from: date


@dataclass(frozen=True)
class Changes:
    """Personal details to change; ``phone_set`` distinguishes "remove the phone" from "leave it"."""

    full_name: str | None = None
    phone: str | None = None
    phone_set: bool = False


async def _locked(uow: UnitOfWork, facilitator_id: uuid.UUID) -> asyncpg.Record:
    row = await uow.conn.fetchrow(LOCK_FACILITATOR, facilitator_id)
    if row is None:
        raise ApiError(404, "facilitator_not_found", f"no facilitator {facilitator_id}")
    return row


def _active(row: asyncpg.Record) -> None:
    if row["status"] != "active":
        raise ApiError(
            409,
            "facilitator_inactive",
            f"facilitator {row['facilitator_id']} was deactivated on {row['deactivated_on']}",
        )


def _not_before_current(row: asyncpg.Record, effective_from: date) -> None:
    if effective_from < row["effective_from"]:
        raise ApiError(
            422,
            "effective_date_too_early",
            f"effective_from {effective_from.isoformat()} is before the current assignment, which started "
            f"{row['effective_from'].isoformat()}",
            {"field": "effective_from"},
        )


async def register_facilitator(
    runtime: Runtime, uow: UnitOfWork, cmd: NewFacilitator, authorize: Authorize
) -> asyncpg.Record:
    authorize(cmd.region)
    check_region_served(runtime, cmd.region)
    check_speciality(cmd.role, cmd.speciality)
    await orgunits.check_area(uow.conn, cmd.region, cmd.province_code, cmd.kabkota_code, cmd.effective_from)
    key = hash_key(runtime)
    digest = nik_hash(key, cmd.nik)
    existing = await uow.conn.fetchval(FACILITATOR_BY_NIK, digest)
    facilitator_id = uuid.uuid4()
    if existing is None:
        try:
            async with uow.conn.transaction():  # a savepoint: losing a race leaves the transaction usable
                await uow.conn.execute(
                    INSERT_FACILITATOR,
                    facilitator_id,
                    digest,
                    phone_hash(key, cmd.phone) if cmd.phone else None,
                    cmd.full_name,
                    cmd.role.value,
                    cmd.speciality.value if cmd.speciality else None,
                    cmd.region,
                    cmd.province_code,
                    cmd.kabkota_code,
                    cmd.effective_from,
                )
        except asyncpg.UniqueViolationError:
            existing = await uow.conn.fetchval(FACILITATOR_BY_NIK, digest)
    if existing is not None:
        raise ApiError(
            409,
            "facilitator_exists",
            f"a facilitator with this NIK is already registered as {existing}",
            {"facilitator_id": str(existing)},
        )
    await uow.conn.execute(
        INSERT_ASSIGNMENT,
        facilitator_id,
        cmd.role.value,
        cmd.speciality.value if cmd.speciality else None,
        cmd.region,
        cmd.province_code,
        cmd.kabkota_code,
        cmd.effective_from,
    )
    uow.emit(
        new_event(
            FacilitatorRegistered(
                facilitator_id=facilitator_id,
                full_name=cmd.full_name,
                role=cmd.role,
                province_code=cmd.province_code,
                kabkota_code=cmd.kabkota_code,
                effective_from=cmd.effective_from,
                speciality=cmd.speciality,
            ),
            region=cmd.region,
            source=runtime.source,
        )
    )
    row = await uow.conn.fetchrow(FACILITATOR_BY_ID, facilitator_id)
    assert row is not None
    return row


async def get_facilitator(runtime: Runtime, facilitator_id: uuid.UUID, authorize_read: Authorize) -> asyncpg.Record:
    row = await runtime.pool.fetchrow(FACILITATOR_BY_ID, facilitator_id)
    if row is None:
        raise ApiError(404, "facilitator_not_found", f"no facilitator {facilitator_id}")
    authorize_read(row["region"])
    return row


async def facilitator_history(
    runtime: Runtime, facilitator_id: uuid.UUID, authorize_read: Authorize
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    row = await get_facilitator(runtime, facilitator_id, authorize_read)
    return row, list(await runtime.pool.fetch(ASSIGNMENTS_OF, facilitator_id))


@dataclass(frozen=True)
class FacilitatorFilter:
    regions: list[str] | None  # None: every region (national and admin readers)
    province_code: str | None = None
    kabkota_code: str | None = None
    role: Role | None = None
    status: str | None = None


async def list_facilitators(
    runtime: Runtime, where: FacilitatorFilter, limit: int, offset: int, authorize_read: Authorize
) -> tuple[int, list[asyncpg.Record]]:
    for region in where.regions or ():
        authorize_read(region)
    args = (
        where.regions,
        where.province_code,
        where.kabkota_code,
        where.role.value if where.role else None,
        where.status,
    )
    async with runtime.pool.acquire() as conn:
        total = await conn.fetchval(COUNT_FACILITATORS, *args)
        rows = await conn.fetch(LIST_FACILITATORS, *args, limit, offset)
    return int(total), list(rows)


async def update_facilitator(
    runtime: Runtime, uow: UnitOfWork, facilitator_id: uuid.UUID, changes: Changes, authorize: Authorize
) -> asyncpg.Record:
    """Change the name (published as FacilitatorUpdated) and/or the phone (stored hashed, never
    published). Repeating the same change is accepted and publishes nothing."""
    row = await _locked(uow, facilitator_id)
    authorize(row["region"])
    check_region_served(runtime, row["region"])
    if changes.full_name is not None and changes.full_name != row["full_name"]:
        await uow.conn.execute(UPDATE_NAME, facilitator_id, changes.full_name)
        uow.emit(
            new_event(
                FacilitatorUpdated(facilitator_id=facilitator_id, full_name=changes.full_name),
                region=row["region"],
                source=runtime.source,
            )
        )
    if changes.phone_set:
        digest = phone_hash(hash_key(runtime), changes.phone) if changes.phone else None
        if digest != await uow.conn.fetchval(PHONE_HASH_OF, facilitator_id):
            await uow.conn.execute(UPDATE_PHONE, facilitator_id, digest)
    updated = await uow.conn.fetchrow(FACILITATOR_BY_ID, facilitator_id)
    assert updated is not None
    return updated


async def reassign_facilitator(
    runtime: Runtime, uow: UnitOfWork, facilitator_id: uuid.UUID, new: Assignment, authorize: Authorize
) -> asyncpg.Record:
    """A new role and/or area from ``new.effective_from`` on, within the facilitator's region;
    the previous assignment stays in the history."""
    row = await _locked(uow, facilitator_id)
    region = row["region"]
    authorize(region)
    check_region_served(runtime, region)
    _active(row)
    check_speciality(new.role, new.speciality)
    _not_before_current(row, new.effective_from)
    current = (row["role"], row["speciality"], row["province_code"], row["kabkota_code"])
    wanted = (new.role.value, new.speciality.value if new.speciality else None, new.province_code, new.kabkota_code)
    if current == wanted:
        raise ApiError(409, "assignment_unchanged", "the facilitator already has this role, speciality and area")
    try:
        await orgunits.check_area(uow.conn, region, new.province_code, new.kabkota_code, new.effective_from)
    except ApiError as exc:
        if exc.code == "orgunit_not_in_region":
            exc.message += "; a facilitator is reassigned within their OC region only"
        raise
    await uow.conn.execute(
        UPDATE_ASSIGNMENT, facilitator_id, wanted[0], wanted[1], new.province_code, new.kabkota_code, new.effective_from
    )
    await uow.conn.execute(
        INSERT_ASSIGNMENT,
        facilitator_id,
        wanted[0],
        wanted[1],
        region,
        new.province_code,
        new.kabkota_code,
        new.effective_from,
    )
    uow.emit(
        new_event(
            FacilitatorReassigned(
                facilitator_id=facilitator_id,
                role=new.role,
                speciality=new.speciality,
                province_code=new.province_code,
                kabkota_code=new.kabkota_code,
                effective_from=new.effective_from,
                previous_role=Role(row["role"]),
                previous_province_code=row["province_code"],
                previous_kabkota_code=row["kabkota_code"],
            ),
            region=region,
            source=runtime.source,
        )
    )
    updated = await uow.conn.fetchrow(FACILITATOR_BY_ID, facilitator_id)
    assert updated is not None
    return updated


async def deactivate_facilitator(
    runtime: Runtime,
    uow: UnitOfWork,
    facilitator_id: uuid.UUID,
    reason: DeactivationReason,
    effective_from: date | None,
    authorize: Authorize,
) -> asyncpg.Record:
    """The facilitator leaves the program; their enrollments in trainings that are not closed
    are withdrawn (each published as EnrollmentWithdrawn)."""
    row = await _locked(uow, facilitator_id)
    region = row["region"]
    authorize(region)
    check_region_served(runtime, region)
    _active(row)
    on = effective_from or today()
    _not_before_current(row, on)
    await uow.conn.execute(DEACTIVATE, facilitator_id, on, reason.value)
    uow.emit(
        new_event(
            FacilitatorDeactivated(facilitator_id=facilitator_id, effective_from=on, reason=reason.value),
            region=region,
            source=runtime.source,
        )
    )
    for enrollment in await uow.conn.fetch(WITHDRAW_OPEN_ENROLLMENTS, facilitator_id, WITHDRAWN_BY_DEACTIVATION):
        uow.emit(
            new_event(
                EnrollmentWithdrawn(
                    enrollment_id=enrollment["enrollment_id"],
                    training_id=enrollment["training_id"],
                    facilitator_id=facilitator_id,
                    reason=WITHDRAWN_BY_DEACTIVATION,
                ),
                region=region,
                source=runtime.source,
            )
        )
    updated = await uow.conn.fetchrow(FACILITATOR_BY_ID, facilitator_id)
    assert updated is not None
    return updated
