"""The one consumption pipeline: decode -> route -> dedupe -> apply.

Every consumer of every service goes through these steps, and so does the reporting rebuild:

1. **decode** (:func:`decode_batch`): each record's bytes become a :class:`Message` through the
   decoder of the consumers reading its topic, or a :class:`Poison` with the reason it can never be
   processed (not JSON, nested too deeply, invalid envelope or payload, unknown type, region other
   than the topic's).
2. **route**: a message goes to every consumer of its topic whose ``handles`` include its type;
   the others count it as ignored.
3. **dedupe** and 4. **apply** (:func:`apply_batch`), in the caller's transaction, in one of two
   modes:

   - ``LIVE``: ``(consumer, dedupe id)`` is inserted into ``processed_events``; only the messages
     inserted now (not seen before, first of a repeat within the batch) reach ``Consumer.apply``.
   - ``BULK`` (a rebuild into empty tables): the ids are staged by ``COPY`` into a
     :class:`BulkDedupe` table and the messages go to ``Consumer.bulk_apply``, which must give the
     same rows whatever the order and however often a message comes (last writer wins by version).
     :meth:`BulkDedupe.finish` then fills ``processed_events`` with one sort and returns, per
     (consumer, region), the distinct messages and the newest ``occurred_at``; the consumers'
     ``derive_all`` compute what ``apply`` would have derived batch by batch.

The live runner around this (Kafka subscription, transactions, retries, dead letters, offsets) is
:mod:`shared.kernel.consumer`; the rebuild is ``services/reporting/entrypoints/rebuild.py``.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiokafka import ConsumerRecord

from shared.kernel.db import Conn, indexes_dropped
from shared.kernel.envelope import Event, RejectedMessage, decode_event
from shared.kernel.topics import Stream


class Message(Protocol):
    """Anything a consumer processes: a canonical event, or an intake message from a regional system."""

    @property
    def dedupe_id(self) -> uuid.UUID: ...
    @property
    def message_type(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def correlation_id(self) -> uuid.UUID: ...


Apply = Callable[[Conn, Sequence[Any]], Awaitable[None]]
Decode = Callable[[bytes | None, str], Message]
Derive = Callable[[Conn], Awaitable[None]]
# The advisory locks a batch's writes take: (lock class, keys), see ``Consumer.locks``.
Locks = Callable[[Sequence[Any]], tuple[int, Sequence[str]]]


def _decode_event(raw: bytes | None, topic_region: str) -> Event[Any]:
    return decode_event(raw, topic_region=topic_region)


class PermanentError(Exception):
    """Raised by an apply function for an event that will never succeed (e.g. it refers to an
    unknown entity): the event is dead-lettered at once, without retries."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Consumer:
    """A named consumer: which streams it reads, which message types it applies, and how.

    Messages of other types on the same streams are acknowledged and counted as ``ignored``.
    ``decode`` turns raw bytes into a :class:`Message` or raises :class:`RejectedMessage`
    (dead letter); canonical events use :func:`shared.kernel.envelope.decode_event`.
    The consumer group is ``<name>.<region>``: one group (and one Kafka consumer) per region, so
    a backlog in one region never delays another.

    A consumer that can be rebuilt from the log in bulk also gives ``bulk_apply`` (idempotent,
    order-free, without derived state) and ``derive_all`` (the derived state, computed once), and
    may give ``bulk_begin``, run once on the rebuild's connection before the first ``bulk_apply``
    (e.g. to create the staging tables its ``derive_all`` merges).

    A consumer whose batches must not interleave with another writer's batches over the same
    aggregates (replicas of one group reading different partitions) gives ``locks``: the lock class
    and the keys of a batch's messages. The live dedupe statement takes those transaction-scoped
    advisory locks, in sorted order, before it records the ids: one round trip for both.

    A consumer whose transactions have no effect outside the database but its offsets (a read
    model: no outbox, no dead letters in the batch) sets ``commit_unflushed``: a batch's transaction
    then commits without waiting for the disk (``synchronous_commit = off``, set by the dedupe
    statement), and its offsets are committed only once the server's WAL is flushed past it
    (:class:`shared.kernel.consumer.Durability`). A server crash can lose such a commit, never the
    records: their offsets were not committed, and they are taken again.

    A consumer whose effects nobody watches as they happen (statements for a learning record store)
    sets ``gather_ms``: the broker then holds each fetch until a batch's worth of records arrived or
    ``gather_ms`` passed (:data:`shared.kernel.consumer.GATHER_BYTES`), so it runs few large batches
    instead of many small ones and leaves the cores to the consumers people wait on.
    """

    name: str
    streams: tuple[Stream, ...]
    handles: frozenset[str] | None  # None: every message type
    apply: Apply
    decode: Decode = _decode_event
    bulk_apply: Apply | None = None
    derive_all: Derive | None = None
    bulk_begin: Derive | None = None
    gather_ms: int = 0
    locks: Locks | None = None
    commit_unflushed: bool = False

    def takes(self, message_type: str) -> bool:
        return self.handles is None or message_type in self.handles


# -- decode and route ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """A topic's region and the consumers that read it (they decode alike)."""

    region: str
    consumers: tuple[Consumer, ...]

    @property
    def decode(self) -> Decode:
        return self.consumers[0].decode


def routes(consumers: Sequence[Consumer], regions: Sequence[str], topic_prefix: str) -> dict[str, Route]:
    """Topic -> its :class:`Route`, for ``consumers`` in ``regions``."""
    out: dict[str, Route] = {}
    for region in regions:
        for consumer in consumers:
            for stream in consumer.streams:
                topic = stream.topic(region, topic_prefix)
                known = out.get(topic)
                if known is not None and known.decode is not consumer.decode:
                    raise ValueError(
                        f"consumers of {topic} decode differently: {known.consumers[0].name}, {consumer.name}"
                    )
                out[topic] = Route(region, (*(known.consumers if known else ()), consumer))
    return out


@dataclass(frozen=True)
class Poison:
    """A record that can never be processed, and why."""

    record: ConsumerRecord[Any, Any]
    reason: str
    detail: str
    message_type: str = "undecoded"


@dataclass
class Decoded:
    """A batch of records after decode and route."""

    # consumer name -> (record, message) in log order
    routed: dict[str, list[tuple[ConsumerRecord[Any, Any], Message]]] = field(default_factory=dict)
    poison: list[Poison] = field(default_factory=list)
    # consumer name -> message types it was given but does not handle
    ignored: dict[str, list[str]] = field(default_factory=dict)


def decode_batch(records: Sequence[ConsumerRecord[Any, Any]], routes_: Mapping[str, Route]) -> Decoded:
    """Steps 1 and 2 for a batch: each record decoded once, routed to its consumers."""
    out = Decoded()
    for record in records:
        route = routes_[record.topic]
        try:
            message = route.decode(record.value, route.region)
        except RejectedMessage as exc:
            out.poison.append(Poison(record, exc.reason, exc.detail))
            continue
        except RecursionError:  # a decoder that does not catch it itself: the JSON nests too deeply
            out.poison.append(Poison(record, "too_deep", "the JSON nests too deeply to be parsed"))
            continue
        for consumer in route.consumers:
            if consumer.takes(message.message_type):
                out.routed.setdefault(consumer.name, []).append((record, message))
            else:
                out.ignored.setdefault(consumer.name, []).append(message.message_type)
    return out


# -- dedupe and apply ----------------------------------------------------------------------------


class Mode(enum.Enum):
    LIVE = "live"
    BULK = "bulk"


RECORD_PROCESSED = """
INSERT INTO processed_events (consumer, event_id)
SELECT $1, unnest($2::uuid[])
ON CONFLICT DO NOTHING
RETURNING event_id
"""


# The live dedupe statement: RECORD_PROCESSED after the batch's advisory locks ($3: lock class,
# $4: keys, none when empty; taken in sorted order, so two writers never wait on each other in a
# cycle) and, if $5, with the transaction set to commit without waiting for the disk. The insert's
# rows join the one row of ``prelude``, so no id is recorded before every lock is held.
RECORD_PROCESSED_LIVE = """
WITH prelude AS (
    SELECT (SELECT count(pg_advisory_xact_lock($3::int, hashtext(k)))
            FROM (SELECT DISTINCT unnest($4::text[]) AS k ORDER BY 1) AS keys) AS locked,
           CASE WHEN $5::boolean THEN set_config('synchronous_commit', 'off', true) END AS commit_mode
)
INSERT INTO processed_events (consumer, event_id)
SELECT $1, id FROM unnest($2::uuid[]) AS id, prelude
ON CONFLICT DO NOTHING
RETURNING event_id
"""


async def record_processed(
    conn: Conn,
    consumer: str,
    ids: Sequence[uuid.UUID],
    locks: tuple[int, Sequence[str]] | None = None,
    *,
    unflushed: bool = False,
) -> set[uuid.UUID]:
    """Insert ``(consumer, id)`` into ``processed_events``, first taking ``locks`` (lock class,
    keys) when given, and setting the transaction to commit without waiting for the disk if
    ``unflushed``; returns the ids that were new."""
    if locks is None and not unflushed:
        rows = await conn.fetch(RECORD_PROCESSED, consumer, list(ids))
    else:
        lock_class, keys = locks or (0, ())
        rows = await conn.fetch(RECORD_PROCESSED_LIVE, consumer, list(ids), lock_class, list(keys), unflushed)
    return {r["event_id"] for r in rows}


async def dedupe(
    conn: Conn, consumer: str, messages: Sequence[Message], locks: Locks | None = None, *, unflushed: bool = False
) -> tuple[list[Message], list[Message]]:
    """Step 3 (live): (fresh, duplicates), after taking the batch's ``locks`` if any. A repeat
    inside the batch is a duplicate too."""
    fresh_ids = await record_processed(
        conn,
        consumer,
        [m.dedupe_id for m in messages],
        None if locks is None else locks(messages),
        unflushed=unflushed,
    )
    fresh: list[Message] = []
    duplicates: list[Message] = []
    for message in messages:
        if message.dedupe_id in fresh_ids:
            fresh_ids.discard(message.dedupe_id)
            fresh.append(message)
        else:
            duplicates.append(message)
    return fresh, duplicates


@dataclass(frozen=True)
class BulkSummary:
    consumer: str
    region: str
    newest_occurred_at: datetime
    messages: int


class BulkDedupe:
    """Bulk-mode dedupe: message ids staged by ``COPY`` into an unlogged table beside an empty
    ``processed_events``, which :meth:`finish` fills in one sort. Both live in the connection's
    ``search_path`` (the rebuild's shadow schema)."""

    TABLE = "pipeline_staged"
    COLUMNS = ("consumer", "event_id", "region", "occurred_at")
    CREATE = (
        "CREATE UNLOGGED TABLE pipeline_staged "
        "(consumer text NOT NULL, event_id uuid NOT NULL, region text NOT NULL, occurred_at timestamptz NOT NULL)"
    )
    # DISTINCT ON sorts once, by the id first: a uuid sorts by abbreviated keys, the consumer's name
    # (text) by the collation, so leading with the id takes a fifth of the time. The indexes of
    # processed_events are dropped meanwhile (building a B-tree by one sort afterwards is faster than
    # a million inserts into it) and put back, same names.
    FINISH = """
    WITH d AS (
        SELECT DISTINCT ON (event_id, consumer) consumer, event_id, region, occurred_at
        FROM pipeline_staged ORDER BY event_id, consumer
    ), recorded AS (
        INSERT INTO processed_events (consumer, event_id) SELECT consumer, event_id FROM d
    )
    SELECT consumer, region, max(occurred_at) AS newest, count(*) AS n FROM d GROUP BY consumer, region
    """
    STAGED = "SELECT count(*) FROM pipeline_staged"

    @classmethod
    async def create(cls, conn: Conn) -> None:
        await conn.execute(cls.CREATE)

    @classmethod
    async def stage(
        cls, conn: Conn, consumer: str, region_of: Callable[[Message], str], messages: Sequence[Message]
    ) -> None:
        await conn.copy_records_to_table(
            cls.TABLE,
            records=[(consumer, m.dedupe_id, region_of(m), m.occurred_at) for m in messages],
            columns=cls.COLUMNS,
        )

    @classmethod
    async def finish(cls, conn: Conn) -> tuple[int, list[BulkSummary]]:
        """Fill ``processed_events`` from the staged ids and drop the staging table; returns how
        many ids were staged and, per (consumer, region), the distinct messages."""
        staged = int(await conn.fetchval(cls.STAGED))
        async with indexes_dropped(conn, "processed_events"):
            rows = await conn.fetch(cls.FINISH)
        await conn.execute(f"DROP TABLE {cls.TABLE}")
        return staged, [BulkSummary(r["consumer"], r["region"], r["newest"], int(r["n"])) for r in rows]


async def apply_batch(
    conn: Conn,
    consumer: Consumer,
    messages: Sequence[Message],
    *,
    mode: Mode = Mode.LIVE,
    region_of: Callable[[Message], str] | None = None,
    unflushed: bool = False,
) -> tuple[list[Message], list[Message]]:
    """Steps 3 and 4 on ``conn``, inside the caller's transaction; returns (applied, duplicates).
    In ``BULK`` mode duplicates are known only at :meth:`BulkDedupe.finish`: every message is
    returned as applied."""
    if mode is Mode.BULK:
        if consumer.bulk_apply is None or region_of is None:
            raise ValueError(f"{consumer.name} has no bulk mode (bulk_apply), or no region_of was given")
        await BulkDedupe.stage(conn, consumer.name, region_of, messages)
        await consumer.bulk_apply(conn, messages)
        return list(messages), []
    fresh, duplicates = await dedupe(conn, consumer.name, messages, consumer.locks, unflushed=unflushed)
    if fresh:
        await consumer.apply(conn, fresh)
    return fresh, duplicates
