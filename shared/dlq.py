"""Inspect and replay dead-letter topics.

    python -m shared.dlq list   <topic>.dlq [--limit N]
    python -m shared.dlq replay <topic>.dlq [--reason CODE] [--dry-run]

``replay`` republishes each dead letter's original bytes and headers (minus the ``x-dlq-*`` ones)
to the topic it came from, after the cause was fixed. Its progress is kept as the offsets of the
consumer group ``kotaku.dlq-replay.<topic>``, committed after Kafka acknowledged the republished
records, so running it twice does not republish twice. Consumers deduplicate by ``event_id``, so
a dead letter that a healthy consumer already applied is harmless when replayed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.topics import DLQ_SUFFIX


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: int = 0


def _headers(record: Any) -> dict[str, bytes]:
    return {k: v for k, v in (record.headers or ())}


async def _drain(consumer: AIOKafkaConsumer, topic: str) -> list[Any]:
    """Every record from the group's position up to the current end of ``topic``."""
    partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in partitions]
    end = await consumer.end_offsets(tps)
    records: list[Any] = []
    while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
        for part in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(part)
    return records


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="kotaku-dlq")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for d in described if d.get("error_code") == 0 for p in d["partitions"])


async def _consumer(bootstrap: str, topic: str, group: str | None) -> AIOKafkaConsumer:
    partitions = await partitions_of(bootstrap, topic)
    if not partitions:
        raise SystemExit(f"no such topic: {topic}")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="kotaku-dlq",
    )
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    if group is None:
        await consumer.seek_to_beginning(*tps)
    else:
        committed = {tp: await consumer.committed(tp) for tp in tps}
        for tp, offset in committed.items():
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
    return consumer


async def list_dead_letters(bootstrap: str, topic: str, limit: int = 100) -> list[dict[str, str]]:
    consumer = await _consumer(bootstrap, topic, None)
    try:
        records = await _drain(consumer, topic)
    finally:
        await consumer.stop()
    rows = []
    for r in records[:limit]:
        h = _headers(r)
        rows.append(
            {
                "partition": str(r.partition),
                "offset": str(r.offset),
                "reason": h.get("x-dlq-reason", b"").decode(),
                "consumer": h.get("x-dlq-consumer", b"").decode(),
                "failed_at": h.get("x-dlq-failed-at", b"").decode(),
                "event_id": h.get("ce_id", b"-").decode(),
                "original": f"{h.get('x-dlq-original-topic', b'').decode()}/"
                f"{h.get('x-dlq-original-partition', b'').decode()}@{h.get('x-dlq-original-offset', b'').decode()}",
                "detail": h.get("x-dlq-detail", b"").decode()[:200],
            }
        )
    return rows


async def replay(bootstrap: str, topic: str, *, reasons: Sequence[str] = (), dry_run: bool = False) -> ReplayReport:
    if not topic.endswith(DLQ_SUFFIX):
        raise SystemExit(f"{topic} is not a dead-letter topic (*{DLQ_SUFFIX})")
    report = ReplayReport()
    consumer = await _consumer(bootstrap, topic, f"kotaku.dlq-replay.{topic}")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, client_id="kotaku-dlq"
    )
    await producer.start()
    try:
        records = await _drain(consumer, topic)
        pending = []
        for record in records:
            h = _headers(record)
            if reasons and h.get("x-dlq-reason", b"").decode() not in reasons:
                report.skipped += 1
                continue
            original = h.get("x-dlq-original-topic", b"").decode() or topic[: -len(DLQ_SUFFIX)]
            headers = [(k, v) for k, v in h.items() if not k.startswith("x-dlq-")]
            headers.append(("x-dlq-replayed-from", f"{topic}/{record.partition}@{record.offset}".encode()))
            report.replayed += 1
            if not dry_run:
                pending.append(await producer.send(original, record.value, key=record.key, headers=headers))
        await asyncio.gather(*pending)
        if not dry_run and records:
            last: dict[TopicPartition, int] = {}
            for record in records:
                last[TopicPartition(record.topic, record.partition)] = record.offset + 1
            await consumer.commit(last)
    finally:
        await producer.stop()
        await consumer.stop()
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.dlq", description="Inspect and replay dead letters.")
    parser.add_argument("--bootstrap", default=os.environ.get("KOTAKU_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
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
        print(f"{verb} {report.replayed}, skipped {report.skipped} (reason filter)")


if __name__ == "__main__":
    main()
