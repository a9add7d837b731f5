"""Reporting benchmark on the local Kafka broker and PostgreSQL (loopback only, bounded, cleans up).

    python -m bench.run [--events 1000000] [--regions 20] [--rate 1000] [--steady-seconds 30]

In a private namespace (its own database and topic prefix, dropped at the end):

1. fill the topics of ``--regions`` regions with ``--events`` synthetic events (bench/generator.py);
2. (a) baseline: a raw aiokafka consume loop over the same topics, from the beginning to the end;
   (a') the raw pipeline of bench/raw_pipeline.py: fetch, json.loads, one COPY, one dedupe insert
   and one aggregate upsert per batch, fetch overlapped with writes (what plain libraries allow),
   in as many processes as the rebuild's replay;
3. (b) ``reporting rebuild`` of those topics into fresh tables (a process of its own, which shares
   the replay among processes, one per CPU), then its swap;
4. (c') the raw live pipeline of bench/raw_live.py under the traffic of step 5, the floor of
   produce-to-visible on this machine (per region one aiokafka consumer, json.loads, one statement
   per batch into a dedupe table of its own, the offsets committed);
5. start the reporting service (its consumer groups' offsets set to the end, as after a rebuild)
   and (c) offer ``--rate`` events/s for ``--steady-seconds`` with occurred_at = the send time,
   measuring when each event becomes visible in the read model (a watcher polls the dedupe table,
   written in the same transaction as the read model, every 5 ms); meanwhile (d) request the
   national report ``--api-rate`` times a second and measure its latency.

Prints a table and writes bench/results/<time>-<events>.json. Targets on a 2-core machine: rebuild
>= 40,000 events/s and >= 0.6 x the raw pipeline (a'); p99 produce-to-visible <= 50 ms and p99.9
<= 100 ms at 1,000 events/s; national report API p99 <= 25 ms. A missed target is reported as
MISSED; nothing is retried or tuned.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import re
import resource
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import TopicPartition

from bench.generator import Generator, Synthetic, regions
from bench.kafka_tool import consumer_performance
from bench.raw_live import SCHEMA_NAME as RAW_LIVE_SCHEMA
from bench.raw_live import RawLive
from bench.raw_pipeline import log_reader, raw_pipeline
from bench.scratch import create_database, drop_database
from services.reporting.entrypoints import xapi as xapi_consumer
from services.reporting.entrypoints.consumers import CONSUMERS
from services.reporting.entrypoints.kafka import partitions_of
from services.reporting.repositories import xapi
from shared.kernel import kafka as kafka_clients
from shared.kernel.db import migrate
from shared.kernel.settings import Settings
from shared.kernel.topics import (
    ENROLLMENT,
    FACILITATOR,
    ORGUNIT,
    PARTICIPATION,
    TRAINING,
    dlq_topic,
    national_topics,
    regional_topics,
)
from shared.tools.devstack import (
    ServiceProcess,
    database_url,
    free_port,
    local_secrets,
    region_groups,
    service_process,
    split_processes,
)
from shared.tools.kafka_admin import delete_topics, ensure_topics
from shared.tools.localenv import ROOT, kafka_bootstrap

STREAMS = (ORGUNIT, FACILITATOR, ENROLLMENT, TRAINING, PARTICIPATION)
RESULTS = Path(__file__).parent / "results"
REPORTING_MIGRATIONS = ROOT / "services" / "reporting" / "migrations"

TARGET_REBUILD_RATE = 40_000
TARGET_REBUILD_RATIO = 0.6  # of the raw pipeline (bench/raw_pipeline.py)
TARGET_VISIBLE_P99_MS = 50.0
TARGET_VISIBLE_P999_MS = 100.0
TARGET_API_P99_MS = 25.0
TARGET_ISOLATION_RATIO = 1.10  # the watched region's p99 with the busy region's backlog / without


@dataclass
class Options:
    events: int = 1_000_000
    regions: int = 20
    rate: int = 1000
    steady_seconds: float = 30.0
    warmup_seconds: float = 5.0
    api_rate: float = 20.0
    partitions: int = 3
    consumer_groups: int = 1  # reporting consumer processes, each a group of regions
    phases: tuple[str, ...] = ("baseline", "raw", "rebuild", "steady", "isolation")
    backlog: int = 200_000  # events of the busy region in the isolation phase
    traffic: str = "bursty"  # bursty: one training's events after another's; even: every region at once
    # the quiet window, and the busy window's least: 90 s hold about 5,000 of oc02's events, so the
    # quiet p99 rests on about 50 of them (a 40 s window's on 23 moved 33-72 ms between runs)
    isolation_seconds: float = 90.0
    service_env: dict[str, str] = field(default_factory=dict)  # settings given to the service processes
    seed: int = 2016
    bootstrap: str = field(default_factory=kafka_bootstrap)
    write: bool = True


@dataclass
class Results:
    options: dict[str, Any]
    machine: dict[str, Any]
    fill: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    raw_pipeline: dict[str, Any] = field(default_factory=dict)
    rebuild: dict[str, Any] = field(default_factory=dict)
    raw_steady: dict[str, Any] = field(default_factory=dict)
    steady: dict[str, Any] = field(default_factory=dict)
    api: dict[str, Any] = field(default_factory=dict)
    isolation: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def say(text: str) -> None:
    print(f"[bench {datetime.now(UTC).strftime('%H:%M:%S')}] {text}", flush=True)


SAMPLE = 1000  # values of the log that Kafka's producer tool draws from
LEFTOVER = re.compile(r"^bench[0-9a-f]{8}\.")


async def remove_leftover_topics(bootstrap: str) -> None:
    """Delete the topics of earlier runs that did not get to clean up (killed, or their deletion
    failed): every partition costs the broker CPU while it idles (about a fifth of a core with
    800 of them on this machine), which would be measured as the system's. The broker is this
    clone's own; two benchmarks do not run at once on one clone."""
    admin = kafka_clients.admin(bootstrap, "kotaku-bench")
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if LEFTOVER.match(t)]
    finally:
        await admin.close()
    if doomed:
        say(f"removing {len(doomed)} topics an earlier run left behind")
        await delete_topics(bootstrap, doomed)


class Namespace:
    """A private database and topic prefix, removed on exit."""

    def __init__(self, options: Options) -> None:
        self.name = f"bench{uuid.uuid4().hex[:8]}"
        self.database = f"kotaku_{self.name}"
        self.prefix = f"{self.name}."
        self.regions = regions(options.regions)
        self.topics = regional_topics(self.regions, self.prefix, STREAMS)
        # the national xAPI topic the service's reporting.xapi consumer writes to
        self.national = national_topics(self.prefix)
        self.options = options

    async def __aenter__(self) -> Namespace:
        await remove_leftover_topics(self.options.bootstrap)
        await create_database(self.database, ["kotaku_reporting"])
        await ensure_topics(
            self.options.bootstrap,
            self.topics + [dlq_topic(t) for t in self.topics] + self.national,
            partitions=self.options.partitions,
        )
        await migrate(self.dsn, "reporting", REPORTING_MIGRATIONS)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await drop_database(self.database)
        with contextlib.suppress(Exception):
            await delete_topics(
                self.options.bootstrap, self.topics + [dlq_topic(t) for t in self.topics] + self.national
            )

    @property
    def dsn(self) -> str:
        return database_url("reporting", self.database, local_secrets())

    def settings(self) -> Settings:
        return Settings(
            database_url=self.dsn,
            kafka_bootstrap=self.options.bootstrap,
            regions=self.regions,
            topic_prefix=self.prefix,
        )


async def fill(ns: Namespace, options: Options) -> dict[str, Any]:
    started = time.perf_counter()
    repeats = 0

    def counted() -> Iterator[Synthetic]:
        nonlocal repeats
        for event in Generator(ns.regions, seed=options.seed).events(options.events):
            repeats += event.repeat
            yield event

    sent = await produce(ns, options, counted())
    seconds = time.perf_counter() - started
    return {"events": sent, "repeated_deliveries": repeats, "seconds": round(seconds, 2)}


async def topic_partitions(ns: Namespace, options: Options) -> list[TopicPartition]:
    admin = kafka_clients.admin(options.bootstrap, "kotaku-bench")
    await admin.start()
    try:
        return await partitions_of(admin, ns.topics)
    finally:
        await admin.close()


async def baseline(ns: Namespace, options: Options) -> dict[str, Any]:
    """A raw consume loop: every record of the topics, no decoding, no database; then Kafka's own
    consumer over as many records (bench/kafka_tool.py)."""
    partitions = await topic_partitions(ns, options)
    consumer = await log_reader(options.bootstrap, partitions, "kotaku-bench")
    try:
        ends = await consumer.end_offsets(partitions)
        total = sum(ends.values())
        started = time.perf_counter()
        records = 0
        nbytes = 0
        sample: list[bytes] = []  # values for Kafka's producer tool (kafka_tool)
        while records < total:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if not fetched and time.perf_counter() - started > 600:
                break
            for part in fetched.values():
                records += len(part)
                nbytes += sum(len(r.value or b"") for r in part)
                if len(sample) < SAMPLE:
                    sample.extend(r.value for r in part[: SAMPLE - len(sample)] if r.value)
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    say(f"baseline (raw consume) {round(records / seconds):,} rec/s; Kafka's own clients on {records:,} records")
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_second": round(records / seconds),
        "mb_per_second": round(nbytes / seconds / 1e6, 1),
        "kafka_consumer_performance": await consumer_performance(
            options.bootstrap,
            f"{ns.prefix}kafka-perf",
            records,
            sample,
            partitions=options.partitions,
            group=f"{ns.prefix}kafka-perf",
        ),
    }


async def run_rebuild(ns: Namespace, options: Options) -> dict[str, Any]:
    """``python -m services.reporting rebuild`` in a process of its own, as an operator runs it, so
    that its peak resident memory is the rebuild's alone."""
    env = service_process(
        "reporting", port=0, database=ns.database, regions=",".join(ns.regions), topic_prefix=ns.prefix
    ).env
    env = {**env, "KOTAKU_KAFKA_BOOTSTRAP": options.bootstrap, "KOTAKU_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "services.reporting", "rebuild", "--no-progress", "--drop-previous", "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and its replay processes, all waited for
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"rebuild exited with {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    bulk = report["bulk_seconds"]
    return {
        "records": report["records"],
        "applied": report["applied"],
        "duplicates": report["duplicates"],
        "rejected": report["rejected"],
        "failed": report["failed"],
        "bulk_seconds": round(bulk, 2),
        "derive_seconds": round(report["derive_seconds"], 2),
        "records_per_second": round(report["bulk_records"] / bulk) if bulk else 0,
        "swap_seconds": round(report["swap_seconds"], 3),
        "total_seconds": round(report["seconds"], 2),
        "kafka_wait_seconds": round(report["fetch_seconds"], 2),
        "decode_seconds": round(report["decode_seconds"], 2),
        "writer_queue_wait_seconds": round(report["queue_wait_seconds"], 2),
        "writers_busy_seconds": round(report["write_seconds"], 2),
        "peak_rss_mb": round(report["peak_rss_mb"]),
        "processes": report["processes"],
        "cpu_seconds": round(cpu, 2),
    }


async def commit_groups_at_end(ns: Namespace, options: Options) -> None:
    """As after a rebuild with the service stopped: the live groups continue from the end."""
    admin = kafka_clients.admin(options.bootstrap, "kotaku-bench")
    await admin.start()
    try:
        # the read models' consumers, and reporting.xapi, which has stated every event of the log
        live = [(c.name, c.streams) for c in CONSUMERS] + [(xapi.NAME, xapi_consumer.STREAMS)]
        for name, streams in live:
            for region in ns.regions:
                tps = await partitions_of(admin, [s.topic(region, ns.prefix) for s in streams])
                client = kafka_clients.consumer(
                    options.bootstrap,
                    client_id="kotaku-bench",
                    group_id=f"{ns.prefix}{name}.{region}",
                    enable_auto_commit=False,
                )
                await client.start()
                try:
                    client.assign(tps)
                    ends = await client.end_offsets(tps)
                    await client.commit({tp: ends[tp] for tp in tps})
                finally:
                    await client.stop()
    finally:
        await admin.close()


def start_service(
    ns: Namespace, log_dir: Path, options: Options, groups: list[list[str]] | None = None
) -> list[ServiceProcess]:
    """Reporting as ``make run`` and production run it: the API process (first) and one consumer
    process per group of regions (``--consumer-groups``, or ``groups``)."""
    procs = split_processes(
        "reporting",
        port=free_port(),
        regions=ns.regions,
        groups=groups or region_groups(ns.regions, options.consumer_groups),
        database=ns.database,
        topic_prefix=ns.prefix,
        log_dir=log_dir,
        extra_env={
            "KOTAKU_LOG_LEVEL": "WARNING",
            "KOTAKU_CREDENTIALS_FILE": str(log_dir / "credentials.jsonl"),
            # the API phase reads reports without a credential at --api-rate (default 20/s, the default
            # limit's sustained rate): it measures the reports, not the per-client rate limit
            "KOTAKU_RATE_LIMIT_PER_SECOND": "0",
            **options.service_env,
        },
    )
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready(timeout=120)
    except BaseException:  # none of them outlives a failed start
        for proc in procs:
            proc.stop()
        raise
    return procs


WATCH = """
SELECT p.event_id, p.processed_at FROM processed_events p
JOIN unnest($1::text[], $2::uuid[]) AS k(consumer, event_id) ON p.consumer = k.consumer AND p.event_id = k.event_id
"""


# Offsets of the seeds of the events each phase offers, added to --seed; ``interleaved`` adds the
# region's index to its offset, so they lie far apart. Every phase offers events of its own: the
# isolation phase once offered the steady phase's events again, and an event the service had already
# applied was "visible" at the watcher's first poll, which made oc02's quiet p99 look lower than it was.
# The raw live pipeline (c') is offered the steady phase's events (its own dedupe table): the same traffic.
STEADY_SEED = 1
BACKLOG_SEED = 2_000
ISOLATION_SEED = 3_000  # its warm-up
# The isolation phase's measured windows offer the same events (one seed: types, regions, order,
# fields, so the same bursts at the same moments) under ids of their own: what differs between them
# is oc03's backlog, not the shape of the traffic.
WINDOW_SEED = 4_000
QUIET_IDS, BUSY_IDS = 5_000, 6_000


def interleaved(codes: list[str], seed: int, ids_seed: int | None = None) -> Iterator[Synthetic]:
    """Every region's own stream of trainings, one event of each region in turn: the regions work
    at the same time, each at its share of the rate (not one whole training after another)."""
    streams = [
        Generator([code], seed=seed + n, ids_seed=None if ids_seed is None else ids_seed + n).events(10**12)
        for n, code in enumerate(codes)
    ]
    while True:
        for stream in streams:
            yield next(stream)


class Traffic:
    """Synthetic events offered at ``options.rate`` over every region (``options.traffic``: one
    training after another, the regions in turn, or every region at once), with occurred_at = the send
    time, and a watcher that polls the dedupe table (written in the same transaction as the read
    model) every 5 ms to see when each measured event became visible: latencies per region, ms."""

    def __init__(
        self,
        ns: Namespace,
        options: Options,
        measured: set[str] | None = None,
        schema: str = "reporting",
        seed: int = STEADY_SEED,
    ) -> None:
        self.measured = measured  # the regions whose events are measured (None: all)
        self.schema = schema  # where the watched processed_events table is
        self.ns = ns
        self.options = options
        self.events = self.stream(seed)
        self.pending: dict[str, tuple[str, str, float]] = {}  # event id -> (consumer, region, sent at)
        self.seen: set[str] = set()
        self.latencies: dict[str, list[float]] = {}
        # each seen event's latency split at the start of the transaction that applied it
        # (processed_at is the transaction's now()): (send to start, start to seen), ms
        self.split: list[tuple[float, float]] = []
        self.never_visible = 0  # measured events not seen within a drain's wait (settled)

    def stream(self, seed: int, ids_seed: int | None = None) -> Iterator[Synthetic]:
        """The events offered from ``seed`` (an offset to ``--seed``), optionally under ids of ``ids_seed``."""
        seed += self.options.seed
        ids = None if ids_seed is None else self.options.seed + ids_seed
        if self.options.traffic == "even":
            return interleaved(self.ns.regions, seed, ids)
        return Generator(self.ns.regions, seed=seed, ids_seed=ids).events(10**12)

    async def settled(self) -> dict[str, list[float]]:
        """Wait until every measured event was seen (or count it never visible); take the latencies."""
        self.never_visible += await self.drain()
        return self.take()

    async def __aenter__(self) -> Traffic:
        self.producer = kafka_clients.producer(self.options.bootstrap, "kotaku-bench", acks="all", linger_ms=0)
        await self.producer.start()
        self.watcher = await asyncpg.connect(self.ns.dsn, server_settings={"search_path": self.schema})
        self.stopping = asyncio.Event()
        self.drained = asyncio.Event()  # set by the watcher whenever nothing measured is pending
        self.watch_task = asyncio.create_task(self._watch())
        # The driver does not stop to collect garbage while it measures (as timeit does not): a full
        # collection of its own heap (the ids it has seen) held the watcher 30-60 ms, and every event
        # pending then was measured that much later than it became visible.
        gc.collect()
        gc.disable()
        return self

    async def __aexit__(self, *exc: object) -> None:
        gc.enable()
        self.stopping.set()
        self.watch_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.watch_task
        await self.producer.stop()
        await self.watcher.close()

    async def offer(self, seconds: float, *, measure: bool) -> int:
        """Send for ``seconds``; returns how many events were sent."""
        count = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for _ in range(max(0, int(elapsed * self.options.rate) - count)):
                event = next(self.events)
                now = datetime.now(UTC)
                await self.producer.send(
                    event.stream.topic(event.region, self.ns.prefix),
                    event.body(now),
                    key=event.key,
                    headers=event.headers(),
                )
                count += 1
                if (
                    measure
                    and (self.measured is None or event.region in self.measured)
                    and event.event_id not in self.seen
                    and event.event_id not in self.pending
                ):
                    self.pending[event.event_id] = (event.consumer, event.region, now.timestamp())
            await asyncio.sleep(0.005)
        await self.producer.flush()
        return count

    async def drain(self, within: float = 30.0) -> int:
        """Wait until every measured event was seen (at most ``within`` s); returns how many never were."""
        self.drained.clear()
        if self.pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), within)
        return len(self.pending)

    def take(self) -> dict[str, list[float]]:
        """The latencies measured so far, per region, and a fresh start."""
        taken, self.latencies = self.latencies, {}
        return taken

    async def _watch(self) -> None:
        while not self.stopping.is_set():
            if self.pending:
                ids = list(self.pending)
                rows = await self.watcher.fetch(WATCH, [self.pending[i][0] for i in ids], ids)
                now = time.time()
                for r in rows:
                    key = str(r["event_id"])
                    _, region, at = self.pending.pop(key)
                    self.seen.add(key)
                    self.latencies.setdefault(region, []).append((now - at) * 1000)
                    begun = r["processed_at"].timestamp()
                    self.split.append(((begun - at) * 1000, (now - begun) * 1000))
            if not self.pending:
                self.drained.set()
            await asyncio.sleep(0.005)


async def raw_steady(ns: Namespace, options: Options) -> dict[str, Any]:
    """(c') The steady phase's traffic, warm-up and watcher, with the raw live pipeline
    (bench/raw_live.py) in place of the service: the floor of produce-to-visible on this machine."""
    carried = {
        region: {
            stream.topic(region, ns.prefix): consumer.name for consumer in CONSUMERS for stream in consumer.streams
        }
        for region in ns.regions
    }
    async with (
        RawLive(ns.dsn, options.bootstrap, ns.prefix, carried),
        Traffic(ns, options, schema=RAW_LIVE_SCHEMA) as traffic,
    ):
        await traffic.offer(options.warmup_seconds, measure=False)
        await traffic.offer(options.steady_seconds, measure=True)
        never_visible = await traffic.drain()
        latencies = [v for values in traffic.take().values() for v in values]
    return {**latency_summary(latencies), "never_visible": never_visible, "consumers": len(carried)}


def latency_summary(values: list[float]) -> dict[str, Any]:
    return {
        "visible": len(values),
        "p50_ms": _round(percentile(values, 50)),
        "p99_ms": _round(percentile(values, 99)),
        "p999_ms": _round(percentile(values, 99.9)),
        "max_ms": _round(max(values, default=None)),
    }


async def steady(
    ns: Namespace, options: Options, service: list[ServiceProcess]
) -> tuple[dict[str, Any], dict[str, Any]]:
    api_url = service[0].url
    api_latencies: list[float] = []
    api_errors = 0
    stop = asyncio.Event()

    async def request_reports() -> None:
        nonlocal api_errors
        async with httpx.AsyncClient(base_url=api_url, timeout=10) as http:
            await http.get("/api/v1/reports/national")  # warm up (connections, lag cache)
            interval = 1 / options.api_rate
            while not stop.is_set():
                started = time.perf_counter()
                response = await http.get("/api/v1/reports/national")
                took = time.perf_counter() - started
                if response.status_code == 200:
                    api_latencies.append(took * 1000)
                else:
                    api_errors += 1
                await asyncio.sleep(max(0.0, interval - took))

    async with Traffic(ns, options) as traffic:
        # warm-up, not measured: consumer groups join (the broker delays a new group's first
        # rebalance by 3 s), connections and statement caches fill
        await traffic.offer(options.warmup_seconds, measure=False)
        api_task = asyncio.create_task(request_reports())
        started = time.perf_counter()
        try:
            sent = await traffic.offer(options.steady_seconds, measure=True)
            offered = time.perf_counter() - started
            stop.set()
            await api_task
            never_visible = await traffic.drain()
        finally:
            stop.set()
            api_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await api_task
        latencies = [v for values in traffic.take().values() for v in values]
        split = traffic.split
    metrics = await scrape([p for p in service[1:] if "-consumers-" in p.name])  # the read models' batches
    batches = _metric(metrics, "kotaku_consumer_batch_duration_seconds_count")
    batch_seconds = _metric(metrics, "kotaku_consumer_batch_duration_seconds_sum")
    applied = _metric(metrics, "kotaku_events_consumed_total", 'outcome="applied"')
    steady_result = {
        "offered_rate": options.rate,
        "seconds": round(offered, 2),
        "sent": sent,
        "achieved_rate": round(sent / offered),
        **latency_summary(latencies),
        "never_visible": never_visible,
        "p99_to_transaction_ms": _round(percentile([a for a, _ in split], 99)),
        "p99_transaction_to_seen_ms": _round(percentile([b for _, b in split], 99)),
        "latency": "occurred_at (set at send) to first seen by a 5 ms poll of the committed read-model transaction",
        "consumer_processes": sum("-consumers-" in p.name for p in service),  # the read models'
        "xapi_processes": sum("-xapi-" in p.name for p in service),
        "consumer_batches": int(batches),
        "events_per_batch": round(applied / batches, 1) if batches else None,
        "mean_batch_ms": round(batch_seconds / batches * 1000, 1) if batches else None,
    }
    api_result = {
        "endpoint": "GET /api/v1/reports/national",
        "requests": len(api_latencies),
        "errors": api_errors,
        "p50_ms": _round(percentile(api_latencies, 50)),
        "p99_ms": _round(percentile(api_latencies, 99)),
        "mean_ms": _round(statistics.fmean(api_latencies) if api_latencies else None),
    }
    return steady_result, api_result


BUSY_REGION, WATCHED_REGION = "oc03", "oc02"


def isolated_consumers(
    ns: Namespace, log_dir: Path, options: Options, service: list[ServiceProcess]
) -> list[ServiceProcess]:
    """The service with the busy region's consumers in a process of their own, as every region has
    in the Kubernetes layout: the other regions in ``--consumer-groups`` processes as before."""
    if any(p.env["KOTAKU_REGIONS"] == BUSY_REGION for p in service[1:]) or BUSY_REGION not in ns.regions:
        return service
    for proc in service:
        proc.stop()
    others = [r for r in ns.regions if r != BUSY_REGION]
    return start_service(ns, log_dir, options, [*region_groups(others, options.consumer_groups), [BUSY_REGION]])


async def isolation(ns: Namespace, options: Options, service: list[ServiceProcess]) -> dict[str, Any]:
    """Regional isolation: oc02's produce-to-visible latency while the same traffic is offered
    (1) with oc03 quiet and (2) while oc03's consumer processes work off a backlog of
    ``options.backlog`` events that arrived at once (written to the log while they were held, so
    the bench's own producer does not compete with the measurement). Also: how long oc03 took to
    catch up, and its dead letters and retries (errors)."""
    # its read models' process and its xAPI statements' process
    busy = [p for p in service[1:] if p.env["KOTAKU_REGIONS"] == BUSY_REGION]
    if not busy:
        return {"skipped": f"{BUSY_REGION} has no consumer process of its own (--consumer-groups {options.regions})"}
    # oc03's processes run, as a region's do when a backlog reaches it (an office's offline weeks sent
    # at once), but are held (SIGSTOP) while the backlog is written and the quiet window measured.
    # Stopping them instead put their start (interpreter, imports, the app, their groups' joins, 2-3 s
    # of both cores) into the busy window: its first 7% held every one of the busy p99's events.
    await asyncio.sleep(SETTLE_SECONDS)  # their consumers joined their groups, idle at the log's end
    for proc in busy:
        hold(proc, True)
    try:
        backlog = Generator([BUSY_REGION], seed=options.seed + BACKLOG_SEED)
        produced = await produce(ns, options, backlog.events(options.backlog))
        tps = [tp for tp in await topic_partitions(ns, options) if tp.topic.startswith(f"{ns.prefix}{BUSY_REGION}.")]
        reader = await log_reader(options.bootstrap, tps, "kotaku-bench")
        try:
            backlog_ends: dict[TopicPartition, int] = await reader.end_offsets(tps)
        finally:
            await reader.stop()
        async with Traffic(ns, options, measured={WATCHED_REGION}, seed=ISOLATION_SEED) as traffic:
            await traffic.offer(options.warmup_seconds, measure=False)
            # The quiet window comes before the catch-up only: after it the database is still working
            # the backlog's rows into its tables (autovacuum, checkpoint), and such a window's p99 came
            # out higher, which would flatter the ratio.
            traffic.events = traffic.stream(WINDOW_SEED, QUIET_IDS)
            await traffic.offer(options.isolation_seconds, measure=True)
            quiet = (await traffic.settled()).get(WATCHED_REGION, [])
            # oc03's processes continue and work off the backlog while the same traffic goes on, as
            # long as the catch-up lasts (at least one window): every latency it can touch is measured
            started = time.perf_counter()
            for proc in busy:
                hold(proc, False)  # their Kafka sessions expired meanwhile: they rejoin their groups first
            caught_up = asyncio.create_task(wait_caught_up(ns, options, backlog_ends, started))
            traffic.events = traffic.stream(WINDOW_SEED, BUSY_IDS)
            while not caught_up.done() or time.perf_counter() - started < options.isolation_seconds:
                await traffic.offer(1.0, measure=True)
            busy_seconds = time.perf_counter() - started
            loaded = (await traffic.settled()).get(WATCHED_REGION, [])
            catch_up_seconds = await caught_up
    finally:  # never left stopped, whatever happened (a stopped process cannot end on SIGTERM)
        for proc in busy:
            hold(proc, False)
    metrics = await scrape(busy)
    quiet_p99 = percentile(quiet, 99)
    busy_p99 = percentile(loaded, 99)
    return {
        "busy_region": BUSY_REGION,
        "watched_region": WATCHED_REGION,
        "backlog_events": produced,
        "window_seconds": options.isolation_seconds,
        "busy_seconds": _round(busy_seconds),
        "watched_quiet": latency_summary(quiet),
        "watched_busy": latency_summary(loaded),
        "p99_ratio": round(busy_p99 / quiet_p99, 3) if busy_p99 and quiet_p99 else None,
        "never_visible": traffic.never_visible,
        "busy_catch_up_seconds": _round(catch_up_seconds),
        "busy_catch_up_rate": round(produced / catch_up_seconds) if catch_up_seconds else None,
        "busy_dead_letters": int(_metric(metrics, "kotaku_dead_letters_total")),
        "busy_retries": int(_metric(metrics, "kotaku_consumer_retries_total")),
    }


SETTLE_SECONDS = 10.0


def hold(proc: ServiceProcess, held: bool) -> None:
    """Stop (SIGSTOP) or continue (SIGCONT) a service process and whatever it started (its session)."""
    if proc.pid is not None and proc.alive():
        os.killpg(proc.pid, signal.SIGSTOP if held else signal.SIGCONT)


async def produce(ns: Namespace, options: Options, events: Iterator[Synthetic]) -> int:
    """Send ``events`` as fast as the broker takes them; returns how many."""
    producer = kafka_clients.producer(
        options.bootstrap, "kotaku-bench", acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    sent = 0
    try:
        pending: list[asyncio.Future[Any]] = []
        for event in events:
            topic = event.stream.topic(event.region, ns.prefix)
            pending.append(await producer.send(topic, event.body(), key=event.key, headers=event.headers()))
            sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
                if sent % 1_000_000 == 0:
                    say(f"sent {sent:,}")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def wait_caught_up(
    ns: Namespace, options: Options, ends: dict[TopicPartition, int], started: float, within: float = 900.0
) -> float | None:
    """Seconds from ``started`` until the reporting groups of the busy region have committed past
    ``ends`` (the end of its backlog); None if not within ``within`` s."""
    admin = kafka_clients.admin(options.bootstrap, "kotaku-bench")
    await admin.start()
    try:
        while time.perf_counter() - started < within:
            committed: dict[TopicPartition, int] = {}
            for consumer in CONSUMERS:
                group = f"{ns.prefix}{consumer.name}.{BUSY_REGION}"
                offsets = await admin.list_consumer_group_offsets(group)
                committed.update({tp: meta.offset for tp, meta in offsets.items()})
            if all(committed.get(tp, -1) >= end for tp, end in ends.items()):
                return time.perf_counter() - started
            await asyncio.sleep(0.25)
    finally:
        await admin.close()
    return None


async def scrape(procs: list[ServiceProcess]) -> str:
    """The Prometheus text of every process in ``procs``, one after another."""
    async with httpx.AsyncClient(timeout=10) as http:
        return "\n".join([(await http.get(f"{proc.url}/metrics")).text for proc in procs])


def _metric(text: str, name: str, label: str = "") -> float:
    """Sum of a Prometheus sample over its label sets (optionally only those containing ``label``)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in "{ ") and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def judge(results: Results) -> None:
    rebuild_rate = results.rebuild.get("records_per_second") or 0
    consume = results.baseline.get("records_per_second") or 0
    raw = results.raw_pipeline.get("records_per_second") or 0
    ratio = rebuild_rate / raw if raw else 0.0
    results.rebuild["ratio_to_raw_pipeline"] = round(ratio, 3)
    results.rebuild["ratio_to_baseline"] = round(rebuild_rate / consume, 3) if consume else 0.0
    steady = results.steady
    checks = [
        (
            "rebuild throughput",
            f"{rebuild_rate:,} ev/s",
            f">= {TARGET_REBUILD_RATE:,} ev/s",
            rebuild_rate >= TARGET_REBUILD_RATE,
        ),
        ("rebuild / raw pipeline", f"{ratio:.2f}", f">= {TARGET_REBUILD_RATIO}", ratio >= TARGET_REBUILD_RATIO),
        (
            "p99 produce-to-visible",
            f"{steady.get('p99_ms')} ms",
            f"<= {TARGET_VISIBLE_P99_MS:.0f} ms at {results.options['rate']:,} ev/s",
            (steady.get("p99_ms") or 1e9) <= TARGET_VISIBLE_P99_MS and steady.get("never_visible") == 0,
        ),
        (
            "p99.9 produce-to-visible",
            f"{steady.get('p999_ms')} ms",
            f"<= {TARGET_VISIBLE_P999_MS:.0f} ms at {results.options['rate']:,} ev/s",
            (steady.get("p999_ms") or 1e9) <= TARGET_VISIBLE_P999_MS and steady.get("never_visible") == 0,
        ),
        (
            "report API p99",
            f"{results.api.get('p99_ms')} ms",
            f"<= {TARGET_API_P99_MS:.0f} ms",
            (results.api.get("p99_ms") or 1e9) <= TARGET_API_P99_MS and results.api.get("errors") == 0,
        ),
    ]
    iso = results.isolation
    ratio_iso = iso.get("p99_ratio")
    checks.append(
        (
            f"{WATCHED_REGION} p99, {BUSY_REGION} busy/quiet",
            f"{ratio_iso}",
            f"<= {TARGET_ISOLATION_RATIO}, {BUSY_REGION} caught up, 0 errors",
            ratio_iso is not None
            and ratio_iso <= TARGET_ISOLATION_RATIO
            and iso.get("busy_catch_up_seconds") is not None
            and iso.get("busy_dead_letters") == 0
            and iso.get("never_visible") == 0,
        )
    )
    results.targets = [{"measure": m, "value": v, "target": t, "met": ok} for m, v, t, ok in checks]


def table(results: Results) -> str:
    fill, base, reb, st, api = results.fill, results.baseline, results.rebuild, results.steady, results.api
    raw, rst = results.raw_pipeline, results.raw_steady
    rows = [
        ("(a) raw aiokafka consume loop, records/s", f"{base.get('records_per_second', 0):,}"),
        ("    Kafka's ConsumerPerformance, records/s", _kafka_tool(base.get("kafka_consumer_performance"))),
        ("(a') raw pipeline (json, COPY, dedupe, sum)", f"{raw.get('records_per_second', 0):,}"),
        ("(b) rebuild (replay + derive), events/s", f"{reb.get('records_per_second', 0):,}"),
        ("    ratio to (a') / to (a)", f"{reb.get('ratio_to_raw_pipeline')} / {reb.get('ratio_to_baseline')}"),
        ("    processes: (a') / (b)'s replay", f"{raw.get('processes')} / {reb.get('processes')}"),
        (
            "    bulk s (of which derive s) / swap s",
            f"{reb.get('bulk_seconds')} ({reb.get('derive_seconds')}) / {reb.get('swap_seconds')}",
        ),
        (
            "    replay s: Kafka / decode / queue / writers",
            f"{reb.get('kafka_wait_seconds')} / {reb.get('decode_seconds')} / "
            f"{reb.get('writer_queue_wait_seconds')} / {reb.get('writers_busy_seconds')}",
        ),
        ("    whole command s (checks to swap)", str(reb.get("total_seconds"))),
        ("    rebuild's own CPU s (not the database)", str(reb.get("cpu_seconds"))),
        ("    rebuild peak resident memory, MB", str(reb.get("peak_rss_mb"))),
        (
            "(c') raw live pipeline p50/p99/p99.9/max ms",
            _percentiles(rst),
        ),
        ("(c) steady: offered / achieved events/s", f"{st.get('offered_rate')} / {st.get('achieved_rate')}"),
        (
            "    produce-to-visible p50/p99/p99.9/max ms",
            _percentiles(st),
        ),
        ("    events never visible", str(st.get("never_visible"))),
        (
            "    p99 send to transaction / transaction to seen ms",
            f"{st.get('p99_to_transaction_ms')} / {st.get('p99_transaction_to_seen_ms')}",
        ),
        ("    consumer batches: events/batch, mean ms", f"{st.get('events_per_batch')}, {st.get('mean_batch_ms')}"),
        ("(d) national report API p50 / p99 ms", f"{api.get('p50_ms')} / {api.get('p99_ms')}"),
        ("    requests (errors)", f"{api.get('requests')} ({api.get('errors')})"),
        *isolation_rows(results.isolation),
    ]
    lines = [
        f"events: {fill.get('events', 0):,} in {results.options['regions']} regions "
        f"({fill.get('repeated_deliveries', 0):,} delivered twice); filled in {fill.get('seconds')} s",
        "",
        f"{'measure':<44} {'value':>26}",
        f"{'-' * 44} {'-' * 26}",
        *(f"{name:<44} {value:>26}" for name, value in rows),
        "",
        f"{'target':<26} {'value':>16}  {'wanted':<34} result",
    ]
    for t in results.targets:
        lines.append(f"{t['measure']:<26} {t['value']:>16}  {t['target']:<34} {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def _kafka_tool(perf: dict[str, Any] | None) -> str:
    """Kafka's own consumer's rate (bench/kafka_tool.py), "unavailable" (the reason is in the JSON) or "not run"."""
    if not perf:
        return "not run"
    if "skipped" in perf:
        return "unavailable"
    return f"{perf['records_per_second']:,}"


def _percentiles(summary: dict[str, Any]) -> str:
    """A latency_summary's p50 / p99 / p99.9 / max, as the table prints them."""
    return " / ".join(str(summary.get(k)) for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms"))


def isolation_rows(iso: dict[str, Any]) -> list[tuple[str, str]]:
    if not iso or "skipped" in iso:
        return [("(e) isolation", iso.get("skipped", "not run"))] if iso else []
    quiet, busy = iso["watched_quiet"], iso["watched_busy"]
    watched, other = iso["watched_region"], iso["busy_region"]
    return [
        (f"(e) {watched} p99 ms: {other} quiet / busy", f"{quiet['p99_ms']} / {busy['p99_ms']}"),
        ("    ratio busy / quiet", str(iso["p99_ratio"])),
        (f"    {watched} p50 ms: quiet / busy", f"{quiet['p50_ms']} / {busy['p50_ms']}"),
        (
            "    measured s (events): quiet / busy",
            f"{iso['window_seconds']:.0f} ({quiet['visible']}) / {iso['busy_seconds']:.0f} ({busy['visible']})",
        ),
        (
            f"    {other}: {iso['backlog_events']:,} caught up in s (ev/s)",
            f"{iso['busy_catch_up_seconds']} ({iso['busy_catch_up_rate']})",
        ),
        (f"    {other}: dead letters / retries", f"{iso['busy_dead_letters']} / {iso['busy_retries']}"),
    ]


async def run(options: Options) -> Results:
    results = Results(
        options=asdict(options),
        machine={
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "started_at": datetime.now(UTC).isoformat(),
        },
    )
    async with Namespace(options) as ns:
        say(f"namespace {ns.name}: filling {len(ns.topics)} topics with {options.events:,} events")
        results.fill = await fill(ns, options)
        say(f"filled in {results.fill['seconds']} s")
        if "baseline" in options.phases:
            results.baseline = await baseline(ns, options)
            perf = results.baseline["kafka_consumer_performance"]
            say(perf.get("skipped") or f"Kafka's ConsumerPerformance {perf['records_per_second']:,} rec/s")
        if "raw" in options.phases:
            results.raw_pipeline = await raw_pipeline(
                ns.dsn, options.bootstrap, await topic_partitions(ns, options), ns.prefix
            )
            raw = results.raw_pipeline
            waited = f"{raw['waiting_for_writes_seconds']} s of {raw['seconds']} s waiting for the database"
            say(f"raw pipeline {raw['records_per_second']:,} rec/s ({waited})")
        if "rebuild" in options.phases:
            results.rebuild = await run_rebuild(ns, options)
            say(f"rebuild {results.rebuild['records_per_second']:,} ev/s")
        if not {"steady", "isolation"} & set(options.phases):
            judge(results)
            return results
        if "steady" in options.phases:
            say(f"raw live pipeline at {options.rate:,} ev/s for {options.steady_seconds:.0f} s")
            results.raw_steady = await raw_steady(ns, options)
        await commit_groups_at_end(ns, options)
        with tempfile.TemporaryDirectory(prefix="kotaku-bench-") as tmp:
            service = start_service(ns, Path(tmp), options)
            try:
                if "steady" in options.phases:
                    say(
                        f"steady ingestion at {options.rate:,} ev/s for {options.steady_seconds:.0f} s "
                        f"+ report API load ({len(service) - 1} consumer processes)"
                    )
                    results.steady, results.api = await steady(ns, options, service)
                if "isolation" in options.phases:
                    say(
                        f"isolation: {options.backlog:,} {BUSY_REGION} events at once; "
                        f"{WATCHED_REGION} watched for {options.isolation_seconds:.0f} s quiet, "
                        f"then while {BUSY_REGION} catches up"
                    )
                    service = isolated_consumers(ns, Path(tmp), options, service)
                    results.isolation = await isolation(ns, options, service)
            finally:
                for proc in service:
                    proc.stop()
    judge(results)
    return results


def main(argv: list[str] | None = None) -> Results:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    parser.add_argument("--events", type=int, default=Options.events)
    parser.add_argument("--regions", type=int, default=Options.regions)
    parser.add_argument("--rate", type=int, default=Options.rate, help="steady offered rate, events/s")
    parser.add_argument("--steady-seconds", type=float, default=Options.steady_seconds)
    parser.add_argument("--warmup-seconds", type=float, default=Options.warmup_seconds, help="offered, not measured")
    parser.add_argument("--api-rate", type=float, default=Options.api_rate, help="report requests per second")
    parser.add_argument("--partitions", type=int, default=Options.partitions)
    parser.add_argument("--backlog", type=int, default=Options.backlog, help="busy region's events (isolation)")
    parser.add_argument(
        "--traffic",
        choices=["bursty", "even"],
        default=Options.traffic,
        help="steady traffic: one training's events after another's, the regions in turn (bursty), "
        "or every region at once, each at its share of the rate (even)",
    )
    parser.add_argument("--isolation-seconds", type=float, default=Options.isolation_seconds)
    parser.add_argument(
        "--consumer-groups", type=int, default=Options.consumer_groups, help="reporting consumer processes"
    )
    parser.add_argument(
        "--phases",
        default=",".join(Options.phases),
        help="what to measure after the fill (a subset of baseline,raw,rebuild,steady; targets of the others MISSED)",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KOTAKU_X=V",
        help="a setting for the reporting processes (repeatable), e.g. KOTAKU_CONSUMER_POLL_MS=10",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args(argv)
    options = Options(
        events=args.events,
        regions=args.regions,
        rate=args.rate,
        steady_seconds=args.steady_seconds,
        warmup_seconds=args.warmup_seconds,
        api_rate=args.api_rate,
        partitions=args.partitions,
        consumer_groups=args.consumer_groups,
        backlog=args.backlog,
        traffic=args.traffic,
        isolation_seconds=args.isolation_seconds,
        phases=tuple(p.strip() for p in args.phases.split(",") if p.strip()),
        service_env=dict(item.split("=", 1) for item in args.service_env),
        bootstrap=kafka_bootstrap(),
        write=not args.no_write,
    )
    results = asyncio.run(run(options))
    print(table(results))
    if options.write:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{options.events}.json"
        path.write_text(json.dumps(asdict(results), indent=2) + "\n")
        print(f"results: {path.relative_to(ROOT)}")
    return results


if __name__ == "__main__":
    main()
