"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): drill down from the
national overview to a training, with the numbers on screen checked against counts computed from
the events sent, and no request leaving the machine. It reads in Bahasa Indonesia unless the reader
asks for English (the browser's language, or the switch on the page, which the next pages and the
exports keep), with each language's number and date formats."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import openpyxl  # type: ignore[import-untyped]
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page, Playwright, Route, async_playwright

from bench.generator import Generator, Synthetic
from tests.integration.conftest import REGION, Stack, eventually

pytestmark = pytest.mark.real

CHROMIUM = os.environ.get("KOTAKU_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


async def publish(producer: AIOKafkaProducer, stack: Stack, events: Sequence[Synthetic]) -> None:
    futures = [
        await producer.send(stack.topic(e.stream.topic(e.region)), e.body(), key=e.key, headers=e.headers())
        for e in events
    ]
    await asyncio.gather(*futures)


BULAN = "Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November|Desember"
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"


def ribuan(n: int) -> str:
    """A count as Indonesian writes it: 1.234."""
    return f"{n:,}".replace(",", ".")


async def card(page: Page, name: str) -> str:
    return (await page.locator(f"#card-{name} .value").inner_text()).strip()


async def label(page: Page, name: str) -> str:
    return (await page.locator(f"#card-{name} .label").inner_text()).strip()


async def headers(page: Page, table: str) -> list[str]:
    return [h.strip() for h in await page.locator(f"#table-{table} th").all_inner_texts()]


async def caught_up_with(stack: Stack, producer: AIOKafkaProducer, db: asyncpg.Connection, n: int) -> list[Synthetic]:
    """Sends ``n`` generated events of the region and waits until reporting applied them all."""
    stack.start("reporting")
    events = list(Generator([REGION], seed=5).events(n))
    await publish(producer, stack, events)
    distinct = list({e.event_id: e for e in events}.values())

    async def caught_up() -> bool:
        return bool(await db.fetchval("SELECT sum(events_applied) FROM region_freshness") == len(distinct))

    await eventually(caught_up, within=60)
    return distinct


async def chromium(pw: Playwright) -> Browser:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run deploy/local/browser.sh install")
    return await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


async def test_dashboard_drills_down_from_the_nation_to_a_training(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection], tmp_path: Path
) -> None:
    """In Indonesian, as an official's browser (id-ID) reads it."""
    distinct = await caught_up_with(stack, producer, service_db["reporting"], 1200)

    # independent counts from the events sent (the generator sends one outcome per participant)
    types = Counter(e.event_type for e in distinct)
    trainings = [e.payload["training_id"] for e in distinct if e.event_type == "TrainingScheduled"]
    per_training = Counter(
        (e.payload["training_id"], e.event_type)
        for e in distinct
        if e.event_type in ("FacilitatorEnrolled", "EnrollmentWithdrawn", "TrainingCompleted")
    )
    completions = {
        (e.payload["training_id"], e.payload["facilitator_id"]) for e in distinct if e.event_type == "TrainingCompleted"
    }
    area = {
        (e.payload["training_id"], e.payload["facilitator_id"]): e.payload["province_code"]
        for e in distinct
        if e.event_type == "FacilitatorEnrolled"
    }
    province = area[next(iter(completions))]
    completed_in_province = sum(area.get(k) == province for k in completions)
    days = {
        (e.payload["training_id"], e.payload["session_id"]) for e in distinct if e.event_type == "AttendanceRecorded"
    }

    base = stack.url("reporting")
    outside: list[str] = []

    async def only_loopback(route: Route) -> None:
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with async_playwright() as pw:
        browser = await chromium(pw)
        try:
            context = await browser.new_context(locale="id-ID", viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            await page.route("**/*", only_loopback)

            # national overview, in Indonesian with Indonesian numbers and dates
            await page.goto(f"{base}/")
            assert await page.locator("html").get_attribute("lang") == "id"
            assert await page.locator("h1").inner_text() == "Ringkasan nasional"
            assert await label(page, "completed") == "LULUS"  # labels are shown in capitals (CSS)
            assert await card(page, "completed") == ribuan(types["TrainingCompleted"])
            assert await card(page, "trainings") == ribuan(len(trainings))
            enrolled = types["FacilitatorEnrolled"] - types["EnrollmentWithdrawn"]
            assert await card(page, "enrolled") == ribuan(enrolled)
            assert re.fullmatch(r"\d{1,3},\d%", await card(page, "completion-rate"))
            as_of = await page.locator("#data-as-of").inner_text()
            assert re.fullmatch(rf"Data per \d{{1,2}} ({BULAN}) \d{{4}} \d{{2}}\.\d{{2}}\.\d{{2}} WIB", as_of), as_of
            assert (await headers(page, "completion_by_province"))[:3] == ["Kode", "Nama", "Terdaftar"]
            assert await page.locator("#chart-completion svg rect").count() > 0
            # the exports are in Indonesian too: CSV header row, XLSX sheet names and header rows
            csv_link = await page.locator("#table-completion_by_province a.export-csv").get_attribute("href")
            assert csv_link is not None
            exported = await page.request.get(f"{base}{csv_link}")
            assert exported.status == 200
            assert exported.headers["content-type"].startswith("text/csv")
            header = next(csv.reader(io.StringIO(await exported.text())))
            assert header[:3] == ["Kode", "Nama", "Terdaftar"]
            assert header[-1] == "Tingkat kelulusan"
            xlsx_link = await page.locator("#export-all-xlsx").get_attribute("href")
            book = openpyxl.load_workbook(io.BytesIO(await (await page.request.get(f"{base}{xlsx_link}")).body()))
            assert book.sheetnames[:2] == ["Fasilitator per region", "Kelulusan per provinsi"]
            assert book.sheetnames[-1] == "Tentang"
            assert next(book["Fasilitator per region"].iter_rows(values_only=True)) == (
                "Region",
                "Aktif",
                "Tidak aktif",
                "Jumlah",
            )
            await page.screenshot(path=str(tmp_path / "national.png"), full_page=True)

            # region -> province -> kota/kabupaten
            await page.locator("#table-facilitators_by_region table a", has_text=REGION).click()
            await page.wait_for_url(f"{base}/regions/{REGION}")
            assert await page.locator("h1").inner_text() == f"Region {REGION.upper()}"
            assert await card(page, "trainings") == ribuan(len(trainings))
            await page.screenshot(path=str(tmp_path / "region.png"), full_page=True)
            await page.locator("#table-completion_by_province table a", has_text=province).first.click()
            await page.wait_for_url(f"{base}/provinces/{province}")
            assert (await page.locator("h1").inner_text()).startswith("Provinsi ")
            assert await card(page, "completed") == ribuan(completed_in_province)
            await page.screenshot(path=str(tmp_path / "province.png"), full_page=True)
            await page.locator("#table-completion_by_area table a").first.click()
            await page.wait_for_url(f"{base}/kabkota/**")
            assert await page.locator("#card-facilitators .value").count() == 1

            # a training: attendance over its days, its dates written out in Indonesian
            await page.locator("#table-trainings table a").first.click()
            await page.wait_for_url(f"{base}/trainings/**")
            tid = page.url.rsplit("/", 1)[1]
            assert await card(page, "enrolled") == ribuan(
                per_training[(tid, "FacilitatorEnrolled")] - per_training[(tid, "EnrollmentWithdrawn")]
            )
            assert await card(page, "completed") == ribuan(per_training[(tid, "TrainingCompleted")])
            facts = await page.locator("#training-facts").inner_text()
            assert re.search(rf"\d{{1,2}} ({BULAN}) \d{{4}} \u2013 \d{{1,2}} ({BULAN}) \d{{4}}", facts), facts
            points = await page.locator("#chart-attendance svg circle").count()
            assert points == len({s for t, s in days if t == tid})
            assert await page.locator("#chart-gain svg rect").count() >= 2
            assert await page.locator("#chart-gain svg text", has_text=re.compile(r"^pre$")).count() == 1
            await page.screenshot(path=str(tmp_path / "training.png"), full_page=True)
        finally:
            await browser.close()
    assert outside == []
    assert (tmp_path / "training.png").stat().st_size > 10_000


async def test_dashboard_in_english_by_the_browser_language_or_the_switch(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection], tmp_path: Path
) -> None:
    distinct = await caught_up_with(stack, producer, service_db["reporting"], 1200)
    types = Counter(e.event_type for e in distinct)
    enrolled = types["FacilitatorEnrolled"] - types["EnrollmentWithdrawn"]
    base = stack.url("reporting")

    async with async_playwright() as pw:
        browser = await chromium(pw)
        try:
            # a browser in English (Accept-Language: en-US,en;q=0.9) reads English
            english = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
            page = await english.new_page()
            await page.goto(f"{base}/")
            assert await page.locator("html").get_attribute("lang") == "en"
            assert await page.locator("h1").inner_text() == "National overview"
            assert await label(page, "facilitators") == "ACTIVE FACILITATORS"
            assert await card(page, "enrolled") == f"{enrolled:,}"
            assert re.fullmatch(r"\d{1,3}\.\d%", await card(page, "completion-rate"))
            as_of = await page.locator("#data-as-of").inner_text()
            assert re.fullmatch(rf"Data as of ({MONTHS}) \d{{1,2}}, \d{{4}} \d{{2}}:\d{{2}}:\d{{2}} WIB", as_of), as_of
            assert (await headers(page, "completion_by_province"))[:3] == ["Code", "Name", "Enrolled"]
            csv_link = await page.locator("#table-completion_by_province a.export-csv").get_attribute("href")
            exported = await page.request.get(f"{base}{csv_link}")
            assert (await exported.text()).startswith("Code,Name,Enrolled,")
            await page.screenshot(path=str(tmp_path / "national-en.png"), full_page=True)

            # the switch: Bahasa Indonesia, kept by the links, the cookie and the filter form
            await page.locator("#lang-id").click()
            await page.wait_for_url(f"{base}/?lang=id")
            assert await page.locator("h1").inner_text() == "Ringkasan nasional"
            assert await card(page, "enrolled") == ribuan(enrolled)
            assert await page.locator("#lang-id").get_attribute("aria-current") == "true"
            await page.locator("#table-facilitators_by_region table a", has_text=REGION).click()
            await page.wait_for_url(f"{base}/regions/{REGION}?lang=id")
            assert await label(page, "trainings") == "PELATIHAN"
            await page.goto(f"{base}/regions/{REGION}")  # no lang in the address: the cookie remembers
            assert await label(page, "trainings") == "PELATIHAN"
            await page.select_option("select[name=training_type]", "basic")
            await page.locator("form.filters button").click()
            await page.wait_for_url("**training_type=basic**")
            assert await page.locator("html").get_attribute("lang") == "id"
            # and back to English, the filters kept
            await page.locator("#lang-en").click()
            await page.wait_for_url("**lang=en**")
            assert "training_type=basic" in page.url
            assert await label(page, "trainings") == "TRAININGS"
            await page.goto(f"{base}/")
            assert await page.locator("h1").inner_text() == "National overview"

            # a browser in Indonesian, switched to English by its reader
            indonesian = await browser.new_context(locale="id-ID")
            page = await indonesian.new_page()
            await page.goto(f"{base}/")
            assert await page.locator("h1").inner_text() == "Ringkasan nasional"
            await page.locator("#lang-en").click()
            await page.wait_for_url(f"{base}/?lang=en")
            assert await page.locator("h1").inner_text() == "National overview"
            await page.screenshot(path=str(tmp_path / "national-switched.png"), full_page=True)
        finally:
            await browser.close()
