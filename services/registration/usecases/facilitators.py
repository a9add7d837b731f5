"""Facilitators: register, read, list, update, reassign, deactivate.

Each write runs in the caller's unit of work and locks the facilitator's row first, so that one
facilitator's events get increasing outbox ids and are published in the order they happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date

from services.registration.domain import errors
from services.registration.domain.facilitators import (
    AssignmentRecord,
    Facilitator,
    check_active,
    check_not_before_current,
    check_region_served,
    check_speciality,
    nik_hash,
    phone_hash,
)
from services.registration.domain.orgunits import check_area
from services.registration.domain.reasons import WITHDRAWN_BY_DEACTIVATION, DeactivationReason
from services.registration.usecases.ports import (
    Authorize,
    FacilitatorFilter,
    NikHolder,
    Page,
    Repositories,
    UnitOfWork,
    require,
)
from shared.kernel.contracts import (
    EnrollmentWithdrawn,
    FacilitatorDeactivated,
    FacilitatorReassigned,
    FacilitatorRegistered,
    FacilitatorUpdated,
    Role,
    Speciality,
)
from shared.kernel.envelope import EventPayload, new_event
from shared.kernel.errors import Conflict, Forbidden
from shared.kernel.fields import build

SOURCE = "kotaku.registration"

# -- commands -----------------------------------------------------------------------------------


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
    phone: str | None = None  # normalised (see entrypoints.schemas); stored only hashed


@dataclass(frozen=True)
class ChangeDetails:
    """Personal details to change; ``phone_set`` distinguishes "remove the phone" from "leave it"."""

    facilitator_id: uuid.UUID
    full_name: str | None = None
    phone: str | None = None
    phone_set: bool = False


@dataclass(frozen=True)
class Reassign:
    """The complete new assignment, from ``effective_from`` on."""

    facilitator_id: uuid.UUID
    role: Role
    speciality: Speciality | None
    province_code: str
    kabkota_code: str
    effective_from: date


@dataclass(frozen=True)
class Deactivate:
    facilitator_id: uuid.UUID
    reason: DeactivationReason
    effective_from: date


# -- shared steps -------------------------------------------------------------------------------


def publish(uow: UnitOfWork, region: str, payload: EventPayload) -> None:
    """Emit an event of this service on ``region``'s topic; it commits with the unit of work."""
    uow.emit(new_event(payload, region=region, source=SOURCE))


async def locked(uow: UnitOfWork, facilitator_id: uuid.UUID) -> Facilitator:
    """The facilitator, locked for the rest of the unit of work."""
    facilitator = await uow.facilitators.lock(facilitator_id)
    if facilitator is None:
        raise errors.facilitator_not_found(facilitator_id)
    return facilitator


async def locked_for_writing(
    uow: UnitOfWork, facilitator_id: uuid.UUID, served: Collection[str], authorize: Authorize
) -> Facilitator:
    """The facilitator, locked, once the caller may write their region and this deployment serves it."""
    facilitator = await locked(uow, facilitator_id)
    authorize(facilitator.region)
    check_region_served(served, facilitator.region)
    return facilitator


async def check_area_of(
    repos: Repositories, region: str, province_code: str, kabkota_code: str, on: date, *, within_region: bool = False
) -> None:
    """The province/kota pair is in the reference data and in ``region`` on ``on``."""
    units = repos.orgunits
    province = await units.get(province_code)
    kabkota = await units.get(kabkota_code)
    region_then = await units.region_on(province_code, on)
    check_area(
        region,
        province_code,
        kabkota_code,
        on,
        province=province,
        kabkota=kabkota,
        region_then=region_then,
        within_region=within_region,
    )


# -- writes -------------------------------------------------------------------------------------


def already_registered(holder: NikHolder, region: str, authorize: Authorize) -> Conflict:
    """The refusal of a NIK registered before (by any door). ``facilitator_exists`` with the
    existing id when the holder is in ``region`` or in another region the caller may act on (an
    admin), so a retried registration learns what the first one created; otherwise
    ``facilitator_exists_elsewhere``, which names neither the holder nor its region, so that no
    region can test whether a person is registered in another."""
    if holder.region != region:
        try:
            authorize(holder.region)
        except Forbidden:
            return errors.facilitator_exists_elsewhere()
    return errors.facilitator_exists(holder.facilitator_id)


async def register_facilitator(
    uow: UnitOfWork, cmd: NewFacilitator, *, served: Collection[str], key: bytes, authorize: Authorize
) -> Facilitator:
    """Register a facilitator; a NIK registered before is refused (:func:`already_registered`)."""
    authorize(cmd.region)
    check_region_served(served, cmd.region)
    check_speciality(cmd.role, cmd.speciality)
    await check_area_of(uow, cmd.region, cmd.province_code, cmd.kabkota_code, cmd.effective_from)
    digest = nik_hash(key, cmd.nik)
    holder = await uow.facilitators.holder_of_nik(digest)
    facilitator = build(Facilitator, cmd, facilitator_id=uuid.uuid4(), status="active")
    if holder is None:
        phone = phone_hash(key, cmd.phone) if cmd.phone else None
        if not await uow.facilitators.add(facilitator, digest, phone):
            holder = await uow.facilitators.holder_of_nik(digest)  # registered concurrently
    if holder is not None:
        raise already_registered(holder, cmd.region, authorize)
    await uow.facilitators.record_assignment(facilitator)
    publish(uow, cmd.region, build(FacilitatorRegistered, facilitator))
    return require(await uow.facilitators.get(facilitator.facilitator_id))


async def update_facilitator(
    uow: UnitOfWork, cmd: ChangeDetails, *, served: Collection[str], key: bytes, authorize: Authorize
) -> Facilitator:
    """Change the name (published as FacilitatorUpdated) and/or the phone (stored hashed, never
    published). Repeating the same change is accepted and publishes nothing."""
    facilitator = await locked_for_writing(uow, cmd.facilitator_id, served, authorize)
    if cmd.full_name is not None and cmd.full_name != facilitator.full_name:
        await uow.facilitators.set_name(facilitator.facilitator_id, cmd.full_name)
        publish(
            uow,
            facilitator.region,
            FacilitatorUpdated(facilitator_id=facilitator.facilitator_id, full_name=cmd.full_name),
        )
    if cmd.phone_set:
        digest = phone_hash(key, cmd.phone) if cmd.phone else None
        if digest != await uow.facilitators.phone_hash(facilitator.facilitator_id):
            await uow.facilitators.set_phone_hash(facilitator.facilitator_id, digest)
    return require(await uow.facilitators.get(facilitator.facilitator_id))


async def reassign_facilitator(
    uow: UnitOfWork, cmd: Reassign, *, served: Collection[str], authorize: Authorize
) -> Facilitator:
    """A new role and/or area from ``cmd.effective_from`` on, within the facilitator's region;
    the previous assignment stays in the history."""
    facilitator = await locked_for_writing(uow, cmd.facilitator_id, served, authorize)
    region = facilitator.region
    check_active(facilitator)
    check_speciality(cmd.role, cmd.speciality)
    check_not_before_current(facilitator, cmd.effective_from)
    current = (facilitator.role, facilitator.speciality, facilitator.province_code, facilitator.kabkota_code)
    if current == (cmd.role, cmd.speciality, cmd.province_code, cmd.kabkota_code):
        raise errors.assignment_unchanged()
    await check_area_of(uow, region, cmd.province_code, cmd.kabkota_code, cmd.effective_from, within_region=True)
    moved = replace(
        facilitator,
        role=cmd.role,
        speciality=cmd.speciality,
        province_code=cmd.province_code,
        kabkota_code=cmd.kabkota_code,
        effective_from=cmd.effective_from,
    )
    await uow.facilitators.reassign(moved)
    await uow.facilitators.record_assignment(moved)
    reassigned = build(
        FacilitatorReassigned,
        moved,
        previous_role=facilitator.role,
        previous_province_code=facilitator.province_code,
        previous_kabkota_code=facilitator.kabkota_code,
    )
    publish(uow, region, reassigned)
    return require(await uow.facilitators.get(facilitator.facilitator_id))


async def deactivate_facilitator(
    uow: UnitOfWork, cmd: Deactivate, *, served: Collection[str], authorize: Authorize
) -> Facilitator:
    """The facilitator leaves the program; their enrollments in trainings that are not closed
    are withdrawn (each published as EnrollmentWithdrawn)."""
    facilitator = await locked_for_writing(uow, cmd.facilitator_id, served, authorize)
    region = facilitator.region
    check_active(facilitator)
    check_not_before_current(facilitator, cmd.effective_from)
    await uow.facilitators.deactivate(facilitator.facilitator_id, cmd.effective_from, cmd.reason.value)
    publish(
        uow,
        region,
        FacilitatorDeactivated(
            facilitator_id=facilitator.facilitator_id, effective_from=cmd.effective_from, reason=cmd.reason.value
        ),
    )
    for enrollment in await uow.enrollments.withdraw_open(facilitator.facilitator_id, WITHDRAWN_BY_DEACTIVATION):
        publish(uow, region, build(EnrollmentWithdrawn, enrollment, reason=WITHDRAWN_BY_DEACTIVATION))
    return require(await uow.facilitators.get(facilitator.facilitator_id))


# -- reads --------------------------------------------------------------------------------------


async def get_facilitator(repos: Repositories, facilitator_id: uuid.UUID, authorize_read: Authorize) -> Facilitator:
    facilitator = await repos.facilitators.get(facilitator_id)
    if facilitator is None:
        raise errors.facilitator_not_found(facilitator_id)
    authorize_read(facilitator.region)
    return facilitator


async def facilitator_history(
    repos: Repositories, facilitator_id: uuid.UUID, authorize_read: Authorize
) -> tuple[Facilitator, list[AssignmentRecord]]:
    facilitator = await get_facilitator(repos, facilitator_id, authorize_read)
    return facilitator, await repos.facilitators.history(facilitator_id)


async def list_facilitators(
    repos: Repositories, where: FacilitatorFilter, limit: int, offset: int, authorize_read: Authorize
) -> Page[Facilitator]:
    for region in where.regions or ():
        authorize_read(region)
    return await repos.facilitators.find(where, limit, offset)
