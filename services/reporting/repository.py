# SQL templates in this module are filled only with its own constants, never with input (values are $n).
# ruff: noqa: S608
"""Queries of the reporting read models, turned into report models. HTTP and HTML only translate.

Period filters select trainings by their start date; role filters select participants by the role
they had at enrollment (facilitator counts: by current role). Aggregates come from the derived
tables (``facilitator_totals``, ``training_stats``, ``training_area_stats``, ``session_stats``),
so a national report costs a handful of small scans whatever the number of events.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.reporting.models import (
    AreaBreakdown,
    AreaCompletion,
    AreaFacilitators,
    AreaReport,
    AssignmentRow,
    DayAttendance,
    FacilitatorHistory,
    FacilitatorInfo,
    Filters,
    Freshness,
    HistoryRow,
    KelurahanOJT,
    NationalReport,
    NationalSummary,
    PeriodTotal,
    ReasonCount,
    RegionCompleteness,
    RegionFacilitators,
    RegionReport,
    SessionAttendance,
    TrainingInfo,
    TrainingReport,
    TrainingRow,
    UnreportedSession,
)
from services.reporting.names import display_name
from shared.kernel.db import Conn

# SQL templates here are filled only with constants of this module, never with input; every value
# is a $n parameter.

# Parameters shared by the training filters: $1 start from, $2 start before, $3 training type.
_TRAINING_FILTER = (
    "($1::date IS NULL OR t.start_date >= $1) AND ($2::date IS NULL OR t.start_date < $2)"
    " AND ($3::text IS NULL OR t.training_type = $3)"
)

FACILITATOR_COUNTS = """
SELECT region, province_code, sum(registered)::bigint AS facilitators
FROM facilitator_totals
WHERE ($1::text IS NULL OR region = $1) AND ($2::text IS NULL OR province_code = $2)
  AND ($3::text IS NULL OR role = $3)
GROUP BY region, province_code
ORDER BY region, province_code
"""
FACILITATORS_BY_REGION = """
SELECT region,
    coalesce(sum(registered) FILTER (WHERE status = 'active'), 0)::bigint AS active,
    coalesce(sum(registered) FILTER (WHERE status = 'inactive'), 0)::bigint AS inactive
FROM facilitator_totals WHERE ($1::text IS NULL OR role = $1)
GROUP BY region ORDER BY region
"""
FACILITATORS_OF_REGION = """
SELECT province_code AS code, role,
    coalesce(sum(registered) FILTER (WHERE status = 'active'), 0)::bigint AS active,
    coalesce(sum(registered) FILTER (WHERE status = 'inactive'), 0)::bigint AS inactive
FROM facilitator_totals WHERE region = $1 AND ($2::text IS NULL OR role = $2)
GROUP BY province_code, role ORDER BY province_code, role
"""
FACILITATORS_OF_PROVINCE = """
SELECT kabkota_code AS code, role,
    coalesce(sum(registered) FILTER (WHERE status = 'active'), 0)::bigint AS active,
    coalesce(sum(registered) FILTER (WHERE status = 'inactive'), 0)::bigint AS inactive
FROM facilitator_totals WHERE province_code = $1 AND ($2::text IS NULL OR role = $2)
GROUP BY kabkota_code, role ORDER BY kabkota_code, role
"""
FACILITATORS_OF_KABKOTA = """
SELECT kabkota_code AS code, role,
    coalesce(sum(registered) FILTER (WHERE status = 'active'), 0)::bigint AS active,
    coalesce(sum(registered) FILTER (WHERE status = 'inactive'), 0)::bigint AS inactive
FROM facilitator_totals WHERE kabkota_code = $1 AND ($2::text IS NULL OR role = $2)
GROUP BY kabkota_code, role ORDER BY kabkota_code, role
"""
REGIONS_OF_AREA = """
SELECT DISTINCT region FROM facilitator_totals WHERE province_code = $1 AND ($2::text IS NULL OR kabkota_code = $2)
ORDER BY region
"""

_COMPLETION = (
    """
SELECT {group} AS code,
    sum(a.enrolled)::bigint AS enrolled, sum(a.withdrawn)::bigint AS withdrawn,
    sum(a.completed)::bigint AS completed, sum(a.not_completed)::bigint AS not_completed,
    sum(a.certified)::bigint AS certified, sum(a.ojt_completed)::bigint AS ojt_completed
FROM training_area_stats a LEFT JOIN trainings t ON t.training_id = a.training_id
WHERE """
    + _TRAINING_FILTER
    + """ AND ($4::text IS NULL OR a.role = $4) AND {where}
GROUP BY 1 ORDER BY 1
"""
)
COMPLETION_BY_PROVINCE = _COMPLETION.format(group="a.province_code", where="($5::text IS NULL OR t.region = $5)")
COMPLETION_OF_PROVINCE = _COMPLETION.format(group="a.kabkota_code", where="a.province_code = $5")
COMPLETION_OF_KABKOTA = _COMPLETION.format(group="a.role", where="a.kabkota_code = $5")

TOTALS_BY_MONTH = (
    """
WITH a AS (
    SELECT training_id, sum(enrolled) AS enrolled, sum(withdrawn) AS withdrawn, sum(completed) AS completed,
        sum(not_completed) AS not_completed, sum(certified) AS certified
    FROM training_area_stats WHERE ($4::text IS NULL OR role = $4)
    GROUP BY training_id
)
SELECT to_char(t.start_date, 'YYYY-MM') AS period, t.training_type, count(*)::bigint AS trainings,
    coalesce(sum(a.enrolled), 0)::bigint AS enrolled, coalesce(sum(a.withdrawn), 0)::bigint AS withdrawn,
    coalesce(sum(a.completed), 0)::bigint AS completed, coalesce(sum(a.not_completed), 0)::bigint AS not_completed,
    coalesce(sum(a.certified), 0)::bigint AS certified
FROM trainings t LEFT JOIN a ON a.training_id = t.training_id
WHERE t.start_date IS NOT NULL AND t.training_type IS NOT NULL AND t.status <> 'cancelled' AND """
    + _TRAINING_FILTER
    + """
GROUP BY 1, 2 ORDER BY 1, 2
"""
)
COMPLETENESS_BY_REGION = (
    """
SELECT coalesce(t.region, '') AS region, count(*)::bigint AS sessions_due,
    count(*) FILTER (WHERE ss.training_id IS NULL)::bigint AS sessions_unreported,
    count(DISTINCT t.training_id) FILTER (WHERE ss.training_id IS NULL)::bigint AS trainings_unreported
FROM training_sessions s
JOIN trainings t ON t.training_id = s.training_id
LEFT JOIN session_stats ss ON ss.training_id = s.training_id AND ss.session_id = s.session_id
WHERE s.session_date < $4 AND t.status <> 'cancelled' AND """
    + _TRAINING_FILTER
    + """
GROUP BY 1 ORDER BY 1
"""
)
_UNREPORTED = (
    """
SELECT t.region, s.training_id, t.title, s.session_id, s.session_date, s.kind
FROM training_sessions s
JOIN trainings t ON t.training_id = s.training_id
WHERE s.session_date < $4 AND t.status <> 'cancelled' AND {where} AND """
    + _TRAINING_FILTER
    + """
  AND NOT EXISTS (SELECT 1 FROM session_stats ss WHERE ss.training_id = s.training_id AND ss.session_id = s.session_id)
ORDER BY s.session_date, t.title, s.session_id
LIMIT 2000
"""
)
UNREPORTED_OF_REGION = _UNREPORTED.format(where="t.region = $5")
UNREPORTED_OF_TRAINING = _UNREPORTED.format(where="t.training_id = $5")

FRESHNESS = """
SELECT region, max(newest_event_at) AS newest_event_at, max(last_applied_at) AS last_applied_at,
    sum(events_applied)::bigint AS events_applied
FROM region_freshness WHERE ($1::text IS NULL OR region = $1)
GROUP BY region ORDER BY region
"""
DATA_AS_OF = "SELECT max(last_applied_at) AS last_applied_at, max(newest_event_at) AS newest FROM region_freshness"

_TRAINING_ROWS = (
    """
SELECT t.training_id, t.region, t.title, t.training_type, t.start_date, t.end_date, t.status,
    coalesce(sum(a.enrolled), 0)::bigint AS enrolled, coalesce(sum(a.withdrawn), 0)::bigint AS withdrawn,
    coalesce(sum(a.completed), 0)::bigint AS completed, coalesce(sum(a.not_completed), 0)::bigint AS not_completed,
    coalesce(sum(a.certified), 0)::bigint AS certified,
    s.attendance_recorded, s.attendance_attended, s.pre_mean, s.post_mean, s.gain_mean
FROM trainings t
{join} training_area_stats a ON a.training_id = t.training_id AND ($4::text IS NULL OR a.role = $4) {area}
LEFT JOIN training_stats s ON s.training_id = t.training_id
WHERE """
    + _TRAINING_FILTER
    + """ {where}
GROUP BY t.training_id, s.training_id
ORDER BY t.start_date DESC NULLS LAST, t.title, t.training_id
LIMIT 5000
"""
)
TRAININGS_OF_REGION = _TRAINING_ROWS.format(join="LEFT JOIN", area="", where="AND t.region = $5")
TRAININGS_OF_PROVINCE = _TRAINING_ROWS.format(join="JOIN", area="AND a.province_code = $5", where="")
TRAININGS_OF_KABKOTA = _TRAINING_ROWS.format(join="JOIN", area="AND a.kabkota_code = $5", where="")

_OJT = (
    """
SELECT coalesce(p.ojt_done_kelurahan, p.ojt_kelurahan, p.outcome_kelurahan) AS kelurahan_code,
    count(p.ojt_assigned_at)::bigint AS ojt_assigned, count(p.ojt_done_at)::bigint AS ojt_completed,
    count(*) FILTER (WHERE p.outcome = 'completed')::bigint AS completed_training
FROM participants p LEFT JOIN trainings t ON t.training_id = p.training_id
WHERE coalesce(p.ojt_done_kelurahan, p.ojt_kelurahan, p.outcome_kelurahan) IS NOT NULL
  AND """
    + _TRAINING_FILTER
    + """ AND ($4::text IS NULL OR p.role = $4) AND {where}
GROUP BY 1 ORDER BY 1
"""
)
OJT_OF_PROVINCE = _OJT.format(where="p.province_code = $5")
OJT_OF_KABKOTA = _OJT.format(where="p.kabkota_code = $5")
OJT_OF_TRAINING = _OJT.format(where="p.training_id = $5")

TRAINING = """
SELECT k.training_id, t.region, t.title, t.training_type, t.organiser, t.venue, t.start_date, t.end_date,
    t.capacity, coalesce(t.status, 'unknown') AS status, s.participants, s.enrolled, s.withdrawn, s.completed,
    s.not_completed, s.certified, s.pre_n, s.pre_mean, s.post_n, s.post_mean, s.gain_n, s.gain_mean, s.ojt_assigned,
    s.ojt_completed, s.attendance_recorded, s.attendance_attended,
    t.training_id IS NOT NULL OR s.training_id IS NOT NULL AS known
FROM (SELECT $1::uuid AS training_id) k
LEFT JOIN trainings t ON t.training_id = k.training_id
LEFT JOIN training_stats s ON s.training_id = k.training_id
"""
SESSIONS_OF_TRAINING = """
SELECT coalesce(s.session_id, ss.session_id) AS session_id, s.session_date, s.kind, s.module_code,
    coalesce(ss.recorded, 0) AS recorded, coalesce(ss.present, 0) AS present, coalesce(ss.late, 0) AS late,
    coalesce(ss.excused, 0) AS excused, coalesce(ss.absent, 0) AS absent
FROM (SELECT * FROM training_sessions WHERE training_id = $1) s
FULL JOIN (SELECT * FROM session_stats WHERE training_id = $1) ss ON ss.session_id = s.session_id
ORDER BY s.session_date NULLS LAST, 1
"""
REASONS_OF_TRAINING = """
SELECT r.reason, count(*)::bigint AS participants
FROM participants p, jsonb_array_elements_text(p.unmet) AS r(reason)
WHERE p.training_id = $1 AND p.outcome = 'not_completed'
GROUP BY r.reason ORDER BY 2 DESC, 1
"""
AREAS_OF_TRAINING = """
SELECT province_code, kabkota_code, role, enrolled, withdrawn, completed, not_completed, certified, ojt_completed
FROM training_area_stats WHERE training_id = $1
ORDER BY province_code, kabkota_code, role
"""

FACILITATOR = """
SELECT facilitator_id, full_name, registered, region, role, speciality, province_code, kabkota_code, status,
    deactivated_from
FROM facilitators WHERE facilitator_id = $1
"""
ASSIGNMENTS = """
SELECT effective_from, kind, region, role, speciality, province_code, kabkota_code
FROM facilitator_assignments WHERE facilitator_id = $1
ORDER BY effective_from, occurred_at, event_id
"""
HISTORY = """
SELECT p.training_id, t.title, t.training_type, t.start_date, t.end_date, p.role, p.enrollment_status,
    p.pre_pct, p.post_pct, coalesce(p.ojt_done_kelurahan, p.ojt_kelurahan, p.outcome_kelurahan) AS ojt_kelurahan,
    p.ojt_done_at IS NOT NULL AS ojt_completed, p.outcome, coalesce(p.unmet, '[]'::jsonb) AS unmet, p.certificate_code,
    coalesce(a.recorded, 0) AS sessions_recorded, coalesce(a.attended, 0) AS sessions_attended
FROM participants p
LEFT JOIN trainings t ON t.training_id = p.training_id
LEFT JOIN LATERAL (
    SELECT count(*)::int AS recorded, count(*) FILTER (WHERE status IN ('present', 'late'))::int AS attended
    FROM attendance WHERE training_id = p.training_id AND facilitator_id = p.facilitator_id
) a ON true
WHERE p.facilitator_id = $1
ORDER BY t.start_date NULLS LAST, p.training_id
"""
NAMES = "SELECT code, name FROM org_units WHERE code = ANY($1::text[])"


# Report queries have optional filters ($n IS NULL OR ...): a generic plan, which PostgreSQL picks
# for a prepared statement after five executions, cannot use them and is many times slower.
CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"


@contextlib.asynccontextmanager
async def snapshot(pool: asyncpg.Pool) -> AsyncIterator[Conn]:
    """A connection in a read-only REPEATABLE READ transaction: every table of one report is read
    at the same moment, and each query is planned for its actual filter values."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(CUSTOM_PLANS)
        yield conn


def period_range(period: str | None) -> tuple[date | None, date | None]:
    """``YYYY`` or ``YYYY-MM`` -> [first day, first day after)."""
    if not period:
        return None, None
    if len(period) == 4:
        year = int(period)
        return date(year, 1, 1), date(year + 1, 1, 1)
    year, month = int(period[:4]), int(period[5:7])
    start = date(year, month, 1)
    return start, date(year + (month == 12), month % 12 + 1, 1)


def _training_args(filters: Filters) -> list[Any]:
    start, before = period_range(filters.period)
    return [start, before, filters.training_type]


def by_year(months: Sequence[PeriodTotal]) -> list[PeriodTotal]:
    """Monthly totals summed per year and training type (a training is in exactly one month)."""
    years: dict[tuple[str, str], PeriodTotal] = {}
    for m in months:
        key = (m.period[:4], m.training_type)
        y = years.get(key)
        if y is None:
            years[key] = m.model_copy(update={"period": key[0]})
        else:
            years[key] = y.model_copy(
                update={f: getattr(y, f) + getattr(m, f) for f in PERIOD_SUMS},
            )
    return [years[k] for k in sorted(years)]


PERIOD_SUMS = ("trainings", "enrolled", "withdrawn", "completed", "not_completed", "certified")


def _rate(num: int | Decimal | None, den: int | Decimal | None) -> float | None:
    if not den or num is None:
        return None
    return round(float(num) / float(den), 4)


def _num(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


async def _names(conn: Conn, codes: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    return {r["code"]: r["name"] for r in await conn.fetch(NAMES, wanted)}


async def data_as_of(conn: Conn) -> Any:
    row = await conn.fetchrow(DATA_AS_OF)
    return row["last_applied_at"] if row else None


async def freshness(conn: Conn, region: str | None, lag: dict[str, int] | None) -> list[Freshness]:
    return [
        Freshness(**dict(r), lag=None if lag is None else lag.get(r["region"]))
        for r in await conn.fetch(FRESHNESS, region)
    ]


async def facilitator_counts(
    conn: Conn, region: str | None, province: str | None, role: str | None
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(FACILITATOR_COUNTS, region, province, role)]


def _completion(rows: Sequence[Any], names: dict[str, str]) -> list[AreaCompletion]:
    return [
        AreaCompletion(
            code=r["code"],
            name=display_name(r["code"], names),
            enrolled=r["enrolled"],
            withdrawn=r["withdrawn"],
            completed=r["completed"],
            not_completed=r["not_completed"],
            certified=r["certified"],
            ojt_completed=r["ojt_completed"],
            completion_rate=_rate(r["completed"], r["completed"] + r["not_completed"]),
        )
        for r in rows
    ]


def _training_rows(rows: Sequence[Any]) -> list[TrainingRow]:
    return [
        TrainingRow(
            training_id=r["training_id"],
            region=r["region"],
            title=r["title"],
            training_type=r["training_type"],
            start_date=r["start_date"],
            end_date=r["end_date"],
            status=r["status"],
            enrolled=r["enrolled"],
            withdrawn=r["withdrawn"],
            completed=r["completed"],
            not_completed=r["not_completed"],
            certified=r["certified"],
            attendance_rate=_rate(r["attendance_attended"], r["attendance_recorded"]),
            pre_mean=_num(r["pre_mean"]),
            post_mean=_num(r["post_mean"]),
            gain_mean=_num(r["gain_mean"]),
        )
        for r in rows
    ]


def _area_facilitators(rows: Sequence[Any], names: dict[str, str]) -> list[AreaFacilitators]:
    return [
        AreaFacilitators(
            code=r["code"],
            name=display_name(r["code"], names),
            role=r["role"],
            active=r["active"],
            inactive=r["inactive"],
        )
        for r in rows
    ]


def _ojt(rows: Sequence[Any], names: dict[str, str]) -> list[KelurahanOJT]:
    return [
        KelurahanOJT(
            kelurahan_code=r["kelurahan_code"],
            kelurahan_name=display_name(r["kelurahan_code"], names),
            **{k: r[k] for k in ("ojt_assigned", "ojt_completed", "completed_training")},
        )
        for r in rows
    ]


async def national(
    conn: Conn, filters: Filters, today: date, lag: dict[str, int] | None, lag_source: str
) -> NationalReport:
    targs = _training_args(filters)
    by_region = await conn.fetch(FACILITATORS_BY_REGION, filters.role)
    completion = await conn.fetch(COMPLETION_BY_PROVINCE, *targs, filters.role, None)
    months = [PeriodTotal(**dict(r)) for r in await conn.fetch(TOTALS_BY_MONTH, *targs, filters.role)]
    completeness = await conn.fetch(COMPLETENESS_BY_REGION, *targs, today)
    fresh = await freshness(conn, None, lag)
    names = await _names(conn, [r["code"] for r in completion])
    regions = [
        RegionFacilitators(
            region=r["region"], active=r["active"], inactive=r["inactive"], total=r["active"] + r["inactive"]
        )
        for r in by_region
    ]
    provinces = _completion(completion, names)
    totals_by_year = by_year(months)
    completed = sum(p.completed for p in provinces)
    not_completed = sum(p.not_completed for p in provinces)
    unreported = [RegionCompleteness(**dict(r)) for r in completeness]
    summary = NationalSummary(
        facilitators_active=sum(r.active for r in regions),
        facilitators_total=sum(r.total for r in regions),
        trainings=sum(r.trainings for r in totals_by_year),
        enrolled=sum(p.enrolled for p in provinces),
        completed=completed,
        not_completed=not_completed,
        certified=sum(p.certified for p in provinces),
        completion_rate=_rate(completed, completed + not_completed),
        sessions_unreported=sum(r.sessions_unreported for r in unreported),
    )
    return NationalReport(
        filters=filters,
        data_as_of=max((f.last_applied_at for f in fresh if f.last_applied_at), default=None),
        summary=summary,
        lag_source=lag_source,
        facilitators_by_region=regions,
        completion_by_province=provinces,
        totals_by_month=months,
        totals_by_year=totals_by_year,
        completeness_by_region=unreported,
        freshness=fresh,
    )


async def region(conn: Conn, code: str, filters: Filters, today: date, lag: dict[str, int] | None) -> RegionReport:
    targs = _training_args(filters)
    facilitators = await conn.fetch(FACILITATORS_OF_REGION, code, filters.role)
    completion = await conn.fetch(COMPLETION_BY_PROVINCE, *targs, filters.role, code)
    trainings = await conn.fetch(TRAININGS_OF_REGION, *targs, filters.role, code)
    unreported = await conn.fetch(UNREPORTED_OF_REGION, *targs, today, code)
    fresh = await freshness(conn, code, lag)
    names = await _names(conn, [r["code"] for r in (*facilitators, *completion)])
    by_province = _area_facilitators(facilitators, names)
    return RegionReport(
        filters=filters,
        data_as_of=max((f.last_applied_at for f in fresh if f.last_applied_at), default=None),
        region=code,
        facilitators_active=sum(r.active for r in by_province),
        facilitators_total=sum(r.active + r.inactive for r in by_province),
        facilitators_by_province=by_province,
        completion_by_province=_completion(completion, names),
        trainings=_training_rows(trainings),
        unreported_sessions=[UnreportedSession(**dict(r)) for r in unreported],
        freshness=fresh,
    )


async def area(conn: Conn, level: str, code: str, filters: Filters) -> AreaReport:
    """``level`` is ``province`` (code 16) or ``kabkota`` (code 16.71)."""
    targs = _training_args(filters)
    province = code[:2]
    if level == "province":
        facilitators = await conn.fetch(FACILITATORS_OF_PROVINCE, code, filters.role)
        completion = await conn.fetch(COMPLETION_OF_PROVINCE, *targs, filters.role, code)
        trainings = await conn.fetch(TRAININGS_OF_PROVINCE, *targs, filters.role, code)
        ojt = await conn.fetch(OJT_OF_PROVINCE, *targs, filters.role, code)
        regions = await conn.fetch(REGIONS_OF_AREA, province, None)
    else:
        facilitators = await conn.fetch(FACILITATORS_OF_KABKOTA, code, filters.role)
        completion = await conn.fetch(COMPLETION_OF_KABKOTA, *targs, filters.role, code)
        trainings = await conn.fetch(TRAININGS_OF_KABKOTA, *targs, filters.role, code)
        ojt = await conn.fetch(OJT_OF_KABKOTA, *targs, filters.role, code)
        regions = await conn.fetch(REGIONS_OF_AREA, province, code)
    names = await _names(
        conn, [code, *(r["code"] for r in (*facilitators, *completion)), *(r["kelurahan_code"] for r in ojt)]
    )
    if level == "province":
        by_area = _area_facilitators(facilitators, names)
        by_completion = _completion(completion, names)
    else:  # per role: the code column holds the role
        by_area = [
            AreaFacilitators(code=r["role"], name=r["role"], role=r["role"], active=r["active"], inactive=r["inactive"])
            for r in facilitators
        ]
        by_completion = [c.model_copy(update={"name": c.code}) for c in _completion(completion, {})]
    return AreaReport(
        filters=filters,
        data_as_of=await data_as_of(conn),
        level=level,
        code=code,
        name=display_name(code, names),
        regions=[r["region"] for r in regions],
        facilitators_active=sum(r.active for r in by_area),
        facilitators_total=sum(r.active + r.inactive for r in by_area),
        enrolled=sum(c.enrolled for c in by_completion),
        completed=sum(c.completed for c in by_completion),
        not_completed=sum(c.not_completed for c in by_completion),
        certified=sum(c.certified for c in by_completion),
        facilitators_by_area=by_area,
        completion_by_area=by_completion,
        trainings=_training_rows(trainings),
        ojt_kelurahan=_ojt(ojt, names),
    )


async def training(conn: Conn, training_id: uuid.UUID, today: date) -> TrainingReport | None:
    row = await conn.fetchrow(TRAINING, training_id)
    if row is None or not row["known"]:
        return None
    none_filters = [None, None, None]
    sessions = await conn.fetch(SESSIONS_OF_TRAINING, training_id)
    reasons = await conn.fetch(REASONS_OF_TRAINING, training_id)
    ojt = await conn.fetch(OJT_OF_TRAINING, *none_filters, None, training_id)
    areas = await conn.fetch(AREAS_OF_TRAINING, training_id)
    unreported = await conn.fetch(UNREPORTED_OF_TRAINING, *none_filters, today, training_id)
    names = await _names(
        conn,
        [
            *(r["kelurahan_code"] for r in ojt),
            *(r["province_code"] for r in areas),
            *(r["kabkota_code"] for r in areas),
        ],
    )

    def count(key: str) -> int:
        value = row[key]
        return int(value) if value is not None else 0

    info = TrainingInfo(
        training_id=training_id,
        region=row["region"],
        title=row["title"],
        training_type=row["training_type"],
        organiser=row["organiser"],
        venue=row["venue"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        capacity=row["capacity"],
        status=row["status"],
        participants=count("participants"),
        enrolled=count("enrolled"),
        withdrawn=count("withdrawn"),
        completed=count("completed"),
        not_completed=count("not_completed"),
        certified=count("certified"),
        attendance_rate=_rate(row["attendance_attended"], row["attendance_recorded"]),
        pre_n=count("pre_n"),
        pre_mean=_num(row["pre_mean"]),
        post_n=count("post_n"),
        post_mean=_num(row["post_mean"]),
        gain_n=count("gain_n"),
        gain_mean=_num(row["gain_mean"]),
        ojt_assigned=count("ojt_assigned"),
        ojt_completed=count("ojt_completed"),
    )
    by_session = [
        SessionAttendance(**dict(r), attendance_rate=_rate(r["present"] + r["late"], r["recorded"])) for r in sessions
    ]
    days: dict[date | None, list[SessionAttendance]] = defaultdict(list)
    for s in by_session:
        days[s.session_date].append(s)
    by_day = []
    for day in sorted(days, key=lambda d: (d is None, d or date.min)):
        recorded = sum(s.recorded for s in days[day])
        attended = sum(s.present + s.late for s in days[day])
        by_day.append(
            DayAttendance(
                session_date=day,
                sessions=len(days[day]),
                recorded=recorded,
                attended=attended,
                attendance_rate=_rate(attended, recorded),
            )
        )
    return TrainingReport(
        filters=Filters(),
        data_as_of=await data_as_of(conn),
        training=info,
        attendance_by_session=by_session,
        attendance_by_day=by_day,
        not_completed_reasons=[ReasonCount(**dict(r)) for r in reasons],
        ojt_kelurahan=_ojt(ojt, names),
        by_area=[
            AreaBreakdown(
                **dict(r),
                province_name=display_name(r["province_code"], names),
                kabkota_name=display_name(r["kabkota_code"], names),
            )
            for r in areas
        ],
        unreported_sessions=[UnreportedSession(**dict(r)) for r in unreported],
    )


async def facilitator_history(conn: Conn, facilitator_id: uuid.UUID) -> FacilitatorHistory | None:
    row = await conn.fetchrow(FACILITATOR, facilitator_id)
    history = await conn.fetch(HISTORY, facilitator_id)
    if row is None and not history:
        return None
    info = (
        FacilitatorInfo(**dict(row))
        if row is not None
        else FacilitatorInfo(
            facilitator_id=facilitator_id,
            full_name=None,
            registered=False,
            region=None,
            role=None,
            speciality=None,
            province_code=None,
            kabkota_code=None,
            status="unknown",
            deactivated_from=None,
        )
    )
    assignments = await conn.fetch(ASSIGNMENTS, facilitator_id)

    return FacilitatorHistory(
        filters=Filters(),
        data_as_of=await data_as_of(conn),
        facilitator=info,
        trainings=[
            HistoryRow(
                **{k: v for k, v in dict(r).items() if k not in ("unmet", "pre_pct", "post_pct")},
                pre_pct=_num(r["pre_pct"]),
                post_pct=_num(r["post_pct"]),
                unmet=", ".join(json.loads(r["unmet"])),
            )
            for r in history
        ],
        assignments=[AssignmentRow(**dict(r)) for r in assignments],
    )
