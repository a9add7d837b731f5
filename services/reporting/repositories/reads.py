# SQL templates in this module are filled only with its own constants, never with input (values are $n).
# ruff: noqa: S608
"""The read side of the reporting read models: every query of the reports, and
:class:`PgReportReads`, the read port of ``usecases/ports.py`` over one read-only snapshot.

Period filters select trainings by their start date; role filters select participants by the role
they had at enrollment (facilitator counts: by current role). Aggregates come from the derived
tables (``facilitator_totals``, ``training_stats``, ``training_area_stats``, ``session_stats``),
so a national report costs a handful of small scans whatever the number of events.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any, Literal

import asyncpg

from services.reporting.domain.periods import TrainingFilter
from services.reporting.usecases.ports import Level, Row
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
# Facilitators of one region / province / kota-kabupaten ({where} = $1), by {group} and role.
_FACILITATORS_OF = """
SELECT {group} AS code, role,
    coalesce(sum(registered) FILTER (WHERE status = 'active'), 0)::bigint AS active,
    coalesce(sum(registered) FILTER (WHERE status = 'inactive'), 0)::bigint AS inactive
FROM facilitator_totals WHERE {where} = $1 AND ($2::text IS NULL OR role = $2)
GROUP BY {group}, role ORDER BY {group}, role
"""
FACILITATORS_OF_REGION = _FACILITATORS_OF.format(group="province_code", where="region")
FACILITATORS_OF_PROVINCE = _FACILITATORS_OF.format(group="kabkota_code", where="province_code")
FACILITATORS_OF_KABKOTA = _FACILITATORS_OF.format(group="kabkota_code", where="kabkota_code")
REGIONS_OF_AREA = """
SELECT DISTINCT region FROM facilitator_totals WHERE province_code = $1 AND ($2::text IS NULL OR kabkota_code = $2)
ORDER BY region
"""
REGION_OF_PROVINCE = "SELECT region FROM province_regions WHERE province_code = $1"

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
    s.attendance_recorded, s.attendance_attended, s.pre_mean, s.post_mean, s.gain_mean,
    coalesce(s.reviews_open, 0) AS reviews_open,
    (SELECT count(*) FROM submissions v WHERE v.training_id = t.training_id AND v.kind = 'attendance'
        AND v.status IN ('verified', 'accepted')) AS sheets_verified,
    (SELECT count(*) FROM submissions v WHERE v.training_id = t.training_id AND v.kind = 'attendance'
        AND v.status = 'accepted') AS sheets_accepted,
    (SELECT v.status FROM submissions v WHERE v.training_id = t.training_id AND v.kind = 'close') AS close_status
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
    s.ojt_completed, s.attendance_recorded, s.attendance_attended, s.reviews_open,
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
_WAITING = """
SELECT v.training_id, t.title, v.submission_id, v.kind, v.session_id, v.status, v.by_who, v.since
FROM submissions v LEFT JOIN trainings t ON t.training_id = v.training_id
WHERE v.status <> 'accepted' AND {where}
ORDER BY v.since, v.training_id, v.submission_id
LIMIT 5000
"""
WAITING_OF_REGION = _WAITING.format(where="t.region = $1")
WAITING_OF_TRAINING = _WAITING.format(where="v.training_id = $1")
# The kelurahan of an area ($1: a province or kota/kabupaten code) and the participants that had OJT
# in each (assigned, completed, or completed a training there), over every training.
_COVERAGE = """
WITH k AS (SELECT code, name FROM org_units WHERE level = 'kelurahan' AND code LIKE $1 || '.%'),
o AS (
    SELECT coalesce(p.ojt_done_kelurahan, p.ojt_kelurahan, p.outcome_kelurahan) AS code,
        count(*)::bigint AS participants, count(p.ojt_done_at)::bigint AS completed
    FROM participants p
    WHERE coalesce(p.ojt_done_kelurahan, p.ojt_kelurahan, p.outcome_kelurahan) LIKE $1 || '.%'
    GROUP BY 1
)
SELECT {key} AS code, {name} AS name, count(*)::bigint AS kelurahan, count(o.code)::bigint AS with_ojt,
    coalesce(sum(o.participants), 0)::bigint AS ojt_participants, coalesce(sum(o.completed), 0)::bigint AS ojt_completed
FROM k LEFT JOIN o USING (code)
GROUP BY 1, 2
ORDER BY 1
"""
COVERAGE_OF_PROVINCE = _COVERAGE.format(key="left(k.code, 5)", name="''")
COVERAGE_OF_KABKOTA = _COVERAGE.format(key="k.code", name="k.name")
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


def _training_args(f: TrainingFilter) -> tuple[Any, ...]:
    return (f.start, f.before, f.training_type)


_FACILITATORS_OF_LEVEL = {
    "region": FACILITATORS_OF_REGION,
    "province": FACILITATORS_OF_PROVINCE,
    "kabkota": FACILITATORS_OF_KABKOTA,
}
_COMPLETION_OF = {
    "national": COMPLETION_BY_PROVINCE,
    "region": COMPLETION_BY_PROVINCE,
    "province": COMPLETION_OF_PROVINCE,
    "kabkota": COMPLETION_OF_KABKOTA,
}
_TRAININGS_OF = {"region": TRAININGS_OF_REGION, "province": TRAININGS_OF_PROVINCE, "kabkota": TRAININGS_OF_KABKOTA}
_UNREPORTED_OF = {"region": UNREPORTED_OF_REGION, "training": UNREPORTED_OF_TRAINING}
_OJT_OF = {"province": OJT_OF_PROVINCE, "kabkota": OJT_OF_KABKOTA, "training": OJT_OF_TRAINING}


class PgReportReads:
    """The read port over one connection (inside :func:`snapshot`). Rows are asyncpg records."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def _row(self, query: str, *args: Any) -> Row | None:
        row: Row | None = await self.conn.fetchrow(query, *args)
        return row

    async def data_as_of(self) -> Row | None:
        return await self._row(DATA_AS_OF)

    async def freshness(self, region: str | None) -> Sequence[Row]:
        return await self.conn.fetch(FRESHNESS, region)

    async def facilitator_counts(self, region: str | None, province: str | None, role: str | None) -> Sequence[Row]:
        return await self.conn.fetch(FACILITATOR_COUNTS, region, province, role)

    async def facilitators_by_region(self, role: str | None) -> Sequence[Row]:
        return await self.conn.fetch(FACILITATORS_BY_REGION, role)

    async def facilitators_of(self, level: Level, code: str, role: str | None) -> Sequence[Row]:
        return await self.conn.fetch(_FACILITATORS_OF_LEVEL[level], code, role)

    async def regions_of_area(self, province: str, kabkota: str | None) -> Sequence[str]:
        return [r["region"] for r in await self.conn.fetch(REGIONS_OF_AREA, province, kabkota)]

    async def region_of_province(self, province: str) -> str | None:
        region: str | None = await self.conn.fetchval(REGION_OF_PROVINCE, province)
        return region

    async def completion(self, level: Level, code: str | None, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        return await self.conn.fetch(_COMPLETION_OF[level], *_training_args(f), role, code)

    async def totals_by_month(self, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        return await self.conn.fetch(TOTALS_BY_MONTH, *_training_args(f), role)

    async def completeness_by_region(self, f: TrainingFilter, today: date) -> Sequence[Row]:
        return await self.conn.fetch(COMPLETENESS_BY_REGION, *_training_args(f), today)

    async def unreported_sessions(
        self, of: Literal["region", "training"], key: Any, f: TrainingFilter, today: date
    ) -> Sequence[Row]:
        return await self.conn.fetch(_UNREPORTED_OF[of], *_training_args(f), today, key)

    async def ojt_coverage(self, level: Level, code: str) -> Sequence[Row]:
        return await self.conn.fetch(COVERAGE_OF_PROVINCE if level == "province" else COVERAGE_OF_KABKOTA, code)

    async def waiting_submissions(self, of: Literal["region", "training"], key: Any) -> Sequence[Row]:
        return await self.conn.fetch(WAITING_OF_REGION if of == "region" else WAITING_OF_TRAINING, key)

    async def trainings_of(self, level: Level, code: str, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        return await self.conn.fetch(_TRAININGS_OF[level], *_training_args(f), role, code)

    async def ojt_of(
        self, of: Literal["province", "kabkota", "training"], key: Any, f: TrainingFilter, role: str | None
    ) -> Sequence[Row]:
        return await self.conn.fetch(_OJT_OF[of], *_training_args(f), role, key)

    async def training(self, training_id: uuid.UUID) -> Row | None:
        return await self._row(TRAINING, training_id)

    async def sessions_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        return await self.conn.fetch(SESSIONS_OF_TRAINING, training_id)

    async def reasons_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        return await self.conn.fetch(REASONS_OF_TRAINING, training_id)

    async def areas_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        return await self.conn.fetch(AREAS_OF_TRAINING, training_id)

    async def facilitator(self, facilitator_id: uuid.UUID) -> Row | None:
        return await self._row(FACILITATOR, facilitator_id)

    async def assignments(self, facilitator_id: uuid.UUID) -> Sequence[Row]:
        return await self.conn.fetch(ASSIGNMENTS, facilitator_id)

    async def history(self, facilitator_id: uuid.UUID) -> Sequence[Row]:
        return await self.conn.fetch(HISTORY, facilitator_id)

    async def names(self, codes: Sequence[str]) -> dict[str, str]:
        return {r["code"]: r["name"] for r in await self.conn.fetch(NAMES, list(codes))}


@contextlib.asynccontextmanager
async def reading(pool: asyncpg.Pool) -> AsyncIterator[PgReportReads]:
    """The read port over a fresh snapshot: every query of one report sees the same moment."""
    async with snapshot(pool) as conn:
        yield PgReportReads(conn)
