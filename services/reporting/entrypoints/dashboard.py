"""The national dashboard: server-rendered HTML (Jinja2) with inline SVG charts.

National overview -> region -> province -> kota/kabupaten -> training. Every table has CSV and
XLSX export buttons (links to the JSON API's exports with the same filters). Nothing is loaded
from elsewhere: no script, no web font, no CDN. Only aggregates are shown (no person's name).

Every page is in Bahasa Indonesia unless the reader asks for English (``language.py``: the switch
at the top of each page, ``?lang=en|id``, is kept in a cookie; else ``Accept-Language``): words from
the gettext catalogues through Jinja2's i18n extension, numbers and dates in the language's formats
(``1.234,5``, ``7 Agustus 2016``; ``1,234.5``, ``August 7, 2016``).

Who reads what is the JSON API's rule (``http.Reader``): with aggregates not public, a region
credential reads its regions' pages only (403 ``region_forbidden`` otherwise), and the national
overview sends it on to its region's page (303).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.reporting.domain.models import AreaCompletion, AreaReport, Filters, Report
from services.reporting.entrypoints import charts, labels
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
from services.reporting.entrypoints.language import COOKIE, LANGUAGES, QUERY, language_of
from services.reporting.repositories.reads import reading
from services.reporting.usecases import reports
from services.reporting.usecases.reports import AreaLevel
from shared.kernel.contracts import Role, TrainingType
from shared.kernel.i18n import Language
from shared.kernel.runtime import Runtime, current_runtime

router = APIRouter(include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(current_runtime)]
LanguageDep = Annotated[Language, Depends(language_of)]
COOKIE_SECONDS = 365 * 24 * 3600


def _number(lang: Language, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return lang.number(value)
    return str(value)


def _moment(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _when(lang: Language, value: datetime | str | None) -> str:
    """A moment in Western Indonesian Time: ``7 Agustus 2016 14.05.03 WIB``."""
    if value is None:
        return lang.gettext("no data yet")
    return f"{lang.moment(_moment(value), WIB)} WIB"


def _day(lang: Language, value: date | str | None) -> str:
    if value is None:
        return "-"
    return lang.long_date(date.fromisoformat(value) if isinstance(value, str) else value)


def _period(lang: Language, value: str) -> str:
    """``2016-07`` as ``Juli 2016``; a year as it is."""
    if len(value) == 7:
        return lang.month(date.fromisoformat(f"{value}-01"))
    return value


def _environment(lang: Language) -> Environment:
    """The templates in ``lang``: its catalogue for ``_()``, its formats for the filters."""
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(lang.translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["number"] = partial(_number, lang)
    env.filters["percent"] = lang.percent
    env.filters["when"] = partial(_when, lang)
    env.filters["day"] = partial(_day, lang)
    env.filters["period"] = partial(_period, lang)
    env.globals["column"] = partial(labels.column, lang)
    env.globals["value"] = partial(labels.value, lang)
    return env


TEMPLATES = {code: _environment(lang) for code, lang in LANGUAGES.items()}


def _completion_chart(rows: Sequence[AreaCompletion], title: str, lang: Language) -> Markup:
    """Completion rate per area, each bar labelled (completed/decided)."""
    return charts.hbar(
        [
            (c.name, c.completion_rate, f"({lang.number(c.completed)}/{lang.number(c.completed + c.not_completed)})")
            for c in rows
        ],
        title=title,
        lang=lang,
    )


def _query(filters: Filters, **extra: str) -> str:
    pairs = {k: v for k, v in {**filters.model_dump(), **extra}.items() if v}
    return ("?" + urlencode(pairs)) if pairs else ""


def _picked(request: Request) -> str:
    """The language named in the query (the switch), to be kept by the page's links; else ''."""
    picked = request.query_params.get(QUERY, "")
    return picked if picked in LANGUAGES else ""


def _switch(request: Request) -> dict[str, str]:
    """The address of this page in each language: the same query, ``lang`` replaced."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != QUERY]
    return {code: f"{request.url.path}?{urlencode([*kept, (QUERY, code)])}" for code in LANGUAGES}


def _page(
    name: str,
    request: Request,
    lang: Language,
    filters: Filters,
    report: Report,
    api_path: str,
    **context: Any,
) -> HTMLResponse:
    template = TEMPLATES[lang.code].get_template(name)
    picked = _picked(request)
    html = template.render(
        report=report,
        filters=filters,
        lang=lang,
        picked=picked,
        switch=_switch(request),
        q=_query(filters, lang=picked),
        lq=_query(Filters(), lang=picked),
        export=lambda table, fmt: f"{api_path}{_query(filters, format=fmt, table=table, lang=lang.code)}",
        export_all=f"{api_path}{_query(filters, format='xlsx', lang=lang.code)}",
        roles=[r.value for r in Role],
        training_types=[t.value for t in TrainingType],
        path=request.url.path,
        charts=charts,
        **context,
    )
    response = HTMLResponse(html, headers={"Content-Language": lang.code, "Vary": "Accept-Language, Cookie"})
    if picked:  # the reader used the switch: keep the choice for the next pages (and the exports)
        response.set_cookie(COOKIE, picked, max_age=COOKIE_SECONDS, path="/", samesite="lax", httponly=True)
    return response


@router.get("/", response_class=HTMLResponse)
async def national_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, lag: LagDep, f: FiltersDep, lang: LanguageDep
) -> Response:
    if reader.regions is not None:  # a region credential: its (first) region's page, same filters
        return RedirectResponse(f"/regions/{min(reader.regions)}{_query(f, lang=_picked(request))}", status_code=303)
    lag_now = await lag.current()
    async with reading(runtime.pool) as reads:
        report = await reports.national(reads, f, report_today(), lag_now, LAG_SOURCE)
    _ = lang.gettext
    completion = _completion_chart(
        report.completion_by_province, _("Completion by province (completed / decided)"), lang
    )
    return _page(
        "national.html",
        request,
        lang,
        f,
        report,
        "/api/v1/reports/national",
        title=_("National overview"),
        completion_chart=completion,
    )


@router.get("/regions/{region}", response_class=HTMLResponse)
async def region_page(
    request: Request,
    runtime: RuntimeDep,
    reader: AggregatesReader,
    lag: LagDep,
    f: FiltersDep,
    region: Region,
    lang: LanguageDep,
) -> HTMLResponse:
    reader.ensure_region(region, f"region {region}")
    lag_now = await lag.current()
    async with reading(runtime.pool) as reads:
        report = await reports.region(reads, region, f, report_today(), lag_now)
    _ = lang.gettext
    return _page(
        "region.html",
        request,
        lang,
        f,
        report,
        f"/api/v1/reports/regions/{region}",
        title=_("Region %(region)s") % {"region": region.upper()},
        completion_chart=_completion_chart(report.completion_by_province, _("Completion by province"), lang),
        gain_chart=charts.pre_post(
            [(t.title or str(t.training_id), t.pre_mean, t.post_mean) for t in report.trainings[:20]],
            title=_("Mean pre/post test score (percent of the maximum) per training"),
            lang=lang,
        ),
    )


@router.get("/provinces/{code}", response_class=HTMLResponse)
async def province_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, f: FiltersDep, code: Province, lang: LanguageDep
) -> HTMLResponse:
    return await _area_page(request, runtime, reader, f, lang, "province", code, "/api/v1/reports/provinces")


@router.get("/kabkota/{code}", response_class=HTMLResponse)
async def kabkota_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, f: FiltersDep, code: Kabkota, lang: LanguageDep
) -> HTMLResponse:
    return await _area_page(request, runtime, reader, f, lang, "kabkota", code, "/api/v1/reports/kabkota")


@router.get("/trainings/{training_id}", response_class=HTMLResponse)
async def training_page(
    request: Request, runtime: RuntimeDep, reader: AggregatesReader, training_id: uuid.UUID, lang: LanguageDep
) -> HTMLResponse:
    async with reading(runtime.pool) as reads:
        report = await reports.training(reads, training_id, report_today())
    training_check(reader)(report)
    _ = lang.gettext
    return _page(
        "training.html",
        request,
        lang,
        Filters(),
        report,
        f"/api/v1/reports/trainings/{training_id}",
        title=report.training.title or str(training_id),
        attendance_chart=charts.line(
            [
                (lang.day_month(d.session_date) if d.session_date else "?", d.attendance_rate)
                for d in report.attendance_by_day
            ],
            title=_("Attendance over the days of the training"),
            lang=lang,
        ),
        gain_chart=charts.pre_post(
            [(_("all participants"), report.training.pre_mean, report.training.post_mean)],
            title=_("Mean pre/post test score (percent of the maximum)"),
            lang=lang,
        ),
    )


async def _area_page(
    request: Request,
    runtime: Runtime,
    reader: Reader,
    f: Filters,
    lang: Language,
    level: AreaLevel,
    code: str,
    api_root: str,
) -> HTMLResponse:
    """The page of one province or kota/kabupaten: its report, exported from ``api_root``/``code``."""
    async with reading(runtime.pool) as reads:
        report = await reports.area(reads, level, code, f)
    area_check(reader)(report)
    _ = lang.gettext
    if report.level == "province":
        title = _("Province %(name)s") % {"name": report.name}
        completion_title = _("Completion by kota/kabupaten")
    else:
        title = _("Kota/Kabupaten %(name)s") % {"name": report.name}
        completion_title = _("Completion by role")
    return _page(
        "area.html",
        request,
        lang,
        f,
        report,
        f"{api_root}/{code}",
        title=title,
        completion_chart=_completion_chart(report.completion_by_area, completion_title, lang),
        gain_chart=charts.pre_post(
            [(t.title or str(t.training_id), t.pre_mean, t.post_mean) for t in report.trainings[:20]],
            title=_("Mean pre/post test score (percent of the maximum) per training"),
            lang=lang,
        ),
        coverage_chart=_coverage_chart(report, lang),
    )


def _coverage_chart(report: AreaReport, lang: Language) -> Markup:
    """The share of kelurahan that had OJT: per kota/kabupaten (province), or the area's one bar
    (kota/kabupaten: its kelurahan are listed in the table below)."""
    _ = lang.gettext
    if report.level == "province":
        rows = [
            (c.name, c.coverage_rate, f"({lang.number(c.with_ojt)}/{lang.number(c.kelurahan)})")
            for c in report.ojt_coverage
        ]
    else:
        total, covered = report.kelurahan_total, report.kelurahan_with_ojt
        rows = [(report.name, covered / total if total else None, f"({lang.number(covered)}/{lang.number(total)})")]
    return charts.hbar(rows, title=_("Kelurahan that had OJT"), lang=lang)
