"""Events published by the registration service."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import Field

from shared.envelope import EventPayload
from shared.topics import ENROLLMENT, FACILITATOR

PROVINCE_CODE = r"^\d{2}$"
KABKOTA_CODE = r"^\d{2}\.\d{2}$"


class Role(StrEnum):
    """Facilitator roles in the KOTAKU field organisation."""

    KORKOT = "korkot"
    ASKOT = "askot"
    SENIOR_FASILITATOR = "senior_fasilitator"
    FASILITATOR = "fasilitator"


class FacilitatorRegistered(EventPayload):
    """A person was registered as a facilitator in a role and area. Carries no NIK or phone."""

    event_type = "FacilitatorRegistered"
    stream = FACILITATOR
    key_field = "facilitator_id"

    facilitator_id: uuid.UUID
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    province_code: str = Field(pattern=PROVINCE_CODE, description="BPS/Kemendagri province code, e.g. 16")
    kabkota_code: str = Field(pattern=KABKOTA_CODE, description="kota/kabupaten code, e.g. 16.71")
    effective_from: date


class FacilitatorEnrolled(EventPayload):
    """A facilitator was enrolled into a training."""

    event_type = "FacilitatorEnrolled"
    stream = ENROLLMENT
    key_field = "training_id"

    enrollment_id: uuid.UUID
    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    role: Role


class EnrollmentWithdrawn(EventPayload):
    """An enrollment was withdrawn before the training completed."""

    event_type = "EnrollmentWithdrawn"
    stream = ENROLLMENT
    key_field = "training_id"

    enrollment_id: uuid.UUID
    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    reason: str = Field(default="", max_length=500)
