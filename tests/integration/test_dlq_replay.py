"""The dead-letter replay tool (``python -m shared.tools.dlq``) on the real broker.

Dead letters are written here with a plain producer, the way the dead-letter path writes them: the
original value, key, timestamp and headers (duplicate keys and non-UTF-8 bytes included), followed
by the ``x-dlq-*`` headers.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.kernel.topics import dlq_topic
from shared.tools.dlq import list_dead_letters, replay
from shared.tools.kafka_admin import delete_topics, ensure_topics
from tests.integration.conftest import BOOTSTRAP, read_topic

pytestmark = pytest.mark.real

FAILED = "processing_failed"
PAYLOAD = "invalid_payload"
UNKNOWN = "unknown_event_type"
# Some hours old, with milliseconds: far from "now" and far from the broker's 7-day retention.
BASE_TIMESTAMP_MS = (int(time.time()) - 6 * 3600) * 1000 + 417
# A detail cut in the middle of a multi-byte character, as a byte limit on the header does.
CUT_DETAIL = "Gagal menyimpan: kolom provinsi \u201899\u2019".encode()[:-2]


@dataclass(frozen=True)
class Topics:
    origin: str
    dlq: str


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    reason: str
    key: bytes
    value: bytes
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...]


@pytest.fixture
async def topics() -> AsyncIterator[Topics]:
    origin = f"t{uuid.uuid4().hex[:10]}.oc02.registration.facilitator.v1"
    t = Topics(origin, dlq_topic(origin))
    await ensure_topics(BOOTSTRAP, [t.origin, t.dlq], partitions=2)
    try:
        yield t
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(BOOTSTRAP, [t.origin, t.dlq])


async def write_dead_letters(
    producer: AIOKafkaProducer, topics: Topics, plan: Sequence[tuple[int, str]]
) -> list[DeadLetter]:
    """One dead letter per (partition, reason) of ``plan``, in that order."""
    pending = []
    for n, (partition, reason) in enumerate(plan):
        original = (
            ("ce_id", str(uuid.uuid4()).encode()),
            ("ce_type", b"registration.facilitator.registered"),
            ("traceparent", b"\xff\xfe\x00 raw \xc3("),
            ("traceparent", b"a second value under the same key"),
            ("x-custom", b""),
        )
        dlq = (
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-detail", CUT_DETAIL),
            ("x-dlq-consumer", b"reporting.facilitators"),
            ("x-dlq-original-topic", topics.origin.encode()),
            ("x-dlq-original-partition", str(partition).encode()),
            ("x-dlq-original-offset", str(n).encode()),
            ("x-dlq-failed-at", b"2026-01-05T03:04:05.678901+00:00"),
        )
        key, value = f"facilitator-{n}".encode(), b'{"n": %d, "raw": "\xff\xfe"}' % n
        timestamp = BASE_TIMESTAMP_MS + 1000 * n
        future = await producer.send(
            topics.dlq,
            value,
            key=key,
            partition=partition,
            timestamp_ms=timestamp,
            headers=list(original + dlq),
        )
        pending.append((partition, reason, key, value, timestamp, original + dlq, future))
    letters = []
    for partition, reason, key, value, timestamp, headers, future in pending:
        metadata = await future
        letters.append(DeadLetter(partition, metadata.offset, reason, key, value, timestamp, headers))
    return letters


def source(letter: DeadLetter, topics: Topics) -> bytes:
    return f"{topics.dlq}/{letter.partition}@{letter.offset}".encode()


def replayed_from(records: Sequence[ConsumerRecord[bytes, bytes]]) -> Counter[bytes]:
    """How often each dead letter (by its ``x-dlq-replayed-from``) arrived on the original topic."""
    found: Counter[bytes] = Counter()
    for record in records:
        found.update(v for k, v in record.headers if k == "x-dlq-replayed-from")
    return found


def sources(letters: Sequence[DeadLetter], topics: Topics, *reasons: str) -> Counter[bytes]:
    return Counter(source(d, topics) for d in letters if d.reason in reasons)


async def committed(topics: Topics) -> dict[TopicPartition, tuple[int, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(
            f"kotaku.dlq-replay.{topics.dlq}", partitions=[TopicPartition(topics.dlq, p) for p in (0, 1)]
        )
    finally:
        await admin.close()
    return {tp: (o.offset, o.metadata or "") for tp, o in offsets.items() if o.offset >= 0}


async def test_replays_by_reason_then_unfiltered_replay_every_dead_letter_exactly_once(
    topics: Topics, producer: AIOKafkaProducer
) -> None:
    plan = [(0, FAILED), (0, PAYLOAD), (0, FAILED), (0, UNKNOWN), (0, PAYLOAD), (0, FAILED)]
    plan += [(1, PAYLOAD), (1, FAILED), (1, UNKNOWN), (1, UNKNOWN), (1, FAILED), (1, PAYLOAD)]
    letters = await write_dead_letters(producer, topics, plan)

    report = await replay(BOOTSTRAP, topics.dlq, reasons=[FAILED])
    assert (report.replayed, report.skipped) == (5, 7)
    assert replayed_from(await read_topic(topics.origin, expect=5)) == sources(letters, topics, FAILED)

    # What the first run skipped is still there for a run with another reason...
    report = await replay(BOOTSTRAP, topics.dlq, reasons=[PAYLOAD])
    assert (report.replayed, report.skipped) == (4, 3)
    assert replayed_from(await read_topic(topics.origin, expect=9)) == sources(letters, topics, FAILED, PAYLOAD)

    # ...and for one without a filter, which replays only what is left.
    report = await replay(BOOTSTRAP, topics.dlq)
    assert (report.replayed, report.skipped) == (3, 0)
    assert replayed_from(await read_topic(topics.origin, expect=12)) == sources(
        letters, topics, FAILED, PAYLOAD, UNKNOWN
    )

    for reasons in ([], [FAILED], [UNKNOWN]):
        report = await replay(BOOTSTRAP, topics.dlq, reasons=reasons)
        assert (report.replayed, report.skipped) == (0, 0)
    assert len(await read_topic(topics.origin, expect=12, within=1)) == 12


async def test_a_second_run_replays_only_what_arrived_since_and_keeps_what_it_skipped(
    topics: Topics, producer: AIOKafkaProducer
) -> None:
    first = await write_dead_letters(producer, topics, [(0, FAILED), (0, PAYLOAD), (0, FAILED), (1, FAILED)])
    assert (await replay(BOOTSTRAP, topics.dlq, reasons=[FAILED])).replayed == 3
    again = await replay(BOOTSTRAP, topics.dlq, reasons=[FAILED])
    assert (again.replayed, again.skipped) == (0, 1)

    later = await write_dead_letters(producer, topics, [(0, FAILED), (1, PAYLOAD), (1, FAILED)])
    report = await replay(BOOTSTRAP, topics.dlq, reasons=[FAILED])
    assert (report.replayed, report.skipped) == (2, 2)
    assert replayed_from(await read_topic(topics.origin, expect=5)) == sources(first + later, topics, FAILED)

    report = await replay(BOOTSTRAP, topics.dlq)
    assert (report.replayed, report.skipped) == (2, 0)
    assert (await replay(BOOTSTRAP, topics.dlq)).replayed == 0
    assert replayed_from(await read_topic(topics.origin, expect=7)) == sources(first + later, topics, FAILED, PAYLOAD)


async def test_replay_keeps_value_key_timestamp_and_header_bytes_and_list_shows_them(
    topics: Topics, producer: AIOKafkaProducer
) -> None:
    letters = await write_dead_letters(producer, topics, [(1, PAYLOAD), (1, FAILED)])

    assert (await replay(BOOTSTRAP, topics.dlq, reasons=[FAILED])).replayed == 1
    [record] = await read_topic(topics.origin, expect=1)
    dead = letters[1]
    assert (record.key, record.value, record.timestamp) == (dead.key, dead.value, dead.timestamp_ms)
    assert record.timestamp_type == 0  # the producer's (original) time, not the broker's
    kept = [(k, v) for k, v in dead.headers if not k.startswith("x-dlq-")]
    assert list(record.headers) == [*kept, ("x-dlq-replayed-from", source(dead, topics))]
    assert [v for k, v in record.headers if k == "traceparent"] == [
        b"\xff\xfe\x00 raw \xc3(",
        b"a second value under the same key",
    ]

    rows = await list_dead_letters(BOOTSTRAP, topics.dlq)
    assert [(r["offset"], r["reason"], r["replayed"]) for r in rows] == [("0", PAYLOAD, "no"), ("1", FAILED, "yes")]
    for row, letter in zip(rows, letters, strict=True):
        assert row["timestamp"] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(letter.timestamp_ms // 1000)) + (
            f".{letter.timestamp_ms % 1000:03d}+00:00"
        )
        assert row["detail"].startswith("Gagal menyimpan: kolom provinsi")  # cut bytes shown, not a crash
        assert row["original"] == f"{topics.origin}/1@{letters.index(letter)}"


async def test_dry_run_reports_what_would_be_replayed_and_commits_nothing(
    topics: Topics, producer: AIOKafkaProducer
) -> None:
    await write_dead_letters(producer, topics, [(0, FAILED), (0, PAYLOAD), (1, FAILED), (1, UNKNOWN)])

    dry = await replay(BOOTSTRAP, topics.dlq, reasons=[FAILED], dry_run=True)
    assert (dry.replayed, dry.skipped) == (2, 2)
    assert await committed(topics) == {}
    assert await read_topic(topics.origin, expect=0, within=1) == []

    assert (await replay(BOOTSTRAP, topics.dlq, reasons=[FAILED])).replayed == 2
    progress = await committed(topics)
    assert progress

    dry = await replay(BOOTSTRAP, topics.dlq, dry_run=True)
    assert (dry.replayed, dry.skipped) == (2, 0)  # the two skipped ones, not the two replayed
    assert await committed(topics) == progress
    assert len(await read_topic(topics.origin, expect=2, within=2)) == 2

    assert (await replay(BOOTSTRAP, topics.dlq)).replayed == 2
    assert len(await read_topic(topics.origin, expect=4)) == 4


async def test_progress_too_large_for_the_commit_metadata_loses_nothing(
    topics: Topics, producer: AIOKafkaProducer
) -> None:
    # Alternating reasons: after a filtered run every other offset is replayed, more ranges than
    # Kafka's 4096-byte commit metadata can hold.
    letters = await write_dead_letters(producer, topics, [(0, FAILED if n % 2 else PAYLOAD) for n in range(2400)])

    assert (await replay(BOOTSTRAP, topics.dlq, reasons=[FAILED])).replayed == 1200
    [(offset, metadata)] = (await committed(topics)).values()
    assert offset == 0  # the first dead letter was skipped
    assert 0 < len(metadata.encode()) <= 4096

    assert (await replay(BOOTSTRAP, topics.dlq, reasons=[PAYLOAD])).replayed == 1200
    again = (await replay(BOOTSTRAP, topics.dlq)).replayed
    assert 0 < again < 1200  # only what did not fit in the metadata is republished
    assert (await replay(BOOTSTRAP, topics.dlq)).replayed == 0

    seen = replayed_from(await read_topic(topics.origin, expect=2400 + again, within=30))
    assert set(seen) == {source(d, topics) for d in letters}
    repeated = {s for s, n in seen.items() if n > 1}
    assert len(repeated) == again
    assert repeated <= set(sources(letters, topics, FAILED))
    assert all(seen[s] == 1 for s in sources(letters, topics, PAYLOAD))
    # What was repeated is the tail the metadata could not hold, never the beginning.
    first_repeat = min(int(s.rsplit(b"@", 1)[1]) for s in repeated)
    assert all(int(s.rsplit(b"@", 1)[1]) >= first_repeat for s in repeated)
    assert first_repeat > 1000
