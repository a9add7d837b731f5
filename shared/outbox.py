"""The transactional outbox: the only way a service publishes events.

A use case runs inside a :class:`UnitOfWork`; the events it emits are written to the ``outbox``
table in the same transaction as its state change, so either both happen or neither does. The
:class:`OutboxRelay` publishes unsent rows in id order with ``acks=all`` and an idempotent producer,
and marks them sent only after Kafka confirmed them. A crash between the two steps republishes
the rows: consumers absorb the duplicates by ``event_id``.

Ordering: rows of one aggregate are published in id order. Use cases that change an aggregate
lock its row first (``SELECT ... FOR UPDATE``), so a later event of the same aggregate always gets
a higher id and becomes visible after the earlier one.
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

from shared import faults
from shared.db import CONNECTION_ERRORS, Conn
from shared.envelope import Event, EventPayload
from shared.metrics import Metrics

log = logging.getLogger(__name__)

INSERT_OUTBOX = """
INSERT INTO outbox (event_id, event_type, topic, key, headers, body)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[])
"""
SELECT_UNSENT = "SELECT id, topic, key, headers, body FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1"
MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"
BACKLOG = """
SELECT count(*) AS rows, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age
FROM outbox WHERE sent_at IS NULL
"""
PRUNE_SENT = "DELETE FROM outbox WHERE sent_at < now() - make_interval(days => $1)"
TRY_LEADERSHIP = "SELECT pg_try_advisory_lock(hashtext('kotaku-outbox-relay-' || current_schema()))"


async def write_events(conn: Conn, events: Sequence[Event[Any]], topic_prefix: str) -> None:
    """Insert events into the outbox on ``conn`` (which must be inside the caller's transaction)."""
    if not events:
        return
    await conn.execute(
        INSERT_OUTBOX,
        [e.envelope.event_id for e in events],
        [e.envelope.event_type for e in events],
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
        for event in uow.events:
            self.metrics.events_emitted.labels(
                self.metrics.service, event.envelope.event_type, event.envelope.region
            ).inc()


class OutboxRelay:
    """Publishes outbox rows. One relay per service schema is active at a time (advisory lock),
    which keeps the publish order equal to the id order across replicas."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: Any,
        metrics: Metrics,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        retention_days: int = 7,
    ) -> None:
        self.pool = pool
        self.broker = broker
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention_days = retention_days
        self._wake = asyncio.Event()
        self._last_prune = 0.0

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
                self.metrics.outbox_errors.labels(self.metrics.service).inc()
                level = logging.WARNING if isinstance(exc, CONNECTION_ERRORS) else logging.ERROR
                log.log(level, "outbox relay cycle failed; retrying", exc_info=exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5

    async def _lead(self, conn: Conn) -> None:
        while not await conn.fetchval(TRY_LEADERSHIP):  # noqa: ASYNC110 - polling a database lock
            await asyncio.sleep(self.poll_seconds)
        channel = f"outbox_{await conn.fetchval('SELECT current_schema()')}"
        await conn.add_listener(channel, self._on_notify)
        try:
            while True:
                published = await self.publish_pending(conn)
                if published < self.batch_size:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        finally:
            await conn.remove_listener(channel, self._on_notify)
            await conn.execute("SELECT pg_advisory_unlock_all()")

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_pending(self, conn: Conn) -> int:
        rows = await conn.fetch(SELECT_UNSENT, self.batch_size)
        if rows:
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
        backlog = await conn.fetchrow(BACKLOG)
        assert backlog is not None
        self.metrics.outbox_backlog.labels(self.metrics.service).set(backlog["rows"])
        self.metrics.outbox_oldest_age.labels(self.metrics.service).set(backlog["age"])
        if time.monotonic() - self._last_prune > 600:
            await conn.execute(PRUNE_SENT, self.retention_days)
            self._last_prune = time.monotonic()
        return len(rows)
