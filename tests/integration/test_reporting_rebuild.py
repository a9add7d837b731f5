"""The rebuild replays the whole log into fresh tables, equal row for row to the incrementally built
ones, and swaps them in while the live consumers keep running, so that nothing is skipped or
applied twice across the swap."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from bench.generator import FACILITATORS_CONSUMER, TRAININGS_CONSUMER, Generator, Synthetic
from services.reporting.projections import DEDUPE_TABLE, READ_MODEL_TABLES
from shared.kafka_admin import delete_topics, ensure_topics
from shared.topics import all_topics
from tests.integration.conftest import BOOTSTRAP, REGION, Stack, eventually

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[2]
OTHER = "oc05"
REGIONS = f"{REGION},{OTHER}"
WALL_CLOCK = {"region_freshness": ("last_applied_at",), DEDUPE_TABLE: ("processed_at",)}


@pytest.fixture
async def other_region(stack: Stack) -> AsyncIterator[str]:
    topics = all_topics([OTHER], stack.prefix)
    await ensure_topics(BOOTSTRAP, topics, partitions=3)
    try:
        yield OTHER
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(BOOTSTRAP, topics)


async def publish(producer: AIOKafkaProducer, stack: Stack, events: Sequence[Synthetic]) -> None:
    futures = [
        await producer.send(stack.topic(e.stream.topic(e.region)), e.body(), key=e.key, headers=e.headers())
        for e in events
    ]
    await asyncio.gather(*futures)


def expected_applied(events: Sequence[Synthetic]) -> dict[str, int]:
    return {
        consumer: len({e.event_id for e in events if e.consumer == consumer})
        for consumer in (FACILITATORS_CONSUMER, TRAININGS_CONSUMER)
    }


async def applied(db: asyncpg.Connection) -> dict[str, int]:
    rows = await db.fetch("SELECT consumer, sum(events_applied)::bigint AS n FROM region_freshness GROUP BY consumer")
    return {r["consumer"]: r["n"] for r in rows}


async def rebuild(stack: Stack, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.reporting",
        "rebuild",
        "--no-progress",
        *args,
        cwd=ROOT,
        env=stack.services["reporting"].env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def table_rows(db: asyncpg.Connection, schema: str, table: str) -> list[tuple[Any, ...]]:
    columns = [
        r["column_name"]
        for r in await db.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2"
            " ORDER BY ordinal_position",
            schema,
            table,
        )
        if r["column_name"] not in WALL_CLOCK.get(table, ())
    ]
    assert columns, f"{schema}.{table} does not exist"
    listed = ", ".join(f'"{c}"' for c in columns)
    rows = await db.fetch(f'SELECT {listed} FROM "{schema}"."{table}" ORDER BY {listed}')  # noqa: S608 - test
    return [tuple(r) for r in rows]


async def assert_same_tables(db: asyncpg.Connection, left: str, right: str) -> dict[str, int]:
    sizes = {}
    for table in (*READ_MODEL_TABLES, DEDUPE_TABLE):
        a, b = await table_rows(db, left, table), await table_rows(db, right, table)
        assert a == b, f"{table}: {len(a)} rows in {left}, {len(b)} in {right}"
        sizes[table] = len(a)
    assert await indexes(db, left) == await indexes(db, right)  # names survive the swap
    return sizes


async def indexes(db: asyncpg.Connection, schema: str) -> set[tuple[str, str, str]]:
    rows = await db.fetch("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1", schema)
    return {
        (r["tablename"], r["indexname"], r["indexdef"].replace(f"{schema}.", ""))
        for r in rows
        if r["tablename"] in (*READ_MODEL_TABLES, DEDUPE_TABLE)
    }


async def national(stack: Stack) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        body: dict[str, Any] = (await http.get(f"{stack.url('reporting')}/api/v1/reports/national")).json()
    for key in ("data_as_of", "freshness"):
        body.pop(key)
    return body


async def test_rebuild_reproduces_the_incremental_read_models_row_for_row(
    stack: Stack,
    other_region: str,
    producer: AIOKafkaProducer,
    service_db: dict[str, asyncpg.Connection],
) -> None:
    stack.start("reporting", KOTAKU_REGIONS=REGIONS)
    events = list(Generator([REGION, other_region], seed=11).events(5000))
    await publish(producer, stack, events)
    db = service_db["reporting"]
    want = expected_applied(events)

    async def caught_up() -> bool:
        return await applied(db) == want

    await eventually(caught_up, within=60)
    before = await national(stack)
    assert before["summary"]["enrolled"] > 0

    out = await rebuild(stack)
    assert "5,000 records" in out

    sizes = await assert_same_tables(db, "reporting", "reporting_previous")
    assert sizes["attendance"] > 1000
    assert sizes[DEDUPE_TABLE] == sum(want.values())
    assert await national(stack) == before  # the API reads the swapped-in tables


async def test_live_consumers_neither_skip_nor_double_apply_across_a_swap(
    stack: Stack,
    other_region: str,
    producer: AIOKafkaProducer,
    service_db: dict[str, asyncpg.Connection],
) -> None:
    stack.start("reporting", KOTAKU_REGIONS=REGIONS, KOTAKU_CONSUMER_MAX_RECORDS="100")
    events = list(Generator([REGION, other_region], seed=12).events(8000))
    first, rest = events[:3000], events[3000:]
    await publish(producer, stack, first)
    db = service_db["reporting"]

    async def trickle() -> None:  # events keep arriving while the rebuild runs and swaps
        for i in range(0, len(rest), 250):
            await publish(producer, stack, rest[i : i + 250])
            await asyncio.sleep(0.05)

    feeding = asyncio.create_task(trickle())
    await rebuild(stack)
    await feeding
    want = expected_applied(events)

    async def caught_up() -> dict[str, int] | None:
        got = await applied(db)
        return got if got == want else None

    # events_applied is counted per applied event: a skipped event would leave it short, an event
    # applied twice (once by the rebuild, once by the live consumer) would push it over.
    await eventually(caught_up, within=60)
    await asyncio.sleep(1.0)
    assert await applied(db) == want

    # and the state built across the swap is exactly what a replay of the whole log gives
    await rebuild(stack)
    await assert_same_tables(db, "reporting", "reporting_previous")
    await rebuild(stack, "--drop-previous")
    assert await db.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'reporting_previous'") == 0
