"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): drill down from the
national overview to a training, with the numbers on screen checked against counts computed from
the events sent, and no request leaving the machine."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, Route, async_playwright

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


async def card(page: Page, name: str) -> str:
    return (await page.locator(f"#card-{name} .value").inner_text()).strip()


async def test_dashboard_drills_down_from_the_nation_to_a_training(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection], tmp_path: Path
) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run deploy/local/browser.sh install")
    stack.start("reporting")
    events = list(Generator([REGION], seed=5).events(1200))
    await publish(producer, stack, events)
    distinct = {e.event_id: e for e in events}.values()
    db = service_db["reporting"]

    async def caught_up() -> bool:
        return bool(await db.fetchval("SELECT sum(events_applied) FROM region_freshness") == len(distinct))

    await eventually(caught_up, within=60)

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
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.route("**/*", only_loopback)

            # national overview
            await page.goto(f"{base}/")
            assert await card(page, "completed") == f"{types['TrainingCompleted']:,}"
            assert await card(page, "trainings") == f"{len(trainings):,}"
            enrolled = types["FacilitatorEnrolled"] - types["EnrollmentWithdrawn"]
            assert await card(page, "enrolled") == f"{enrolled:,}"
            as_of = await page.locator("#data-as-of").inner_text()
            assert as_of.startswith("Data as of")
            assert "no data yet" not in as_of
            assert await page.locator("#chart-completion svg rect").count() > 0
            csv_link = await page.locator("#table-completion_by_province a.export-csv").get_attribute("href")
            assert csv_link is not None
            exported = await page.request.get(f"{base}{csv_link}")
            assert exported.status == 200
            assert exported.headers["content-type"].startswith("text/csv")
            assert (await exported.text()).splitlines()[0].startswith("code,name,enrolled")
            await page.screenshot(path=str(tmp_path / "national.png"), full_page=True)

            # region -> province -> kota/kabupaten
            await page.locator("#table-facilitators_by_region table a", has_text=REGION).click()
            await page.wait_for_url(f"{base}/regions/{REGION}")
            assert await card(page, "trainings") == f"{len(trainings):,}"
            await page.screenshot(path=str(tmp_path / "region.png"), full_page=True)
            await page.locator("#table-completion_by_province table a", has_text=province).first.click()
            await page.wait_for_url(f"{base}/provinces/{province}")
            assert await card(page, "completed") == f"{completed_in_province:,}"
            await page.screenshot(path=str(tmp_path / "province.png"), full_page=True)
            await page.locator("#table-completion_by_area table a").first.click()
            await page.wait_for_url(f"{base}/kabkota/**")
            assert await page.locator("#card-facilitators .value").count() == 1

            # a training: attendance over its days
            await page.locator("#table-trainings table a").first.click()
            await page.wait_for_url(f"{base}/trainings/**")
            tid = page.url.rsplit("/", 1)[1]
            assert await card(page, "enrolled") == str(
                per_training[(tid, "FacilitatorEnrolled")] - per_training[(tid, "EnrollmentWithdrawn")]
            )
            assert await card(page, "completed") == str(per_training[(tid, "TrainingCompleted")])
            points = await page.locator("#chart-attendance svg circle").count()
            assert points == len({s for t, s in days if t == tid})
            assert await page.locator("#chart-gain svg rect").count() >= 2
            await page.screenshot(path=str(tmp_path / "training.png"), full_page=True)
        finally:
            await browser.close()
    assert outside == []
    assert (tmp_path / "training.png").stat().st_size > 10_000
