"""Idempotent, batch-wise event consumption with one dead-letter path for every service.

For each batch of records a consumer takes from Kafka:

1. Each record is decoded and validated (:func:`shared.envelope.decode_event`). A record that can
   never be processed (not JSON, invalid envelope or payload, unknown type, region different from
   the topic's region) goes straight to ``<topic>.dlq`` with the reason in headers.
2. The events the consumer handles are applied in ONE database transaction that also records
   ``(consumer, event_id)`` in ``processed_events``; events already recorded are skipped. So a
   redelivered event is never applied twice.
3. Only after that transaction commits are the Kafka offsets committed (manual ack). A crash in
   between redelivers the batch, and step 2 absorbs it.

If applying a batch fails, its events are retried one by one with bounded exponential backoff;
an event that still fails (or raises :class:`PermanentError`) is dead-lettered with the error, and
the partition moves on. A consumer never blocks forever on one message.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from shared import faults
from shared.db import Conn
from shared.envelope import Event, RejectedMessage, decode_event
from shared.logs import correlation_id
from shared.metrics import Metrics
from shared.topics import Stream, dlq_topic, region_of

log = logging.getLogger(__name__)


class Message(Protocol):
    """Anything a consumer processes: a canonical event, or an intake message from a regional system."""

    @property
    def dedupe_id(self) -> uuid.UUID: ...
    @property
    def message_type(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def correlation_id(self) -> uuid.UUID: ...


Apply = Callable[[Conn, Sequence[Any]], Awaitable[None]]
Decode = Callable[[bytes | None, str], Message]


def _decode_event(raw: bytes | None, topic_region: str) -> Event[Any]:
    return decode_event(raw, topic_region=topic_region)


RECORD_PROCESSED = """
INSERT INTO processed_events (consumer, event_id)
SELECT $1, unnest($2::uuid[])
ON CONFLICT DO NOTHING
RETURNING event_id
"""


class PermanentError(Exception):
    """Raised by an apply function for an event that will never succeed (e.g. it refers to an
    unknown entity): the event is dead-lettered at once, without retries."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Consumer:
    """A named consumer: which streams it reads, which event types it applies, and how.

    Events of other types on the same streams are acknowledged and counted as ``ignored``.
    ``decode`` turns raw bytes into a :class:`Message` or raises :class:`RejectedMessage`
    (dead letter); canonical events use :func:`shared.envelope.decode_event`.
    The consumer group is ``<name>.<region>``: one group (and one Kafka consumer) per region, so
    a backlog in one region never delays another.
    """

    name: str
    streams: tuple[Stream, ...]
    handles: frozenset[str] | None  # None: every message type
    apply: Apply
    decode: Decode = _decode_event


@dataclass(frozen=True)
class ConsumerContext:
    pool: asyncpg.Pool
    broker: KafkaBroker
    metrics: Metrics
    topic_prefix: str
    retry_attempts: int
    retry_backoff_seconds: float
    poll_ms: int = 50
    fetch_max_wait_ms: int = 100


class BatchProcessor:
    """Processes record batches for one consumer in one region."""

    def __init__(self, consumer: Consumer, region: str, ctx: ConsumerContext) -> None:
        self.consumer = consumer
        self.region = region
        self.ctx = ctx
        m = ctx.metrics
        self._labels = (m.service, consumer.name, region)

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        started = time.perf_counter()
        pairs: list[tuple[ConsumerRecord[Any, Any], Message]] = []
        for record in records:
            try:
                message = self.consumer.decode(record.value, region_of(record.topic, self.ctx.topic_prefix))
            except RejectedMessage as exc:
                await self._dead_letter(record, exc.reason, exc.detail, event_type="undecoded")
                continue
            handles = self.consumer.handles
            if handles is None or message.message_type in handles:
                pairs.append((record, message))
            else:
                self._count(message.message_type, "ignored")
        if pairs:
            try:
                await self._apply([event for _, event in pairs])
            except Exception as exc:
                log.warning(
                    "batch failed; applying its events one by one",
                    extra={"consumer": self.consumer.name, "events": len(pairs), "error": repr(exc)},
                )
                for record, event in pairs:
                    await self._apply_with_retries(record, event)
        self.ctx.metrics.batch_duration.labels(self.ctx.metrics.service, self.consumer.name).observe(
            time.perf_counter() - started
        )

    async def _apply(self, messages: Sequence[Message]) -> None:
        ids = [m.dedupe_id for m in messages]
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            fresh_ids = {r["event_id"] for r in await conn.fetch(RECORD_PROCESSED, self.consumer.name, ids)}
            fresh: list[Message] = []
            for message in messages:
                if message.dedupe_id in fresh_ids:
                    fresh_ids.discard(message.dedupe_id)  # a repeat inside the same batch is a duplicate too
                    fresh.append(message)
            if fresh:
                await self.consumer.apply(conn, fresh)
        now = datetime.now(UTC)
        applied = {id(m) for m in fresh}
        for message in messages:
            if id(message) in applied:
                self._count(message.message_type, "applied")
                self.ctx.metrics.pipeline_latency.labels(
                    self.ctx.metrics.service, self.consumer.name, message.message_type
                ).observe(max(0.0, (now - message.recorded_at).total_seconds()))
            else:
                self._count(message.message_type, "duplicate")

    async def _apply_with_retries(self, record: ConsumerRecord[Any, Any], event: Message) -> None:
        token = correlation_id.set(str(event.correlation_id))
        try:
            for attempt in range(1, self.ctx.retry_attempts + 1):
                try:
                    await self._apply([event])
                    return
                except PermanentError as exc:
                    await self._dead_letter(record, exc.reason, exc.detail, event_type=event.message_type)
                    return
                except Exception as exc:
                    if attempt == self.ctx.retry_attempts:
                        log.error(
                            "event failed after %d attempts; dead-lettering it",
                            attempt,
                            extra={"event_id": str(event.dedupe_id)},
                            exc_info=exc,
                        )
                        await self._dead_letter(
                            record, "processing_failed", repr(exc)[:1000], event_type=event.message_type
                        )
                        return
                    self.ctx.metrics.consumer_retries.labels(*self._labels).inc()
                    delay = min(self.ctx.retry_backoff_seconds * 2 ** (attempt - 1), 30.0)
                    log.warning(
                        "applying event failed (attempt %d); retrying in %.1fs",
                        attempt,
                        delay,
                        extra={"event_id": str(event.dedupe_id), "error": repr(exc)},
                    )
                    await asyncio.sleep(delay)
        finally:
            correlation_id.reset(token)

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], reason: str, detail: str, *, event_type: str
    ) -> None:
        headers = dict(record.headers or ())
        headers.update(
            {
                "x-dlq-reason": reason.encode(),
                "x-dlq-detail": detail.encode()[:2000],
                "x-dlq-consumer": self.consumer.name.encode(),
                "x-dlq-original-topic": record.topic.encode(),
                "x-dlq-original-partition": str(record.partition).encode(),
                "x-dlq-original-offset": str(record.offset).encode(),
                "x-dlq-failed-at": datetime.now(UTC).isoformat().encode(),
            }
        )
        # Raw bytes are kept exactly as they arrived; the producer confirms before we move on.
        await self.ctx.broker.publish(
            record.value or b"",
            topic=dlq_topic(record.topic),
            key=record.key,
            headers={k: v.decode("utf-8", "replace") for k, v in headers.items()},
        )
        self.ctx.metrics.dead_letters.labels(*self._labels, reason).inc()
        self._count(event_type, "dead_lettered")
        log.warning(
            "message dead-lettered",
            extra={
                "consumer": self.consumer.name,
                "reason": reason,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
        )

    def _count(self, event_type: str, outcome: str) -> None:
        self.ctx.metrics.events_consumed.labels(*self._labels, event_type, outcome).inc()


def subscribe(
    broker: KafkaBroker, consumer: Consumer, regions: Sequence[str], ctx: ConsumerContext, max_records: int
) -> None:
    """Register one Kafka subscriber per region for ``consumer`` on ``broker``."""
    for region in regions:
        _subscribe_region(broker, consumer, region, ctx, max_records)


def _subscribe_region(
    broker: KafkaBroker, consumer: Consumer, region: str, ctx: ConsumerContext, max_records: int
) -> None:
    processor = BatchProcessor(consumer, region, ctx)
    topics = [stream.topic(region, ctx.topic_prefix) for stream in consumer.streams]

    async def on_batch(message: KafkaMessage) -> None:
        records = message.raw_message
        if not isinstance(records, tuple):
            records = (records,)
        try:
            await processor.process(records)
        except Exception:
            # Only reachable when the dead-letter topic cannot be written: rewind and retry the
            # batch later rather than commit past messages that were neither applied nor parked.
            log.exception(
                "batch could not be completed; it will be redelivered",
                extra={"consumer": consumer.name, "region": region},
            )
            await message.nack()
            await asyncio.sleep(ctx.retry_backoff_seconds)
            return
        faults.hit(faults.CONSUMER_AFTER_COMMIT)
        await message.ack()

    on_batch.__name__ = f"{consumer.name}_{region}".replace(".", "_").replace("-", "_")
    broker.subscriber(
        *topics,
        group_id=f"{ctx.topic_prefix}{consumer.name}.{region}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=max_records,
        # FastStream sleeps batch_timeout_ms after an empty poll; the broker holds a fetch up to
        # fetch_max_wait_ms. Shorter waits measured worse in make bench when one process runs many
        # consumers on 2 cores (docs/reporting.md), so the defaults stay FastStream's.
        batch_timeout_ms=ctx.poll_ms,
        fetch_max_wait_ms=ctx.fetch_max_wait_ms,
        title=f"{consumer.name}.{region}",
    )(on_batch)
