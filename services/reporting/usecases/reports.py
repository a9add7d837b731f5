"""The queries behind every report: each reads through :class:`ReportReads` (one consistent
snapshot) and assembles a report model. HTTP, the dashboard and the exports only translate.

Aggregates come from the derived tables of the read models, so a national report costs a handful
of small scans whatever the number of events.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from services.reporting.domain.errors import facilitator_not_found, training_not_found
from services.reporting.domain.models import (
    AreaBreakdown,
    AreaCompletion,
    AreaCount,
    AreaFacilitators,
    AreaReport,
    AssignmentRow,
    DayAttendance,
    FacilitatorCounts,
    FacilitatorHistory,
    FacilitatorInfo,
    Filters,
    Freshness,
    HistoryRow,
    KelurahanOJT,
    NationalReport,
    NationalSummary,
    OJTCoverage,
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
    VerificationLevels,
    WaitingSubmission,
)
from services.reporting.domain.names import display_name
from services.reporting.domain.periods import ALL_TRAININGS, TrainingFilter, by_year, num, rate
from services.reporting.usecases.ports import Level, ReportReads, Row

AreaLevel = Literal["province", "kabkota"]
M = TypeVar("M", bound=BaseModel)

# The counts of a training (its int fields): 0 while the read model has none yet.
TRAINING_COUNTS = tuple(k for k, field in TrainingInfo.model_fields.items() if field.annotation is int)


async def _names(reads: ReportReads, codes: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    return await reads.names(wanted)


async def _data_as_of(reads: ReportReads) -> datetime | None:
    row = await reads.data_as_of()
    return row["last_applied_at"] if row else None


async def _freshness(reads: ReportReads, region: str | None, lag: dict[str, int] | None) -> list[Freshness]:
    return [
        Freshness(**dict(r), lag=None if lag is None else lag.get(r["region"])) for r in await reads.freshness(region)
    ]


def _newest(fresh: Sequence[Freshness]) -> datetime | None:
    """When the read model last applied an event of any of the regions in ``fresh``."""
    return max((f.last_applied_at for f in fresh if f.last_applied_at), default=None)


async def _area_rows(
    reads: ReportReads, level: Level, code: str, f: TrainingFilter, role: str | None
) -> tuple[Sequence[Row], Sequence[Row], Sequence[Row]]:
    """An area's facilitators, completion and trainings rows."""
    return (
        await reads.facilitators_of(level, code, role),
        await reads.completion(level, code, f, role),
        await reads.trainings_of(level, code, f, role),
    )


def _facilitator_totals(rows: Sequence[AreaFacilitators]) -> dict[str, int]:
    """The active and all facilitators of an area's rows, as the report's fields."""
    return {
        "facilitators_active": sum(r.active for r in rows),
        "facilitators_total": sum(r.active + r.inactive for r in rows),
    }


def _from_row(model: type[M], r: Row, **computed: Any) -> M:
    """A row model: each field not given in ``computed`` is the row's column of the same name."""
    return model(**{k: r[k] for k in model.model_fields if k not in computed}, **computed)


def _completion(rows: Sequence[Row], names: dict[str, str]) -> list[AreaCompletion]:
    return [
        _from_row(
            AreaCompletion,
            r,
            name=display_name(r["code"], names),
            completion_rate=rate(r["completed"], r["completed"] + r["not_completed"]),
        )
        for r in rows
    ]


def _training_rows(rows: Sequence[Row]) -> list[TrainingRow]:
    return [
        _from_row(
            TrainingRow,
            r,
            attendance_rate=rate(r["attendance_attended"], r["attendance_recorded"]),
            **_means(r),
        )
        for r in rows
    ]


WAITING_FOR = {"submitted": "region", "verified": "national", "returned": "trainers"}
WIB = timezone(timedelta(hours=7))  # "today" is Western Indonesia's day, as the caller's ``today``


def _waiting(rows: Sequence[Row], today: date) -> list[WaitingSubmission]:
    return [
        _from_row(
            WaitingSubmission,
            r,
            waiting_for=WAITING_FOR.get(r["status"] or "", "trainers"),
            by=r["by_who"],
            days_waiting=(today - r["since"].astimezone(WIB).date()).days if r["since"] is not None else None,
        )
        for r in rows
    ]


def _coverage(rows: Sequence[Row], names: dict[str, str]) -> list[OJTCoverage]:
    return [
        _from_row(
            OJTCoverage,
            r,
            name=r["name"] or display_name(r["code"], names),
            never=r["kelurahan"] - r["with_ojt"],
            coverage_rate=rate(r["with_ojt"], r["kelurahan"]),
        )
        for r in rows
    ]


def _levels(rows: Sequence[TrainingRow]) -> VerificationLevels:
    return VerificationLevels(
        completed_recorded=sum(r.completed for r in rows),
        completed_verified=sum(r.completed for r in rows if r.close_status in ("verified", "accepted")),
        completed_accepted=sum(r.completed for r in rows if r.close_status == "accepted"),
    )


def _means(r: Row) -> dict[str, float | None]:
    """The mean pre-test, post-test and gain scores of a training's row (numeric columns)."""
    return {k: num(r[k]) for k in ("pre_mean", "post_mean", "gain_mean")}


def _area_facilitators(rows: Sequence[Row], names: dict[str, str]) -> list[AreaFacilitators]:
    return [_from_row(AreaFacilitators, r, name=display_name(r["code"], names)) for r in rows]


def _ojt(rows: Sequence[Row], names: dict[str, str]) -> list[KelurahanOJT]:
    return [_from_row(KelurahanOJT, r, kelurahan_name=display_name(r["kelurahan_code"], names)) for r in rows]


async def facilitator_counts(
    reads: ReportReads,
    region: str | None,
    province: str | None,
    role: str | None,
    *,
    regions: Collection[str] | None = None,
) -> FacilitatorCounts:
    """Registered facilitators per region and province (active and inactive); of ``regions``
    only, when given (the regions the caller may read)."""
    rows = [
        AreaCount.model_validate(dict(r))
        for r in await reads.facilitator_counts(region, province, role)
        if regions is None or r["region"] in regions
    ]
    fresh = await reads.data_as_of()
    return FacilitatorCounts(
        total=sum(r.facilitators for r in rows),
        rows=rows,
        data_as_of=fresh["last_applied_at"] if fresh else None,
        last_event_at=fresh["newest"] if fresh else None,
    )


async def national(
    reads: ReportReads, filters: Filters, today: date, lag: dict[str, int] | None, lag_source: str
) -> NationalReport:
    """Facilitators by region, completion by province, totals by month and year, completeness and
    freshness by region."""
    f = TrainingFilter.of(filters)
    by_region = await reads.facilitators_by_region(filters.role)
    completion = await reads.completion("national", None, f, filters.role)
    months = [PeriodTotal(**dict(r)) for r in await reads.totals_by_month(f, filters.role)]
    completeness = await reads.completeness_by_region(f, today)
    fresh = await _freshness(reads, None, lag)
    names = await _names(reads, [r["code"] for r in completion])
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
        completion_rate=rate(completed, completed + not_completed),
        sessions_unreported=sum(r.sessions_unreported for r in unreported),
    )
    return NationalReport(
        filters=filters,
        data_as_of=_newest(fresh),
        summary=summary,
        lag_source=lag_source,
        facilitators_by_region=regions,
        completion_by_province=provinces,
        totals_by_month=months,
        totals_by_year=totals_by_year,
        completeness_by_region=unreported,
        freshness=fresh,
    )


async def region(
    reads: ReportReads, code: str, filters: Filters, today: date, lag: dict[str, int] | None
) -> RegionReport:
    """One OC region: facilitators by province, its trainings, sessions not reported, freshness."""
    f = TrainingFilter.of(filters)
    facilitators, completion, trainings = await _area_rows(reads, "region", code, f, filters.role)
    unreported = await reads.unreported_sessions("region", code, f, today)
    waiting = await reads.waiting_submissions("region", code)
    fresh = await _freshness(reads, code, lag)
    names = await _names(reads, [r["code"] for r in (*facilitators, *completion)])
    by_province = _area_facilitators(facilitators, names)
    rows = _training_rows(trainings)
    return RegionReport(
        filters=filters,
        data_as_of=_newest(fresh),
        region=code,
        **_facilitator_totals(by_province),
        facilitators_by_province=by_province,
        completion_by_province=_completion(completion, names),
        trainings=rows,
        unreported_sessions=[UnreportedSession(**dict(r)) for r in unreported],
        verification=_levels(rows),
        waiting_verification=_waiting(waiting, today),
        freshness=fresh,
    )


async def area(reads: ReportReads, level: AreaLevel, code: str, filters: Filters) -> AreaReport:
    """A province (code 16: by kota/kabupaten) or a kota/kabupaten (code 16.71: by role): its
    facilitators, and its participants in trainings."""
    f = TrainingFilter.of(filters)
    facilitators, completion, trainings = await _area_rows(reads, level, code, f, filters.role)
    ojt = await reads.ojt_of(level, code, f, filters.role)
    covered = await reads.ojt_coverage(level, code)
    regions = await reads.regions_of_area(code[:2], None if level == "province" else code)
    region = await reads.region_of_province(code[:2])
    names = await _names(
        reads,
        [
            code,
            *(r["code"] for r in (*facilitators, *completion)),
            *(r["kelurahan_code"] for r in ojt),
            *(r["code"] for r in covered if level == "province"),
        ],
    )
    coverage = _coverage(covered, names)
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
        data_as_of=await _data_as_of(reads),
        level=level,
        code=code,
        name=display_name(code, names),
        region=region,
        regions=list(regions),
        **_facilitator_totals(by_area),
        enrolled=sum(c.enrolled for c in by_completion),
        completed=sum(c.completed for c in by_completion),
        not_completed=sum(c.not_completed for c in by_completion),
        certified=sum(c.certified for c in by_completion),
        facilitators_by_area=by_area,
        completion_by_area=by_completion,
        trainings=_training_rows(trainings),
        ojt_kelurahan=_ojt(ojt, names),
        kelurahan_total=sum(c.kelurahan for c in coverage),
        kelurahan_with_ojt=sum(c.with_ojt for c in coverage),
        ojt_coverage=coverage,
    )


def _by_day(by_session: Sequence[SessionAttendance]) -> list[DayAttendance]:
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
                attendance_rate=rate(attended, recorded),
            )
        )
    return by_day


async def training(reads: ReportReads, training_id: uuid.UUID, today: date) -> TrainingReport:
    """One training: enrolled, withdrawn, attendance per session and day, completion, scores, OJT.
    Refuses with ``training_not_found`` when no event of it was applied."""
    row = await reads.training(training_id)
    if row is None or not row["known"]:
        raise training_not_found(training_id)
    sessions = await reads.sessions_of_training(training_id)
    reasons = await reads.reasons_of_training(training_id)
    ojt = await reads.ojt_of("training", training_id, ALL_TRAININGS, None)
    areas = await reads.areas_of_training(training_id)
    unreported = await reads.unreported_sessions("training", training_id, ALL_TRAININGS, today)
    waiting = await reads.waiting_submissions("training", training_id)
    names = await _names(
        reads,
        [
            *(r["kelurahan_code"] for r in ojt),
            *(r["province_code"] for r in areas),
            *(r["kabkota_code"] for r in areas),
        ],
    )

    info = _from_row(
        TrainingInfo,
        row,
        training_id=training_id,
        attendance_rate=rate(row["attendance_attended"], row["attendance_recorded"]),
        **_means(row),
        **{k: int(row[k]) if row[k] is not None else 0 for k in TRAINING_COUNTS},
    )
    by_session = [
        SessionAttendance(**dict(r), attendance_rate=rate(r["present"] + r["late"], r["recorded"])) for r in sessions
    ]
    return TrainingReport(
        filters=Filters(),
        data_as_of=await _data_as_of(reads),
        training=info,
        attendance_by_session=by_session,
        attendance_by_day=_by_day(by_session),
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
        verification=_waiting(waiting, today),
    )


def _unknown_facilitator(facilitator_id: uuid.UUID) -> FacilitatorInfo:
    """A facilitator seen only in trainings' events (never registered in a region served)."""
    return FacilitatorInfo(
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


def _history_row(r: Row) -> HistoryRow:
    fields: dict[str, Any] = {k: v for k, v in dict(r).items() if k not in ("unmet", "pre_pct", "post_pct")}
    return HistoryRow(
        **fields,
        pre_pct=num(r["pre_pct"]),
        post_pct=num(r["post_pct"]),
        unmet=", ".join(json.loads(r["unmet"])),
    )


async def facilitator_history(reads: ReportReads, facilitator_id: uuid.UUID) -> FacilitatorHistory:
    """A facilitator's trainings and assignments. Refuses with ``facilitator_not_found`` when no
    event of them was applied."""
    row = await reads.facilitator(facilitator_id)
    history = await reads.history(facilitator_id)
    if row is None and not history:
        raise facilitator_not_found(facilitator_id)
    info = FacilitatorInfo(**dict(row)) if row is not None else _unknown_facilitator(facilitator_id)
    assignments = await reads.assignments(facilitator_id)
    return FacilitatorHistory(
        filters=Filters(),
        data_as_of=await _data_as_of(reads),
        facilitator=info,
        trainings=[_history_row(r) for r in history],
        assignments=[AssignmentRow(**dict(r)) for r in assignments],
    )
