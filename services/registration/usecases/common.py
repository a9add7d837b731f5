"""What every use case of the registration service shares: authorization callbacks, the served
regions, keyed hashes of personal identifiers, and the role/speciality rule."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import date

from shared.contracts import Role, Speciality
from shared.http import ApiError
from shared.service import Runtime

# The caller's check that it may act on a region (an HTTP credential's regions, or the region of
# the intake topic a message arrived on). Raises ApiError(403) to refuse.
Authorize = Callable[[str], None]
# The caller's check that it may change reference data (admin credentials only).
AuthorizeAdmin = Callable[[], None]

# Which speciality each role may have (None is always allowed: the speciality is optional).
SPECIALITIES: dict[Role, frozenset[Speciality]] = {
    Role.KORKOT: frozenset(),
    Role.ASKOT: frozenset(Speciality),
    Role.SENIOR_FASILITATOR: frozenset(),
    Role.FASILITATOR: frozenset({Speciality.TEKNIK, Speciality.SOSIAL, Speciality.EKONOMI}),
}


def check_region_served(runtime: Runtime, region: str) -> None:
    if region not in runtime.settings.regions:
        raise ApiError(422, "region_not_served", f"this deployment serves {runtime.settings.regions}, not {region}")


def check_speciality(role: Role, speciality: Speciality | None) -> None:
    if speciality is None or speciality in SPECIALITIES[role]:
        return
    allowed = ", ".join(sorted(SPECIALITIES[role])) or "none"
    raise ApiError(
        422,
        "speciality_not_allowed",
        f"a {role.value} cannot have the speciality {speciality.value} (allowed: {allowed})",
        {"field": "speciality"},
    )


def hash_key(runtime: Runtime) -> bytes:
    key = runtime.settings.nik_hash_key.get_secret_value().encode()
    if not key:
        raise RuntimeError("KOTAKU_NIK_HASH_KEY is not set")
    return key


def nik_hash(key: bytes, nik: str) -> bytes:
    """Keyed hash of a national ID number: equal NIKs match, but the hash alone reveals nothing."""
    return hmac.new(key, nik.encode(), hashlib.sha256).digest()


def phone_hash(key: bytes, phone: str) -> bytes:
    """Keyed hash of a normalised phone number, domain-separated from the NIK hash."""
    return hmac.new(key, b"phone:" + phone.encode(), hashlib.sha256).digest()


def today() -> date:
    return date.today()
