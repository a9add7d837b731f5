"""The raw live pipeline the steady phase's freshness is measured against: what plain libraries do
with the same traffic on the same machine when nothing of the project stands in between.

It runs in a process of its own, as the read models' consumers do: per region one aiokafka consumer
in a group of its own over all of the region's topics (the service runs one per region and read
model, plus the xAPI statements). Per batch it decodes each value with ``json.loads``; one statement
records ``(consumer, event id)`` in its ``processed_events`` (the same key and ``now()`` as the
service's dedupe table, so the benchmark's watcher sees it the same way) and adds the new events to
per-region, per-type totals; then it commits the batch's offsets. No validation, no read model, no
outbox: it is the floor of the latency of taking an event from Kafka into a committed row here.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from shared.kernel import kafka as kafka_clients

SCHEMA_NAME = "raw_live"  # the schema of SCHEMA and WRITE

SCHEMA = """
DROP SCHEMA IF EXISTS raw_live CASCADE;
CREATE SCHEMA raw_live;
CREATE TABLE raw_live.processed_events (
    consumer text NOT NULL, event_id uuid NOT NULL, processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE TABLE raw_live.totals (region text, event_type text, events bigint NOT NULL, PRIMARY KEY (region, event_type));
"""

WRITE = """
WITH batch AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[]) AS b(consumer, event_id, region, event_type)
), new AS (
    INSERT INTO raw_live.processed_events (consumer, event_id) SELECT consumer, event_id FROM batch
    ON CONFLICT DO NOTHING RETURNING consumer, event_id
)
INSERT INTO raw_live.totals (region, event_type, events)
SELECT b.region, b.event_type, count(*) FROM new JOIN batch b USING (consumer, event_id)
GROUP BY b.region, b.event_type ORDER BY b.region, b.event_type
ON CONFLICT (region, event_type) DO UPDATE SET events = totals.events + EXCLUDED.events
"""


class RawLive:
    """The raw live pipeline in a process of its own: ``async with`` starts it and returns once
    every region's consumer has started; leaving stops it and drops its schema."""

    def __init__(self, dsn: str, bootstrap: str, prefix: str, topics: dict[str, dict[str, str]]) -> None:
        # topics: region -> {topic: the read model's consumer whose events it carries}
        self.dsn, self.bootstrap, self.prefix, self.topics = dsn, bootstrap, prefix, topics
        context = multiprocessing.get_context("spawn")
        self._ready = context.Event()
        self._stop = context.Event()
        self._process = context.Process(
            target=_run, args=(dsn, bootstrap, prefix, topics, self._ready, self._stop), daemon=True
        )

    async def __aenter__(self) -> RawLive:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(SCHEMA)
        finally:
            await conn.close()
        self._process.start()
        for _ in range(600):
            if self._ready.is_set():
                return self
            if not self._process.is_alive():
                raise RuntimeError(f"the raw live pipeline exited with {self._process.exitcode}")
            await asyncio.sleep(0.1)
        raise RuntimeError("the raw live pipeline did not start within 60 s")

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.to_thread(self._process.join, 30)
        if self._process.is_alive():
            self._process.kill()
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("DROP SCHEMA IF EXISTS raw_live CASCADE")
        finally:
            await conn.close()


def _run(
    dsn: str, bootstrap: str, prefix: str, topics: dict[str, dict[str, str]], ready: ProcessEvent, stop: ProcessEvent
) -> None:
    asyncio.run(_main(dsn, bootstrap, prefix, topics, ready, stop))


async def _main(
    dsn: str, bootstrap: str, prefix: str, topics: dict[str, dict[str, str]], ready: ProcessEvent, stop: ProcessEvent
) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    consumers: list[AIOKafkaConsumer] = []
    try:
        for region, carried in topics.items():
            consumer = kafka_clients.consumer(
                bootstrap,
                *carried,
                client_id="kotaku-bench-raw-live",
                group_id=f"{prefix}raw-live.{region}",
                enable_auto_commit=False,
                auto_offset_reset="latest",
                fetch_max_wait_ms=500,
            )
            await consumer.start()
            consumers.append(consumer)
        tasks = [
            asyncio.create_task(_consume(pool, consumer, carried))
            for consumer, carried in zip(consumers, topics.values(), strict=True)
        ]
        ready.set()
        parent = os.getppid()
        while not stop.is_set() and os.getppid() == parent:  # ends with its bench, however that ends
            await asyncio.sleep(0.1)
            for task in tasks:
                if task.done():
                    task.result()  # a failure ends the run with its error
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for consumer in consumers:
            await consumer.stop()
        await pool.close()


async def _consume(pool: asyncpg.Pool, consumer: AIOKafkaConsumer, carried: dict[str, str]) -> None:
    while True:
        fetched = await consumer.getmany(timeout_ms=500, max_records=500)
        if not fetched:
            continue
        columns: tuple[list[Any], list[Any], list[Any], list[Any]] = ([], [], [], [])
        for records in fetched.values():
            for record in records:
                try:
                    doc = json.loads(record.value or b"")
                    row = (carried[record.topic], str(doc["event_id"]), str(doc["region"]), str(doc["event_type"]))
                except (ValueError, KeyError, TypeError, RecursionError):
                    continue
                for column, value in zip(columns, row, strict=True):
                    column.append(value)
        await pool.execute(WRITE, *columns)
        await consumer.commit()
