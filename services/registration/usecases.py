"""Use cases of the registration service. Each runs inside a unit of work given by its caller (an
HTTP request or an intake message), so its state change and its events commit together.

``authorize`` is the caller's check that it may act on a region: an HTTP credential's regions, or
the region of the intake topic the message arrived on.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import asyncpg

from shared.contracts import FacilitatorEnrolled, FacilitatorRegistered, Role
from shared.envelope import new_event
from shared.http import ApiError
from shared.outbox import UnitOfWork
from shared.service import Runtime

Authorize = Callable[[str], None]

INSERT_FACILITATOR = """
INSERT INTO facilitators
    (facilitator_id, nik_hash, full_name, role, region, province_code, kabkota_code, effective_from)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
FACILITATOR_BY_NIK = "SELECT facilitator_id FROM facilitators WHERE nik_hash = $1"
FACILITATOR_BY_ID = """
SELECT facilitator_id, full_name, role, region, province_code, kabkota_code, status, effective_from
FROM facilitators WHERE facilitator_id = $1
"""
LOCK_FACILITATOR = FACILITATOR_BY_ID + " FOR UPDATE"
INSERT_ENROLLMENT = """
INSERT INTO enrollments (enrollment_id, training_id, facilitator_id, region) VALUES ($1, $2, $3, $4)
ON CONFLICT (training_id, facilitator_id) DO NOTHING
RETURNING enrollment_id
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


def nik_hash(key: bytes, nik: str) -> bytes:
    """Keyed hash of a national ID number: equal NIKs match, but the hash alone reveals nothing."""
    return hmac.new(key, nik.encode(), hashlib.sha256).digest()


def check_region_served(runtime: Runtime, region: str) -> None:
    if region not in runtime.settings.regions:
        raise ApiError(422, "region_not_served", f"this deployment serves {runtime.settings.regions}, not {region}")


async def register_facilitator(
    runtime: Runtime, uow: UnitOfWork, cmd: NewFacilitator, authorize: Authorize
) -> asyncpg.Record:
    authorize(cmd.region)
    check_region_served(runtime, cmd.region)
    key = runtime.settings.nik_hash_key.get_secret_value().encode()
    if not key:
        raise RuntimeError("KOTAKU_NIK_HASH_KEY is not set")
    digest = nik_hash(key, cmd.nik)
    existing = await uow.conn.fetchval(FACILITATOR_BY_NIK, digest)
    if existing is None:
        facilitator_id = uuid.uuid4()
        try:
            async with uow.conn.transaction():  # a savepoint: losing a race leaves the transaction usable
                await uow.conn.execute(
                    INSERT_FACILITATOR,
                    facilitator_id,
                    digest,
                    cmd.full_name,
                    cmd.role.value,
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
            "a facilitator with this NIK is already registered",
            {"facilitator_id": str(existing)},
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


async def enroll_facilitator(
    runtime: Runtime, uow: UnitOfWork, training_id: uuid.UUID, facilitator_id: uuid.UUID, authorize: Authorize
) -> uuid.UUID:
    facilitator = await uow.conn.fetchrow(LOCK_FACILITATOR, facilitator_id)
    if facilitator is None:
        raise ApiError(404, "facilitator_not_found", f"no facilitator {facilitator_id}")
    authorize(facilitator["region"])
    check_region_served(runtime, facilitator["region"])
    if facilitator["status"] != "active":
        raise ApiError(409, "facilitator_inactive", "an inactive facilitator cannot be enrolled")
    enrollment_id = await uow.conn.fetchval(
        INSERT_ENROLLMENT, uuid.uuid4(), training_id, facilitator_id, facilitator["region"]
    )
    if enrollment_id is None:
        raise ApiError(409, "already_enrolled", "the facilitator is already enrolled in this training")
    uow.emit(
        new_event(
            FacilitatorEnrolled(
                enrollment_id=enrollment_id,
                training_id=training_id,
                facilitator_id=facilitator_id,
                role=Role(facilitator["role"]),
                province_code=facilitator["province_code"],
                kabkota_code=facilitator["kabkota_code"],
            ),
            region=facilitator["region"],
            source=runtime.source,
        )
    )
    return uuid.UUID(str(enrollment_id))
