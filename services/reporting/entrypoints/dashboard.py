"""The national dashboard: server-rendered HTML (Jinja2) with inline SVG charts.

National overview -> region -> province -> kota/kabupaten -> training. Every table has CSV and
XLSX export buttons (links to the JSON API's exports with the same filters). Nothing is loaded
from elsewhere: no script, no web font, no CDN. Only aggregates are shown (no person's name).

Who reads what is the JSON API's rule (``http.Reader``): with aggregates not public, a region
credential reads its regions' pages only (403 ``region_forbidden`` otherwise), and the national
overview sends it on to its region's page (303).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.reporting.domain.models import AreaCompletion, Filters, Report
from services.reporting.entrypoints import charts
from services.reporting.entrypoints.http import (
    WIB,
    AggregatesReader,
    FiltersDep,
    Kabkota,
    LagDep,
    Province,
    Reader,
    Region,
    area_check,
    report_today,
    training_check,
)
from services.reporting.entrypoints.lag import SOURCE as LAG_SOURCE
from services.reporting.repositories.reads import reading
from services.reporting.usecases import reports
from services.reporting.usecases.reports import AreaLevel
from shared.kernel.contracts import Role, TrainingType
from shared.kernel.runtime import Runtime, runtime_of

router = APIRouter(include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _when(value: datetime | None) -> str:
    return "no data yet" if value is None else value.astimezone(WIB).strftime("%d %b %Y %H:%M:%S WIB")


TEMPLATES.filters["number"] = _number
TEMPLATES.filters["percent"] = _percent
TEMPLATES.filters["when"] = _when


def _completion_chart(rows: Sequence[AreaCompletion], title: str) -> Markup:
    """Completion rate per area, each bar labelled (completed/decided)."""
    return charts.hbar(
        [(c.name, c.completion_rate, f"({c.completed:,}/{c.completed + c.not_completed:,})") for c in rows],
        title=title,
    )


def _query(filters: Filters, **extra: str) -> str:
    pairs = {k: v for k, v in {**filters.model_dump(), **extra}.items() if v}
    return ("?" + urlencode(pairs)) if pairs else ""


def _page(name: str, request: Request, filters: Filters, report: Report, api_path: str, **context: Any) -> HTMLResponse:
    template = TEMPLATES.get_template(name)
    html = template.render(
        report=report,
        filters=filters,
        q=_query(filters),
        export=lambda table, fmt: f"{api_path}{_query(filters, format=fmt, table=table)}",
        export_all=f"{api_path}{_query(filters, format='xlsx')}",
        roles=[r.value for r in Role],
        training_types=[t.value for t in TrainingType],
        path=request.url.path,
        charts=charts,
        **context,
    )
    return HTMLResponse(html)


@router.get("/", response_class=HTMLResponse)
async def national_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, lag: LagDep, f: FiltersDep
) -> Response:
    if reader.regions is not None:  # a region credential: its (first) region's page, same filters
        return RedirectResponse(f"/regions/{min(reader.regions)}{_query(f)}", status_code=303)
    lag_now = await lag.current()
    async with reading(runtime.pool) as reads:
        report = await reports.national(reads, f, report_today(), lag_now, LAG_SOURCE)
    completion = _completion_chart(report.completion_by_province, "Completion by province (completed / decided)")
    return _page(
        "national.html",
        request,
        f,
        report,
        "/api/v1/reports/national",
        title="National overview",
        completion_chart=completion,
    )


@router.get("/regions/{region}", response_class=HTMLResponse)
async def region_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, lag: LagDep, f: FiltersDep, region: Region
) -> HTMLResponse:
    reader.ensure_region(region, f"region {region}")
    lag_now = await lag.current()
    async with reading(runtime.pool) as reads:
        report = await reports.region(reads, region, f, report_today(), lag_now)
    return _page(
        "region.html",
        request,
        f,
        report,
        f"/api/v1/reports/regions/{region}",
        title=f"Region {region.upper()}",
        completion_chart=_completion_chart(report.completion_by_province, "Completion by province"),
        gain_chart=charts.pre_post(
            [(t.title or str(t.training_id), t.pre_mean, t.post_mean) for t in report.trainings[:20]],
            title="Pre/post test mean (% of max) per training",
        ),
    )


@router.get("/provinces/{code}", response_class=HTMLResponse)
async def province_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, f: FiltersDep, code: Province
) -> HTMLResponse:
    return await _area_page(request, runtime, reader, f, "province", code, "/api/v1/reports/provinces", "Province")


@router.get("/kabkota/{code}", response_class=HTMLResponse)
async def kabkota_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, f: FiltersDep, code: Kabkota
) -> HTMLResponse:
    return await _area_page(request, runtime, reader, f, "kabkota", code, "/api/v1/reports/kabkota", "Kota/Kabupaten")


@router.get("/trainings/{training_id}", response_class=HTMLResponse)
async def training_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, training_id: uuid.UUID
) -> HTMLResponse:
    async with reading(runtime.pool) as reads:
        report = await reports.training(reads, training_id, report_today())
    training_check(reader)(report)
    return _page(
        "training.html",
        request,
        Filters(),
        report,
        f"/api/v1/reports/trainings/{training_id}",
        title=report.training.title or str(training_id),
        attendance_chart=charts.line(
            [
                (d.session_date.strftime("%d %b") if d.session_date else "?", d.attendance_rate)
                for d in report.attendance_by_day
            ],
            title="Attendance over the days of the training",
        ),
        gain_chart=charts.pre_post(
            [("all participants", report.training.pre_mean, report.training.post_mean)],
            title="Pre/post test mean (% of max)",
        ),
    )


async def _area_page(
    request: Request,
    runtime: Runtime,
    reader: Reader,
    f: Filters,
    level: AreaLevel,
    code: str,
    api_root: str,
    kind: str,
) -> HTMLResponse:
    """The page of one province or kota/kabupaten: its report, exported from ``api_root``/``code``."""
    async with reading(runtime.pool) as reads:
        report = await reports.area(reads, level, code, f)
    area_check(reader)(report)
    by = "kota/kabupaten" if report.level == "province" else "role"
    return _page(
        "area.html",
        request,
        f,
        report,
        f"{api_root}/{code}",
        title=f"{kind} {report.name}",
        completion_chart=_completion_chart(report.completion_by_area, f"Completion by {by}"),
        gain_chart=charts.pre_post(
            [(t.title or str(t.training_id), t.pre_mean, t.post_mean) for t in report.trainings[:20]],
            title="Pre/post test mean (% of max) per training",
        ),
    )
