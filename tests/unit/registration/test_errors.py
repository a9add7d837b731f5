"""Every refusal of the registration service answers HTTP with the status it always had, and
the intake with the same code."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.registration.domain import errors
from services.registration.entrypoints.errors import ERRORS
from shared.kernel.errors import DomainError

ID = uuid.uuid4()
DAY = date(2016, 1, 1)


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (errors.facilitator_not_found(ID), "facilitator_not_found", 404),
        (errors.facilitator_exists(ID), "facilitator_exists", 409),
        (errors.facilitator_exists_elsewhere(), "facilitator_exists_elsewhere", 409),
        (errors.facilitator_inactive(ID, DAY), "facilitator_inactive", 409),
        (errors.inactive_not_enrollable(), "facilitator_inactive", 409),
        (errors.effective_date_too_early(DAY, DAY), "effective_date_too_early", 422),
        (errors.assignment_unchanged(), "assignment_unchanged", 409),
        (errors.speciality_not_allowed("korkot", "teknik", "none"), "speciality_not_allowed", 422),
        (errors.region_not_served(["oc02"], "oc05"), "region_not_served", 422),
        (errors.unknown_orgunit("m", "province_code", "17"), "unknown_orgunit", 422),
        (errors.orgunit_not_in_province("16.71", "16", "15"), "orgunit_not_in_province", 422),
        (errors.orgunit_not_in_region("15", "Jambi", "oc01", "oc02", DAY), "orgunit_not_in_region", 422),
        (errors.orgunit_not_found("m"), "orgunit_not_found", 404),
        (errors.orgunit_exists("m"), "orgunit_exists", 409),
        (errors.assignment_conflict("m"), "assignment_conflict", 409),
        (errors.training_unknown(ID), "training_unknown", 404),
        (errors.training_not_open(ID, "cancelled"), "training_cancelled", 409),
        (errors.training_not_open(ID, "closed"), "training_closed", 409),
        (errors.training_closed_for_withdrawal(ID), "training_closed", 409),
        (errors.training_region_mismatch(ID, "oc01", "oc02"), "training_region_mismatch", 422),
        (errors.role_not_eligible(ID, "fasilitator", "korkot"), "role_not_eligible", 422),
        (errors.already_enrolled(ID), "already_enrolled", 409),
        (errors.training_full(ID, 30, 30), "training_full", 409),
        (errors.enrollment_not_found(ID, ID), "enrollment_not_found", 404),
        (errors.already_withdrawn(), "already_withdrawn", 409),
        (errors.unreadable_file("malformed_csv", "m", 3), "malformed_csv", 422),
    ],
)
def test_each_code_keeps_its_status(error: DomainError, code: str, status: int) -> None:
    assert (error.code, ERRORS.status(error)) == (code, status)


def test_a_refusal_about_the_region_names_the_served_regions_as_before() -> None:
    assert errors.region_not_served(["oc02"], "oc05").message == "this deployment serves ['oc02'], not oc05"
