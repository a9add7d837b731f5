"""Reporting as production runs it, on the real broker and database: one API process that
consumes nothing, and one consumer process per group of regions. Each consumer process applies
its own regions' events and no other's; while one region's process is down, the other regions
stay fresh and the API keeps answering; once it is back, its region catches up. And the API's
report cache: a report is rebuilt at most once per KOTAKU_REPORT_CACHE_SECONDS."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import FacilitatorRegistered, Role
from shared.kernel.envelope import Event, new_event
from tests.integration.conftest import OTHER, REGION, Stack, eventually, publish

pytestmark = pytest.mark.real


def registered(region: str) -> Event[Any]:
    payload = FacilitatorRegistered(
        facilitator_id=uuid.uuid4(),
        full_name="Peserta Uji",
        role=Role.FASILITATOR,
        province_code="16",
        kabkota_code="16.71",
        effective_from=date(2016, 7, 1),
    )
    return new_event(payload, region=region, source="test", occurred_at=datetime(2016, 7, 31, tzinfo=UTC))


async def counts(http: httpx.AsyncClient, api: str) -> dict[str, int]:
    body = (await http.get(f"{api}/api/v1/reports/facilitator-counts")).json()
    out: dict[str, int] = {}
    for row in body["rows"]:
        out[row["region"]] = out.get(row["region"], 0) + row["facilitators"]
    return out


async def test_each_consumer_process_applies_only_its_regions(
    stack: Stack, other_region: str, producer: AIOKafkaProducer
) -> None:
    both = f"{REGION},{other_region}"
    api = stack.start("reporting", regions=both, KOTAKU_PROCESS_ROLE="api").url
    first = stack.start("reporting", process="reporting-oc02", regions=REGION, KOTAKU_PROCESS_ROLE="consumers")
    second = stack.start("reporting", process="reporting-oc05", regions=OTHER, KOTAKU_PROCESS_ROLE="consumers")
    async with httpx.AsyncClient(timeout=10) as http:
        # a consumer process answers operations only; the API process serves the reports
        assert (await http.get(f"{first.url}/api/v1/reports/national")).status_code == 404
        assert (await http.get(f"{first.url}/ready")).status_code == 200
        assert (await http.get(f"{api}/api/v1/reports/national")).status_code == 200

        await publish(producer, stack, [registered(REGION), registered(REGION), registered(OTHER)])
        assert await eventually(lambda: _equals(http, api, {REGION: 2, OTHER: 1}))

        # oc05's process stops: oc02 stays fresh, the API answers, oc05's new event waits in the log
        second.stop()
        await publish(producer, stack, [registered(OTHER), registered(REGION)])
        assert await eventually(lambda: _equals(http, api, {REGION: 3, OTHER: 1}))
        assert await counts(http, api) == {REGION: 3, OTHER: 1}  # neither the API nor oc02's process took it

        stack.start("reporting", process="reporting-oc05", regions=OTHER, KOTAKU_PROCESS_ROLE="consumers")
        assert await eventually(lambda: _equals(http, api, {REGION: 3, OTHER: 2}))


async def _equals(http: httpx.AsyncClient, api: str, wanted: dict[str, int]) -> bool:
    return await counts(http, api) == wanted


async def test_reports_are_served_from_the_cache_within_its_window(stack: Stack, producer: AIOKafkaProducer) -> None:
    """With KOTAKU_REPORT_CACHE_SECONDS, a report is built at most once per window: a new event
    shows at once in the uncached counts but in the national report only after the window."""
    api = stack.start("reporting", KOTAKU_REPORT_CACHE_SECONDS="3").url
    async with httpx.AsyncClient(timeout=10) as http:

        async def national_total() -> int:
            body = (await http.get(f"{api}/api/v1/reports/national")).json()
            return int(body["summary"]["facilitators_total"])

        await publish(producer, stack, [registered(REGION)])
        assert await eventually(lambda: _equals(http, api, {REGION: 1}))
        assert await eventually(lambda: _is(national_total, 1))
        await publish(producer, stack, [registered(REGION)])
        assert await eventually(lambda: _equals(http, api, {REGION: 2}))  # applied (counts are not cached)
        assert await national_total() == 1  # the national report is still the one built before
        csv = (await http.get(f"{api}/api/v1/reports/national", params={"format": "csv"})).text
        assert csv  # another format of the same report, from the same entry
        assert await eventually(lambda: _is(national_total, 2), within=20)


async def _is(read: Any, wanted: int) -> bool:
    return bool(await read() == wanted)
