"""Events published by the registration service: reference data, facilitators, enrollments."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import Field

from shared.kernel.envelope import EventPayload
from shared.kernel.topics import ENROLLMENT, FACILITATOR, ORGUNIT
from shared.kernel.validation import (
    KABKOTA_CODE,
    ORGUNIT_CODE,
    PROVINCE_CODE,
    EventKabkotaCode,
    EventName,
    EventProvinceCode,
    EventText,
)


class Role(StrEnum):
    """Facilitator roles in the KOTAKU field organisation."""

    KORKOT = "korkot"
    ASKOT = "askot"  # Asisten Korkot
    SENIOR_FASILITATOR = "senior_fasilitator"
    FASILITATOR = "fasilitator"


class Speciality(StrEnum):
    """Speciality of an Asisten Korkot or a Fasilitator (Tridaya strands and support functions)."""

    TEKNIK = "teknik"
    SOSIAL = "sosial"
    EKONOMI = "ekonomi"
    MANAJEMEN_KEUANGAN = "manajemen_keuangan"
    MONITORING_EVALUASI = "monitoring_evaluasi"


class OrgUnitLevel(StrEnum):
    PROVINCE = "province"
    KABKOTA = "kabkota"
    KECAMATAN = "kecamatan"
    KELURAHAN = "kelurahan"


class OrgUnitDefined(EventPayload):
    """An org unit (province, kota/kabupaten, kecamatan or kelurahan/desa) was added or renamed.
    Codes are the official Kemendagri codes with dots (16, 16.71, 16.71.01, 16.71.01.1001). The unit
    is in force from ``effective_from`` until the day before ``effective_to`` (absent: still is)."""

    event_type = "OrgUnitDefined"
    stream = ORGUNIT
    key_field = "code"

    code: str = Field(pattern=ORGUNIT_CODE)
    level: OrgUnitLevel
    name: str = Field(min_length=1, max_length=200)
    parent_code: str | None = None
    effective_from: date
    effective_to: date | None = None


class ProvinceAssignedToRegion(EventPayload):
    """From ``effective_from`` on, the province belongs to the OC region of the envelope."""

    event_type = "ProvinceAssignedToRegion"
    stream = ORGUNIT
    key_field = "province_code"

    province_code: EventProvinceCode
    province_name: str = Field(min_length=1, max_length=200)
    effective_from: date


class FacilitatorEvent(EventPayload):
    """An event about one facilitator: on the facilitator stream, keyed by the facilitator."""

    stream = FACILITATOR
    key_field = "facilitator_id"

    facilitator_id: uuid.UUID


class FacilitatorRegistered(FacilitatorEvent):
    """A person was registered as a facilitator in a role and area. Carries no NIK or phone."""

    event_type = "FacilitatorRegistered"

    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    province_code: str = Field(pattern=PROVINCE_CODE, description="BPS/Kemendagri province code, e.g. 16")
    kabkota_code: str = Field(pattern=KABKOTA_CODE, description="kota/kabupaten code, e.g. 16.71")
    effective_from: date
    speciality: Speciality | None = None


class FacilitatorUpdated(FacilitatorEvent):
    """Personal details other than role and area changed (only the name is published)."""

    event_type = "FacilitatorUpdated"

    full_name: EventName


class FacilitatorReassigned(FacilitatorEvent):
    """The facilitator's role and/or area changed from ``effective_from`` on; history is kept."""

    event_type = "FacilitatorReassigned"

    role: Role
    speciality: Speciality | None = None
    province_code: EventProvinceCode
    kabkota_code: EventKabkotaCode
    effective_from: date
    previous_role: Role
    previous_province_code: EventProvinceCode
    previous_kabkota_code: EventKabkotaCode


class FacilitatorDeactivated(FacilitatorEvent):
    """The facilitator left the program (or the registration was a mistake)."""

    event_type = "FacilitatorDeactivated"

    effective_from: date
    reason: EventText = ""


class EnrollmentEvent(EventPayload):
    """An event about one enrollment: on the enrollment stream, keyed by the training (so that one
    training's enrollments stay in order)."""

    stream = ENROLLMENT
    key_field = "training_id"

    enrollment_id: uuid.UUID
    training_id: uuid.UUID
    facilitator_id: uuid.UUID


class FacilitatorEnrolled(EnrollmentEvent):
    """A facilitator was enrolled into a training."""

    event_type = "FacilitatorEnrolled"

    role: Role
    province_code: EventProvinceCode | None = None
    kabkota_code: EventKabkotaCode | None = None


class EnrollmentWithdrawn(EnrollmentEvent):
    """An enrollment was withdrawn before the training completed."""

    event_type = "EnrollmentWithdrawn"

    reason: str = Field(default="", max_length=500)
