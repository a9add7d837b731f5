"""Bulk registration from a spreadsheet export (see services.registration.csvfile).

The file is read completely before anything is written; a file that cannot be read is refused as
a whole. Then every row is its own unit of work: an accepted row commits with its event, a
refused row writes nothing, and one bad row never blocks the others. A NIK that is already
registered (earlier in the same file, by an earlier upload, or by any other door) is reported as
``duplicate`` with the existing facilitator id, so uploading the same file twice changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import ValidationError

from services.registration.csvfile import REQUIRED, CsvFileError, parse_csv
from services.registration.schemas import ImportRow
from services.registration.usecases.common import Authorize, check_region_served
from services.registration.usecases.facilitators import NewFacilitator, register_facilitator
from shared.http import ApiError
from shared.service import Runtime

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True)
class RowProblem:
    reason: str
    column: str | None
    message: str


@dataclass(frozen=True)
class RowResult:
    row: int
    line: int
    status: Status
    facilitator_id: uuid.UUID | None = None
    problems: tuple[RowProblem, ...] = ()


@dataclass
class ImportReport:
    region: str
    results: list[RowResult] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)


def validate_row(values: dict[str, str]) -> ImportRow | tuple[RowProblem, ...]:
    """The row as a validated ImportRow, or every problem found in it."""
    missing = [c for c in REQUIRED if not values.get(c, "").strip()]
    if missing:
        return tuple(RowProblem("missing_value", c, f"{c} is required") for c in missing)
    present = {k: v for k, v in values.items() if v.strip()}
    try:
        return ImportRow.model_validate(present)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:20]:
            loc = error.get("loc") or ()
            column = str(loc[0]) if loc and str(loc[0]) in values else None
            if column is None and "kabkota_code" in str(error.get("msg", "")):
                column = "kabkota_code"
            problems.append(RowProblem("invalid_value", column, str(error.get("msg", "invalid value"))[:300]))
        return tuple(problems)


async def import_facilitators(
    runtime: Runtime, data: bytes, region: str, default_effective_from: date, authorize: Authorize
) -> ImportReport:
    """Register every row of the CSV file ``data`` in ``region``."""
    authorize(region)
    check_region_served(runtime, region)
    try:
        file = parse_csv(data)
    except CsvFileError as exc:
        raise ApiError(422, exc.code, exc.message, {"line": exc.line} if exc.line else None) from None
    report = ImportReport(region)
    for row in file.rows:
        if row.values is None:
            problem = RowProblem(
                "wrong_column_count", None, f"the row has {row.field_count} fields; the header has {len(file.columns)}"
            )
            report.results.append(RowResult(row.row, row.line, "rejected", problems=(problem,)))
            continue
        checked = validate_row(row.values)
        if isinstance(checked, tuple):
            report.results.append(RowResult(row.row, row.line, "rejected", problems=checked))
            continue
        cmd = NewFacilitator(
            nik=checked.nik,
            full_name=checked.full_name,
            role=checked.role,
            region=region,
            province_code=checked.province_code,
            kabkota_code=checked.kabkota_code,
            effective_from=checked.effective_from or default_effective_from,
            speciality=checked.speciality,
            phone=checked.phone,
        )
        try:
            async with runtime.outbox.unit_of_work() as uow:
                created = await register_facilitator(runtime, uow, cmd, authorize)
        except ApiError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            if exc.code == "facilitator_exists":
                existing = uuid.UUID(str(details["facilitator_id"]))
                report.results.append(RowResult(row.row, row.line, "duplicate", facilitator_id=existing))
            else:
                problem = RowProblem(exc.code, details.get("field"), exc.message)
                report.results.append(RowResult(row.row, row.line, "rejected", problems=(problem,)))
            continue
        report.results.append(RowResult(row.row, row.line, "accepted", facilitator_id=created["facilitator_id"]))
    return report
