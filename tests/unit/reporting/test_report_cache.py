"""The report cache (services/reporting/entrypoints/cache.py) on a fake clock: built at most once
per ``fresh`` seconds, served stale while one refresh runs, rebuilt before answering when too old,
one build for concurrent requests, failures not kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from services.reporting.domain.models import Filters, Report
from services.reporting.entrypoints import cache as cache_module
from services.reporting.entrypoints.cache import ReportCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Builder:
    """Builds numbered reports; ``gate`` holds a build until set, ``fail`` makes the next one fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def __call__(self) -> Any:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("database gone")
        return Report(filters=Filters(period=str(2000 + self.calls)), data_as_of=datetime.now(UTC))


def number(report: Report) -> int:
    return int(report.filters.period or 0) - 2000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(cache_module, "now", fake)
    return fake


async def test_within_fresh_one_build_serves_every_request(clock: Clock) -> None:
    cache, build = ReportCache(fresh=1.0), Builder()
    assert number(await cache.get("national", build)) == 1
    clock.now += 0.9
    assert number(await cache.get("national", build)) == 1
    assert number(await cache.get("region/oc02", build)) == 2  # another report, its own entry
    assert build.calls == 2


async def test_stale_is_served_at_once_while_one_refresh_runs(clock: Clock) -> None:
    cache, build = ReportCache(fresh=1.0, stale=5.0), Builder()
    await cache.get("national", build)
    clock.now += 2.0
    build.gate = asyncio.Event()
    assert number(await cache.get("national", build)) == 1  # stale, answered without waiting
    assert number(await cache.get("national", build)) == 1
    await asyncio.sleep(0)
    assert build.calls == 2  # one refresh, not one per request
    build.gate.set()
    await asyncio.sleep(0.01)
    assert number(await cache.get("national", build)) == 2


async def test_too_old_is_rebuilt_before_the_answer(clock: Clock) -> None:
    cache, build = ReportCache(fresh=1.0, stale=5.0), Builder()
    await cache.get("national", build)
    clock.now += 5.0
    assert number(await cache.get("national", build)) == 2


async def test_concurrent_requests_wait_for_one_build(clock: Clock) -> None:
    cache, build = ReportCache(fresh=1.0), Builder()
    build.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get("national", build)) for _ in range(5)]
    await asyncio.sleep(0.01)
    build.gate.set()
    assert [number(r) for r in await asyncio.gather(*waiting)] == [1] * 5
    assert build.calls == 1


async def test_a_failed_build_is_not_kept_and_a_failed_refresh_keeps_the_stale_report(clock: Clock) -> None:
    cache, build = ReportCache(fresh=1.0, stale=5.0), Builder()
    build.fail = True
    with pytest.raises(RuntimeError):
        await cache.get("national", build)
    build.fail = False
    assert number(await cache.get("national", build)) == 2
    clock.now += 2.0
    build.fail = True
    assert number(await cache.get("national", build)) == 2  # stale; the refresh fails in the background
    await asyncio.sleep(0.01)
    assert number(await cache.get("national", build)) == 2
    clock.now += 4.0  # beyond stale: rebuilt before the answer, and the failure reaches the caller
    with pytest.raises(RuntimeError):
        await cache.get("national", build)


async def test_zero_turns_the_cache_off(clock: Clock) -> None:
    cache, build = ReportCache(fresh=0.0), Builder()
    for expected in (1, 2, 3):
        assert number(await cache.get("national", build)) == expected


async def test_a_built_report_is_serialised_once_and_a_new_build_anew(clock: Clock) -> None:
    cache, build = ReportCache(fresh=1.0), Builder()
    first = await cache.get("national", build)
    body = cache.json_of("national", first)
    assert body == first.model_dump_json().encode()
    assert cache.json_of("national", await cache.get("national", build)) is body  # the same bytes
    clock.now += 10.0
    second = await cache.get("national", build)
    assert number(second) == 2
    assert cache.json_of("national", second) == second.model_dump_json().encode() != body
    # a report the cache does not hold under that key (caching off, evicted) is serialised as it is
    assert cache.json_of("region/oc02", first) == body
