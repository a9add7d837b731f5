"""Facilitators: what one is, and the rules every change of one follows. Pure: no I/O."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.registration.domain import errors
from shared.kernel.contracts import Role, Speciality

Status = Literal["active", "inactive"]

# Which speciality each role may have (None is always allowed: the speciality is optional).
SPECIALITIES: dict[Role, frozenset[Speciality]] = {
    Role.KORKOT: frozenset(),
    Role.ASKOT: frozenset(Speciality),
    Role.SENIOR_FASILITATOR: frozenset(),
    Role.FASILITATOR: frozenset({Speciality.TEKNIK, Speciality.SOSIAL, Speciality.EKONOMI}),
}


@dataclass(frozen=True)
class Facilitator:
    """A facilitator as the service keeps them: never the NIK or the phone number (those are
    stored only as keyed hashes, next to the facilitator, by the repository)."""

    facilitator_id: uuid.UUID
    full_name: str
    role: Role
    speciality: Speciality | None
    region: str
    province_code: str
    kabkota_code: str
    status: Status
    effective_from: date  # start of the current assignment
    deactivated_on: date | None = None


@dataclass(frozen=True)
class Area:
    """Where a facilitator works: a kota/kabupaten of a province."""

    province_code: str
    kabkota_code: str


@dataclass(frozen=True)
class AssignmentRecord:
    """One entry of a facilitator's role and area history."""

    role: Role
    speciality: Speciality | None
    region: str
    province_code: str
    kabkota_code: str
    effective_from: date
    recorded_at: datetime


def check_speciality(role: Role, speciality: Speciality | None) -> None:
    if speciality is None or speciality in SPECIALITIES[role]:
        return
    allowed = ", ".join(sorted(SPECIALITIES[role])) or "none"
    raise errors.speciality_not_allowed(role.value, speciality.value, allowed)


def check_region_served(served: Collection[str], region: str) -> None:
    """A deployment acts only for the regions it serves (``KOTAKU_REGIONS``)."""
    if region not in served:
        raise errors.region_not_served(list(served), region)


def check_active(facilitator: Facilitator) -> None:
    if facilitator.status != "active":
        raise errors.facilitator_inactive(facilitator.facilitator_id, facilitator.deactivated_on)


def check_not_before_current(facilitator: Facilitator, effective_from: date) -> None:
    """A change takes effect on or after the start of the current assignment, never before."""
    if effective_from < facilitator.effective_from:
        raise errors.effective_date_too_early(effective_from, facilitator.effective_from)


def nik_hash(key: bytes, nik: str) -> bytes:
    """Keyed hash of a national ID number: equal NIKs match, but the hash alone reveals nothing."""
    return hmac.new(_checked(key), nik.encode(), hashlib.sha256).digest()


def phone_hash(key: bytes, phone: str) -> bytes:
    """Keyed hash of a normalised phone number, domain-separated from the NIK hash."""
    return hmac.new(_checked(key), b"phone:" + phone.encode(), hashlib.sha256).digest()


def _checked(key: bytes) -> bytes:
    if not key:
        raise RuntimeError("KOTAKU_NIK_HASH_KEY is not set")
    return key
