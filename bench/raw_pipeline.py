"""The raw pipeline the rebuild is measured against: what plain libraries do with the same log when
nothing of the project stands in between.

aiokafka fetches every record of the topics from the beginning; each value is decoded with
``json.loads``; per batch, one COPY stages (event id, region, event type) in PostgreSQL, one insert
keeps the ids not seen before (the dedupe), and one upsert adds the new ones to per-region,
per-type totals (the aggregate), in one transaction. Fetching overlaps with writing: the next batch
is fetched while the previous one is written. No validation, no projection logic, no derive step:
it is the floor of the cost of reading the log into a database, not a reporting rebuild.

It runs in as many processes as the rebuild replays in (``processes``, by default
:func:`services.reporting.entrypoints.rebuild.replay_processes`), each over the same share of the
partitions (:func:`~services.reporting.entrypoints.rebuild.split_shares`) with a connection of its
own: the comparison is between the two pipelines, not between numbers of cores. Its time is the
slowest share's, counted from that share's first fetch (process start-up excluded; the rebuild's
time includes it).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.reporting.entrypoints.rebuild import replay_processes, split_shares
from shared.kernel import kafka as kafka_clients

BATCH = 20_000

SCHEMA = """
DROP SCHEMA IF EXISTS raw_pipeline CASCADE;
CREATE SCHEMA raw_pipeline;
SET search_path TO raw_pipeline;
CREATE TABLE raw_seen (event_id uuid PRIMARY KEY, region text NOT NULL, event_type text NOT NULL);
CREATE TABLE raw_totals (region text, event_type text, events bigint NOT NULL, PRIMARY KEY (region, event_type));
"""

WRITE = """
WITH new AS (
    INSERT INTO raw_seen (event_id, region, event_type) SELECT event_id, region, event_type FROM raw_stage_{n}
    ON CONFLICT DO NOTHING RETURNING region, event_type
)
INSERT INTO raw_totals (region, event_type, events)
SELECT region, event_type, count(*) FROM new GROUP BY region, event_type ORDER BY region, event_type
ON CONFLICT (region, event_type) DO UPDATE SET events = raw_totals.events + EXCLUDED.events
"""
# Each process stages its batch in a table of its own (ORDER BY above: the processes lock the
# totals' rows in one order, so they never deadlock).
STAGE = "CREATE UNLOGGED TABLE raw_stage_{n} (event_id uuid, region text, event_type text)"


async def log_reader(bootstrap: str, partitions: list[TopicPartition], client_id: str) -> AIOKafkaConsumer:
    """A started consumer without a group, assigned ``partitions`` from their beginning, fetching in
    large batches: how the benchmark reads a whole log."""
    consumer = kafka_clients.consumer(
        bootstrap,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


def _row(value: bytes | None) -> tuple[str, str, str] | None:
    try:
        doc = json.loads(value or b"")
        return str(doc["event_id"]), str(doc["region"]), str(doc["event_type"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


async def _write(conn: asyncpg.Connection, n: int, rows: list[tuple[str, str, str]]) -> None:
    async with conn.transaction():
        await conn.execute(f"TRUNCATE raw_stage_{n}")
        await conn.copy_records_to_table(f"raw_stage_{n}", records=rows, columns=["event_id", "region", "event_type"])
        await conn.execute(WRITE.format(n=n))


async def raw_pipeline(
    dsn: str, bootstrap: str, partitions: list[TopicPartition], topic_prefix: str, processes: int | None = None
) -> dict[str, Any]:
    """Runs the raw pipeline over ``partitions`` (topics named after ``topic_prefix``) into a scratch
    schema of ``dsn`` (dropped at the end)."""
    conn = await asyncpg.connect(dsn)
    await conn.execute(SCHEMA)
    try:
        reader = await log_reader(bootstrap, partitions, "kotaku-bench-raw")
        try:
            ends = await reader.end_offsets(partitions)
        finally:
            await reader.stop()
        parts = [list(part) for part in split_shares(ends, processes or replay_processes(), topic_prefix)]
        shares = len(parts)
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(shares, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(pool, _share_in_process, dsn, bootstrap, n, part)
                    for n, part in enumerate(parts)
                )
            )
        counted = int(await conn.fetchval("SELECT coalesce(sum(events), 0) FROM raw_pipeline.raw_totals"))
    finally:
        await conn.execute("DROP SCHEMA IF EXISTS raw_pipeline CASCADE")
        await conn.close()
    records = sum(r["records"] for r in results)
    seconds = max(r["seconds"] for r in results)
    return {
        "processes": shares,
        "records": records,
        "distinct_events": counted,
        "undecodable": sum(r["undecodable"] for r in results),
        "seconds": round(seconds, 2),
        "waiting_for_writes_seconds": round(max(r["waited"] for r in results), 2),
        "records_per_second": round(records / seconds) if seconds else 0,
    }


def _share_in_process(dsn: str, bootstrap: str, n: int, partitions: list[TopicPartition]) -> dict[str, Any]:
    return asyncio.run(_share(dsn, bootstrap, n, partitions))


async def _share(dsn: str, bootstrap: str, n: int, partitions: list[TopicPartition]) -> dict[str, Any]:
    """Share ``n``: its partitions from the beginning into the scratch schema."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "raw_pipeline"})
    await conn.execute(STAGE.format(n=n))
    consumer = await log_reader(bootstrap, partitions, "kotaku-bench-raw")
    records = undecodable = 0
    waited = 0.0  # time the reader spent waiting for the writer: > 0 means the database is the bottleneck
    writing: asyncio.Task[None] | None = None
    try:
        total = sum((await consumer.end_offsets(partitions)).values())
        started = time.perf_counter()
        while records < total:
            rows: list[tuple[str, str, str]] = []
            while records < total and len(rows) < BATCH:
                fetched = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
                if not fetched and time.perf_counter() - started > 600:
                    raise RuntimeError(f"the raw pipeline read {records:,} of {total:,} records in 600 s")
                for part in fetched.values():
                    records += len(part)
                    for record in part:
                        if (row := _row(record.value)) is None:
                            undecodable += 1
                        else:
                            rows.append(row)
            if writing is not None:
                wait_started = time.perf_counter()
                await writing
                waited += time.perf_counter() - wait_started
            writing = asyncio.create_task(_write(conn, n, rows))
        if writing is not None:
            wait_started = time.perf_counter()
            await writing
            waited += time.perf_counter() - wait_started
        seconds = time.perf_counter() - started
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
        await consumer.stop()
        await conn.close()
    return {"records": records, "undecodable": undecodable, "seconds": seconds, "waited": waited}
