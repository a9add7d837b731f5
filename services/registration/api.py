"""HTTP entrypoints of the registration service (``/api/v1``). They only translate requests into
use-case calls and results into responses."""

from __future__ import annotations

import uuid
from datetime import date
from functools import partial
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.registration import usecases
from shared.auth import Caller, ensure_may_read, ensure_may_write
from shared.contracts import Role
from shared.service import Runtime, runtime_of
from shared.validation import KabkotaCode, Nik, PersonName, ProvinceCode, RegionCode

router = APIRouter(prefix="/api/v1", tags=["registration"])
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


class FacilitatorIn(BaseModel):
    """A facilitator to register. ``nik`` is hashed on arrival and never returned or published."""

    model_config = ConfigDict(extra="forbid")

    nik: Nik = Field(description="16-digit national ID number (NIK)")
    full_name: PersonName
    role: Role
    region: RegionCode = Field(description="OC region code, e.g. oc02")
    province_code: ProvinceCode = Field(description="e.g. 16 for Sumatera Selatan")
    kabkota_code: KabkotaCode = Field(description="e.g. 16.71 for Kota Palembang")
    effective_from: date | None = Field(default=None, description="start of the assignment; today if omitted")

    @model_validator(mode="after")
    def _kabkota_in_province(self) -> FacilitatorIn:
        if not self.kabkota_code.startswith(self.province_code + "."):
            raise ValueError(f"kabkota_code {self.kabkota_code} is not in province {self.province_code}")
        return self


class FacilitatorOut(BaseModel):
    facilitator_id: uuid.UUID
    full_name: str
    role: Role
    region: str
    province_code: str
    kabkota_code: str
    status: str
    effective_from: date

    @classmethod
    def of(cls, row: asyncpg.Record) -> FacilitatorOut:
        return cls.model_validate(dict(row))


class EnrollmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    facilitator_id: uuid.UUID


class EnrollmentOut(BaseModel):
    enrollment_id: uuid.UUID
    training_id: uuid.UUID
    facilitator_id: uuid.UUID


@router.post(
    "/facilitators",
    status_code=status.HTTP_201_CREATED,
    response_model=FacilitatorOut,
    responses={409: {"description": "already registered; details.facilitator_id is the existing id"}},
)
async def register_facilitator(body: FacilitatorIn, runtime: RuntimeDep, caller: Caller) -> FacilitatorOut:
    cmd = usecases.NewFacilitator(
        nik=body.nik,
        full_name=body.full_name,
        role=body.role,
        region=body.region,
        province_code=body.province_code,
        kabkota_code=body.kabkota_code,
        effective_from=body.effective_from or date.today(),
    )
    async with runtime.outbox.unit_of_work() as uow:
        row = await usecases.register_facilitator(runtime, uow, cmd, partial(ensure_may_write, caller))
    return FacilitatorOut.of(row)


@router.get("/facilitators/{facilitator_id}", response_model=FacilitatorOut)
async def get_facilitator(facilitator_id: uuid.UUID, runtime: RuntimeDep, caller: Caller) -> FacilitatorOut:
    row = await usecases.get_facilitator(runtime, facilitator_id, partial(ensure_may_read, caller))
    return FacilitatorOut.of(row)


@router.post("/trainings/{training_id}/enrollments", status_code=status.HTTP_201_CREATED, response_model=EnrollmentOut)
async def enroll(training_id: uuid.UUID, body: EnrollmentIn, runtime: RuntimeDep, caller: Caller) -> EnrollmentOut:
    async with runtime.outbox.unit_of_work() as uow:
        enrollment_id = await usecases.enroll_facilitator(
            runtime, uow, training_id, body.facilitator_id, partial(ensure_may_write, caller)
        )
    return EnrollmentOut(enrollment_id=enrollment_id, training_id=training_id, facilitator_id=body.facilitator_id)
