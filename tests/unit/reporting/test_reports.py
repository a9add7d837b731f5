"""Every report query use case on the in-memory read port: what it asks for, what it builds."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.reporting.domain.models import Filters
from services.reporting.domain.periods import ALL_TRAININGS, TrainingFilter
from services.reporting.entrypoints.errors import ERRORS
from services.reporting.usecases import reports
from shared.kernel.errors import NotFound
from tests.unit.reporting.fakes import FakeReads

TODAY = date(2016, 9, 1)
EARLY = datetime(2016, 8, 1, 8, 0, tzinfo=UTC)
LATE = datetime(2016, 8, 2, 8, 0, tzinfo=UTC)
TRAINING_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
FACILITATOR_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")


def completion_row(code: str, completed: int, not_completed: int, **extra: int) -> dict[str, Any]:
    counts = {"enrolled": completed + not_completed, "withdrawn": 0, "certified": completed, "ojt_completed": 0}
    return {"code": code, "completed": completed, "not_completed": not_completed, **counts, **extra}


def month(period: str, training_type: str, trainings: int, enrolled: int) -> dict[str, Any]:
    zero = dict.fromkeys(("withdrawn", "completed", "not_completed", "certified"), 0)
    return {"period": period, "training_type": training_type, "trainings": trainings, "enrolled": enrolled, **zero}


def training_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "training_id": TRAINING_ID,
        "region": "oc02",
        "title": "Pelatihan Dasar",
        "training_type": "pelatihan_dasar",
        "start_date": date(2016, 8, 1),
        "end_date": date(2016, 8, 5),
        "status": "closed",
        "enrolled": 10,
        "withdrawn": 1,
        "completed": 8,
        "not_completed": 1,
        "certified": 8,
        "attendance_recorded": 40,
        "attendance_attended": 36,
        "pre_mean": Decimal("55.5"),
        "post_mean": Decimal("80"),
        "gain_mean": None,
        "reviews_open": 0,
        "sheets_verified": 0,
        "sheets_accepted": 0,
        "close_status": None,
    }
    return {**row, **overrides}


async def test_facilitator_counts_sum_the_rows_and_tell_the_freshness() -> None:
    reads = FakeReads(
        as_of={"last_applied_at": LATE, "newest": EARLY},
        counts=[
            {"region": "oc02", "province_code": "16", "facilitators": 3},
            {"region": "oc02", "province_code": "17", "facilitators": 4},
        ],
    )
    counts = await reports.facilitator_counts(reads, "oc02", None, "askot")
    assert counts.total == 7
    assert [r.province_code for r in counts.rows] == ["16", "17"]
    assert (counts.data_as_of, counts.last_event_at) == (LATE, EARLY)
    assert reads.asked("facilitator_counts") == [("oc02", None, "askot")]


async def test_facilitator_counts_of_some_regions_leave_the_other_regions_out_of_rows_and_total() -> None:
    reads = FakeReads(
        counts=[
            {"region": "oc02", "province_code": "16", "facilitators": 3},
            {"region": "oc05", "province_code": "18", "facilitators": 4},
            {"region": "oc05", "province_code": "16", "facilitators": 1},
        ],
    )
    counts = await reports.facilitator_counts(reads, None, "16", None, regions=frozenset({"oc02"}))
    assert (counts.total, [(r.region, r.province_code) for r in counts.rows]) == (3, [("oc02", "16")])
    assert (await reports.facilitator_counts(reads, None, None, None)).total == 8


async def test_facilitator_counts_of_an_empty_read_model() -> None:
    counts = await reports.facilitator_counts(FakeReads(), None, None, None)
    assert (counts.total, counts.rows, counts.data_as_of, counts.last_event_at) == (0, [], None, None)


async def test_national_report_sums_rates_and_totals_by_year() -> None:
    reads = FakeReads(
        by_region=[{"region": "oc01", "active": 5, "inactive": 1}, {"region": "oc02", "active": 2, "inactive": 0}],
        completions={"national": [completion_row("16", 3, 1), completion_row("99", 0, 0)]},
        months=[month("2016-07", "pelatihan_dasar", 1, 4), month("2016-08", "pelatihan_dasar", 2, 6)],
        completeness=[{"region": "oc02", "sessions_due": 5, "sessions_unreported": 2, "trainings_unreported": 1}],
        fresh=[
            {"region": "oc01", "newest_event_at": EARLY, "last_applied_at": EARLY, "events_applied": 3},
            {"region": "oc02", "newest_event_at": LATE, "last_applied_at": LATE, "events_applied": 4},
        ],
        org_units={"16": "Sumsel (published)"},
    )
    filters = Filters(period="2016-08", role="askot", training_type="pelatihan_dasar")
    report = await reports.national(reads, filters, TODAY, {"oc01": 7}, "the source")

    wanted = TrainingFilter(date(2016, 8, 1), date(2016, 9, 1), "pelatihan_dasar")
    assert reads.asked("completion") == [("national", None, wanted, "askot")]
    assert reads.asked("completeness_by_region") == [(wanted, TODAY)]
    assert reads.asked("names") == [(("16", "99"),)]  # one look-up for every name
    s = report.summary
    assert (s.facilitators_active, s.facilitators_total, s.trainings, s.enrolled) == (7, 8, 3, 4)
    assert (s.completed, s.not_completed, s.certified, s.completion_rate, s.sessions_unreported) == (3, 1, 3, 0.75, 2)
    assert [(p.name, p.completion_rate) for p in report.completion_by_province] == [
        ("Sumsel (published)", 0.75),
        ("99", None),
    ]
    assert [(y.period, y.trainings, y.enrolled) for y in report.totals_by_year] == [("2016", 3, 10)]
    assert [f.lag for f in report.freshness] == [7, None]
    assert report.data_as_of == LATE
    assert report.lag_source == "the source"


async def test_national_report_without_lag_or_data() -> None:
    reads = FakeReads()
    report = await reports.national(reads, Filters(), TODAY, None, "x")
    assert report.data_as_of is None
    assert report.summary.completion_rate is None
    assert (report.completion_by_province, report.freshness) == ([], [])
    assert reads.asked("names") == []  # nothing to name: no look-up


async def test_region_report_counts_its_provinces_and_lists_its_trainings() -> None:
    session = {
        "region": "oc02",
        "training_id": TRAINING_ID,
        "title": "Pelatihan Dasar",
        "session_id": "s1",
        "session_date": date(2016, 8, 1),
        "kind": "classroom",
    }
    reads = FakeReads(
        facilitators={"region": [{"code": "16", "role": "askot", "active": 4, "inactive": 1}]},
        completions={"region": [completion_row("16", 2, 2)]},
        trainings=[training_row()],
        unreported=[session],
        fresh=[{"region": "oc02", "newest_event_at": EARLY, "last_applied_at": LATE, "events_applied": 9}],
    )
    report = await reports.region(reads, "oc02", Filters(period="2016"), TODAY, None)
    assert reads.asked("unreported_sessions") == [
        ("region", "oc02", TrainingFilter(date(2016, 1, 1), date(2017, 1, 1), None), TODAY)
    ]
    assert (report.facilitators_active, report.facilitators_total) == (4, 5)
    assert report.facilitators_by_province[0].name == "Sumatera Selatan"  # the official name, none published
    t = report.trainings[0]
    assert (t.attendance_rate, t.pre_mean, t.post_mean, t.gain_mean) == (0.9, 55.5, 80.0, None)
    assert report.unreported_sessions[0].session_id == "s1"
    assert report.freshness[0].lag is None
    assert report.data_as_of == LATE


async def test_region_report_counts_completions_by_verification_level_and_lists_what_waits() -> None:
    other = uuid.UUID(int=7)
    waiting = [
        {
            "training_id": TRAINING_ID,
            "title": "Pelatihan Dasar",
            "submission_id": sid,
            "kind": kind,
            "session_id": session,
            "status": status,
            "by_who": "koordinator oc02",
            "since": datetime(2016, 8, 1, 20, tzinfo=UTC),  # 2 August in WIB
        }
        for sid, kind, session, status in (
            ("attendance:s1", "attendance", "s1", "submitted"),
            ("attendance:s2", "attendance", "s2", "returned"),
            ("close", "close", None, "verified"),
        )
    ]
    reads = FakeReads(
        trainings=[
            training_row(completed=8, close_status="verified"),
            training_row(training_id=other, completed=5, close_status="accepted"),
            training_row(training_id=uuid.UUID(int=8), completed=3, close_status=None),
        ],
        waiting=waiting,
    )
    report = await reports.region(reads, "oc02", Filters(), TODAY, None)
    assert reads.asked("waiting_submissions") == [("region", "oc02")]
    levels = report.verification
    assert (levels.completed_recorded, levels.completed_verified, levels.completed_accepted) == (16, 13, 5)
    assert [(w.submission_id, w.waiting_for) for w in report.waiting_verification] == [
        ("attendance:s1", "region"),
        ("attendance:s2", "trainers"),
        ("close", "national"),
    ]
    assert {w.days_waiting for w in report.waiting_verification} == {(TODAY - date(2016, 8, 2)).days}


async def test_province_report_is_by_kota_kabupaten() -> None:
    reads = FakeReads(
        as_of={"last_applied_at": LATE, "newest": EARLY},
        facilitators={"province": [{"code": "16.71", "role": "askot", "active": 2, "inactive": 1}]},
        completions={"province": [completion_row("16.71", 3, 1)]},
        trainings=[training_row()],
        ojt=[{"kelurahan_code": "16.71.01.1001", "ojt_assigned": 2, "ojt_completed": 1, "completed_training": 2}],
        regions=["oc02"],
        province_regions={"16": "oc02"},
        org_units={"16.71": "Kota Palembang", "16.71.01.1001": "Kel. Satu"},
    )
    report = await reports.area(reads, "province", "16", Filters(role="askot"))
    assert reads.asked("regions_of_area") == [("16", None)]
    assert (reads.asked("region_of_province"), report.region) == ([("16",)], "oc02")
    assert reads.asked("ojt_of") == [("province", "16", ALL_TRAININGS, "askot")]
    assert (report.name, report.regions, report.data_as_of) == ("Sumatera Selatan", ["oc02"], LATE)
    assert (report.facilitators_active, report.facilitators_total) == (2, 3)
    assert (report.enrolled, report.completed, report.not_completed, report.certified) == (4, 3, 1, 3)
    assert report.facilitators_by_area[0].name == "Kota Palembang"
    assert report.completion_by_area[0].name == "Kota Palembang"
    assert report.ojt_kelurahan[0].kelurahan_name == "Kel. Satu"


async def test_kabkota_report_is_by_role() -> None:
    reads = FakeReads(
        facilitators={"kabkota": [{"code": "16.71", "role": "askot", "active": 1, "inactive": 0}]},
        completions={"kabkota": [completion_row("askot", 1, 1)]},
        org_units={"16.71": "Kota Palembang"},
    )
    report = await reports.area(reads, "kabkota", "16.71", Filters())
    assert reads.asked("regions_of_area") == [("16", "16.71")]
    assert (reads.asked("region_of_province"), report.region) == ([("16",)], None)  # no assignment applied yet
    assert report.name == "Kota Palembang"
    assert [(a.code, a.name, a.role) for a in report.facilitators_by_area] == [("askot", "askot", "askot")]
    assert [(c.code, c.name, c.completion_rate) for c in report.completion_by_area] == [("askot", "askot", 0.5)]
    assert report.data_as_of is None


def known_training(**overrides: Any) -> dict[str, Any]:
    """A training's own page: the list row with what only the page shows, the counts not yet known."""
    counts = ("participants", "enrolled", "withdrawn", "completed", "not_completed", "certified", "pre_n", "post_n")
    page: dict[str, Any] = {
        "organiser": "OC 2",
        "venue": "Palembang",
        "end_date": date(2016, 8, 2),
        "capacity": 30,
        "attendance_recorded": 4,
        "attendance_attended": 3,
        "pre_mean": Decimal("50"),
        "post_mean": None,
        "known": True,
        **dict.fromkeys(counts),
        "gain_n": 0,
        "ojt_assigned": 2,
        "ojt_completed": 1,
    }
    return training_row(**{**page, **overrides})


def session(session_id: str, day: date | None, present: int, late: int, absent: int) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "session_date": day,
        "kind": "classroom",
        "module_code": None,
        "recorded": present + late + absent,
        "present": present,
        "late": late,
        "excused": 0,
        "absent": absent,
    }


async def test_training_report_counts_attendance_per_session_and_day() -> None:
    reads = FakeReads(
        as_of={"last_applied_at": LATE, "newest": EARLY},
        training_rows={TRAINING_ID: known_training(enrolled=3)},
        sessions=[
            session("s1", date(2016, 8, 1), 2, 0, 0),
            session("s2", date(2016, 8, 1), 1, 1, 0),
            session("x", None, 0, 0, 1),
        ],
        reasons=[{"reason": "attendance", "participants": 1}],
        areas=[
            {
                "province_code": "16",
                "kabkota_code": "16.71",
                "role": "askot",
                "enrolled": 3,
                "withdrawn": 0,
                "completed": 2,
                "not_completed": 1,
                "certified": 2,
                "ojt_completed": 1,
            }
        ],
    )
    report = await reports.training(reads, TRAINING_ID, TODAY)
    assert reads.asked("unreported_sessions") == [("training", TRAINING_ID, ALL_TRAININGS, TODAY)]
    info = report.training
    assert (info.enrolled, info.participants, info.pre_n, info.attendance_rate, info.pre_mean) == (3, 0, 0, 0.75, 50.0)
    assert [s.attendance_rate for s in report.attendance_by_session] == [1.0, 1.0, 0.0]
    assert [(d.session_date, d.sessions, d.recorded, d.attended) for d in report.attendance_by_day] == [
        (date(2016, 8, 1), 2, 4, 4),
        (None, 1, 1, 0),
    ]
    assert report.by_area[0].province_name == "Sumatera Selatan"
    assert report.by_area[0].kabkota_name == "16.71"
    assert report.not_completed_reasons[0].reason == "attendance"
    assert report.data_as_of == LATE


@pytest.mark.parametrize("row", [None, {"known": False}])
async def test_a_training_without_events_is_not_found(row: dict[str, Any] | None) -> None:
    reads = FakeReads(training_rows={TRAINING_ID: row} if row else {})
    with pytest.raises(NotFound) as refused:
        await reports.training(reads, TRAINING_ID, TODAY)
    assert refused.value.code == "training_not_found"
    assert ERRORS.status(refused.value) == 404
    assert reads.asked("sessions_of_training") == []


def history_row() -> dict[str, Any]:
    return {
        "training_id": TRAINING_ID,
        "title": "Pelatihan Dasar",
        "training_type": "pelatihan_dasar",
        "start_date": date(2016, 8, 1),
        "end_date": date(2016, 8, 2),
        "role": "askot",
        "enrollment_status": "enrolled",
        "pre_pct": Decimal("40.5"),
        "post_pct": None,
        "ojt_kelurahan": None,
        "ojt_completed": False,
        "outcome": "not_completed",
        "unmet": '["attendance", "post_test"]',
        "certificate_code": None,
        "sessions_recorded": 4,
        "sessions_attended": 2,
    }


async def test_history_of_a_facilitator_seen_only_in_trainings() -> None:
    reads = FakeReads(history_rows=[history_row()])
    report = await reports.facilitator_history(reads, FACILITATOR_ID)
    assert (report.facilitator.registered, report.facilitator.status) == (False, "unknown")
    row = report.trainings[0]
    assert (row.pre_pct, row.post_pct, row.unmet) == (40.5, None, "attendance, post_test")


async def test_history_of_a_registered_facilitator_with_assignments() -> None:
    info = {
        "facilitator_id": FACILITATOR_ID,
        "full_name": "Siti Rahma",
        "registered": True,
        "region": "oc02",
        "role": "askot",
        "speciality": None,
        "province_code": "16",
        "kabkota_code": "16.71",
        "status": "active",
        "deactivated_from": None,
    }
    assignment = {
        "effective_from": date(2016, 1, 4),
        "kind": "registered",
        "region": "oc02",
        "role": "askot",
        "speciality": None,
        "province_code": "16",
        "kabkota_code": "16.71",
    }
    reads = FakeReads(facilitator_rows={FACILITATOR_ID: info}, assignment_rows=[assignment])
    report = await reports.facilitator_history(reads, FACILITATOR_ID)
    assert report.facilitator.full_name == "Siti Rahma"
    assert report.trainings == []
    assert [a.kind for a in report.assignments] == ["registered"]


async def test_a_facilitator_without_events_is_not_found() -> None:
    with pytest.raises(NotFound) as refused:
        await reports.facilitator_history(FakeReads(), FACILITATOR_ID)
    assert refused.value.code == "facilitator_not_found"
    assert ERRORS.status(refused.value) == 404
