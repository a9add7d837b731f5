"""HTTP entrypoints of the registration service (``/api/v1``). They only translate requests into
use-case calls and results into responses.

Access: writes of facilitators and enrollments need a credential that may write the region
(``region`` credentials of that region, or ``admin``); reads need one that may read it
(``national`` and ``admin`` read everything); reference data is read by any credential and
changed by ``admin`` only. Without a credential every endpoint answers 401.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import asdict
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, Literal, Protocol, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.types import DecoratedCallable
from pydantic import BaseModel

from services.registration.domain.enrollments import Enrollment
from services.registration.domain.facilitators import AssignmentRecord, Facilitator
from services.registration.domain.orgunits import CODE_PATTERN, OrgUnit, RegionAssignment
from services.registration.domain.reasons import WithdrawalReason
from services.registration.entrypoints import csvfile
from services.registration.entrypoints.commands import new_facilitator, reassignment
from services.registration.entrypoints.schemas import (
    DeactivationIn,
    EnrollmentIn,
    FacilitatorIn,
    FacilitatorPatch,
    OrgUnitIn,
    OrgUnitPut,
    ReassignmentIn,
    RegionAssignmentIn,
)
from services.registration.entrypoints.wiring import Wiring
from services.registration.usecases import bulk, enrollments, facilitators, orgunits
from services.registration.usecases.ports import FacilitatorFilter, OrgUnitFilter, UnitInRegion, UnitOfWork
from shared.kernel.auth import Caller, Principal, ensure_admin, ensure_may_read, ensure_may_write
from shared.kernel.contracts import OrgUnitLevel, Role, Speciality
from shared.kernel.fields import build
from shared.kernel.http import ApiError
from shared.kernel.runtime import Runtime, current_runtime
from shared.kernel.validation import KabkotaCode, ProvinceCode, RegionCode

router = APIRouter(prefix="/api/v1", tags=["registration"])
CODE_PATH = CODE_PATTERN
CSV_MEDIA_TYPES = {"text/csv", "application/csv", "text/plain"}


async def _wiring(runtime: Annotated[Runtime, Depends(current_runtime)]) -> Wiring:
    return Wiring.of(runtime)


WiringDep = Annotated[Wiring, Depends(_wiring)]


_Cmd = TypeVar("_Cmd", contravariant=True)
_Auth = TypeVar("_Auth", contravariant=True)
_Out = TypeVar("_Out", covariant=True)


class _WriteUseCase(Protocol[_Cmd, _Auth, _Out]):
    def __call__(self, uow: UnitOfWork, cmd: _Cmd, *, served: Collection[str], authorize: _Auth) -> Awaitable[_Out]: ...


async def _write(wiring: Wiring, use_case: _WriteUseCase[_Cmd, _Auth, _Out], cmd: _Cmd, authorize: _Auth) -> _Out:
    """Run a use case in one unit of work, for the regions this deployment serves."""
    async with wiring.store.unit_of_work() as uow:
        return await use_case(uow, cmd, served=wiring.served, authorize=authorize)


def _error(description: str) -> dict[str, Any]:
    return {"description": description}


def _created(
    path: str, model: type[BaseModel], responses: dict[int | str, dict[str, Any]] | None = None
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A ``POST`` route that creates: it answers 201 with ``model`` (unless the route sets another status)."""
    return router.post(path, status_code=status.HTTP_201_CREATED, response_model=model, responses=responses)


# -- response shapes ----------------------------------------------------------------------------


class FacilitatorOut(BaseModel):
    """A facilitator as returned by the API: never the NIK or the phone number."""

    facilitator_id: uuid.UUID
    full_name: str
    role: Role
    speciality: Speciality | None
    region: str
    province_code: str
    kabkota_code: str
    status: Literal["active", "inactive"]
    effective_from: date
    deactivated_on: date | None

    @classmethod
    def of(cls, facilitator: Facilitator) -> FacilitatorOut:
        return cls.model_validate(facilitator, from_attributes=True)


class AssignmentOut(BaseModel):
    role: Role
    speciality: Speciality | None
    region: str
    province_code: str
    kabkota_code: str
    effective_from: date
    recorded_at: datetime

    @classmethod
    def of(cls, record: AssignmentRecord) -> AssignmentOut:
        return cls.model_validate(record, from_attributes=True)


class FacilitatorDetail(FacilitatorOut):
    assignments: list[AssignmentOut]


class FacilitatorPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[FacilitatorOut]


class ImportProblem(BaseModel):
    reason: str
    column: str | None
    message: str


class ImportRowOut(BaseModel):
    row: int
    line: int
    status: Literal["accepted", "duplicate", "rejected"]
    facilitator_id: uuid.UUID | None = None
    reason: str | None = None
    column: str | None = None
    problems: list[ImportProblem] = []


class ImportReportOut(BaseModel):
    region: str
    rows: int
    accepted: int
    duplicate: int
    rejected: int
    results: list[ImportRowOut]

    @classmethod
    def of(cls, report: bulk.ImportReport) -> ImportReportOut:
        return cls(
            region=report.region,
            rows=len(report.results),
            accepted=report.count("accepted"),
            duplicate=report.count("duplicate"),
            rejected=report.count("rejected"),
            results=[
                ImportRowOut(
                    row=r.row,
                    line=r.line,
                    status=r.status,
                    facilitator_id=r.facilitator_id,
                    reason=r.problems[0].reason if r.problems else None,
                    column=r.problems[0].column if r.problems else None,
                    problems=[ImportProblem(reason=p.reason, column=p.column, message=p.message) for p in r.problems],
                )
                for r in report.results
            ],
        )


class EnrollmentOut(BaseModel):
    enrollment_id: uuid.UUID
    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    status: Literal["enrolled", "withdrawn"] = "enrolled"

    @classmethod
    def of(cls, enrollment: Enrollment) -> EnrollmentOut:
        return cls.model_validate(enrollment, from_attributes=True)


class TrainingOut(BaseModel):
    """A training as registration knows it from the training service's events."""

    training_id: uuid.UUID
    region: str
    status: Literal["scheduled", "cancelled", "closed"]
    training_type: str | None
    title: str | None
    start_date: date | None
    end_date: date | None
    capacity: int | None
    eligible_roles: list[Role] | None
    enrolled: int


class OrgUnitOut(BaseModel):
    code: str
    level: OrgUnitLevel
    name: str
    parent_code: str | None
    effective_from: date
    effective_to: date | None = None  # the unit ends on this day (absent: still in force)
    region: str | None  # the OC region of the unit's province on the requested date

    @classmethod
    def of(cls, unit: OrgUnit, region: str | None) -> OrgUnitOut:
        return cls(**asdict(unit), region=region)


class RegionAssignmentOut(BaseModel):
    region: str
    effective_from: date

    @classmethod
    def of(cls, assignment: RegionAssignment) -> RegionAssignmentOut:
        return cls(region=assignment.region, effective_from=assignment.effective_from)


class OrgUnitDetail(OrgUnitOut):
    region_history: list[RegionAssignmentOut]


class OrgUnitPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[OrgUnitOut]


class OrgUnitWritten(OrgUnitOut):
    published_events: int
    not_published_for_regions: list[str]


class RegionAssignmentWritten(BaseModel):
    province_code: str
    region: str
    effective_from: date
    changed: bool
    published_events: int
    not_published_for_regions: list[str]


# -- facilitators -------------------------------------------------------------------------------


@_created(
    "/facilitators",
    FacilitatorOut,
    {
        409: _error(
            "facilitator_exists: already registered in a region the credential may act on; "
            "details.facilitator_id is the existing id. facilitator_exists_elsewhere: registered outside those "
            "regions; no id or region is given (the national office resolves it)"
        ),
        422: _error("invalid_request, unknown_orgunit, orgunit_not_in_region, speciality_not_allowed, ..."),
    },
)
async def register_facilitator(body: FacilitatorIn, wiring: WiringDep, caller: Caller) -> FacilitatorOut:
    async with wiring.store.unit_of_work() as uow:
        created = await facilitators.register_facilitator(
            uow,
            new_facilitator(body, body.region, date.today()),
            served=wiring.served,
            key=wiring.key,
            authorize=partial(ensure_may_write, caller),
        )
    return FacilitatorOut.of(created)


def _readable_regions(caller: Principal, region: str | None) -> list[str] | None:
    if region is not None:
        return [region]
    return None if caller.reads_everything else sorted(caller.regions)


@router.get("/facilitators", response_model=FacilitatorPage)
async def list_facilitators(
    wiring: WiringDep,
    caller: Caller,
    region: Annotated[RegionCode | None, Query(description="default: every region the credential may read")] = None,
    province: Annotated[ProvinceCode | None, Query()] = None,
    kabkota: Annotated[KabkotaCode | None, Query()] = None,
    role: Annotated[Role | None, Query()] = None,
    status_: Annotated[Literal["active", "inactive"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> FacilitatorPage:
    where = FacilitatorFilter(
        regions=_readable_regions(caller, region),
        province_code=province,
        kabkota_code=kabkota,
        role=role,
        status=status_,
    )
    async with wiring.store.reading() as repos:
        page = await facilitators.list_facilitators(repos, where, limit, offset, partial(ensure_may_read, caller))
    return FacilitatorPage(
        total=page.total, limit=limit, offset=offset, items=[FacilitatorOut.of(f) for f in page.items]
    )


@router.post(
    "/facilitators/import",
    response_model=ImportReportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "CSV (UTF-8, with or without BOM; ',' or ';'), at most 5000 rows and 1 MiB. Columns: "
            "nik, full_name, role, province_code, kabkota_code (required), speciality, effective_from, phone.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    responses={
        413: _error("body_too_large"),
        415: _error("unsupported_media_type"),
        422: _error("not_text, not_utf8, malformed_csv, unknown_column, missing_column, too_many_rows, ..."),
    },
)
async def import_facilitators(
    request: Request,
    wiring: WiringDep,
    caller: Caller,
    region: Annotated[RegionCode, Query(description="the OC region every row is registered in")],
    effective_from: Annotated[date | None, Query(description="for rows without effective_from; default today")] = None,
) -> ImportReportOut:
    """Register facilitators from a spreadsheet export. Each row is accepted, reported as a
    duplicate (with the existing id) or rejected with a reason code and column; uploading the
    same file again changes nothing."""
    media_type, _, params = request.headers.get("content-type", "").partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"') if "charset" in params.lower() else "utf-8"
    if media_type.strip().lower() not in CSV_MEDIA_TYPES or charset not in {"utf-8", "utf8"}:
        raise ApiError(
            415, "unsupported_media_type", "send the file as the request body with 'Content-Type: text/csv' (UTF-8)"
        )
    cmd = csvfile.import_command(await request.body(), region, effective_from or date.today())
    report = await bulk.import_facilitators(
        wiring.store.unit_of_work,
        cmd,
        served=wiring.served,
        key=wiring.key,
        authorize=partial(ensure_may_write, caller),
    )
    return ImportReportOut.of(report)


@router.get("/facilitators/{facilitator_id}", response_model=FacilitatorDetail)
async def get_facilitator(facilitator_id: uuid.UUID, wiring: WiringDep, caller: Caller) -> FacilitatorDetail:
    async with wiring.store.reading() as repos:
        found, history = await facilitators.facilitator_history(repos, facilitator_id, partial(ensure_may_read, caller))
    return FacilitatorDetail(
        **FacilitatorOut.of(found).model_dump(), assignments=[AssignmentOut.of(a) for a in history]
    )


@router.patch("/facilitators/{facilitator_id}", response_model=FacilitatorOut)
async def update_facilitator(
    facilitator_id: uuid.UUID, body: FacilitatorPatch, wiring: WiringDep, caller: Caller
) -> FacilitatorOut:
    cmd = facilitators.ChangeDetails(
        facilitator_id, full_name=body.full_name, phone=body.phone, phone_set="phone" in body.model_fields_set
    )
    async with wiring.store.unit_of_work() as uow:
        changed = await facilitators.update_facilitator(
            uow, cmd, served=wiring.served, key=wiring.key, authorize=partial(ensure_may_write, caller)
        )
    return FacilitatorOut.of(changed)


@_created("/facilitators/{facilitator_id}/reassignments", FacilitatorOut)
async def reassign_facilitator(
    facilitator_id: uuid.UUID, body: ReassignmentIn, wiring: WiringDep, caller: Caller
) -> FacilitatorOut:
    cmd = reassignment(facilitator_id, body)
    changed = await _write(wiring, facilitators.reassign_facilitator, cmd, partial(ensure_may_write, caller))
    return FacilitatorOut.of(changed)


@router.post("/facilitators/{facilitator_id}/deactivation", response_model=FacilitatorOut)
async def deactivate_facilitator(
    facilitator_id: uuid.UUID, body: DeactivationIn, wiring: WiringDep, caller: Caller
) -> FacilitatorOut:
    cmd = facilitators.Deactivate(facilitator_id, body.reason, body.effective_from or date.today())
    changed = await _write(wiring, facilitators.deactivate_facilitator, cmd, partial(ensure_may_write, caller))
    return FacilitatorOut.of(changed)


# -- enrollments --------------------------------------------------------------------------------


@router.get("/trainings/{training_id}", response_model=TrainingOut)
async def get_training(training_id: uuid.UUID, wiring: WiringDep, caller: Caller) -> TrainingOut:
    async with wiring.store.reading() as repos:
        summary = await enrollments.get_training(repos, training_id, partial(ensure_may_read, caller))
    roles = summary.training.eligible_roles
    return build(
        TrainingOut,
        summary.training,
        eligible_roles=[Role(r) for r in roles] if roles is not None else None,
        enrolled=summary.enrolled,
    )


@_created(
    "/trainings/{training_id}/enrollments",
    EnrollmentOut,
    {
        404: _error("facilitator_not_found, training_unknown"),
        409: _error("already_enrolled, training_full, training_cancelled, training_closed, facilitator_inactive"),
        422: _error("role_not_eligible, training_region_mismatch, invalid_request"),
    },
)
async def enroll(training_id: uuid.UUID, body: EnrollmentIn, wiring: WiringDep, caller: Caller) -> EnrollmentOut:
    cmd = enrollments.Enroll(training_id, body.facilitator_id)
    enrollment = await _write(wiring, enrollments.enroll_facilitator, cmd, partial(ensure_may_write, caller))
    return EnrollmentOut.of(enrollment)


@router.delete(
    "/trainings/{training_id}/enrollments/{facilitator_id}",
    response_model=EnrollmentOut,
    responses={
        404: _error("facilitator_not_found, enrollment_not_found"),
        409: _error("already_withdrawn, training_closed"),
    },
)
async def withdraw(
    training_id: uuid.UUID,
    facilitator_id: uuid.UUID,
    wiring: WiringDep,
    caller: Caller,
    reason: Annotated[WithdrawalReason, Query()] = WithdrawalReason.OTHER,
) -> EnrollmentOut:
    cmd = enrollments.Withdraw(training_id, facilitator_id, reason)
    enrollment = await _write(wiring, enrollments.withdraw_enrollment, cmd, partial(ensure_may_write, caller))
    return EnrollmentOut.of(enrollment)


# -- reference data -----------------------------------------------------------------------------

CodePath = Annotated[str, Path(pattern=CODE_PATH, description="e.g. 16, 16.71, 16.71.01, 16.71.01.1001")]


@router.get("/orgunits", response_model=OrgUnitPage)
async def list_orgunits(
    wiring: WiringDep,
    caller: Caller,
    level: Annotated[OrgUnitLevel | None, Query()] = None,
    parent: Annotated[str | None, Query(pattern=CODE_PATH, description="direct children of this unit")] = None,
    region: Annotated[RegionCode | None, Query(description="units whose province is in this region")] = None,
    as_of: Annotated[
        date | None, Query(description="the units in force and their region on this date; default today")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> OrgUnitPage:
    where = OrgUnitFilter(on=as_of or date.today(), level=level, parent=parent, region=region)
    async with wiring.store.reading() as repos:
        page = await orgunits.list_orgunits(repos, where, limit, offset)
    return OrgUnitPage(total=page.total, limit=limit, offset=offset, items=[_unit_out(u) for u in page.items])


def _unit_out(found: UnitInRegion) -> OrgUnitOut:
    return OrgUnitOut.of(found.unit, found.region)


@router.get("/orgunits/{code}", response_model=OrgUnitDetail)
async def get_orgunit(
    code: CodePath, wiring: WiringDep, caller: Caller, as_of: Annotated[date | None, Query()] = None
) -> OrgUnitDetail:
    async with wiring.store.reading() as repos:
        detail = await orgunits.get_orgunit(repos, code, as_of)
    return OrgUnitDetail(
        **OrgUnitOut.of(detail.unit, detail.region).model_dump(),
        region_history=[RegionAssignmentOut.of(h) for h in detail.region_history],
    )


def _written(written: orgunits.UnitWritten) -> OrgUnitWritten:
    return OrgUnitWritten(
        **OrgUnitOut.of(written.unit, written.region).model_dump(),
        published_events=written.published.events,
        not_published_for_regions=sorted(written.published.skipped_regions),
    )


@_created(
    "/orgunits",
    OrgUnitWritten,
    {409: _error("orgunit_exists"), 422: _error("unknown_orgunit (the parent), invalid_request")},
)
async def define_orgunit(body: OrgUnitIn, wiring: WiringDep, caller: Caller) -> OrgUnitWritten:
    cmd = orgunits.DefineOrgUnit(code=body.code, name=body.name, effective_from=body.effective_from, replace=False)
    written = await _write(wiring, orgunits.define_orgunit, cmd, partial(ensure_admin, caller))
    return _written(written)


@router.put("/orgunits/{code}", response_model=OrgUnitWritten, responses={201: _error("created")})
async def put_orgunit(
    code: CodePath, body: OrgUnitPut, wiring: WiringDep, caller: Caller, response: Response
) -> OrgUnitWritten:
    cmd = orgunits.DefineOrgUnit(code=code, name=body.name, effective_from=body.effective_from, replace=True)
    written = await _write(wiring, orgunits.define_orgunit, cmd, partial(ensure_admin, caller))
    if written.created:
        response.status_code = status.HTTP_201_CREATED
    return _written(written)


@_created(
    "/orgunits/{code}/region-assignments",
    RegionAssignmentWritten,
    {200: _error("the same assignment existed already"), 409: _error("assignment_conflict")},
)
async def assign_province(
    code: Annotated[str, Path(pattern=r"^[0-9]{2}$", description="a province code")],
    body: RegionAssignmentIn,
    wiring: WiringDep,
    caller: Caller,
    response: Response,
) -> RegionAssignmentWritten:
    cmd = orgunits.AssignProvince(province_code=code, region=body.region, effective_from=body.effective_from)
    written = await _write(wiring, orgunits.assign_province, cmd, partial(ensure_admin, caller))
    if not written.changed:
        response.status_code = status.HTTP_200_OK
    return RegionAssignmentWritten(
        province_code=code,
        region=body.region,
        effective_from=body.effective_from,
        changed=written.changed,
        published_events=written.published.events,
        not_published_for_regions=sorted(written.published.skipped_regions),
    )
