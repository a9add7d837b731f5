"""The raw pipeline the rebuild is measured against: what plain libraries do with the same log when
nothing of the project stands in between.

aiokafka fetches every record of the topics from the beginning; each value is decoded with
``json.loads``; per batch, one COPY stages (event id, region, event type) in PostgreSQL, one insert
keeps the ids not seen before (the dedupe), and one upsert adds the new ones to per-region,
per-type totals (the aggregate), in one transaction. Fetching overlaps with writing: the next batch
is fetched while the previous one is written. No validation, no projection logic, no derive step:
it is the floor of the cost of reading the log into a database, not a reporting rebuild.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kernel import kafka as kafka_clients

BATCH = 20_000

SCHEMA = """
DROP SCHEMA IF EXISTS raw_pipeline CASCADE;
CREATE SCHEMA raw_pipeline;
SET search_path TO raw_pipeline;
CREATE UNLOGGED TABLE raw_stage (event_id uuid, region text, event_type text);
CREATE TABLE raw_seen (event_id uuid PRIMARY KEY, region text NOT NULL, event_type text NOT NULL);
CREATE TABLE raw_totals (region text, event_type text, events bigint NOT NULL, PRIMARY KEY (region, event_type));
"""

WRITE = """
WITH new AS (
    INSERT INTO raw_seen (event_id, region, event_type) SELECT event_id, region, event_type FROM raw_stage
    ON CONFLICT DO NOTHING RETURNING region, event_type
)
INSERT INTO raw_totals (region, event_type, events)
SELECT region, event_type, count(*) FROM new GROUP BY region, event_type
ON CONFLICT (region, event_type) DO UPDATE SET events = raw_totals.events + EXCLUDED.events
"""


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


async def _write(conn: asyncpg.Connection, rows: list[tuple[str, str, str]]) -> None:
    async with conn.transaction():
        await conn.execute("TRUNCATE raw_stage")
        await conn.copy_records_to_table(
            "raw_stage", schema_name="raw_pipeline", records=rows, columns=["event_id", "region", "event_type"]
        )
        await conn.execute(WRITE)


async def raw_pipeline(dsn: str, bootstrap: str, partitions: list[TopicPartition]) -> dict[str, Any]:
    """Runs the raw pipeline over ``partitions`` into a scratch schema of ``dsn`` (dropped at the end)."""
    conn = await asyncpg.connect(dsn)
    await conn.execute(SCHEMA)
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
            writing = asyncio.create_task(_write(conn, rows))
        if writing is not None:
            wait_started = time.perf_counter()
            await writing
            waited += time.perf_counter() - wait_started
        seconds = time.perf_counter() - started
        counted = int(await conn.fetchval("SELECT coalesce(sum(events), 0) FROM raw_totals"))
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
        await consumer.stop()
        await conn.execute("DROP SCHEMA IF EXISTS raw_pipeline CASCADE")
        await conn.close()
    return {
        "records": records,
        "distinct_events": counted,
        "undecodable": undecodable,
        "seconds": round(seconds, 2),
        "waiting_for_writes_seconds": round(waited, 2),
        "records_per_second": round(records / seconds) if seconds else 0,
    }
