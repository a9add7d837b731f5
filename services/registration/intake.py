"""Kafka intake of the registration service (``<region>.registration.intake.v1``): the same use
cases as the HTTP API, for regional systems that publish instead of calling. See shared.intake."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from services.registration import usecases
from services.registration.api import FacilitatorIn
from shared.http import ApiError
from shared.intake import IntakeCommand, IntakeMessage, intake_consumer
from shared.outbox import UnitOfWork
from shared.service import Runtime
from shared.topics import REGISTRATION_INTAKE


def _topic_region_only(message: IntakeMessage) -> usecases.Authorize:
    def authorize(region: str) -> None:
        if region != message.topic_region:
            raise ApiError(403, "region_forbidden", f"the {message.topic_region} intake cannot write {region} data")

    return authorize


async def register_facilitator(runtime: Runtime, uow: UnitOfWork, body: FacilitatorIn, message: IntakeMessage) -> None:
    cmd = usecases.NewFacilitator(
        nik=body.nik,
        full_name=body.full_name,
        role=body.role,
        region=body.region,
        province_code=body.province_code,
        kabkota_code=body.kabkota_code,
        effective_from=body.effective_from or message.occurred_at.date(),
    )
    await usecases.register_facilitator(runtime, uow, cmd, _topic_region_only(message))


class EnrollFacilitator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    training_id: uuid.UUID
    facilitator_id: uuid.UUID


async def enroll_facilitator(
    runtime: Runtime, uow: UnitOfWork, body: EnrollFacilitator, message: IntakeMessage
) -> None:
    await usecases.enroll_facilitator(runtime, uow, body.training_id, body.facilitator_id, _topic_region_only(message))


INTAKE = intake_consumer(
    "registration.intake",
    REGISTRATION_INTAKE,
    {
        "RegisterFacilitator": IntakeCommand(FacilitatorIn, register_facilitator),
        "EnrollFacilitator": IntakeCommand(EnrollFacilitator, enroll_facilitator),
    },
)
