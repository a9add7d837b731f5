"""The transactional outbox: the only way a service publishes events.

A use case runs inside a :class:`UnitOfWork`; the events it emits are written to the ``outbox``
table in the same transaction as its state change, so either both happen or neither does. The
:class:`OutboxRelay` publishes unsent rows in id order with ``acks=all`` and an idempotent producer,
and marks them sent only after Kafka confirmed them. A crash between the two steps republishes
the rows: consumers absorb the duplicates by ``event_id``.

Ordering: rows of one aggregate are published in id order. Use cases that change an aggregate
lock its row first (``SELECT ... FOR UPDATE``), so a later event of the same aggregate always gets
a higher id and becomes visible after the earlier one.

Regions: every row carries the OC region of its event. Regional deployments of one service share
its schema, but each may write only its own region's topics (Kafka ACLs), so a relay publishes
only the rows of the regions it serves, one leadership and one publishing loop per region. An
aggregate belongs to one region, so per-region id order is all the ordering consumers need. Rows
of a region that no relay serves wait (they show in the backlog) and delay no other region.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from shared.kernel import faults
from shared.kernel.db import CONNECTION_ERRORS, Conn
from shared.kernel.envelope import Event, EventPayload
from shared.kernel.metrics import Metrics

log = logging.getLogger(__name__)

INSERT_OUTBOX = """
INSERT INTO outbox (event_id, event_type, region, topic, key, headers, body)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bytea[])
"""
SELECT_UNSENT = """
SELECT id, topic, key, headers, body FROM outbox WHERE region = $1 AND sent_at IS NULL ORDER BY id LIMIT $2
"""
MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"
BACKLOG = """
SELECT region, count(*) AS rows, extract(epoch FROM now() - min(created_at))::float8 AS age
FROM outbox WHERE sent_at IS NULL GROUP BY region
"""
PRUNE_SENT = "DELETE FROM outbox WHERE sent_at < now() - make_interval(days => $1)"
# One lock per (schema, region): held by the session of the relay that publishes that region.
TRY_LEADERSHIP = (
    "SELECT pg_try_advisory_lock(hashtextextended('kotaku-outbox-relay-' || current_schema() || '-' || $1, 0))"
)
# Unsent rows older than this are logged (with their region) at most once a minute per region.
STALE_SECONDS = 60.0


async def write_events(conn: Conn, events: Sequence[Event[Any]], topic_prefix: str) -> None:
    """Insert events into the outbox on ``conn`` (which must be inside the caller's transaction)."""
    if not events:
        return
    await conn.execute(
        INSERT_OUTBOX,
        [e.envelope.event_id for e in events],
        [e.envelope.event_type for e in events],
        [e.envelope.region for e in events],
        [e.payload.stream.topic(e.envelope.region, topic_prefix) for e in events],
        [e.key for e in events],
        [json.dumps({**e.headers(), "correlation_id": str(e.envelope.correlation_id)}) for e in events],
        [e.to_bytes() for e in events],
    )


class UnitOfWork:
    """One database transaction plus the events it emits. Use ``Outbox.unit_of_work()``."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.events: list[Event[Any]] = []

    def emit(self, event: Event[EventPayload]) -> None:
        self.events.append(event)


class Outbox:
    def __init__(self, pool: asyncpg.Pool, topic_prefix: str, metrics: Metrics) -> None:
        self.pool = pool
        self.topic_prefix = topic_prefix
        self.metrics = metrics

    @asynccontextmanager
    async def unit_of_work(self, conn: Conn | None = None) -> AsyncIterator[UnitOfWork]:
        """A transaction whose emitted events are written to the outbox when it commits.

        With ``conn``, the unit of work joins that connection's open transaction as a savepoint
        (used by intake consumers, whose dedupe row, effect and events must commit together)."""
        if conn is not None:
            async with conn.transaction():
                uow = UnitOfWork(conn)
                yield uow
                await write_events(conn, uow.events, self.topic_prefix)
        else:
            async with self.pool.acquire() as own, own.transaction():
                uow = UnitOfWork(own)
                yield uow
                await write_events(own, uow.events, self.topic_prefix)
        self._emitted(uow.events)

    async def write_in(self, conn: Conn, events: Sequence[Event[Any]]) -> None:
        """Write ``events`` on ``conn`` as one more statement of the transaction it has open, for a
        caller whose whole work is that transaction (a consumer's batch): no savepoint, which
        :meth:`unit_of_work` would add, and its two round trips."""
        await write_events(conn, events, self.topic_prefix)
        self._emitted(events)

    def _emitted(self, events: Sequence[Event[Any]]) -> None:
        for event in events:
            self.metrics.events_emitted.labels(
                self.metrics.service, event.envelope.event_type, event.envelope.region
            ).inc()


class OutboxRelay:
    """Publishes the outbox rows of ``regions``.

    For each region, one relay per service schema is active at a time (an advisory lock keyed by
    schema and region), which keeps that region's publish order equal to its id order across
    replicas and regional deployments. The locks are held by one database session per process;
    each region the process leads gets its own publishing loop, so a region whose topics cannot be
    written (Kafka down for it, an ACL, a missing topic) retries on its own while the others go on.
    The loops use pooled connections only while they work. If the lock session dies, the loops stop
    at its next check (within ``poll_seconds``); a row that another relay publishes again meanwhile
    is a duplicate with the same ``event_id``, absorbed like any republish.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: Any,
        metrics: Metrics,
        regions: Sequence[str],
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        retention_days: int = 7,
    ) -> None:
        if not regions:
            raise ValueError("an outbox relay needs at least one region")
        self.pool = pool
        self.broker = broker
        self.metrics = metrics
        self.regions = tuple(dict.fromkeys(regions))
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention_days = retention_days
        self._wake = {region: asyncio.Event() for region in self.regions}
        self._last_prune = 0.0
        self._last_stale_log: dict[str, float] = {}

    async def run(self) -> None:
        """Run until cancelled, surviving broker and database outages."""
        backoff = 0.5
        while True:
            try:
                async with self.pool.acquire() as conn:
                    await self._lead(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc, "outbox relay leadership failed; retrying", None)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5

    async def _lead(self, conn: Conn) -> None:
        """Hold the region locks this process wins on ``conn`` and run one publishing loop per
        region held; keep trying the others, report the backlog and prune sent rows. Losing the
        connection releases the locks (another replica takes over) and stops the loops."""
        channel = f"outbox_{await conn.fetchval('SELECT current_schema()')}"
        await conn.add_listener(channel, self._on_notify)
        loops: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                for region in self.regions:
                    if region not in loops and await conn.fetchval(TRY_LEADERSHIP, region):
                        log.info("outbox relay leads a region", extra={"region": region})
                        loops[region] = asyncio.create_task(self._serve(region), name=f"outbox-relay-{region}")
                for task in loops.values():
                    if task.done():
                        task.result()  # a loop only ends by a bug: restart from scratch
                await self._report_backlog(conn)
                if loops and time.monotonic() - self._last_prune > 600:
                    await conn.execute(PRUNE_SENT, self.retention_days)
                    self._last_prune = time.monotonic()
                await asyncio.sleep(self.poll_seconds)
        finally:
            for task in loops.values():
                task.cancel()
            await asyncio.gather(*loops.values(), return_exceptions=True)
            # The pool takes the connection back as it is (no reset): it must not keep the session's
            # locks or LISTEN. If undoing them fails, the connection is closed, which ends both.
            try:
                await conn.remove_listener(channel, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock_all()")
            except BaseException as exc:
                with contextlib.suppress(Exception):  # already gone, or already back in a closed pool
                    conn.terminate()
                if not isinstance(exc, Exception):
                    raise

    async def _serve(self, region: str) -> None:
        """Publish one region's rows until cancelled; failures are retried here, for this region only."""
        wake = self._wake[region]
        backoff = 0.5
        while True:
            try:
                async with self.pool.acquire() as conn:
                    published = await self.publish_pending(conn, region)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc, "outbox relay cycle failed; retrying", region)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            if published < self.batch_size:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self.poll_seconds)

    def _failed(self, exc: Exception, message: str, region: str | None) -> None:
        self.metrics.outbox_errors.labels(self.metrics.service).inc()
        level = logging.WARNING if isinstance(exc, CONNECTION_ERRORS) else logging.ERROR
        log.log(level, message, exc_info=exc, extra={"region": region} if region else None)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, region: object) -> None:
        """New rows of ``region`` (the notification's payload, migration 0005): wake its loop; a
        region served elsewhere is not this relay's. An empty payload (a schema not migrated yet)
        wakes every loop."""
        if region:
            if (wake := self._wake.get(str(region))) is not None:
                wake.set()
            return
        for wake in self._wake.values():
            wake.set()

    async def publish_pending(self, conn: Conn, region: str) -> int:
        """Publish up to one batch of ``region``'s unsent rows in id order; returns how many."""
        rows = await conn.fetch(SELECT_UNSENT, region, self.batch_size)
        if not rows:
            return 0
        # Enqueue every record first (in id order), then wait for all acknowledgements.
        pending = []
        for row in rows:
            headers = json.loads(row["headers"])
            pending.append(
                await self.broker.publish(
                    row["body"],
                    topic=row["topic"],
                    key=row["key"].encode(),
                    headers=headers,
                    correlation_id=headers.get("correlation_id"),
                    no_confirm=True,
                )
            )
        await asyncio.gather(*pending)
        faults.hit(faults.RELAY_AFTER_PUBLISH)
        await conn.execute(MARK_SENT, [row["id"] for row in rows])
        self.metrics.outbox_published.labels(self.metrics.service).inc(len(rows))
        return len(rows)

    async def _report_backlog(self, conn: Conn) -> None:
        """The whole schema's unsent rows, whoever serves them (a region nobody serves shows
        here and in the log, region by region)."""
        backlog = await conn.fetch(BACKLOG)
        self.metrics.outbox_backlog.labels(self.metrics.service).set(sum(r["rows"] for r in backlog))
        self.metrics.outbox_oldest_age.labels(self.metrics.service).set(max((r["age"] for r in backlog), default=0.0))
        now = time.monotonic()
        for row in backlog:
            region = row["region"]
            if row["age"] < STALE_SECONDS or now - self._last_stale_log.get(region, -3600.0) < 60:
                continue
            self._last_stale_log[region] = now
            log.warning(
                "outbox rows of a region wait to be published",
                extra={
                    "region": region,
                    "unsent_rows": row["rows"],
                    "oldest_unsent_age_seconds": round(row["age"], 1),
                    "served_here": region in self.regions,
                },
            )
