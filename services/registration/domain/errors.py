"""Every refusal of the registration service, by code.

The codes are a public contract: HTTP clients read them in ``{"error": {"code": ...}}`` and
regional systems read them as the ``reason`` of an ``IntakeRejected``. Each refusal is one of the
kinds of shared.kernel.errors (NotFound, Conflict, Invalid, Forbidden); the HTTP status of each code is
given by ``services.registration.entrypoints.errors.ERRORS``.
"""

from __future__ import annotations

import uuid
from datetime import date

from shared.kernel.errors import Conflict, Invalid, NotFound

# -- facilitators -------------------------------------------------------------------------------


def facilitator_not_found(facilitator_id: uuid.UUID) -> NotFound:
    return NotFound("facilitator_not_found", f"no facilitator {facilitator_id}")


def facilitator_exists(existing: uuid.UUID) -> Conflict:
    """The NIK is registered already, in a region the caller may act on: its id is given, so a
    retried registration learns what the first one created."""
    return Conflict(
        "facilitator_exists",
        f"a facilitator with this NIK is already registered as {existing}",
        {"facilitator_id": str(existing)},
    )


def facilitator_exists_elsewhere() -> Conflict:
    """The NIK is registered in a region the caller may not act on. Neither that facilitator's id
    nor its region is given: a region must not learn who is registered in another."""
    return Conflict(
        "facilitator_exists_elsewhere",
        "this NIK cannot be registered here: it is already registered outside the regions this caller may "
        "act on; contact the national office to resolve it",
        {"field": "nik"},
    )


def facilitator_inactive(facilitator_id: uuid.UUID, deactivated_on: date | None) -> Conflict:
    return Conflict("facilitator_inactive", f"facilitator {facilitator_id} was deactivated on {deactivated_on}")


def inactive_not_enrollable() -> Conflict:
    return Conflict("facilitator_inactive", "an inactive facilitator cannot be enrolled")


def effective_date_too_early(effective_from: date, current: date) -> Invalid:
    return Invalid(
        "effective_date_too_early",
        f"effective_from {effective_from.isoformat()} is before the current assignment, which started "
        f"{current.isoformat()}",
        {"field": "effective_from"},
    )


def assignment_unchanged() -> Conflict:
    return Conflict("assignment_unchanged", "the facilitator already has this role, speciality and area")


def speciality_not_allowed(role: str, speciality: str, allowed: str) -> Invalid:
    return Invalid(
        "speciality_not_allowed",
        f"a {role} cannot have the speciality {speciality} (allowed: {allowed})",
        {"field": "speciality"},
    )


def region_not_served(served: list[str], region: str) -> Invalid:
    return Invalid("region_not_served", f"this deployment serves {served}, not {region}")


# -- org units ----------------------------------------------------------------------------------


def unknown_orgunit(message: str, field: str, code: str) -> Invalid:
    return Invalid("unknown_orgunit", message, {"field": field, "code": code})


def orgunit_not_in_province(kabkota_code: str, actual_province: str | None, province_code: str) -> Invalid:
    return Invalid(
        "orgunit_not_in_province",
        f"kota/kabupaten {kabkota_code} lies in province {actual_province}, not {province_code}",
        {"field": "kabkota_code", "code": kabkota_code},
    )


def orgunit_not_in_region(
    province_code: str, province_name: str, actual: str | None, region: str, on: date, *, within_region: bool = False
) -> Invalid:
    where = f"OC region {actual}" if actual else "no OC region"
    message = f"province {province_code} ({province_name}) belongs to {where} on {on.isoformat()}, not {region}"
    if within_region:
        message += "; a facilitator is reassigned within their OC region only"
    return Invalid(
        "orgunit_not_in_region",
        message,
        {"field": "province_code", "code": province_code, "region": actual, "on": on.isoformat()},
    )


def orgunit_not_found(message: str) -> NotFound:
    return NotFound("orgunit_not_found", message)


def orgunit_exists(message: str) -> Conflict:
    return Conflict("orgunit_exists", message)


def assignment_conflict(message: str, details: dict[str, str] | None = None) -> Conflict:
    return Conflict("assignment_conflict", message, details)


# -- trainings and enrollments ------------------------------------------------------------------


def training_unknown(training_id: uuid.UUID) -> NotFound:
    return NotFound(
        "training_unknown",
        f"training {training_id} is not known here: registration learns trainings from the training "
        "service's TrainingScheduled events, which may arrive a few seconds after scheduling; retry later "
        "if the training was scheduled just now",
    )


def training_not_open(training_id: uuid.UUID, status: str) -> Conflict:
    """``training_cancelled`` or ``training_closed``."""
    return Conflict(f"training_{status}", f"training {training_id} is {status}")


def training_closed_for_withdrawal(training_id: uuid.UUID) -> Conflict:
    return Conflict("training_closed", f"training {training_id} is closed; its results are final")


def training_region_mismatch(training_id: uuid.UUID, training_region: str, region: str) -> Invalid:
    return Invalid(
        "training_region_mismatch",
        f"training {training_id} belongs to region {training_region}; a facilitator of {region} "
        "enrolls in their own region's trainings",
    )


def role_not_eligible(training_id: uuid.UUID, eligible: str, role: str) -> Invalid:
    return Invalid("role_not_eligible", f"training {training_id} is for {eligible}, not {role}")


def already_enrolled(enrollment_id: uuid.UUID) -> Conflict:
    return Conflict(
        "already_enrolled",
        "the facilitator is already enrolled in this training",
        {"enrollment_id": str(enrollment_id)},
    )


def training_full(training_id: uuid.UUID, active: int, capacity: int) -> Conflict:
    return Conflict("training_full", f"training {training_id} is full ({active} of {capacity} places taken)")


def enrollment_not_found(facilitator_id: uuid.UUID, training_id: uuid.UUID) -> NotFound:
    return NotFound("enrollment_not_found", f"facilitator {facilitator_id} is not enrolled in {training_id}")


def already_withdrawn() -> Conflict:
    return Conflict("already_withdrawn", "this enrollment was already withdrawn")


# -- bulk import --------------------------------------------------------------------------------


def unreadable_file(code: str, message: str, line: int | None) -> Invalid:
    """A CSV file refused as a whole (not_text, not_utf8, malformed_csv, unknown_column, ...)."""
    return Invalid(code, message, {"line": line} if line else None)
