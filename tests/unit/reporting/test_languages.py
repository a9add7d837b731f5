"""The reporting service in Bahasa Indonesia first, English by choice: the gettext catalogues against
the texts extracted from the code and templates, the names of tables and columns, the language a
request gets, and the dashboard, charts and exports rendered in each language."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from starlette.requests import Request

from services.reporting.domain import models
from services.reporting.domain.models import (
    AreaCompletion,
    DayAttendance,
    Filters,
    Freshness,
    NationalReport,
    NationalSummary,
    PeriodTotal,
    RegionFacilitators,
    TrainingInfo,
    TrainingReport,
)
from services.reporting.entrypoints import charts, dashboard, labels
from services.reporting.entrypoints.exports import to_csv, to_xlsx
from services.reporting.entrypoints.http import Format, render
from services.reporting.entrypoints.language import COOKIE, EN, ID, LANGUAGES, catalogue, language_of

SERVICE = Path(__file__).parents[3] / "services" / "reporting"


# -- the catalogues ------------------------------------------------------------------------------


def extracted() -> dict[str, set[str]]:
    """Every translatable text of the service, as ``pybabel extract`` finds it with babel.cfg: msgid
    -> the files it is in."""
    with (SERVICE / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    found: dict[str, set[str]] = {}
    for filename, _, message, _, _ in extract_from_dir(SERVICE, method_map, options_map):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, set()).add(filename)
    return found


def po(code: str) -> Catalog:
    with catalogue(code).open("rb") as source:
        return read_po(source)


def test_the_extraction_finds_the_code_the_templates_and_the_labels() -> None:
    found = extracted()
    assert "templates/base.html" in found["Data as of %(moment)s"]
    assert "entrypoints/dashboard.py" in found["National overview"]
    assert "entrypoints/charts.py" in found["no scores yet"]
    assert "entrypoints/labels.py" in found["Completion rate"]
    assert "entrypoints/http.py" in found["exported at"]


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_text_is_translated_and_the_catalogue_is_not_stale(code: str) -> None:
    found = extracted()
    catalogue_ = po(code)
    entries = {str(m.id): m for m in catalogue_ if m.id}
    missing = sorted(set(found) - set(entries))
    stale = sorted(set(entries) - set(found))
    assert missing == [], f"run `make messages` and translate: {missing}"
    assert stale == [], f"run `make messages` (texts no longer in the code): {stale}"
    untranslated = sorted(m for m, entry in entries.items() if not entry.string or entry.fuzzy)
    assert untranslated == [], f"translate in {catalogue(code)}: {untranslated}"
    problems = [(str(m.id), [str(e) for e in errors]) for m, errors in catalogue_.check() if errors]
    assert problems == []  # e.g. a %(name)s placeholder lost or misspelled in a translation


def test_indonesian_is_really_indonesian() -> None:
    translated = {str(m.id): str(m.string) for m in po("id") if m.id}
    assert translated["Completion rate"] == "Tingkat kelulusan"
    assert translated["Data as of %(moment)s"] == "Data per %(moment)s"
    same = sorted(m for m, s in translated.items() if m == s)
    # words that are the same in both languages (names, abbreviations and loan words)
    assert set(same) <= {
        "Kelurahan",
        "Korkot",
        "OJT",
        "Region",
        "Region %(region)s",
        "Kota/Kabupaten %(name)s",
        "Kota/kabupaten",
        "Post-test (%)",
        "Pre-test (%)",
        "Status",
        "post",
        "pre",
        "status: %(status)s",
    }


def test_every_table_and_column_of_every_report_has_a_name_that_fits_a_sheet() -> None:
    reports = [
        getattr(models, name)
        for name in dir(models)
        if isinstance(getattr(models, name), type) and issubclass(getattr(models, name), models.Report)
    ]
    for report in reports:
        for table in report.TABLES:
            assert table in labels.TABLES, f"labels.TABLES lacks {table}"
            row = report.model_fields[table].annotation.__args__[0]
            for column in row.model_fields:
                assert column in labels.COLUMNS, f"labels.COLUMNS lacks {column} ({row.__name__})"
    for lang in LANGUAGES.values():
        names = [labels.table_name(lang, t) for t in labels.TABLES]
        assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names), names


# -- which language a request gets -----------------------------------------------------------------


def request(query: str = "", headers: dict[str, str] | None = None, path: str = "/") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": raw})


@pytest.mark.parametrize(
    ("query", "headers", "language"),
    [
        ("", {}, "id"),
        ("", {"Accept-Language": "en-US,en;q=0.9"}, "en"),
        ("", {"Accept-Language": "en;q=0.4, id;q=0.6"}, "id"),
        ("", {"Accept-Language": "fr"}, "id"),
        ("lang=en", {}, "en"),
        ("lang=id", {"Accept-Language": "en"}, "id"),
        ("lang=xx", {"Accept-Language": "en"}, "en"),
        ("", {"Cookie": f"{COOKIE}=en", "Accept-Language": "id"}, "en"),
        ("lang=id", {"Cookie": f"{COOKIE}=en"}, "id"),
        ("", {"Cookie": f"{COOKIE}=xx"}, "id"),
    ],
)
def test_the_switch_then_the_cookie_then_accept_language_then_indonesian(
    query: str, headers: dict[str, str], language: str
) -> None:
    assert language_of(request(query, headers)).code == language


# -- the dashboard ---------------------------------------------------------------------------------


class Text(HTMLParser):
    """The visible text of a page, one string per text node (no style)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._skip = tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip = False

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._skip:
            self.parts.append(data.strip())


def national() -> NationalReport:
    return NationalReport(
        filters=Filters(),
        data_as_of=datetime(2016, 8, 7, 7, 5, 3, tzinfo=UTC),
        summary=NationalSummary(
            facilitators_active=1234,
            facilitators_total=1300,
            trainings=12,
            enrolled=4567,
            completed=3456,
            not_completed=12,
            certified=3400,
            completion_rate=0.8734,
            sessions_unreported=3,
        ),
        lag_source="test",
        facilitators_by_region=[RegionFacilitators(region="oc02", active=1234, inactive=3, total=1237)],
        completion_by_province=[
            AreaCompletion(
                code="16",
                name="Sumatera Selatan",
                enrolled=1000,
                withdrawn=2,
                completed=900,
                not_completed=50,
                certified=890,
                ojt_completed=800,
                completion_rate=0.9473,
            )
        ],
        totals_by_month=[
            PeriodTotal(
                period="2016-08",
                training_type="basic",
                trainings=1,
                enrolled=2,
                withdrawn=0,
                completed=2,
                not_completed=0,
                certified=2,
            )
        ],
        totals_by_year=[],
        completeness_by_region=[],
        freshness=[
            Freshness(
                region="oc02",
                newest_event_at=datetime(2016, 8, 7, tzinfo=UTC),
                last_applied_at=None,
                events_applied=12345,
                lag=0,
            )
        ],
    )


def national_page(req: Request) -> tuple[str, Any]:
    lang = language_of(req)
    report = national()
    chart = dashboard._completion_chart(report.completion_by_province, lang.gettext("Completion by province"), lang)
    response = dashboard._page(
        "national.html",
        req,
        lang,
        Filters(),
        report,
        "/api/v1/reports/national",
        title=lang.gettext("National overview"),
        completion_chart=chart,
    )
    return bytes(response.body).decode(), response


def english_left_in(html: str) -> list[str]:
    """Visible texts of an Indonesian page that are English msgids with another Indonesian text."""
    english = {str(m.id) for m in po("id") if m.id and m.string != m.id}
    parser = Text()
    parser.feed(html)
    return [part for part in parser.parts if part in english]


def test_the_dashboard_is_indonesian_by_default() -> None:
    html, response = national_page(request())
    assert '<html lang="id">' in html
    assert response.headers["content-language"] == "id"
    assert "set-cookie" not in response.headers  # nothing was picked: nothing to remember
    assert "Ringkasan nasional" in html
    assert "Data per 7 Agustus 2016 14.05.03 WIB" in html
    assert '<div class="label">Fasilitator aktif</div><div class="value">1.234</div>' in html
    assert '<div class="value">87,3%</div>' in html
    assert "<th>Tingkat kelulusan</th>" in html
    assert '<td class="num">94,7%</td>' in html
    assert "<td>Agustus 2016</td>" in html  # a month of the totals
    assert "<td>dasar</td>" in html  # a training type
    assert '<td class="num">12.345</td>' in html
    assert "format=csv&amp;table=completion_by_province&amp;lang=id" in html  # exports in the page's language
    assert english_left_in(html) == []


def test_the_dashboard_in_english_by_accept_language_or_by_the_switch() -> None:
    html, response = national_page(request(headers={"Accept-Language": "en-GB,en;q=0.9,id;q=0.5"}))
    assert '<html lang="en">' in html
    assert "Data as of August 7, 2016 14:05:03 WIB" in html
    assert '<div class="label">Active facilitators</div><div class="value">1,234</div>' in html
    assert '<div class="value">87.3%</div>' in html
    assert "<td>August 2016</td>" in html
    assert "set-cookie" not in response.headers
    switched, response = national_page(request("lang=en"))
    assert "National overview" in switched
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=en;")
    assert "Max-Age=31536000" in cookie
    assert "SameSite=lax" in cookie
    # the links keep the choice, the switch offers the other language with the same filters
    assert 'href="/regions/oc02?lang=en"' in switched
    assert 'href="/?lang=id" hreflang="id"' in switched
    assert '<input type="hidden" name="lang" value="en">' in switched


def test_the_switch_keeps_the_filters() -> None:
    req = request("period=2016&role=fasilitator&lang=en", path="/regions/oc02")
    assert dashboard._switch(req) == {
        "id": "/regions/oc02?period=2016&role=fasilitator&lang=id",
        "en": "/regions/oc02?period=2016&role=fasilitator&lang=en",
    }


def test_the_training_page_shows_dates_and_codes_in_the_language() -> None:
    info: dict[str, Any] = {n: None for n, f in TrainingInfo.model_fields.items() if f.annotation is not int}
    info |= {n: 0 for n, f in TrainingInfo.model_fields.items() if f.annotation is int}
    info |= {
        "training_id": uuid.uuid4(),
        "region": "oc02",
        "title": "Pelatihan Dasar",
        "training_type": "refresher",
        "status": "closed",
        "start_date": date(2016, 7, 31),
        "end_date": date(2016, 8, 7),
        "enrolled": 1234,
        "attendance_rate": 0.955,
        "gain_mean": 12.25,
    }
    report = TrainingReport(
        filters=Filters(),
        data_as_of=None,
        training=TrainingInfo.model_validate(info),
        attendance_by_session=[],
        attendance_by_day=[
            DayAttendance(session_date=date(2016, 8, 1), sessions=1, recorded=10, attended=9, attendance_rate=0.9)
        ],
        not_completed_reasons=[],
        ojt_kelurahan=[],
        by_area=[],
        unreported_sessions=[],
    )
    for lang, expected in (
        (
            ID,
            [
                "penyegaran",
                "31 Juli 2016 \u2013 7 Agustus 2016",
                "status: ditutup",
                "1.234",
                "95,5%",
                "12,2",
                "1 Agustus 2016",
                "belum ada data",
            ],
        ),
        (
            EN,
            [
                "refresher",
                "July 31, 2016 \u2013 August 7, 2016",
                "status: closed",
                "1,234",
                "95.5%",
                "12.2",
                "August 1, 2016",
                "no data yet",
            ],
        ),
    ):
        html = bytes(
            dashboard._page("training.html", request(), lang, Filters(), report, "/api/v1/x", title="t").body
        ).decode()
        for text in expected:
            assert text in html, (lang.code, text)
        if lang is ID:
            assert english_left_in(html) == []


def test_charts_speak_the_language() -> None:
    assert "+35,5 poin" in str(charts.pre_post([("a", 40.0, 75.5)], title="x"))  # Indonesian by default
    assert "+35.5 pts" in str(charts.pre_post([("a", 40.0, 75.5)], title="x", lang=EN))
    assert "-5,0 poin" in str(charts.pre_post([("a", 45.0, 40.0)], title="x", lang=ID))
    assert "t/a" in str(charts.pre_post([("a", None, 75.5)], title="x", lang=ID))
    assert ">pre<" in str(charts.pre_post([], title="x", lang=ID))
    assert "belum ada nilai" in str(charts.pre_post([], title="x", lang=ID))
    assert "belum ada kehadiran yang tercatat" in str(charts.line([], title="x", lang=ID))
    assert "no attendance recorded yet" in str(charts.line([], title="x", lang=EN))
    assert "95%" in str(charts.hbar([("Jambi", 0.95, "(19/20)")], title="x", lang=ID))
    assert "belum ada data" in str(charts.hbar([], title="x", lang=ID))


# -- the exports -----------------------------------------------------------------------------------


def test_exports_are_headed_in_the_language_and_keep_values_as_they_are() -> None:
    report = national()
    default = render(report, Format.CSV, "completion_by_province", "national")
    rows = list(csv.reader(io.StringIO(bytes(default.body).decode())))  # type: ignore[union-attr]
    assert rows[0][:4] == ["Kode", "Nama", "Terdaftar", "Mengundurkan diri"]
    assert rows[0][-1] == "Tingkat kelulusan"
    assert rows[1][:3] == ["16", "Sumatera Selatan", "1000"]  # numbers as they are, for a program to read
    english = render(report, Format.CSV, "completion_by_province", "national", EN)
    assert bytes(english.body).decode().startswith("Code,Name,Enrolled,Withdrawn,")  # type: ignore[union-attr]
    book = openpyxl.load_workbook(io.BytesIO(bytes(render(report, Format.XLSX, None, "national").body)))  # type: ignore[union-attr]
    assert book.sheetnames == [
        "Fasilitator per region",
        "Kelulusan per provinsi",
        "Jumlah per bulan",
        "Jumlah per tahun",
        "Pelaporan per region",
        "Kemutakhiran data",
        "Tentang",
    ]
    sheet = list(book["Kelulusan per provinsi"].iter_rows(values_only=True))
    assert sheet[0][:3] == ("Kode", "Nama", "Terdaftar")
    assert sheet[1][:3] == ("16", "Sumatera Selatan", 1000)
    about = dict(book["Tentang"].iter_rows(values_only=True))
    assert about["laporan"] == "national"
    assert about["filter"] == "tidak ada"
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx({"trainings": (["title"], [])}, lang=EN)))
    assert book.sheetnames == ["Trainings"]
    assert to_csv((["code", "name"], [])) == b"code,name\r\n"  # without a language: the field names
