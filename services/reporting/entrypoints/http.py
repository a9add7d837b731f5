"""HTTP entrypoints of the reporting service (``/api/v1``): JSON, or any table as CSV / XLSX.

Aggregates are readable without a credential unless ``KOTAKU_PUBLIC_AGGREGATES=false``. Then every
report needs a credential, and a region credential reads only its own regions' data (:class:`Reader`):
its region's report, the reports of provinces (and their kota/kabupaten) assigned to its region,
its region's trainings, and facilitator counts of its region; the national report needs a
national or admin credential. Anything about a named person (a facilitator's history) needs a
national read credential in any case.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator, BeforeValidator, StringConstraints

from services.reporting.domain.errors import unknown_table
from services.reporting.domain.models import (
    AreaReport,
    FacilitatorCounts,
    FacilitatorHistory,
    Filters,
    NationalReport,
    RegionReport,
    Report,
    TrainingReport,
)
from services.reporting.domain.periods import FIRST_YEAR, LAST_YEAR, PERIOD_PATTERN, period_problem
from services.reporting.entrypoints.cache import ReportCache
from services.reporting.entrypoints.consumers import CONSUMERS
from services.reporting.entrypoints.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, to_csv, to_xlsx
from services.reporting.entrypoints.lag import SOURCE as LAG_SOURCE
from services.reporting.entrypoints.lag import LagMonitor
from services.reporting.entrypoints.language import ID, language_of
from services.reporting.repositories.reads import reading
from services.reporting.usecases import reports
from services.reporting.usecases.ports import ReportReads
from services.reporting.usecases.reports import AreaLevel
from shared.kernel.auth import OptionalCaller, Principal, ensure_national_reader, require_principal
from shared.kernel.contracts import Role, TrainingType
from shared.kernel.errors import Forbidden
from shared.kernel.i18n import Language
from shared.kernel.runtime import Runtime, current_runtime, runtime_of
from shared.kernel.settings import REGION_PATTERN
from shared.kernel.validation import KABKOTA_CODE, PROVINCE_CODE, ascii_digits

router = APIRouter(prefix="/api/v1", tags=["reports"])
RuntimeDep = Annotated[Runtime, Depends(current_runtime)]

WIB = timezone(timedelta(hours=7))  # "today" for "sessions in the past" is Western Indonesia's day


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


REGION = ascii_digits(REGION_PATTERN)
PROVINCE = ascii_digits(PROVINCE_CODE)
KABKOTA = ascii_digits(KABKOTA_CODE)
Region = Annotated[str, StringConstraints(pattern=REGION)]
Province = Annotated[str, StringConstraints(pattern=PROVINCE)]
Kabkota = Annotated[str, StringConstraints(pattern=KABKOTA)]


def _period_in_range(period: str | None) -> str | None:
    """A period whose year the reports can select (``periods.period_problem``); the pattern is
    checked before."""
    if period is not None and (problem := period_problem(period)) is not None:
        raise ValueError(problem)
    return period


def report_today() -> date:
    return datetime.now(WIB).date()


@dataclass(frozen=True)
class Reader:
    """The caller of an aggregate report and the regions whose data it may read: ``regions`` is
    None for every region (aggregates public, or a national or admin credential)."""

    principal: Principal | None
    regions: frozenset[str] | None = None

    def may_read(self, region: str | None) -> bool:
        return self.regions is None or (region is not None and region in self.regions)

    def ensure_region(self, region: str | None, what: str) -> None:
        """403 ``region_forbidden`` unless the caller may read ``region``'s data (``what`` names it)."""
        if not self.may_read(region):
            raise Forbidden(
                "region_forbidden",
                f"this credential reads the data of its own regions only, and {what} is not theirs",
                {"regions": sorted(self.regions or ())},
            )

    def ensure_national(self) -> None:
        """403 ``national_reader_required`` for a credential limited to some regions."""
        if self.regions is not None:
            own = ", ".join(f"/api/v1/reports/regions/{r}" for r in sorted(self.regions))
            raise Forbidden(
                "national_reader_required",
                f"national figures need a national or admin credential; this one reads {own}",
                {"regions": sorted(self.regions)},
            )


async def aggregates_reader(request: Request, principal: OptionalCaller) -> Reader:
    """Aggregates are public by default: anyone reads every region. With ``public_aggregates``
    off, a credential is needed (401) and a region credential reads only its regions."""
    if runtime_of(request).settings.public_aggregates:
        return Reader(principal)
    caller = require_principal(principal)
    return Reader(caller, None if caller.reads_everything else caller.regions)


AggregatesReader = Annotated[Reader, Depends(aggregates_reader)]


def _blank_is_none(value: Any) -> Any:
    """A filter left blank (``role=``, as the dashboard's form sends "all") is no filter."""
    return None if value == "" else value


Blank = BeforeValidator(_blank_is_none)


async def filters(
    period: Annotated[
        str | None,
        Query(
            pattern=PERIOD_PATTERN,
            description=f"YYYY or YYYY-MM, a year from {FIRST_YEAR} to {LAST_YEAR} (trainings by start date); "
            "anything else is refused with 422; blank: every period",
        ),
        Blank,
        AfterValidator(_period_in_range),
    ] = None,
    role: Annotated[
        Role | None, Query(description="participant role at enrollment / facilitator role; blank: every role"), Blank
    ] = None,
    training_type: Annotated[TrainingType | None, Query(description="blank: every type"), Blank] = None,
) -> Filters:
    return Filters(
        period=period, role=role.value if role else None, training_type=training_type.value if training_type else None
    )


FiltersDep = Annotated[Filters, Depends(filters)]
FormatQuery = Annotated[Format, Query(description="json (default), csv (one table) or xlsx (every table)")]
TableQuery = Annotated[str | None, Query(description="the table to export as CSV (default: the first)")]
LangQuery = Annotated[
    Literal["id", "en"] | None,
    Query(
        description="the language of an export's header row and sheet names: id (Bahasa Indonesia) or en; "
        "default: the kotaku_lang cookie, else Accept-Language, else id. JSON is never translated"
    ),
]


@dataclass(frozen=True)
class Export:
    """How a report is answered: its ``format``, the ``table`` to export (CSV: default the first),
    ``key``, which report it is (path and query, format, table and language aside), the process's
    report ``cache`` (``cache.py``), where it is kept under that key, and ``lang``, the language of an
    export's header row and sheet names (``language.py``)."""

    format: Format
    table: str | None
    key: str = ""
    cache: ReportCache | None = None
    lang: Language = ID


async def export(
    request: Request, format: FormatQuery = Format.JSON, table: TableQuery = None, lang: LangQuery = None
) -> Export:
    query = sorted((k, v) for k, v in request.query_params.multi_items() if k not in {"format", "table", "lang"})
    state = request.app.state
    cache: ReportCache | None = getattr(state, "report_cache", None)
    if cache is None:
        cache = state.report_cache = ReportCache(runtime_of(request).settings.report_cache_seconds)
    return Export(format, table, f"{request.url.path}?{query}", cache, language_of(request))


# Declared before the filters wherever both are taken, so that format and table come first among
# a route's query parameters.
ExportDep = Annotated[Export, Depends(export)]

EXPORTS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The report as JSON, or with `format=csv` one table, with `format=xlsx` every table",
    }
}


async def lag_monitor(request: Request) -> LagMonitor:
    state = request.app.state
    monitor: LagMonitor | None = getattr(state, "reporting_lag", None)
    if monitor is None:
        settings = runtime_of(request).settings
        monitor = LagMonitor(settings.kafka_bootstrap, CONSUMERS, settings.regions, settings.topic_prefix)
        state.reporting_lag = monitor
    return monitor


LagDep = Annotated[LagMonitor, Depends(lag_monitor)]


def render(report: Report, fmt: Format, table: str | None, name: str, lang: Language = ID) -> Report | Response:
    """The report itself (JSON), or an export of its tables, headed in ``lang``."""
    if fmt is Format.JSON:  # already validated: serialise once, skip FastAPI's second validation
        return Response(report.model_dump_json(), media_type="application/json")
    tables = report.tables()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    name = _file_name(name)
    if fmt is Format.XLSX:
        chosen = tables if table is None else {table: _table(tables, table)}
        _ = lang.gettext
        meta = [
            (_("report"), name),
            (_("filters"), ", ".join(f"{k}={v}" for k, v in report.filters.model_dump().items() if v) or _("none")),
            (_("data as of"), report.data_as_of.isoformat() if report.data_as_of else _("no data yet")),
            (_("exported at"), datetime.now(UTC).isoformat()),
        ]
        return Response(
            to_xlsx(chosen, meta, lang),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="kotaku-{name}-{stamp}.xlsx"'},
        )
    chosen_name = table or next(iter(tables))
    return Response(
        to_csv(_table(tables, chosen_name), lang),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="kotaku-{name}-{_file_name(chosen_name)}-{stamp}.csv"'},
    )


def _file_name(text: str) -> str:
    """``text`` as a part of a file name in a header: ASCII letters, digits, '.', '-' and '_'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:100]


def _table(tables: dict[str, Any], name: str) -> Any:
    if name not in tables:
        raise unknown_table(name, tables)
    return tables[name]


async def _answer(
    runtime: Runtime,
    read: Callable[[ReportReads], Awaitable[Report]],
    how: Export,
    name: str,
    *,
    cached: bool = True,
    check: Callable[[Report], None] | None = None,
) -> Report | Response:
    """The report ``read`` builds from one snapshot of the read models, rendered once ``check``
    (who may read it, when that depends on what it is about) accepted it; aggregates come through
    the report cache (``cache.py``), a named person's data never does."""

    async def build() -> Report:
        async with reading(runtime.pool) as reads:
            return await read(reads)

    report = await how.cache.get(how.key, build) if cached and how.cache else await build()
    if check is not None:
        check(report)
    if how.format is Format.JSON and cached and how.cache:
        return Response(how.cache.json_of(how.key, report), media_type="application/json")
    return render(report, how.format, how.table, name, how.lang)


def area_check(reader: Reader) -> Callable[[Report], None]:
    """An area's report is its province's region's data (``AreaReport.region``: the province's
    assignment in the read model); a province not assigned yet is nobody's region."""

    def check(report: Report) -> None:
        if isinstance(report, AreaReport):
            reader.ensure_region(report.region, f"province {report.code[:2]}")

    return check


def training_check(reader: Reader) -> Callable[[Report], None]:
    """A training's report is its region's data (the region of its TrainingScheduled)."""

    def check(report: Report) -> None:
        if isinstance(report, TrainingReport):
            reader.ensure_region(report.training.region, f"training {report.training.training_id}")

    return check


@router.get(
    "/reports/facilitator-counts",
    response_model=FacilitatorCounts,
    summary="Registered facilitators per region and province (active and inactive)",
)
async def facilitator_counts(
    runtime: RuntimeDep,
    reader: AggregatesReader,
    region: Annotated[Region | None, Query(description="default: every region the caller may read")] = None,
    province: Annotated[Province | None, Query()] = None,
    role: Annotated[Role | None, Query()] = None,
) -> FacilitatorCounts:
    if region is not None:
        reader.ensure_region(region, f"region {region}")
    async with reading(runtime.pool) as reads:
        return await reports.facilitator_counts(
            reads, region, province, role.value if role else None, regions=reader.regions
        )


@router.get(
    "/reports/national",
    response_model=NationalReport,
    responses=EXPORTS,
    summary="National overview: facilitators, completion by province, totals by period, completeness, freshness",
)
async def national_report(
    runtime: RuntimeDep,
    reader: AggregatesReader,
    lag: LagDep,
    how: ExportDep,
    f: FiltersDep,
) -> Report | Response:
    reader.ensure_national()
    lag_now = await lag.current()
    return await _answer(
        runtime,
        lambda reads: reports.national(reads, f, report_today(), lag_now, LAG_SOURCE),
        how,
        "national",
    )


@router.get(
    "/reports/regions/{region}",
    response_model=RegionReport,
    responses=EXPORTS,
    summary="One OC region: facilitators by province, its trainings, sessions not reported, freshness",
)
async def region_report(
    runtime: RuntimeDep,
    reader: AggregatesReader,
    lag: LagDep,
    how: ExportDep,
    f: FiltersDep,
    region: Annotated[Region, Path()],
) -> Report | Response:
    reader.ensure_region(region, f"region {region}")
    lag_now = await lag.current()
    return await _answer(
        runtime,
        lambda reads: reports.region(reads, region, f, report_today(), lag_now),
        how,
        f"region-{region}",
    )


def _area_report(level: AreaLevel, path: str, code_parameter: Any, summary: str) -> None:
    """The report of one area at ``level`` (``reports.area``), its path parameter ``code`` declared
    and validated by ``code_parameter``."""

    @router.get(path, response_model=AreaReport, responses=EXPORTS, summary=summary, name=f"{level}_report")
    async def area_report(
        runtime: RuntimeDep,
        reader: AggregatesReader,
        how: ExportDep,
        f: FiltersDep,
        code: str = code_parameter,
    ) -> Report | Response:
        return await _answer(
            runtime,
            lambda reads: reports.area(reads, level, code, f),
            how,
            f"{level}-{code}",
            check=area_check(reader),
        )


_area_report(
    "province",
    "/reports/provinces/{code}",
    Path(pattern=PROVINCE, description="BPS province code, e.g. 16"),
    "One province: facilitators by kota/kabupaten, its participants' trainings and OJT kelurahan",
)
_area_report(
    "kabkota",
    "/reports/kabkota/{code}",
    Path(pattern=KABKOTA, description="kota/kabupaten code, e.g. 16.71"),
    "One kota/kabupaten: facilitators by role, its participants' trainings and OJT kelurahan",
)


@router.get(
    "/reports/trainings/{training_id}",
    response_model=TrainingReport,
    responses=EXPORTS,
    summary="One training: enrolled, withdrawn, attendance per session and day, completion, scores, OJT",
)
async def training_report(
    runtime: RuntimeDep,
    reader: AggregatesReader,
    training_id: uuid.UUID,
    how: ExportDep,
) -> Report | Response:
    return await _answer(
        runtime,
        lambda reads: reports.training(reads, training_id, report_today()),
        how,
        f"training-{training_id}",
        check=training_check(reader),
    )


@router.get(
    "/facilitators/{facilitator_id}/history",
    response_model=FacilitatorHistory,
    responses=EXPORTS,
    tags=["facilitators"],
    summary="A facilitator's trainings and assignments (a named person: national read credential)",
)
async def facilitator_history(
    runtime: RuntimeDep,
    caller: OptionalCaller,
    facilitator_id: uuid.UUID,
    how: ExportDep,
) -> Report | Response:
    principal = require_principal(caller)
    ensure_national_reader(principal)
    return await _answer(
        runtime,
        lambda reads: reports.facilitator_history(reads, facilitator_id),
        how,
        f"facilitator-{facilitator_id}",
        cached=False,
    )
