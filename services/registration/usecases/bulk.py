"""Bulk registration from a spreadsheet export.

The door reads the file completely before anything is written (entrypoints.csvfile) and hands
over every row, already checked for shape, as a :class:`NewFacilitator` or as its problems. A
file that cannot be read is refused as a whole, after the caller's access was checked. Then every
row is its own unit of work: an accepted row commits with its event, a refused row writes
nothing, and one bad row never blocks the others. A NIK that is already registered (earlier in the
same file, by an earlier upload, or by any other door) is reported as ``duplicate`` with the
existing facilitator id, so uploading the same file twice changes nothing; a NIK registered in a
region the caller may not act on is ``rejected`` as ``facilitator_exists_elsewhere`` (column nik),
with no id.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from services.registration.domain import errors
from services.registration.domain.facilitators import check_region_served
from services.registration.usecases.facilitators import NewFacilitator, register_facilitator
from services.registration.usecases.ports import Authorize, UnitOfWorkFactory
from shared.kernel.errors import DomainError

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True)
class RowProblem:
    reason: str
    column: str | None
    message: str


@dataclass(frozen=True)
class ImportLine:
    """One data row of the file: ``row`` counts data rows from 1, ``line`` is its first line.
    Either ``facilitator`` (the row to register) or ``problems`` (why it cannot be)."""

    row: int
    line: int
    facilitator: NewFacilitator | None
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class UnreadableFile:
    """Why the file cannot be read at all (``code`` as in entrypoints.csvfile.CsvFileError)."""

    code: str
    message: str
    line: int | None = None


@dataclass(frozen=True)
class ImportFacilitators:
    region: str
    lines: tuple[ImportLine, ...] = ()
    unreadable: UnreadableFile | None = None


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


async def import_facilitators(
    units: UnitOfWorkFactory,
    cmd: ImportFacilitators,
    *,
    served: Collection[str],
    key: bytes,
    authorize: Authorize,
) -> ImportReport:
    """Register every row of the file in ``cmd.region``, one unit of work per row."""
    authorize(cmd.region)
    check_region_served(served, cmd.region)
    if cmd.unreadable is not None:
        raise errors.unreadable_file(cmd.unreadable.code, cmd.unreadable.message, cmd.unreadable.line)
    report = ImportReport(cmd.region)
    for line in cmd.lines:
        if line.facilitator is None:
            report.results.append(RowResult(line.row, line.line, "rejected", problems=line.problems))
            continue
        try:
            async with units() as uow:
                created = await register_facilitator(uow, line.facilitator, served=served, key=key, authorize=authorize)
        except DomainError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            if exc.code == "facilitator_exists":
                existing = uuid.UUID(str(details["facilitator_id"]))
                report.results.append(RowResult(line.row, line.line, "duplicate", facilitator_id=existing))
            else:
                problem = RowProblem(exc.code, details.get("field"), exc.message)
                report.results.append(RowResult(line.row, line.line, "rejected", problems=(problem,)))
            continue
        report.results.append(RowResult(line.row, line.line, "accepted", facilitator_id=created.facilitator_id))
    return report
