"""Rebuild every reporting read model from the event log, then swap it in atomically.

    python -m services.reporting rebuild [--batch-size N] [--no-progress] [--drop-previous]

1. Shadow tables: ``<schema>_rebuild.<table>`` for every read-model table and for the dedupe table
   ``processed_events``, created ``LIKE`` the live ones (same columns, constraints and indexes).
2. Bulk replay: a plain aiokafka consumer (no group, nothing committed) reads every configured
   region's topics from the beginning up to their end offsets at the start, decodes each record as
   the live consumers do, deduplicates by event id into the shadow ``processed_events`` and applies
   the events with the same projection code (without the derived tables), with a progress bar.
   The derived tables are then computed once.
3. Catch-up: the records that arrived meanwhile are applied the way the live consumers do.
4. Swap, in ONE transaction: ``LOCK processed_events`` (every live batch starts by inserting into
   it, so from here no live batch is in flight or can start), apply the last records up to the end
   offsets read under the lock, then move the live tables to ``<schema>_previous`` and the shadow
   tables into the live schema. The API keeps reading the old tables until the commit.

Why the live consumers neither skip nor double-apply after the swap (docs/reporting.md has more):
every event a live consumer applied before the swap was read by it from the log, so it lies below
the end offsets read under the lock, and the rebuild applied it too; every event the rebuild applied
beyond a live consumer's position is in the swapped-in ``processed_events``, so when the live
consumer reaches it, it is acknowledged as a duplicate. Consumer group offsets are not touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from services.reporting.decoding import decode
from services.reporting.kafka import partitions_of
from services.reporting.projections import DEDUPE_TABLE, PROJECTIONS, READ_MODEL_TABLES, Projection
from shared.envelope import Event, RejectedMessage
from shared.logs import configure_logging
from shared.settings import Settings, load_settings

log = logging.getLogger(__name__)

SCHEMA = "reporting"
SWAP_LOCK_TIMEOUT = "10s"
SWAP_ATTEMPTS = 5


def shadow_schema(schema: str = SCHEMA) -> str:
    return f"{schema}_rebuild"


def previous_schema(schema: str = SCHEMA) -> str:
    return f"{schema}_previous"


@dataclass
class RebuildReport:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    rejected: int = 0
    failed: int = 0
    bulk_records: int = 0
    bulk_seconds: float = 0.0
    derive_seconds: float = 0.0
    catchup_records: int = 0
    swap_seconds: float = 0.0
    seconds: float = 0.0
    partitions: int = 0
    swap_attempts: int = 0

    @property
    def bulk_rate(self) -> float:
        return self.bulk_records / self.bulk_seconds if self.bulk_seconds else 0.0


@dataclass(frozen=True)
class Route:
    region: str
    projections: tuple[Projection, ...]


@dataclass
class Work:
    """Decoded events of one fetch, per projection."""

    by_projection: dict[str, list[Event[Any]]] = field(default_factory=dict)
    records: int = 0


def routes(regions: Sequence[str], prefix: str) -> dict[str, Route]:
    """Topic -> its region and the projections that read it."""
    out: dict[str, Route] = {}
    for region in regions:
        for projection in PROJECTIONS:
            for stream in projection.consumer.streams:
                topic = stream.topic(region, prefix)
                known = out.get(topic)
                out[topic] = Route(region, (*(known.projections if known else ()), projection))
    return out


async def create_shadow(conn: asyncpg.Connection, schema: str) -> None:
    shadow, previous = shadow_schema(schema), previous_schema(schema)
    await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
    await conn.execute(f'DROP SCHEMA IF EXISTS "{previous}" CASCADE')
    await conn.execute(f'CREATE SCHEMA "{shadow}"')
    for table in (*READ_MODEL_TABLES, DEDUPE_TABLE):
        await conn.execute(f'CREATE TABLE "{shadow}"."{table}" (LIKE "{schema}"."{table}" INCLUDING ALL)')
        options = await conn.fetchval(RELOPTIONS, f'"{schema}"."{table}"')
        if options:  # LIKE does not copy storage parameters such as fillfactor
            await conn.execute(f'ALTER TABLE "{shadow}"."{table}" SET ({", ".join(options)})')
    await conn.execute(f'CREATE UNLOGGED TABLE "{shadow}".{STAGING} ({STAGING_DDL})')


RELOPTIONS = "SELECT reloptions FROM pg_class WHERE oid = $1::regclass"
# Like shared.consumer's RECORD_PROCESSED, but returns only the ids that were already recorded
# (usually none), which spares decoding every fresh id of a large batch.
RECORD_PROCESSED_DUPLICATES = """
WITH fresh AS (
    INSERT INTO processed_events (consumer, event_id)
    SELECT $1, unnest($2::uuid[])
    ON CONFLICT DO NOTHING
    RETURNING event_id
)
SELECT id AS event_id FROM unnest($2::uuid[]) AS id EXCEPT SELECT event_id FROM fresh
"""
DECODE_CHUNK = 500

# The bulk replay does not deduplicate batch by batch: every projection is last-writer-wins by
# (occurred_at, event_id), so applying an event twice changes nothing, and what is counted (the
# derived tables, freshness) is computed at the end. It stages (consumer, event id, region, time)
# of each event with COPY instead, and builds the dedupe table and the freshness from that.
STAGING = "rebuild_events"
STAGING_COLUMNS = ("consumer", "event_id", "region", "occurred_at")
STAGING_DDL = "consumer text NOT NULL, event_id uuid NOT NULL, region text NOT NULL, occurred_at timestamptz NOT NULL"
# One sort of the staged events gives both the dedupe table and the freshness per region.
FINISH_STAGED = """
WITH d AS (
    SELECT DISTINCT ON (consumer, event_id) consumer, event_id, region, occurred_at
    FROM rebuild_events ORDER BY consumer, event_id
), recorded AS (
    INSERT INTO processed_events (consumer, event_id) SELECT consumer, event_id FROM d
)
INSERT INTO region_freshness (consumer, region, newest_event_at, last_applied_at, events_applied)
SELECT consumer, region, max(occurred_at), now(), count(*) FROM d GROUP BY consumer, region
"""
STAGED = "SELECT count(*) FROM rebuild_events"
PRIMARY_KEY = (
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'"
)
APPLIED = "SELECT coalesce(sum(events_applied), 0) FROM region_freshness"
BIG_SORTS = "SET LOCAL work_mem = '256MB'"
DROP_STAGING = "DROP TABLE rebuild_events"


def shard_of(event: Event[Any], shards: int) -> int:
    """Events of one aggregate (training, facilitator, org unit) always go to the same writer, so
    concurrent writers never touch the same rows."""
    p = event.payload
    key = getattr(p, "training_id", None) or getattr(p, "facilitator_id", None)
    if isinstance(key, uuid.UUID):
        return key.int % shards
    return zlib.crc32(p.key().encode()) % shards


class Replayer:
    """Reads partitions up to given offsets and applies them to the shadow tables, with one writer
    (connection) per shard of aggregates. Decoding the next fetch overlaps with the writers."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        conns: Sequence[asyncpg.Connection],
        routes_: dict[str, Route],
        report: RebuildReport,
        batch_size: int,
    ) -> None:
        self.consumer = consumer
        self.conns = list(conns)
        self.routes = routes_
        self.report = report
        self.batch_size = batch_size
        self.by_name = {p.consumer.name: p for p in PROJECTIONS}

    async def _decode(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Work]:
        shards = len(self.conns)
        works = [Work() for _ in range(shards)]
        works[0].records = len(records)
        for n, record in enumerate(records, 1):
            if n % DECODE_CHUNK == 0:
                await asyncio.sleep(0)  # let the writers send their next statements meanwhile
            route = self.routes[record.topic]
            try:
                event = decode(record.value, route.region)
            except RejectedMessage:
                self.report.rejected += 1
                continue
            work = works[shard_of(event, shards)] if shards > 1 else works[0]
            for projection in route.projections:
                handles = projection.consumer.handles
                if handles is None or event.message_type in handles:
                    work.by_projection.setdefault(projection.consumer.name, []).append(event)
                else:
                    self.report.ignored += 1
        return works

    async def _apply(self, conn: asyncpg.Connection, work: Work, *, derive: bool) -> None:
        try:
            async with conn.transaction():
                for name, events in work.by_projection.items():
                    await self._apply_events(conn, self.by_name[name], events, derive=derive)
        except (asyncpg.PostgresError, ValueError) as exc:
            # As the live consumer does: apply one by one; what still fails is skipped and counted
            # (the live consumer would have dead-lettered it).
            log.warning("rebuild batch failed; applying its events one by one", extra={"error": repr(exc)})
            for name, events in work.by_projection.items():
                for event in events:
                    try:
                        async with conn.transaction():
                            await self._apply_events(conn, self.by_name[name], [event], derive=derive)
                    except (asyncpg.PostgresError, ValueError) as one:
                        self.report.failed += 1
                        log.error(
                            "event skipped by the rebuild",
                            extra={"event_id": str(event.envelope.event_id), "error": repr(one)},
                        )

    async def _apply_events(
        self, conn: asyncpg.Connection, projection: Projection, events: Sequence[Event[Any]], *, derive: bool
    ) -> None:
        if not derive:  # bulk: stage, apply (idempotent), count at the end
            name = projection.consumer.name
            await conn.copy_records_to_table(
                STAGING,
                records=[(name, e.envelope.event_id, e.envelope.region, e.envelope.occurred_at) for e in events],
                columns=STAGING_COLUMNS,
            )
            await projection.apply(conn, events, derive=False, lock=False)
            return
        ids = [e.envelope.event_id for e in events]
        seen = {r["event_id"] for r in await conn.fetch(RECORD_PROCESSED_DUPLICATES, projection.consumer.name, ids)}
        fresh: list[Event[Any]] = []
        for event in events:  # a repeat inside the batch is a duplicate too, as in shared.consumer
            if event.envelope.event_id not in seen:
                seen.add(event.envelope.event_id)
                fresh.append(event)
        self.report.duplicates += len(events) - len(fresh)
        if fresh:
            # derived rows are per training / per facilitator bucket: the shards keep trainings
            # apart; facilitator totals are increments, safe from two writers.
            await projection.apply(conn, fresh, derive=True, lock=len(self.conns) > 1)
            self.report.applied += len(fresh)

    async def replay(self, until: dict[TopicPartition, int], *, derive: bool, progress: Progress | None = None) -> int:
        """Apply every record up to ``until`` (and whatever else the last fetches brought)."""
        queues: list[asyncio.Queue[Work | None]] = [asyncio.Queue(maxsize=2) for _ in self.conns]
        task_id = None
        if progress is not None:
            total = 0
            for tp, end in until.items():
                total += max(0, end - await self.consumer.position(tp))
            task_id = progress.add_task("replaying", total=total)

        async def write(conn: asyncpg.Connection, queue: asyncio.Queue[Work | None]) -> None:
            while (work := await queue.get()) is not None:
                if work.by_projection:
                    await self._apply(conn, work, derive=derive)
                if progress is not None and task_id is not None and work.records:
                    progress.advance(task_id, work.records)

        writers = [asyncio.create_task(write(c, q)) for c, q in zip(self.conns, queues, strict=True)]
        read = 0
        try:
            remaining = {tp for tp, end in until.items() if await self.consumer.position(tp) < end}
            while remaining:
                fetched = await self.consumer.getmany(*remaining, timeout_ms=1000, max_records=self.batch_size)
                records = [r for part in fetched.values() for r in part]
                if records:
                    read += len(records)
                    self.report.records += len(records)
                    for queue, work in zip(queues, await self._decode(records), strict=True):
                        await queue.put(work)
                if any(w.done() for w in writers):
                    break
                for tp in list(remaining):
                    if await self.consumer.position(tp) >= until[tp]:
                        remaining.discard(tp)
            for queue in queues:
                await queue.put(None)
            await asyncio.gather(*writers)
        finally:
            for writer in writers:
                if not writer.done():
                    writer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await writer
        return read


def _swap_statements(schema: str) -> Iterator[str]:
    shadow, previous = shadow_schema(schema), previous_schema(schema)
    yield f'CREATE SCHEMA "{previous}"'
    for table in (*READ_MODEL_TABLES, DEDUPE_TABLE):
        yield f'ALTER TABLE "{schema}"."{table}" SET SCHEMA "{previous}"'
        yield f'ALTER TABLE "{shadow}"."{table}" SET SCHEMA "{schema}"'
    yield f'DROP SCHEMA "{shadow}"'


COPY_OTHER_CONSUMERS = """
INSERT INTO {shadow}.processed_events SELECT * FROM {schema}.processed_events
WHERE consumer <> ALL($1::text[]) ON CONFLICT DO NOTHING
"""


async def rebuild(
    settings: Settings,
    *,
    schema: str = SCHEMA,
    batch_size: int = 5000,
    progress: bool = True,
    drop_previous: bool = False,
    writers: int = 2,
) -> RebuildReport:
    report = RebuildReport()
    started = time.perf_counter()
    # Decoding allocates millions of short-lived objects: fewer cyclic GC passes (nothing here
    # builds reference cycles at that rate) save a third of the CPU time.
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    dsn = settings.database_url.get_secret_value()
    shadow = shadow_schema(schema)
    admin = await asyncpg.connect(dsn, server_settings={"search_path": schema, "application_name": "kotaku-rebuild"})
    conns = [
        await asyncpg.connect(dsn, server_settings={"search_path": shadow, "application_name": "kotaku-rebuild-writer"})
        for _ in range(max(1, writers))
    ]
    work = conns[0]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="kotaku-reporting-rebuild",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    try:
        await create_shadow(admin, schema)
        await consumer.start()
        routes_ = routes(settings.regions, settings.topic_prefix)
        admin_client = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="kotaku-rebuild")
        await admin_client.start()
        try:
            partitions = await partitions_of(admin_client, list(routes_))
        finally:
            await admin_client.close()
        missing = sorted(set(routes_) - {tp.topic for tp in partitions})
        if missing:
            log.warning("topics not found; nothing to replay from them", extra={"topics": missing})
        report.partitions = len(partitions)
        consumer.assign(partitions)
        if partitions:
            await consumer.seek_to_beginning(*partitions)
        replayer = Replayer(consumer, conns, routes_, report, batch_size)
        bar = _progress_bar() if progress else None

        # 1. bulk replay up to the end offsets at the start, then the derived tables once
        bulk_started = time.perf_counter()
        with bar or contextlib.nullcontext():
            report.bulk_records = await replayer.replay(
                await _end_offsets(consumer, partitions), derive=False, progress=bar
            )
        report.bulk_seconds = time.perf_counter() - bulk_started
        derive_started = time.perf_counter()
        async with work.transaction():
            await work.execute(BIG_SORTS)
            for projection in PROJECTIONS:
                await projection.derive_all(work)
            staged = int(await work.fetchval(STAGED))
            # Loading a million rows into a B-tree one by one is slower than building it afterwards
            # by a sort: drop the (still empty) dedupe table's key and put it back, same name.
            key = await work.fetchrow(PRIMARY_KEY, f'"{shadow}"."{DEDUPE_TABLE}"')
            assert key is not None
            await work.execute(f'ALTER TABLE "{shadow}"."{DEDUPE_TABLE}" DROP CONSTRAINT "{key[0]}"')
            await work.execute(FINISH_STAGED)
            await work.execute(f'ALTER TABLE "{shadow}"."{DEDUPE_TABLE}" ADD CONSTRAINT "{key[0]}" {key[1]}')
            distinct = int(await work.fetchval(APPLIED))
            report.applied += distinct
            report.duplicates += staged - distinct
            await work.execute(DROP_STAGING)
        for table in READ_MODEL_TABLES:  # fresh tables have no statistics yet
            await work.execute(f'ANALYZE "{shadow}"."{table}"')
        report.derive_seconds = time.perf_counter() - derive_started
        report.bulk_seconds += report.derive_seconds
        _say(progress, f"replayed {report.bulk_records:,} records in {report.bulk_seconds:.1f}s")

        # 2. catch up without blocking anyone
        report.catchup_records += await replayer.replay(await _end_offsets(consumer, partitions), derive=True)

        # 3. swap under the dedupe table's lock
        swap_started = time.perf_counter()
        names = [p.consumer.name for p in PROJECTIONS]
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            report.swap_attempts = attempt
            try:
                async with admin.transaction():
                    await admin.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
                    await admin.execute(f"LOCK TABLE {schema}.{DEDUPE_TABLE} IN ACCESS EXCLUSIVE MODE")
                    report.catchup_records += await replayer.replay(
                        await _end_offsets(consumer, partitions), derive=True
                    )
                    await admin.execute(COPY_OTHER_CONSUMERS.format(shadow=shadow, schema=schema), names)
                    for statement in _swap_statements(schema):
                        await admin.execute(statement)
                break
            except asyncpg.LockNotAvailableError:
                if attempt == SWAP_ATTEMPTS:
                    raise
                log.warning("swap could not take its locks in time; retrying", extra={"attempt": attempt})
                await asyncio.sleep(1.0)
        report.swap_seconds = time.perf_counter() - swap_started
        if drop_previous:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{previous_schema(schema)}" CASCADE')
    finally:
        await consumer.stop()
        for conn in conns:
            await conn.close()
        await admin.close()
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    report.seconds = time.perf_counter() - started
    return report


async def _end_offsets(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    if not partitions:
        return {}
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    return ends


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]rebuild[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def _say(enabled: bool, text: str) -> None:
    if enabled:
        print(text, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.reporting rebuild",
        description="Replay every configured region's topics into fresh read-model tables and swap them in.",
    )
    parser.add_argument("--batch-size", type=int, default=5000, help="records per fetch and transaction")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--drop-previous", action="store_true", help=f"drop the replaced tables (kept in {previous_schema()} otherwise)"
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging("reporting", settings.log_level)
    report = asyncio.run(
        rebuild(settings, batch_size=args.batch_size, progress=not args.no_progress, drop_previous=args.drop_previous)
    )
    print(
        f"rebuild: {report.records:,} records from {report.partitions} partitions, {report.applied:,} events applied, "
        f"{report.duplicates:,} duplicates, {report.ignored:,} ignored, {report.rejected:,} rejected, "
        f"{report.failed:,} failed; bulk {report.bulk_rate:,.0f} records/s; swapped in {report.swap_seconds:.2f}s "
        f"(total {report.seconds:.1f}s)"
    )
    if report.failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
