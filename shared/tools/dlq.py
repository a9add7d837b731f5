"""Inspect and replay dead-letter topics.

    python -m shared.tools.dlq list   <topic>.dlq [--limit N]
    python -m shared.tools.dlq replay <topic>.dlq [--reason CODE]... [--dry-run]

``replay`` republishes each dead letter to the topic it came from (``<topic>``, the dead-letter
topic's name without ``.dlq``), after the cause was fixed, exactly as it was: the same value, key
and timestamp, and the same headers in the same order (duplicate keys and arbitrary bytes kept),
minus the ``x-dlq-*`` headers the dead-letter path added, plus ``x-dlq-replayed-from:
<dlq topic>/<partition>@<offset>``. ``list`` shows every dead letter with its original timestamp,
its reason and whether it was replayed already.

Progress is kept per partition in the consumer group ``kotaku.dlq-replay.<dlq topic>`` and is
committed only after Kafka acknowledged the republished records:

- the committed offset is a low watermark: every dead letter below it was replayed. A run with
  ``--reason`` stops the watermark at the first dead letter it skipped, so skipped dead letters stay
  replayable by a later run (with another reason, or none);
- the dead letters above the watermark that were replayed already are carried in the commit's
  metadata string, so a later run does not republish them. The format is ``dlq1:`` followed by
  comma-separated ``<gap>+<count>`` ranges: from the watermark, skip ``gap`` offsets, then ``count``
  offsets were replayed; the next range counts from the end of the previous one. Kafka refuses
  metadata longer than ``offset.metadata.max.bytes`` (4096 by default), so only the ranges that fit
  in :data:`METADATA_BUDGET` are kept; the dead letters of the ranges left out are republished by a
  later run. Unreadable metadata is ignored the same way.

A republished dead letter is harmless when it was applied meanwhile (consumers deduplicate by
``event_id`` / ``message_id``), so every shortcut above errs on the side of republishing. A dry run
reads the same progress, reports what a real run would do and commits nothing. Two replays of the
same dead-letter topic must not run at the same time (both would republish the same records).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.kernel import kafka as kafka_clients
from shared.kernel.kafka import Kafka
from shared.kernel.topics import DLQ_SUFFIX
from shared.tools.localenv import kafka_bootstrap

DLQ_HEADER_PREFIX = "x-dlq-"
REPLAYED_FROM = "x-dlq-replayed-from"
METADATA_PREFIX = "dlq1:"
METADATA_BUDGET = 4000
"""Characters of commit metadata per partition; Kafka's default limit is 4096 bytes (ASCII here)."""
READ_STALL_SECONDS = 60.0
"""Give up when a partition is behind its end offset and nothing arrives for this long."""

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: int = 0
    already_replayed: int = 0


@dataclass(frozen=True)
class Progress:
    """How far the replay group got on one partition of a dead-letter topic."""

    low: int = 0
    """Every dead letter below this offset was replayed."""
    done: tuple[tuple[int, int], ...] = ()
    """Ranges of offsets (first, last; inclusive, sorted, above ``low``) replayed already."""

    def replayed(self, offset: int) -> bool:
        if offset < self.low:
            return True
        i = bisect.bisect_right(self.done, (offset, sys.maxsize)) - 1
        return i >= 0 and self.done[i][0] <= offset <= self.done[i][1]

    def metadata(self, budget: int = METADATA_BUDGET) -> str:
        """The ``done`` ranges as commit metadata; the ranges that do not fit in ``budget`` are left out."""
        if not self.done:
            return ""
        text, cursor = METADATA_PREFIX, self.low
        for first, last in self.done:
            piece = f"{first - cursor}+{last - first + 1}"
            candidate = text + ("," if text != METADATA_PREFIX else "") + piece
            if len(candidate) > budget:
                break
            text, cursor = candidate, last + 1
        return "" if text == METADATA_PREFIX else text

    @classmethod
    def from_commit(cls, offset: int, metadata: str | None) -> Progress:
        """Inverse of :meth:`metadata`; what cannot be read is dropped (it only causes re-replays)."""
        if not metadata or not metadata.startswith(METADATA_PREFIX):
            return cls(offset)
        done: list[tuple[int, int]] = []
        cursor = offset
        try:
            for piece in metadata[len(METADATA_PREFIX) :].split(","):
                gap, count = (int(n) for n in piece.split("+"))
                if gap < 0 or count < 1:
                    raise ValueError(piece)
                done.append((cursor + gap, cursor + gap + count - 1))
                cursor += gap + count
        except ValueError:
            return cls(offset)
        return cls(offset, tuple(done))

    def after(self, outcomes: Sequence[tuple[int, bool]], position: int) -> Progress:
        """The progress once a run read ``outcomes`` (offset, replayed now or before) up to ``position``.

        ``outcomes`` are every record read from the partition, in offset order. Offsets without a
        record between two replayed ones (transaction markers) are folded into one range.
        """
        low: int | None = None
        done: list[tuple[int, int]] = []
        run: tuple[int, int] | None = None
        for offset, replayed in outcomes:
            if low is None:
                if not replayed:
                    low = offset
                continue
            if replayed:
                run = (run[0], offset) if run else (offset, offset)
            elif run:
                done.append(run)
                run = None
        if run:
            done.append(run)
        if low is None:
            return Progress(max(position, self.low))
        return Progress(low, tuple(done))


def replay_group(topic: str) -> str:
    return f"kotaku.dlq-replay.{topic}"


def _last_header(record: Record, key: str) -> str:
    """The last value of header ``key`` (the dead-letter path appends its own), for display."""
    value = b""
    for k, v in record.headers or ():
        if k == key:
            value = v or b""
    return value.decode("utf-8", "replace")


def _timestamp(record: Record) -> str:
    if record.timestamp is None or record.timestamp < 0:
        return "-"
    return datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="milliseconds")


def replay_headers(record: Record, dlq_topic: str) -> list[tuple[str, bytes | None]]:
    """The original headers, byte for byte and in order, without ``x-dlq-*``, plus where it came from."""
    headers = [(k, v) for k, v in record.headers or () if not k.startswith(DLQ_HEADER_PREFIX)]
    headers.append((REPLAYED_FROM, f"{dlq_topic}/{record.partition}@{record.offset}".encode()))
    return headers


async def partitions_of(bootstrap: Kafka, topic: str) -> list[int]:
    admin = kafka_clients.admin(bootstrap, "kotaku-dlq")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for d in described if d.get("error_code") == 0 for p in d["partitions"])


async def read_progress(bootstrap: Kafka, topic: str, partitions: Sequence[int]) -> dict[int, Progress]:
    """The replay group's progress on each partition (offset 0 where it never committed)."""
    admin = kafka_clients.admin(bootstrap, "kotaku-dlq")
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(
            replay_group(topic), partitions=[TopicPartition(topic, p) for p in partitions]
        )
    finally:
        await admin.close()
    progress = {p: Progress() for p in partitions}
    for tp, commit in committed.items():
        if tp.topic == topic and tp.partition in progress and commit.offset >= 0:
            progress[tp.partition] = Progress.from_commit(commit.offset, commit.metadata)
    return progress


@dataclass
class _Read:
    records: dict[int, list[Record]] = field(default_factory=dict)
    position: dict[int, int] = field(default_factory=dict)


async def _read(
    bootstrap: Kafka, topic: str, group: str | None, start: dict[int, int]
) -> tuple[AIOKafkaConsumer, _Read]:
    """A consumer assigned to every partition of ``topic`` and what it read from ``start`` to the end.

    A start offset below the log start (retention) reads from the log start; one beyond the end
    (the topic was recreated) reads from the beginning and the caller must forget its progress.
    """
    consumer = kafka_clients.consumer(
        bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="kotaku-dlq",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(start)]
        consumer.assign(tps)
        first = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        read = _Read({tp.partition: [] for tp in tps})
        for tp in tps:
            offset = start[tp.partition]
            consumer.seek(tp, first[tp] if offset < first[tp] or offset > end[tp] else offset)
            read.position[tp.partition] = await consumer.position(tp)
        last_progress = time.monotonic()
        while behind := [tp for tp in tps if read.position[tp.partition] < end[tp]]:
            batch = await consumer.getmany(*behind, timeout_ms=1000)
            for tp, records in batch.items():
                read.records[tp.partition].extend(records)
            moved = False
            for tp in behind:
                position = await consumer.position(tp)
                moved = moved or position != read.position[tp.partition]
                read.position[tp.partition] = position
            if moved:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > READ_STALL_SECONDS:
                raise SystemExit(f"could not read {topic} to its end (no progress for {READ_STALL_SECONDS:.0f}s)")
    except BaseException:
        await consumer.stop()
        raise
    return consumer, read


async def _partitions(bootstrap: Kafka, topic: str) -> list[int]:
    partitions = await partitions_of(bootstrap, topic)
    if not partitions:
        raise SystemExit(f"no such topic: {topic}")
    return partitions


async def list_dead_letters(bootstrap: Kafka, topic: str, limit: int = 100) -> list[dict[str, str]]:
    partitions = await _partitions(bootstrap, topic)
    progress = await read_progress(bootstrap, topic, partitions)
    consumer, read = await _read(bootstrap, topic, None, dict.fromkeys(partitions, 0))
    await consumer.stop()
    rows = []
    for r in [r for p in partitions for r in read.records[p]][:limit]:
        rows.append(
            {
                "partition": str(r.partition),
                "offset": str(r.offset),
                "timestamp": _timestamp(r),
                "reason": _last_header(r, "x-dlq-reason"),
                "replayed": "yes" if progress[r.partition].replayed(r.offset) else "no",
                "consumer": _last_header(r, "x-dlq-consumer"),
                "failed_at": _last_header(r, "x-dlq-failed-at"),
                "event_id": _last_header(r, "ce_id") or "-",
                "original": f"{_last_header(r, 'x-dlq-original-topic')}/"
                f"{_last_header(r, 'x-dlq-original-partition')}@{_last_header(r, 'x-dlq-original-offset')}",
                "detail": _last_header(r, "x-dlq-detail")[:200],
            }
        )
    return rows


async def replay(bootstrap: Kafka, topic: str, *, reasons: Sequence[str] = (), dry_run: bool = False) -> ReplayReport:
    if not topic.endswith(DLQ_SUFFIX):
        raise SystemExit(f"{topic} is not a dead-letter topic (*{DLQ_SUFFIX})")
    # The dead-letter path writes the dead letters of <topic> to <topic>.dlq only, so the target is
    # derived from the name rather than taken from a header a producer could have set.
    target = topic[: -len(DLQ_SUFFIX)]
    partitions = await _partitions(bootstrap, topic)
    progress = await read_progress(bootstrap, topic, partitions)
    report = ReplayReport()
    consumer, read = await _read(bootstrap, topic, replay_group(topic), {p: progress[p].low for p in partitions})
    try:
        sends: dict[tuple[int, int], asyncio.Future[Any]] = {}
        outcomes: dict[int, list[tuple[int, bool]]] = {p: [] for p in partitions}
        producer = kafka_clients.reliable_producer(bootstrap, "kotaku-dlq")
        await producer.start()
        try:
            for p in partitions:
                before = progress[p]
                if read.position[p] < before.low:
                    before = progress[p] = Progress()  # the topic was recreated: its progress is void
                for record in read.records[p]:
                    if before.replayed(record.offset):
                        report.already_replayed += 1
                        outcomes[p].append((record.offset, True))
                    elif reasons and _last_header(record, "x-dlq-reason") not in reasons:
                        report.skipped += 1
                        outcomes[p].append((record.offset, False))
                    else:
                        report.replayed += 1
                        outcomes[p].append((record.offset, True))
                        if not dry_run:
                            sends[(p, record.offset)] = await producer.send(
                                target,
                                record.value,
                                key=record.key,
                                headers=replay_headers(record, topic),
                                timestamp_ms=record.timestamp if record.timestamp >= 0 else None,
                            )
            results = await asyncio.gather(*sends.values(), return_exceptions=True)
        finally:
            await producer.stop()
        if dry_run:
            return report
        failed = {key for key, result in zip(sends, results, strict=True) if isinstance(result, BaseException)}
        commits: dict[TopicPartition, tuple[int, str]] = {}
        for p in partitions:
            after = progress[p].after([(o, ok and (p, o) not in failed) for o, ok in outcomes[p]], read.position[p])
            if after != progress[p]:
                commits[TopicPartition(topic, p)] = (after.low, after.metadata())
        if commits:
            await consumer.commit(commits)
        if failed:
            first_error = next(r for r in results if isinstance(r, BaseException))
            raise SystemExit(
                f"{len(failed)} dead letter(s) could not be republished ({first_error!r}); "
                f"the others were replayed and recorded, run replay again"
            )
    finally:
        await consumer.stop()
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.tools.dlq", description="Inspect and replay dead letters.")
    parser.add_argument("--bootstrap", default=kafka_bootstrap())
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="show dead letters with their reasons")
    ls.add_argument("topic")
    ls.add_argument("--limit", type=int, default=100)
    rp = sub.add_parser("replay", help="republish dead letters to their original topic")
    rp.add_argument("topic")
    rp.add_argument("--reason", action="append", default=[], help="only these reason codes (repeatable)")
    rp.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "list":
        rows = asyncio.run(list_dead_letters(args.bootstrap, args.topic, args.limit))
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
        print(f"{len(rows)} dead letter(s) in {args.topic}", file=sys.stderr)
    else:
        report = asyncio.run(replay(args.bootstrap, args.topic, reasons=args.reason, dry_run=args.dry_run))
        verb = "would replay" if args.dry_run else "replayed"
        print(
            f"{verb} {report.replayed}, skipped {report.skipped} (reason filter), "
            f"{report.already_replayed} replayed before"
        )


if __name__ == "__main__":
    main()
