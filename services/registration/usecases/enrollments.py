"""Enrollments into trainings, validated against the trainings this service learned from the
training service's events (``known_trainings``, kept by services.registration.consumers).

Lock order: the facilitator's row, then the training's row. Holding the training's row while the
active enrollments are counted makes the capacity check safe against concurrent enrollments.
"""

from __future__ import annotations

import uuid

import asyncpg

from services.registration.reasons import WithdrawalReason
from services.registration.usecases.common import Authorize, check_region_served
from services.registration.usecases.facilitators import LOCK_FACILITATOR
from shared.contracts import EnrollmentWithdrawn, FacilitatorEnrolled, Role
from shared.envelope import new_event
from shared.http import ApiError
from shared.outbox import UnitOfWork
from shared.service import Runtime

TRAINING_BY_ID = """
SELECT training_id, region, status, training_type, title, start_date, end_date, capacity, eligible_roles
FROM known_trainings WHERE training_id = $1
"""
LOCK_TRAINING = TRAINING_BY_ID + " FOR UPDATE"
COUNT_ACTIVE = "SELECT count(*) FROM enrollments WHERE training_id = $1 AND status = 'enrolled'"
ENROLLMENT_OF = """
SELECT enrollment_id, status FROM enrollments WHERE training_id = $1 AND facilitator_id = $2 FOR UPDATE
"""
INSERT_ENROLLMENT = """
INSERT INTO enrollments (enrollment_id, training_id, facilitator_id, region) VALUES ($1, $2, $3, $4)
"""
REENROLL = """
UPDATE enrollments
SET enrollment_id = $3, status = 'enrolled', enrolled_at = now(), withdrawn_at = NULL, withdrawal_reason = NULL
WHERE training_id = $1 AND facilitator_id = $2
"""
WITHDRAW = """
UPDATE enrollments SET status = 'withdrawn', withdrawn_at = now(), withdrawal_reason = $3
WHERE training_id = $1 AND facilitator_id = $2
"""


def _unknown_training(training_id: uuid.UUID) -> ApiError:
    return ApiError(
        404,
        "training_unknown",
        f"training {training_id} is not known here: registration learns trainings from the training "
        "service's TrainingScheduled events, which may arrive a few seconds after scheduling; retry later "
        "if the training was scheduled just now",
    )


async def _training(uow: UnitOfWork, training_id: uuid.UUID) -> asyncpg.Record:
    training = await uow.conn.fetchrow(LOCK_TRAINING, training_id)
    if training is None or training["capacity"] is None:  # only a cancel/close event arrived so far
        if training is not None and training["status"] != "scheduled":
            raise ApiError(409, f"training_{training['status']}", f"training {training_id} is {training['status']}")
        raise _unknown_training(training_id)
    return training


async def enroll_facilitator(
    runtime: Runtime, uow: UnitOfWork, training_id: uuid.UUID, facilitator_id: uuid.UUID, authorize: Authorize
) -> uuid.UUID:
    facilitator = await uow.conn.fetchrow(LOCK_FACILITATOR, facilitator_id)
    if facilitator is None:
        raise ApiError(404, "facilitator_not_found", f"no facilitator {facilitator_id}")
    region = facilitator["region"]
    authorize(region)
    check_region_served(runtime, region)
    training = await _training(uow, training_id)
    if training["region"] != region:
        raise ApiError(
            422,
            "training_region_mismatch",
            f"training {training_id} belongs to region {training['region']}; a facilitator of {region} "
            "enrolls in their own region's trainings",
        )
    if training["status"] != "scheduled":
        raise ApiError(409, f"training_{training['status']}", f"training {training_id} is {training['status']}")
    if facilitator["status"] != "active":
        raise ApiError(409, "facilitator_inactive", "an inactive facilitator cannot be enrolled")
    if facilitator["role"] not in training["eligible_roles"]:
        raise ApiError(
            422,
            "role_not_eligible",
            f"training {training_id} is for {', '.join(training['eligible_roles'])}, not {facilitator['role']}",
        )
    existing = await uow.conn.fetchrow(ENROLLMENT_OF, training_id, facilitator_id)
    if existing is not None and existing["status"] == "enrolled":
        raise ApiError(
            409,
            "already_enrolled",
            "the facilitator is already enrolled in this training",
            {"enrollment_id": str(existing["enrollment_id"])},
        )
    active = await uow.conn.fetchval(COUNT_ACTIVE, training_id)
    if active >= training["capacity"]:
        raise ApiError(
            409, "training_full", f"training {training_id} is full ({active} of {training['capacity']} places taken)"
        )
    enrollment_id = uuid.uuid4()
    if existing is None:
        await uow.conn.execute(INSERT_ENROLLMENT, enrollment_id, training_id, facilitator_id, region)
    else:  # enrolling again after a withdrawal
        await uow.conn.execute(REENROLL, training_id, facilitator_id, enrollment_id)
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
            region=region,
            source=runtime.source,
        )
    )
    return enrollment_id


async def withdraw_enrollment(
    runtime: Runtime,
    uow: UnitOfWork,
    training_id: uuid.UUID,
    facilitator_id: uuid.UUID,
    reason: WithdrawalReason,
    authorize: Authorize,
) -> uuid.UUID:
    facilitator = await uow.conn.fetchrow(LOCK_FACILITATOR, facilitator_id)
    if facilitator is None:
        raise ApiError(404, "facilitator_not_found", f"no facilitator {facilitator_id}")
    region = facilitator["region"]
    authorize(region)
    check_region_served(runtime, region)
    training = await uow.conn.fetchrow(LOCK_TRAINING, training_id)
    enrollment = await uow.conn.fetchrow(ENROLLMENT_OF, training_id, facilitator_id)
    if enrollment is None:
        raise ApiError(404, "enrollment_not_found", f"facilitator {facilitator_id} is not enrolled in {training_id}")
    if enrollment["status"] != "enrolled":
        raise ApiError(409, "already_withdrawn", "this enrollment was already withdrawn")
    if training is not None and training["status"] == "closed":
        raise ApiError(409, "training_closed", f"training {training_id} is closed; its results are final")
    await uow.conn.execute(WITHDRAW, training_id, facilitator_id, reason.value)
    uow.emit(
        new_event(
            EnrollmentWithdrawn(
                enrollment_id=enrollment["enrollment_id"],
                training_id=training_id,
                facilitator_id=facilitator_id,
                reason=reason.value,
            ),
            region=region,
            source=runtime.source,
        )
    )
    return uuid.UUID(str(enrollment["enrollment_id"]))


async def get_training(
    runtime: Runtime, training_id: uuid.UUID, authorize_read: Authorize
) -> tuple[asyncpg.Record, int]:
    async with runtime.pool.acquire() as conn:
        training = await conn.fetchrow(TRAINING_BY_ID, training_id)
        if training is None:
            raise _unknown_training(training_id)
        authorize_read(training["region"])
        active = await conn.fetchval(COUNT_ACTIVE, training_id)
    return training, int(active)
