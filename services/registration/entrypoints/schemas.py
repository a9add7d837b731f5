"""Input shapes of the registration service, shared by the HTTP API, the Kafka intake and the
CSV import, so that every door accepts exactly the same values.

Validation here is about shape (types, lengths, code formats, what a name is); rules that need
the state (reference data, duplicates, enrollments) live in the domain and the use cases.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date
from typing import TYPE_CHECKING, Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.registration.domain.names import FacilitatorName
from services.registration.domain.reasons import DeactivationReason, WithdrawalReason
from shared.kernel.contracts import OrgUnitLevel, Role, Speciality
from shared.kernel.validation import KabkotaCode, Nik, ProvinceCode, RegionCode

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
EffectiveDate = Annotated[
    date,
    Field(ge=EARLIEST, le=LATEST, description="ISO date (YYYY-MM-DD) between 2000-01-01 and 2100-12-31"),
]


def normalise_phone(value: str) -> str:
    """An Indonesian mobile or landline number as ``+62`` and digits. Spaces, hyphens, dots and
    parentheses are ignored; a leading ``0`` means ``+62``."""
    digits = re.sub(r"[\s().-]", "", value)
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("a phone number has digits, spaces, hyphens, dots, parentheses and a leading + only")
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    if not digits.startswith("62") or not 8 <= len(digits) - 2 <= 12:
        raise ValueError("not an Indonesian phone number (+62 or 0, then 8 to 12 digits)")
    return "+" + digits


Phone = Annotated[str, StringConstraints(min_length=1, max_length=30), AfterValidator(normalise_phone)]


def _place_name(value: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    for ch in value:
        category = unicodedata.category(ch)
        if category[0] in "LMN" or ch in " .,'-()/":
            continue
        raise ValueError(f"a place name has letters, digits, spaces and . , ' - ( ) / only, not U+{ord(ch):04X}")
    return re.sub(" +", " ", value)


PlaceName = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_place_name)]
OrgUnitCode = Annotated[str, StringConstraints(pattern=r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _InProvince(_Input):
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
    full_name: FacilitatorName = Field(description="the person's name; see 'What a name is' in docs/intake.md")
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


class FacilitatorPatch(_Input):
    """``PATCH /api/v1/facilitators/{id}``: the fields to change. ``"phone": null`` removes the phone."""

    full_name: FacilitatorName | None = None
    phone: Phone | None = None

    @model_validator(mode="after")
    def _something(self) -> FacilitatorPatch:
        if not self.model_fields_set:
            raise ValueError("send full_name and/or phone")
        if "full_name" in self.model_fields_set and self.full_name is None:
            raise ValueError("full_name cannot be removed")
        return self


class UpdateFacilitator(_Input):
    """Intake: correct a facilitator's name (published as FacilitatorUpdated)."""

    facilitator_id: uuid.UUID
    full_name: FacilitatorName


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


class DeactivationIn(_Input):
    """``POST /api/v1/facilitators/{id}/deactivation``."""

    reason: DeactivationReason
    effective_from: EffectiveDate | None = Field(default=None, description="the day of the request if omitted")


class DeactivateFacilitator(_Input):
    """Intake: the facilitator left the program; open enrollments are withdrawn."""

    facilitator_id: uuid.UUID
    reason: DeactivationReason
    effective_from: EffectiveDate | None = Field(default=None, description="sent_at's date if omitted")


# -- enrollments --------------------------------------------------------------------------------


class EnrollmentIn(_Input):
    facilitator_id: uuid.UUID


class EnrollFacilitator(_Input):
    """Intake: enroll a facilitator into a training the training service has scheduled."""

    training_id: uuid.UUID
    facilitator_id: uuid.UUID


class WithdrawEnrollment(_Input):
    """Intake: withdraw an enrollment (not possible once the training is closed)."""

    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    reason: WithdrawalReason = WithdrawalReason.OTHER


# -- reference data -----------------------------------------------------------------------------


class OrgUnitIn(_Input):
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


class OrgUnitPut(_Input):
    """``PUT /api/v1/orgunits/{code}``: add or rename the unit."""

    name: PlaceName
    effective_from: EffectiveDate


class RegionAssignmentIn(_Input):
    """``POST /api/v1/orgunits/{province_code}/region-assignments``."""

    region: RegionCode
    effective_from: EffectiveDate


# -- CSV import ---------------------------------------------------------------------------------


class ImportRow(_InProvince):
    """One row of a facilitator CSV; the columns are the field names. The region is the file's."""

    nik: Nik
    full_name: FacilitatorName
    role: Role
    speciality: Speciality | None = None
    province_code: ProvinceCode
    kabkota_code: KabkotaCode
    effective_from: EffectiveDate | None = None
    phone: Phone | None = None
