"""Idempotent, batch-wise event consumption with one dead-letter path for every service: the live
runner of the pipeline in :mod:`shared.kernel.pipeline` (decode -> route -> dedupe -> apply).

For each batch of records a consumer takes from Kafka:

1. Each record is decoded and validated by the consumer's own ``decode`` (FastStream is told to
   leave the bytes alone, so no record can fail the batch before this step). A record that can
   never be processed (not JSON, nested too deeply, invalid envelope or payload, unknown type,
   region different from the topic's region) is a dead letter.
2. In ONE database transaction: the dead letters are published to ``<topic>.dlq`` (original key,
   value, timestamp and header bytes, plus ``x-dlq-*`` headers) and recorded under an id derived
   from their position, so a redelivered batch does not publish them twice; the events the consumer
   handles are applied and ``(consumer, event_id)`` is recorded in ``processed_events``; events
   already recorded are skipped. So a redelivered event is never applied twice.
3. Only after that transaction commits are the batch's Kafka offsets committed (explicit offsets,
   sent while the next batch is taken: :class:`OffsetCommits`). A crash in between redelivers the
   batch, and step 2 absorbs it.

Faults are told apart by their cause:

- **The database is unavailable** (connection lost, server shutting down, timeouts, deadlocks):
  not the message's fault. Nothing is dead-lettered; every partition of the batch is rewound to
  its first record and the batch is taken again after a growing pause (at most
  ``max_database_wait_seconds``), for as long as the outage lasts. ``/ready`` is false meanwhile
  and ``kotaku_consumer_waiting_for_database`` is 1 (alert ``KotakuConsumerWaitingForDatabase``).
- **The dead-letter topic cannot be written** (broker trouble): the batch is rewound likewise.
- **Applying the batch fails otherwise**: its events are retried one by one with bounded
  exponential backoff; an event that still fails (or raises :class:`PermanentError`) is
  dead-lettered with the error, and the partition moves on. A consumer never blocks forever on
  one message, and never dead-letters a message because of an outage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from shared.kernel import faults
from shared.kernel.db import Conn, database_unavailable
from shared.kernel.logs import correlation_id
from shared.kernel.metrics import Metrics
from shared.kernel.pipeline import (
    RECORD_PROCESSED,
    Consumer,
    Message,
    PermanentError,
    Poison,
    apply_batch,
    decode_batch,
    record_processed,
    routes,
)
from shared.kernel.topics import dlq_topic

__all__ = [
    "RECORD_PROCESSED",
    "BatchProcessor",
    "Consumer",
    "ConsumerContext",
    "DatabaseUnavailable",
    "KafkaDeadLetters",
    "Message",
    "PermanentError",
    "backlog_pause",
    "dead_letter_headers",
    "hold_fetch_while_busy",
    "prune_processed_events",
    "rewind",
    "run_pruning",
    "subscribe",
]

log = logging.getLogger(__name__)


PRUNE_PROCESSED = """
DELETE FROM processed_events WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM processed_events WHERE processed_at < now() - make_interval(days => $1) LIMIT $2
))
"""


async def prune_processed_events(db: asyncpg.Pool | Conn, retention_days: int, *, chunk: int = 10_000) -> int:
    """Forget event ids older than ``retention_days``, a chunk per transaction so that no
    consumer waits long on the table; returns how many rows went. The reasoning behind the window
    is in docs/architecture.md ("Deduplication window")."""
    removed = 0
    while True:
        status = await db.execute(PRUNE_PROCESSED, retention_days, chunk)
        count = int(status.split()[-1])
        removed += count
        if count < chunk:
            return removed


async def run_pruning(pool: asyncpg.Pool, retention_days: int, every_seconds: float = 600.0) -> None:
    """Prune ``processed_events`` now and then, until cancelled; outages are waited out."""
    while True:
        try:
            removed = await prune_processed_events(pool, retention_days)
            if removed:
                log.info("processed_events pruned", extra={"rows": removed, "older_than_days": retention_days})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.log(
                logging.INFO if database_unavailable(exc) else logging.ERROR,
                "pruning processed_events failed; trying again later",
                exc_info=exc,
            )
        await asyncio.sleep(every_seconds)


class DeadLetterSink(Protocol):
    """Where dead letters go: Kafka in production (see :class:`KafkaDeadLetters`)."""

    async def send(self, record: ConsumerRecord[Any, Any], headers: list[tuple[str, bytes]]) -> None: ...


class KafkaDeadLetters:
    """Writes a dead letter to ``<topic>.dlq`` with the record's key, value, timestamp and header
    bytes exactly as they arrived, plus the ``x-dlq-*`` headers; returns once Kafka confirmed it."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send(self, record: ConsumerRecord[Any, Any], headers: list[tuple[str, bytes]]) -> None:
        await self.producer.send_and_wait(
            dlq_topic(record.topic),
            value=record.value,
            key=record.key,
            timestamp_ms=record.timestamp,
            headers=[*(record.headers or ()), *headers],
        )


def dead_letter_headers(
    record: ConsumerRecord[Any, Any], reason: str, detail: str, consumer: str
) -> list[tuple[str, bytes]]:
    """The ``x-dlq-*`` headers a dead letter carries besides its original ones: why (a stable
    reason code and a detail), who gave up on it, and where it came from."""
    return [
        ("x-dlq-reason", reason.encode()),
        ("x-dlq-detail", detail.encode()[:2000]),
        ("x-dlq-consumer", consumer.encode()),
        ("x-dlq-original-topic", record.topic.encode()),
        ("x-dlq-original-partition", str(record.partition).encode()),
        ("x-dlq-original-offset", str(record.offset).encode()),
        ("x-dlq-original-timestamp", str(record.timestamp).encode()),
        ("x-dlq-failed-at", datetime.now(UTC).isoformat().encode()),
    ]


class _Unstarted:
    async def send(self, record: ConsumerRecord[Any, Any], headers: list[tuple[str, bytes]]) -> None:
        raise RuntimeError("no dead-letter producer: the consumer context was built without one")


CAP_SYS_NICE = 23  # the capability that lets a process take back a priority it gave up


def may_raise_priority(status: Path = Path("/proc/self/status")) -> bool:
    """Whether this process may lower its threads' nice value again (Linux ``CAP_SYS_NICE``)."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_NICE & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


class BacklogPriority:
    """The CPU priority of a consuming process's event loop while any of its consumers works off a
    backlog (``backlog_events`` behind): ``nice`` steps lower, and back once none does, so that where
    regions' processes share cores a catch-up runs on the time the fresh regions leave (the local
    stack; docs/reporting.md, "Processes"). Linux keeps a nice value per thread: it is the event
    loop's thread that is lowered. A process that could not take the priority back (no
    ``CAP_SYS_NICE``) never lowers it: it would stay low after the catch-up."""

    def __init__(self, nice: int, *, permitted: bool | None = None) -> None:
        allowed = may_raise_priority() if permitted is None else permitted
        if nice and not allowed:
            log.info("backlog priority off: this process could not raise its priority again", extra={"nice": nice})
        self.nice = nice if allowed else 0
        self._behind: set[str] = set()
        self._thread: int | None = None
        self._base = 0

    @property
    def lowered(self) -> bool:
        return bool(self.nice and self._behind)

    def note(self, consumer: str, in_backlog: bool) -> None:
        """Before each batch of ``consumer`` (name and region): whether it is working off a backlog."""
        if not self.nice:
            return
        was = self.lowered
        if in_backlog:
            self._behind.add(consumer)
        else:
            self._behind.discard(consumer)
        if self.lowered == was:
            return
        if self._thread is None:
            self._thread = threading.get_native_id()
            self._base = os.getpriority(os.PRIO_PROCESS, self._thread)
        value = min(19, self._base + self.nice) if self.lowered else self._base
        try:
            os.setpriority(os.PRIO_PROCESS, self._thread, value)
        except OSError as exc:
            log.warning("backlog priority off: it could not be changed", extra={"error": repr(exc)})
            self.nice = 0


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
    dead_letters: DeadLetterSink = field(default_factory=_Unstarted)
    max_database_wait_seconds: float = 5.0
    # Share of the time a consumer working off a backlog (backlog_events behind) may spend applying
    # it; after each such batch it pauses so that other regions on the same cores stay fresh.
    backlog_duty: float = 1.0
    backlog_events: int = 2000  # this many events behind is a backlog (see backlog_pause)
    # one per process: lowers the event loop's priority while any consumer works off a backlog
    backlog_priority: BacklogPriority = field(default_factory=lambda: BacklogPriority(0, permitted=False))
    # one per process: when commits made without waiting for the disk are on it (None: every
    # consumer's transactions wait for the disk)
    durability: Durability | None = None


class DatabaseUnavailable(Exception):
    """The database cannot do the work right now: the batch is rewound and retried as it is."""


# Dead letters are recorded in ``processed_events`` under an id derived from the record's position,
# in the same transaction that publishes them, so a batch that is rewound and delivered again
# (database outage, crash before the offset commit) does not dead-letter the same record twice.
DEAD_LETTER_NAMESPACE = uuid.UUID("0b6f0f4e-52a4-4b8e-9a57-3c1f2d9e8a44")


def dead_letter_id(consumer: str, record: ConsumerRecord[Any, Any]) -> uuid.UUID:
    return uuid.uuid5(DEAD_LETTER_NAMESPACE, f"{consumer}/{record.topic}/{record.partition}/{record.offset}")


class BatchProcessor:
    """Processes record batches for one consumer in one region."""

    def __init__(self, consumer: Consumer, region: str, ctx: ConsumerContext) -> None:
        self.consumer = consumer
        self.region = region
        self.ctx = ctx
        m = ctx.metrics
        self._labels = (m.service, consumer.name, region)
        self.routes = routes([consumer], [region], ctx.topic_prefix)
        # a batch without dead letters commits without waiting for the disk, if the consumer allows
        # it and the process knows when such commits are on disk
        self.unflushed = consumer.commit_unflushed and ctx.durability is not None

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> bool:
        """Apply or dead-letter every record of ``records``. Raises :class:`DatabaseUnavailable`
        (nothing of the batch may be considered done) or a Kafka error from the dead-letter topic;
        the caller then rewinds the batch. Returning means every record was applied, found a
        duplicate, ignored or dead-lettered; it returns whether a transaction of the batch committed
        without waiting for the disk (its offsets must wait for :class:`Durability`)."""
        started = time.perf_counter()
        unflushed = False
        decoded = decode_batch(records, self.routes)
        pairs = decoded.routed.get(self.consumer.name, [])
        poison = decoded.poison
        for message_type in decoded.ignored.get(self.consumer.name, ()):
            self._count(message_type, "ignored")
        batch_failed: Exception | None = None
        if poison:
            try:
                async with self.ctx.pool.acquire() as conn, conn.transaction():
                    claimed = await self._claim(conn, poison)
                    counts: tuple[list[Message], list[Message]] = ([], [])
                    if pairs:
                        try:
                            async with conn.transaction():  # a savepoint: a failing batch keeps the claims
                                counts = await self._apply(conn, [m for _, m in pairs])
                        except Exception as exc:
                            if database_unavailable(exc):
                                raise
                            batch_failed = exc
                    # last before the commit, so that an outage met earlier publishes nothing
                    await self._publish(claimed)
                self._counted(counts)
            except Exception as exc:
                if database_unavailable(exc):
                    raise DatabaseUnavailable(repr(exc)) from exc
                raise
        elif pairs:
            # No dead letters to keep: a failing batch rolls back as a whole, without a savepoint
            # (two round trips fewer for every batch).
            try:
                async with self.ctx.pool.acquire() as conn, conn.transaction():
                    counts = await self._apply(conn, [m for _, m in pairs], unflushed=self.unflushed)
                self._counted(counts)
                unflushed = self.unflushed
            except Exception as exc:
                if database_unavailable(exc):
                    raise DatabaseUnavailable(repr(exc)) from exc
                batch_failed = exc
        if batch_failed is not None:
            log.warning(
                "batch failed; applying its events one by one",
                extra={"consumer": self.consumer.name, "events": len(pairs), "error": repr(batch_failed)},
            )
            for record, message in pairs:
                await self._apply_with_retries(record, message)  # each committed to disk
        self.ctx.metrics.batch_duration.labels(self.ctx.metrics.service, self.consumer.name).observe(
            time.perf_counter() - started
        )
        return unflushed

    async def _apply(
        self, conn: Conn, messages: Sequence[Message], *, unflushed: bool = False
    ) -> tuple[list[Message], list[Message]]:
        """Apply the messages not yet processed by this consumer, on ``conn`` inside its
        transaction (committed without waiting for the disk if ``unflushed``); returns (applied,
        duplicates) for counting once the transaction committed."""
        return await apply_batch(conn, self.consumer, messages, unflushed=unflushed)

    def _counted(self, counts: tuple[list[Message], list[Message]]) -> None:
        fresh, duplicates = counts
        now = datetime.now(UTC)
        for message in fresh:
            self._count(message.message_type, "applied")
            self.ctx.metrics.pipeline_latency.labels(
                self.ctx.metrics.service, self.consumer.name, message.message_type
            ).observe(max(0.0, (now - message.recorded_at).total_seconds()))
        for message in duplicates:
            self._count(message.message_type, "duplicate")

    async def _apply_with_retries(self, record: ConsumerRecord[Any, Any], event: Message) -> None:
        token = correlation_id.set(str(event.correlation_id))
        try:
            for attempt in range(1, self.ctx.retry_attempts + 1):
                try:
                    async with self.ctx.pool.acquire() as conn, conn.transaction():
                        counts = await self._apply(conn, [event])
                    self._counted(counts)
                    return
                except PermanentError as exc:
                    await self._dead_letter_alone(Poison(record, exc.reason, exc.detail, event.message_type))
                    return
                except Exception as exc:
                    if database_unavailable(exc):
                        raise DatabaseUnavailable(repr(exc)) from exc
                    if attempt == self.ctx.retry_attempts:
                        log.error(
                            "event failed after %d attempts; dead-lettering it",
                            attempt,
                            extra={"event_id": str(event.dedupe_id)},
                            exc_info=exc,
                        )
                        await self._dead_letter_alone(
                            Poison(record, "processing_failed", repr(exc)[:1000], event.message_type)
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

    async def _dead_letter_alone(self, poison: Poison) -> None:
        try:
            async with self.ctx.pool.acquire() as conn, conn.transaction():
                await self._publish(await self._claim(conn, [poison]))
        except Exception as exc:
            if database_unavailable(exc):
                raise DatabaseUnavailable(repr(exc)) from exc
            raise

    async def _claim(self, conn: Conn, poison: Sequence[Poison]) -> list[Poison]:
        """Record the dead letters in ``conn``'s transaction; returns those not recorded by an
        earlier delivery of the batch. They must be published before that transaction commits: if
        it does not commit, the batch is delivered again and they are claimed (and sent) again."""
        if not poison:
            return []
        ids = [dead_letter_id(self.consumer.name, p.record) for p in poison]
        fresh = await record_processed(conn, self.consumer.name, ids)
        return [item for item, item_id in zip(poison, ids, strict=True) if item_id in fresh]

    async def _publish(self, poison: Sequence[Poison]) -> None:
        for item in poison:
            record = item.record
            await self.ctx.dead_letters.send(
                record, dead_letter_headers(record, item.reason, item.detail, self.consumer.name)
            )
            self.ctx.metrics.dead_letters.labels(*self._labels, item.reason).inc()
            self._count(item.message_type, "dead_lettered")
            log.warning(
                "message dead-lettered",
                extra={
                    "consumer": self.consumer.name,
                    "reason": item.reason,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                },
            )

    def _count(self, event_type: str, outcome: str) -> None:
        self.ctx.metrics.events_consumed.labels(*self._labels, event_type, outcome).inc()


def rewind(consumer: Any, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
    """Seek every partition of ``records`` back to its earliest record in them, so that the next
    fetch delivers the whole batch again and no partition's offset moves past an unfinished record."""
    earliest: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        earliest[tp] = min(record.offset, earliest.get(tp, record.offset))
    for tp, offset in earliest.items():
        try:
            consumer.seek(tp, offset)
        except IllegalStateError:
            # revoked by a rebalance meanwhile: its new owner starts from the committed offset,
            # which is still before these records
            log.info("partition revoked before it could be rewound", extra={"partition": str(tp)})


async def parse_batch(records: tuple[ConsumerRecord[Any, Any], ...], original: Callable[..., Awaitable[Any]]) -> Any:
    """FastStream batch parser that survives any record: FastStream's own parser decodes header
    values as UTF-8 (a record with other bytes would fail the whole batch). It is given copies
    without such headers; the handler gets the original records in ``raw_message``."""
    safe = tuple(_decodable(record) for record in records)
    message = await original(safe)
    message.raw_message = records
    return message


def _decodable(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    headers = list(record.headers or ())
    kept = []
    for key, value in headers:
        try:
            value.decode()
        except (UnicodeDecodeError, AttributeError):
            continue
        kept.append((key, value))
    return record if len(kept) == len(headers) else dataclasses.replace(record, headers=kept)


async def as_message(message: Any) -> Any:
    """FastStream batch decoder that hands the handler the message itself, bytes untouched:
    decoding is the consumer's own ``decode`` (FastStream's would ``json.loads`` every body and
    fail the batch on a record nested too deeply), and the handler needs the records and their
    consumer, not a body."""
    return message


# aiokafka (0.14) fetches from a broker again while a batch of that broker's records is still being
# processed, once those records are ``prefetch_backoff`` (100 ms) old: for every partition except
# those whose records wait. When those other partitions are quiet, the broker holds that fetch up to
# ``fetch_max_wait_ms``, and the partitions just handed over cannot be fetched before it returns
# (one fetch in flight per broker). So a region's busy stream stalled for up to half a second after
# any batch that took more than 100 ms (make bench: produce-to-visible p99.9 600-800 ms, in stalls
# of one region at a time). Holding the next fetch until the batch is taken makes it ask for every
# partition, the busy ones too, and it returns at once. The consumer has no parameter for it, so it
# is set on its fetcher (tests/unit/test_consumer_plumbing.py pins the attribute).
HOLD_FETCH_SECONDS = 5.0

# What a consumer with ``gather_ms`` (Consumer) waits for the broker to have before its fetch
# returns: a few hundred events.
GATHER_BYTES = 256 * 1024


def hold_fetch_while_busy(kafka_consumer: Any, seconds: float = HOLD_FETCH_SECONDS) -> None:
    """Let ``kafka_consumer`` fetch again only once the records it fetched were taken (or after
    ``seconds``); see :data:`HOLD_FETCH_SECONDS`. Without a fetcher (not started) nothing changes."""
    fetcher = getattr(kafka_consumer, "_fetcher", None)
    if fetcher is not None and getattr(fetcher, "_prefetch_backoff", seconds) != seconds:
        fetcher._prefetch_backoff = seconds


def poll_without_idle_pause(subscriber: Any, timeout_ms: int, max_records: int) -> None:
    """Make a FastStream batch ``subscriber`` wait for records only inside ``getmany``.

    FastStream (0.7) sleeps ``batch_timeout_ms`` again after every empty poll: an event that arrives
    in a quiet region during that sleep waits for it to end, so every burst's first events were late
    by up to the poll time (make bench, docs/reporting.md). ``getmany`` itself returns as soon as a
    record is fetched, so the sleep adds only delay. Here a poll that found nothing sleeps only the
    rest of its timeout when ``getmany`` returned early (a rebalance under way), so an idle consumer
    never spins. The subscriber's loop calls ``self.get_msg``; the instance attribute replaces it
    (tests/unit/test_consumer_plumbing.py pins that FastStream still calls it)."""
    timeout = timeout_ms / 1000

    async def get_msg(kafka_consumer: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
        started = time.monotonic()
        fetched = await kafka_consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        if fetched:
            return tuple(record for records in fetched.values() for record in records)
        if (left := timeout - (time.monotonic() - started)) > 0:
            await asyncio.sleep(left)
        return ()

    subscriber.get_msg = get_msg


def next_offsets(records: Sequence[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
    """The offsets to commit once ``records`` are done: per partition, the one after its last record."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


# The server's WAL position as written and as flushed to disk (bytes from its start), and when the
# server started: a restart since a commit may have lost a commit that was not yet on disk.
WAL_POSITIONS = """
SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS written,
       (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint AS flushed,
       pg_postmaster_start_time() AS started
"""


class Durability:
    """When transactions that committed without waiting for the disk (``synchronous_commit = off``,
    see ``Consumer.commit_unflushed``) are on it.

    One per process. :meth:`after_commit`, called as soon as a transaction committed, gives a future:
    ``True`` once the server's WAL is flushed past that commit, ``False`` if the server restarted in
    between (a crash loses commits that were not yet flushed; the caller must take those records
    again). One query serves every waiter: the WAL written so far when it is sent is past every commit
    made before, so a waiter registered then is durable once a later answer has flushed that far. The
    WAL writer flushes within ``wal_writer_delay`` (200 ms by default), so that is how long offsets wait.
    """

    def __init__(self, pool: asyncpg.Pool, every: float = 0.05) -> None:
        self.pool = pool
        self.every = every
        self.started: datetime | None = None  # the server's start time at the last answer
        self._new: list[tuple[datetime | None, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def prime(self) -> None:
        """Learn the server's start time (at start-up, before any commit)."""
        _, _, self.started = await self._positions()

    async def _positions(self) -> tuple[int, int, datetime]:
        """WAL written, WAL flushed, server start time."""
        row = await self.pool.fetchrow(WAL_POSITIONS)
        assert row is not None  # one row, always
        return int(row["written"]), int(row["flushed"]), row["started"]

    def after_commit(self) -> asyncio.Future[bool]:
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._new.append((self.started, waiter))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="durability")
        return waiter

    async def _watch(self) -> None:
        # (WAL position the commit is before, server start time when it committed, waiter)
        pending: list[tuple[int, datetime | None, asyncio.Future[bool]]] = []
        while self._new or pending:
            new, self._new = self._new, []  # registered before the query is sent: committed before it
            try:
                written, flushed, server_started = await self._positions()
            except Exception as exc:
                if not database_unavailable(exc):
                    log.warning("WAL position could not be read; retrying", extra={"error": repr(exc)})
                self._new[:0] = new
                await asyncio.sleep(0.5)
                continue
            self.started = server_started
            pending += [(written, started, waiter) for started, waiter in new]
            waiting: list[tuple[int, datetime | None, asyncio.Future[bool]]] = []
            for target, started, waiter in pending:
                if waiter.done():
                    continue
                if started != server_started:
                    waiter.set_result(False)
                elif flushed >= target:
                    waiter.set_result(True)
                else:
                    waiting.append((target, started, waiter))
            pending = waiting
            if pending or self._new:
                await asyncio.sleep(self.every)


class OffsetCommits:
    """A consumer's offset commits, sent while the next batches are taken.

    A commit took as long as applying a batch (make bench: 6 ms at p50, 12 ms at p99, against 5.5 and
    19 ms for a read-model batch), and every record that arrived meanwhile waited for both. The
    batch's effects are committed in PostgreSQL with their dedupe ids before its offsets are sent, so
    an offset that does not reach Kafka (a crash, a rebalance, a broker error) only brings records
    again, which are skipped as duplicates. Each commit names its offsets (never "wherever the
    consumer is", which may already be past the next, unapplied batch), and one task sends them, one
    commit at a time and in order: the offsets of the batches done meanwhile go out together next.

    A batch whose transaction committed without waiting for the disk comes with its
    :meth:`Durability.after_commit`: its offsets go out only once it is on disk. If it never gets
    there (the server restarted), the offsets waiting are dropped and every partition goes back to its
    first record not yet committed to Kafka, at once (an idle consumer too); the dedupe table skips
    what did survive. A batch taken before that (``epoch``) and done after it has its offsets
    dropped too: its records come again, or a later batch's commit covers them."""

    def __init__(self, consumer: str, region: str) -> None:
        self.consumer, self.region = consumer, region
        self.epoch = 0  # rewinds so far
        self._pending: dict[TopicPartition, int] = {}  # offsets of batches done, not yet sent
        self._durable: list[asyncio.Future[bool]] = []  # whether those batches are on disk
        self._first: dict[TopicPartition, int] = {}  # per partition, its first offset not committed to Kafka
        self._task: asyncio.Task[None] | None = None

    def send(
        self,
        kafka_consumer: Any,
        records: Sequence[ConsumerRecord[Any, Any]],
        durable: asyncio.Future[bool] | None = None,
        epoch: int | None = None,
    ) -> None:
        """Commit the offsets after ``records`` (done), once ``durable`` is (if given) and the
        commits before are answered; nothing if they were taken before a rewind (``epoch``)."""
        if epoch is not None and epoch != self.epoch:
            return
        for record in records:
            self._first.setdefault(TopicPartition(record.topic, record.partition), record.offset)
        for tp, offset in next_offsets(records).items():
            self._pending[tp] = max(offset, self._pending.get(tp, 0))
        if durable is not None:
            self._durable.append(durable)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._send_all(kafka_consumer))

    async def settled(self) -> None:
        """Wait until every offset given is sent and answered (or dropped by a rewind)."""
        while self._task is not None and not self._task.done():
            await self._task

    def _rewind(self, kafka_consumer: Any) -> None:
        """A batch never reached the disk: every partition back to its first record not committed."""
        self.epoch += 1
        self._pending, self._durable = {}, []
        log.warning(
            "PostgreSQL restarted before a batch was on disk; taking the records after the committed offsets again",
            extra={"consumer": self.consumer, "region": self.region, "partitions": len(self._first)},
        )
        for tp, offset in self._first.items():
            try:
                kafka_consumer.seek(tp, offset)
            except IllegalStateError:  # revoked meanwhile: its new owner starts from the committed offset
                log.info("partition revoked before it could be rewound", extra={"partition": str(tp)})
        self._first.clear()

    async def _send_all(self, kafka_consumer: Any) -> None:
        while self._pending:
            offsets, durable = self._pending, self._durable
            self._pending, self._durable = {}, []
            if durable and not all(await asyncio.gather(*durable)):
                self._rewind(kafka_consumer)
                return
            try:
                await kafka_consumer.commit(offsets)
            except Exception as exc:
                # The effects are committed and deduplicated by id: if the offsets did not reach Kafka,
                # the records come again and are acknowledged as duplicates.
                log.warning(
                    "offset commit failed; the batch will be redelivered and skipped as duplicates",
                    extra={"consumer": self.consumer, "region": self.region, "error": repr(exc)},
                )
            else:
                self._first.update(offsets)


def backlog_pause(busy_seconds: float, behind: int, backlog: int, duty: float) -> float:
    """How long to pause after a batch that took ``busy_seconds`` and left the consumer ``behind``
    events short of its partitions' ends. From ``backlog`` events behind, this region is working off
    a backlog (an import, a catch-up after an outage), not a training's burst: pausing in proportion
    to the work keeps it to at most ``duty`` of the time, so that the other regions on the same
    cores stay fresh. Otherwise no pause."""
    if behind < backlog or duty >= 1.0:
        return 0.0
    return busy_seconds * (1 / duty - 1)


def events_behind(kafka_consumer: Any, records: Sequence[ConsumerRecord[Any, Any]]) -> int:
    """How many events the partitions of ``records`` hold after them, by the high watermarks of the
    latest fetches (a partition whose watermark is not known yet counts none)."""
    behind = 0
    for tp, after in next_offsets(records).items():
        try:
            highwater = kafka_consumer.highwater(tp)
        except Exception:  # revoked meanwhile, or not a real consumer
            highwater = None
        if highwater is not None:
            behind += max(0, highwater - after)
    return behind


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
    waiting = ctx.metrics.consumer_waiting.labels(ctx.metrics.service, consumer.name, region)
    backoff = ctx.retry_backoff_seconds
    holding = False  # waiting for the database
    commits = OffsetCommits(consumer.name, region)

    async def on_batch(message: KafkaMessage) -> None:
        nonlocal backoff, holding
        hold_fetch_while_busy(message.consumer)
        records = message.raw_message
        if not isinstance(records, tuple):
            records = (records,)
        if not records:
            return
        epoch = commits.epoch
        limited = ctx.backlog_duty < 1.0 or bool(ctx.backlog_priority.nice)
        behind = events_behind(message.consumer, records) if limited else 0
        # Lowered before the batch, not after it: the first batch of a backlog is as heavy as the rest.
        ctx.backlog_priority.note(on_batch.__name__, behind >= ctx.backlog_events)
        started = time.perf_counter()
        try:
            unflushed = await processor.process(records)
        except DatabaseUnavailable as exc:
            # Not the message's fault: nothing is dead-lettered. The batch is rewound and taken
            # again after a pause, as long as it takes; /ready is false meanwhile (the database
            # check) and kotaku_consumer_waiting_for_database says who waits.
            if not holding:  # log once per outage, not per retry
                holding = True
                log.warning(
                    "database unavailable; holding the partitions until it is back",
                    extra={"consumer": consumer.name, "region": region, "error": str(exc)[:300]},
                )
            waiting.set(1)
            ctx.metrics.consumer_database_waits.labels(ctx.metrics.service, consumer.name, region).inc()
            rewind(message.consumer, records)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, ctx.max_database_wait_seconds)
            return
        except Exception:
            # The dead-letter topic could not be written (broker trouble): rewind and retry the
            # batch later rather than commit past messages that were neither applied nor parked.
            log.exception(
                "batch could not be completed; it will be redelivered",
                extra={"consumer": consumer.name, "region": region},
            )
            rewind(message.consumer, records)
            await asyncio.sleep(ctx.retry_backoff_seconds)
            return
        if holding:
            holding = False
            log.info("database back; consuming again", extra={"consumer": consumer.name, "region": region})
            waiting.set(0)
        backoff = ctx.retry_backoff_seconds
        durable = ctx.durability.after_commit() if unflushed and ctx.durability is not None else None
        faults.hit(faults.CONSUMER_AFTER_COMMIT)
        commits.send(message.consumer, records, durable, epoch)
        busy = time.perf_counter() - started
        if pause := backlog_pause(busy, behind, ctx.backlog_events, ctx.backlog_duty):
            await asyncio.sleep(pause)

    on_batch.__name__ = f"{consumer.name}_{region}".replace(".", "_").replace("-", "_")
    subscriber = broker.subscriber(
        *topics,
        group_id=f"{ctx.topic_prefix}{consumer.name}.{region}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=max_records,
        # The broker holds a fetch up to fetch_max_wait_ms while it has nothing (any record ends the
        # wait), or, for a consumer that gathers its batches, until GATHER_BYTES have arrived.
        batch_timeout_ms=ctx.poll_ms,
        fetch_max_wait_ms=consumer.gather_ms or ctx.fetch_max_wait_ms,
        fetch_min_bytes=GATHER_BYTES if consumer.gather_ms else 1,
        parser=parse_batch,
        decoder=as_message,
        title=f"{consumer.name}.{region}",
    )
    subscriber(on_batch)
    poll_without_idle_pause(subscriber, ctx.poll_ms, max_records)
