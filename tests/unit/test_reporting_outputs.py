"""Reporting outputs without a database: CSV and XLSX exports, charts, periods, report tables."""

from __future__ import annotations

import csv
import io
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from typing import Any

import openpyxl  # type: ignore[import-untyped]

from services.reporting.domain.models import Filters, KelurahanOJT, PeriodTotal, TrainingReport
from services.reporting.domain.names import display_name
from services.reporting.domain.periods import by_year, period_range
from services.reporting.entrypoints import charts
from services.reporting.entrypoints.exports import to_csv, to_xlsx
from services.reporting.entrypoints.language import EN


def test_csv_keeps_any_script_and_never_lets_text_become_a_formula() -> None:
    table = (["name", "count", "note"], [{"name": 'Ñoman Dwi, "Putra"', "count": 3, "note": "=HYPERLINK(1)"}])
    rows = list(csv.reader(io.StringIO(to_csv(table).decode())))
    assert rows == [["name", "count", "note"], ['Ñoman Dwi, "Putra"', "3", "'=HYPERLINK(1)"]]


def test_xlsx_has_one_sheet_per_table_with_numbers_as_numbers() -> None:
    tables: dict[str, tuple[list[str], list[dict[str, Any]]]] = {
        "ojt_kelurahan": (["kelurahan_code", "completed"], [{"kelurahan_code": "16.71.01.1001", "completed": 4}]),
        "x" * 40: (["a"], [{"a": None}]),
    }
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(tables, [("report", "province-16")])), read_only=True)
    assert book.sheetnames == ["ojt_kelurahan", "x" * 31, "about"]
    assert list(book["ojt_kelurahan"].iter_rows(values_only=True)) == [
        ("kelurahan_code", "completed"),
        ("16.71.01.1001", 4),
    ]


def test_period_ranges_cover_a_year_or_a_month() -> None:
    assert period_range(None) == (None, None)
    assert period_range("2016") == (date(2016, 1, 1), date(2017, 1, 1))
    assert period_range("2016-12") == (date(2016, 12, 1), date(2017, 1, 1))
    assert period_range("2016-07") == (date(2016, 7, 1), date(2016, 8, 1))


def test_yearly_totals_are_the_sums_of_the_months() -> None:
    def month(period: str, kind: str, n: int) -> PeriodTotal:
        return PeriodTotal(
            period=period,
            training_type=kind,
            trainings=1,
            enrolled=n,
            withdrawn=0,
            completed=n,
            not_completed=0,
            certified=n,
        )

    years = by_year([month("2016-07", "basic", 10), month("2016-08", "basic", 5), month("2017-01", "basic", 1)])
    assert [(y.period, y.trainings, y.enrolled) for y in years] == [("2016", 2, 15), ("2017", 1, 1)]


def test_names_come_from_events_then_the_official_province_list() -> None:
    assert display_name("16", {}) == "Sumatera Selatan"
    assert display_name("16.71", {"16.71": "Kota Palembang"}) == "Kota Palembang"
    assert display_name("16.99", {}) == "16.99"
    assert display_name("", {}) == "(not given)"


def test_charts_are_well_formed_svg_and_escape_labels() -> None:
    svgs = [
        charts.hbar([("<script>", 0.5, "(1/2)"), ("Jambi", None, "")], title="Completion"),
        charts.line([("31 Jul", 0.9), ("01 Aug", None), ("02 Aug", 0.95)], title="Attendance"),
        charts.pre_post([("Pelatihan & OJT", 40.0, 75.5)], title="Pre/post", lang=EN),
        charts.line([], title="empty"),
    ]
    for svg in svgs:
        root = ET.fromstring(str(svg))  # noqa: S314 - our own output
        assert root.tag.endswith("svg")
    assert "<script>" not in str(svgs[0])
    line = ET.fromstring(str(svgs[1]))  # noqa: S314 - our own output
    assert len(line.findall(".//{http://www.w3.org/2000/svg}circle")) == 2
    assert "+35.5 pts" in str(svgs[2])


def test_every_report_table_is_exportable_with_its_row_fields_as_columns() -> None:
    report = TrainingReport.model_validate(
        {
            "filters": Filters().model_dump(),
            "data_as_of": datetime(2016, 8, 8, tzinfo=UTC),
            "training": {
                "training_id": uuid.uuid4(),
                "region": "oc02",
                "title": "t",
                "training_type": "basic",
                "organiser": None,
                "venue": None,
                "start_date": None,
                "end_date": None,
                "capacity": None,
                "status": "scheduled",
                **dict.fromkeys(
                    ["participants", "enrolled", "withdrawn", "completed", "not_completed", "certified"], 0
                ),
                **dict.fromkeys(["pre_n", "post_n", "gain_n", "ojt_assigned", "ojt_completed"], 0),
                **dict.fromkeys(["attendance_rate", "pre_mean", "post_mean", "gain_mean"], None),
            },
            "attendance_by_session": [],
            "attendance_by_day": [],
            "not_completed_reasons": [],
            "ojt_kelurahan": [
                KelurahanOJT(
                    kelurahan_code="k", kelurahan_name="K", ojt_assigned=1, ojt_completed=1, completed_training=1
                )
            ],
            "by_area": [],
            "unreported_sessions": [],
        }
    )
    tables = report.tables()
    assert list(tables) == list(TrainingReport.TABLES)
    assert tables["ojt_kelurahan"][0] == [
        "kelurahan_code",
        "kelurahan_name",
        "ojt_assigned",
        "ojt_completed",
        "completed_training",
    ]
    assert tables["attendance_by_day"] == (["session_date", "sessions", "recorded", "attended", "attendance_rate"], [])
