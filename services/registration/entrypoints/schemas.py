"""Input shapes of the registration service, shared by the HTTP API, the Kafka intake and the
CSV import, so that every door accepts exactly the same values.

Validation here is about shape (types, lengths, code formats, what a name is); rules that need
the state (reference data, duplicates, enrollments) live in the domain and the use cases.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Annotated, Self

from pydantic import Field, model_validator

from services.registration.domain.reasons import DeactivationReason, WithdrawalReason
from shared.kernel.contracts import OrgUnitLevel, Role, Speciality
from shared.kernel.validation import (
    Input,
    KabkotaCode,
    Nik,
    OrgUnitCode,
    PersonName,
    Phone,
    PlaceName,
    ProvinceCode,
    RegionCode,
)

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
EffectiveDate = Annotated[
    date,
    Field(ge=EARLIEST, le=LATEST, description="ISO date (YYYY-MM-DD) between 2000-01-01 and 2100-12-31"),
]


class _InProvince(Input):
    """An input naming a province and a kota/kabupaten: the kota/kabupaten must be in the province."""

    if TYPE_CHECKING:  # declared by each subclass, where its fields are in their order
        province_code: str
        kabkota_code: str

    @model_validator(mode="after")
    def _area(self) -> Self:
        if not self.kabkota_code.startswith(self.province_code + "."):
            raise ValueError(f"kabkota_code {self.kabkota_code} is not in province {self.province_code}")
        return self


# -- facilitators -------------------------------------------------------------------------------


class RegisterFacilitator(_InProvince):
    """A facilitator to register. ``nik`` is hashed on arrival and never returned or published."""

    nik: Nik = Field(description="16-digit national ID number (NIK)")
    full_name: PersonName = Field(description="the person's name; see 'What a name is' in docs/intake.md")
    role: Role
    speciality: Speciality | None = Field(
        default=None,
        description="askot: any speciality; fasilitator: teknik, sosial or ekonomi; "
        "korkot and senior_fasilitator: none",
    )
    region: RegionCode = Field(description="OC region code, e.g. oc02")
    province_code: ProvinceCode = Field(description="e.g. 16 for Sumatera Selatan")
    kabkota_code: KabkotaCode = Field(description="e.g. 16.71 for Kota Palembang")
    effective_from: EffectiveDate | None = Field(
        default=None, description="start of the assignment; the day of the request (HTTP) or sent_at (intake)"
    )


class FacilitatorIn(RegisterFacilitator):
    """``POST /api/v1/facilitators``: as the intake's RegisterFacilitator, plus an optional phone
    number that is stored only as a keyed hash (never returned, published or logged)."""

    phone: Phone | None = Field(default=None, description="optional; stored only as a keyed hash")


class FacilitatorPatch(Input):
    """``PATCH /api/v1/facilitators/{id}``: the fields to change. ``"phone": null`` removes the phone."""

    full_name: PersonName | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _something(self) -> FacilitatorPatch:
        if not self.model_fields_set:
            raise ValueError("send full_name and/or phone")
        if "full_name" in self.model_fields_set and self.full_name is None:
            raise ValueError("full_name cannot be removed")
        return self


class UpdateFacilitator(Input):
    """Intake: correct a facilitator's name (published as FacilitatorUpdated)."""

    facilitator_id: uuid.UUID
    full_name: PersonName


class ReassignmentIn(_InProvince):
    """``POST /api/v1/facilitators/{id}/reassignments``: the complete new assignment."""

    role: Role
    speciality: Speciality | None = None
    province_code: ProvinceCode
    kabkota_code: KabkotaCode
    effective_from: EffectiveDate


class ReassignFacilitator(_InProvince):
    """Intake: a new role and/or area from ``effective_from`` on (within the facilitator's region)."""

    facilitator_id: uuid.UUID
    role: Role
    speciality: Speciality | None = None
    province_code: ProvinceCode
    kabkota_code: KabkotaCode
    effective_from: EffectiveDate


class DeactivationIn(Input):
    """``POST /api/v1/facilitators/{id}/deactivation``."""

    reason: DeactivationReason
    effective_from: EffectiveDate | None = Field(default=None, description="the day of the request if omitted")


class DeactivateFacilitator(Input):
    """Intake: the facilitator left the program; open enrollments are withdrawn."""

    facilitator_id: uuid.UUID
    reason: DeactivationReason
    effective_from: EffectiveDate | None = Field(default=None, description="sent_at's date if omitted")


# -- enrollments --------------------------------------------------------------------------------


class EnrollmentIn(Input):
    facilitator_id: uuid.UUID


class EnrollFacilitator(Input):
    """Intake: enroll a facilitator into a training the training service has scheduled."""

    training_id: uuid.UUID
    facilitator_id: uuid.UUID


class WithdrawEnrollment(Input):
    """Intake: withdraw an enrollment (not possible once the training is closed)."""

    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    reason: WithdrawalReason = WithdrawalReason.OTHER


# -- reference data -----------------------------------------------------------------------------


class OrgUnitIn(Input):
    """``POST /api/v1/orgunits``: a new unit. The level and the parent follow from the code."""

    code: OrgUnitCode = Field(description="Kemendagri/BPS code with dots: 16, 16.71, 16.71.01, 16.71.01.1001")
    name: PlaceName
    level: OrgUnitLevel | None = Field(default=None, description="optional; must match the code's shape")
    effective_from: EffectiveDate

    @model_validator(mode="after")
    def _level(self) -> OrgUnitIn:
        expected = (
            OrgUnitLevel.PROVINCE,
            OrgUnitLevel.KABKOTA,
            OrgUnitLevel.KECAMATAN,
            OrgUnitLevel.KELURAHAN,
        )[self.code.count(".")]
        if self.level is not None and self.level is not expected:
            raise ValueError(f"code {self.code} is a {expected.value} code, not a {self.level.value}")
        return self


class OrgUnitPut(Input):
    """``PUT /api/v1/orgunits/{code}``: add or rename the unit."""

    name: PlaceName
    effective_from: EffectiveDate


class RegionAssignmentIn(Input):
    """``POST /api/v1/orgunits/{province_code}/region-assignments``."""

    region: RegionCode
    effective_from: EffectiveDate


# -- CSV import ---------------------------------------------------------------------------------


class ImportRow(_InProvince):
    """One row of a facilitator CSV; the columns are the field names. The region is the file's."""

    nik: Nik
    full_name: PersonName
    role: Role
    speciality: Speciality | None = None
    province_code: ProvinceCode
    kabkota_code: KabkotaCode
    effective_from: EffectiveDate | None = None
    phone: Phone | None = None
