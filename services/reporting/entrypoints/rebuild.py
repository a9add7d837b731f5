"""Rebuild every reporting read model from the event log, then swap it in atomically.

    python -m services.reporting rebuild [--batch-size N] [--no-progress] [--drop-previous]

1. Shadow tables: ``<schema>_rebuild.<table>`` for every read-model table and for the dedupe table
   ``processed_events``, created ``LIKE`` the live ones (same columns, constraints and indexes).
2. Bulk replay: a plain aiokafka consumer (no group, nothing committed) reads every configured
   region's topics from the beginning up to their end offsets at the start and runs them through
   the live consumers' pipeline (:mod:`shared.kernel.pipeline`) in bulk mode: decoded and routed as
   live, event ids staged for the shadow ``processed_events``, events applied by the same
   projection code without the derived tables, with a progress bar. The derived tables, the dedupe
   table and the freshness are then computed once.
3. Catch-up: the records that arrived meanwhile go through the same pipeline in live mode.
4. Swap, in ONE transaction: ``LOCK processed_events`` (every live batch starts by inserting into
   it, so from here no live batch is in flight or can start), apply the last records up to the end
   offsets read under the lock, then move the live tables to ``<schema>_previous`` and the shadow
   tables into the live schema. The API keeps reading the old tables until the commit.

Why the live consumers neither skip nor double-apply after the swap (docs/reporting.md has more):
every event a live consumer applied before the swap was read by it from the log, so it lies below
the end offsets read under the lock, and the rebuild applied it too; every event the rebuild applied
beyond a live consumer's position is in the swapped-in ``processed_events``, so when the live
consumer reaches it, it is acknowledged as a duplicate. Consumer group offsets are not touched.

A rebuild never swaps in less than the live read model holds. It stops before the swap, leaves the
live tables (and the previous ones) as they are, drops its shadow tables and raises
:class:`RebuildAborted` (the command prints its reason on one line and exits with status 2) when:

* the live read model holds regions this run does not replay (``KOTAKU_REGIONS`` is a subset);
* a partition's log no longer starts at offset 0 (records deleted by retention or
  ``deleteRecords``), checked before the replay and, through ``auto_offset_reset="none"``, again
  by every fetch;
* an event failed to apply;
* a writer died (the reader never waits on a writer that is gone);
* under the swap's lock, some (consumer, region) of the live ``region_freshness`` counts more
  applied events than the rebuilt one.

Poison records (too deep to parse, not JSON, invalid) are skipped and counted as rejected, as the
live consumers dead-letter them.

One rebuild of a schema runs at a time (:meth:`ShadowTables.claim`); the replay processes end with
the rebuild, however it ends (:func:`_die_with`); the command handles SIGTERM as Ctrl-C (``cli.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import resource
import signal
import sys
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as MPConnection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from services.reporting.entrypoints.consumers import CONSUMERS
from services.reporting.entrypoints.kafka import partitions_of
from services.reporting.repositories.shadow import SCHEMA, ShadowTables, previous_schema
from shared.kernel import kafka as kafka_clients
from shared.kernel.envelope import Event
from shared.kernel.logs import configure_logging
from shared.kernel.pipeline import (
    BulkDedupe,
    BulkSummary,
    Consumer,
    Message,
    Mode,
    Route,
    apply_batch,
    decode_batch,
    routes,
)
from shared.kernel.settings import Settings
from shared.kernel.topics import region_of

__all__ = ["RebuildAborted", "RebuildReport", "Replayer", "Work", "previous_schema", "rebuild", "shard_of"]

log = logging.getLogger(__name__)

SWAP_ATTEMPTS = 5

T = TypeVar("T")


class RebuildAborted(Exception):
    """The rebuild stopped before its swap because swapping would lose data (or it could not finish):
    the live read model is untouched. The message is one line, for an operator."""


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
    # where the replay's time went (seconds): the reader waiting for Kafka, decoding, and waiting
    # for a writer's queue to have room; the writers applying (summed over writers)
    fetch_seconds: float = 0.0
    decode_seconds: float = 0.0
    queue_wait_seconds: float = 0.0
    write_seconds: float = 0.0
    peak_rss_mb: float = 0.0  # summed over the replay processes
    processes: int = 1  # sharing the bulk replay

    def add_share(self, other: RebuildReport) -> None:
        """Another replay process's counts and times (its peak memory added: they run at once)."""
        for name in (
            "records",
            "ignored",
            "rejected",
            "failed",
            "fetch_seconds",
            "decode_seconds",
            "queue_wait_seconds",
            "write_seconds",
            "peak_rss_mb",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def bulk_rate(self) -> float:
        return self.bulk_records / self.bulk_seconds if self.bulk_seconds else 0.0


@dataclass
class Work:
    """Decoded events of one fetch, per consumer."""

    by_consumer: dict[str, list[Event[Any]]] = field(default_factory=dict)
    records: int = 0


DECODE_CHUNK = 500


def _region(message: Message) -> str:
    region: str = message.envelope.region  # type: ignore[attr-defined]  # an Event: reporting reads canonical topics
    return region


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
        self.by_name = {c.name: c for c in CONSUMERS}

    async def _decode(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Work]:
        """Decode and route as the live consumers do (poison is skipped and counted: the live
        consumers dead-letter it, so it is not in the live read model either), then hand each
        aggregate's events to its writer."""
        shards = len(self.conns)
        works = [Work() for _ in range(shards)]
        works[0].records = len(records)
        for start in range(0, len(records), DECODE_CHUNK):
            if start:
                await asyncio.sleep(0)  # let the writers send their next statements meanwhile
            decoded = decode_batch(records[start : start + DECODE_CHUNK], self.routes)
            self.report.rejected += len(decoded.poison)
            self.report.ignored += sum(len(types) for types in decoded.ignored.values())
            for name, pairs in decoded.routed.items():
                for _, message in pairs:
                    event: Event[Any] = message  # type: ignore[assignment]  # reporting decodes events
                    work = works[shard_of(event, shards)] if shards > 1 else works[0]
                    work.by_consumer.setdefault(name, []).append(event)
        return works

    async def _apply(self, conn: asyncpg.Connection, work: Work, *, derive: bool) -> None:
        mode = Mode.LIVE if derive else Mode.BULK
        try:
            async with conn.transaction():
                for name, events in work.by_consumer.items():
                    await self._apply_events(conn, self.by_name[name], events, mode)
        except (asyncpg.PostgresError, ValueError) as exc:
            # As the live consumer does: apply one by one; what still fails is skipped and counted
            # (the live consumer would have dead-lettered it), and the rebuild will not swap.
            log.warning("rebuild batch failed; applying its events one by one", extra={"error": repr(exc)})
            for name, events in work.by_consumer.items():
                for event in events:
                    try:
                        async with conn.transaction():
                            await self._apply_events(conn, self.by_name[name], [event], mode)
                    except (asyncpg.PostgresError, ValueError) as one:
                        self.report.failed += 1
                        log.error(
                            "event skipped by the rebuild",
                            extra={"event_id": str(event.envelope.event_id), "error": repr(one)},
                        )

    async def _apply_events(
        self, conn: asyncpg.Connection, consumer: Consumer, events: Sequence[Event[Any]], mode: Mode
    ) -> None:
        """The pipeline's dedupe and apply. Bulk: ids staged, duplicates counted at the end."""
        applied, duplicates = await apply_batch(conn, consumer, events, mode=mode, region_of=_region)
        if mode is Mode.LIVE:
            self.report.applied += len(applied)
            self.report.duplicates += len(duplicates)

    async def replay(
        self, until: dict[TopicPartition, int], *, derive: bool, advance: Callable[[int], None] | None = None
    ) -> int:
        """Apply every record up to ``until`` (and whatever else the last fetches brought);
        ``advance`` is told of each applied batch's records."""
        queues: list[asyncio.Queue[Work | None]] = [asyncio.Queue(maxsize=1) for _ in self.conns]

        async def write(conn: asyncpg.Connection, queue: asyncio.Queue[Work | None]) -> None:
            while (work := await queue.get()) is not None:
                if work.by_consumer:
                    started = time.perf_counter()
                    await self._apply(conn, work, derive=derive)
                    self.report.write_seconds += time.perf_counter() - started
                if advance is not None and work.records:
                    advance(work.records)

        writers = [asyncio.create_task(write(c, q)) for c, q in zip(self.conns, queues, strict=True)]
        read = 0
        try:
            remaining = {tp for tp, end in until.items() if await self.consumer.position(tp) < end}
            while remaining:
                try:
                    started = time.perf_counter()
                    fetched = await self.consumer.getmany(*remaining, timeout_ms=1000, max_records=self.batch_size)
                    self.report.fetch_seconds += time.perf_counter() - started
                except OffsetOutOfRangeError as exc:  # the consumer never resets silently (see rebuild)
                    raise RebuildAborted(
                        f"records were deleted from the log during the replay ({_out_of_range(exc)}), "
                        "and a read model rebuilt without them would lose them"
                    ) from exc
                _raise_if_stopped(writers)
                records = [r for part in fetched.values() for r in part]
                if records:
                    if read // COLLECT_EVERY != (read + len(records)) // COLLECT_EVERY:
                        gc.collect()  # see _few_gc_passes
                    read += len(records)
                    self.report.records += len(records)
                    started = time.perf_counter()
                    works = await self._decode(records)
                    decoded = time.perf_counter()
                    self.report.decode_seconds += decoded - started
                    for n, work in enumerate(works):
                        await _put(queues[n], work, writers[n], writers)
                    self.report.queue_wait_seconds += time.perf_counter() - decoded
                for tp in list(remaining):
                    if await self.consumer.position(tp) >= until[tp]:
                        remaining.discard(tp)
            for n, queue in enumerate(queues):  # each writer told to stop; some may stop before others are told
                await _put(queue, None, writers[n], writers)
            await asyncio.wait(writers, return_when=asyncio.FIRST_EXCEPTION)
            _raise_if_stopped(writers, finished=True)
        finally:
            for writer in writers:
                if not writer.done():
                    writer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await writer
        return read


async def _put(
    queue: asyncio.Queue[Work | None],
    item: Work | None,
    owner: asyncio.Task[None],
    writers: Sequence[asyncio.Task[None]],
) -> None:
    """Hand ``item`` to the queue of the writer ``owner``, but never wait on it once that writer
    is gone: a full queue of a dead writer would block the reader forever (then the reason is
    raised, see :func:`_raise_if_stopped`). Only the owner counts: at the end, the writers told to
    stop before it may already have finished."""
    if not queue.full():
        queue.put_nowait(item)
        return
    putting = asyncio.ensure_future(queue.put(item))
    try:
        await asyncio.wait({putting, owner}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not putting.done():
            putting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await putting
    if putting.cancelled():
        _raise_if_stopped(writers)
        raise RebuildAborted("a writer stopped before the end of the replay")


def _out_of_range(exc: OffsetOutOfRangeError) -> str:
    positions = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    named = [f"{tp.topic}[{tp.partition}] at {offset}" for tp, offset in positions.items()]
    return ", ".join(named) or str(exc)


def _raise_if_stopped(writers: Sequence[asyncio.Task[None]], *, finished: bool = False) -> None:
    """Raise :class:`RebuildAborted` if a writer failed, or stopped before it was told to
    (``finished``: every writer was told to stop; then only failures count)."""
    for n, writer in enumerate(writers):
        if not writer.done():
            continue
        if writer.cancelled():
            raise RebuildAborted(f"writer {n} was cancelled")
        error = writer.exception()
        if error is not None:
            log.error("rebuild writer failed", exc_info=error, extra={"writer": n})
            raise RebuildAborted(f"writer {n} failed: {error!r}") from error
    if not finished and any(writer.done() for writer in writers):
        raise RebuildAborted("a writer stopped before the end of the replay")


async def check_regions(shadow: ShadowTables, regions: Sequence[str]) -> None:
    """Refuse a rebuild that does not replay every region the live read model holds: the swap would
    drop those regions' read model."""
    others = sorted(await shadow.live_regions() - set(regions))
    if others:
        raise RebuildAborted(
            f"the live read model holds region(s) {', '.join(others)} that this rebuild does not replay "
            f"(KOTAKU_REGIONS={','.join(regions)}), and the swap would drop their read model; "
            f"run it with KOTAKU_REGIONS={','.join([*regions, *others])}"
        )


async def check_log_starts(consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> None:
    """Refuse to replay a log that no longer starts at offset 0: the records before its start were
    deleted (retention, deleteRecords), and a read model rebuilt without them would lose them."""
    if not partitions:
        return
    starts = await _by_topic(consumer.beginning_offsets, partitions)
    cut = [tp for tp in partitions if starts[tp] > 0]
    if cut:
        named = ", ".join(f"{tp.topic}[{tp.partition}] starts at {starts[tp]}" for tp in cut)
        raise RebuildAborted(
            f"the log no longer starts at offset 0 ({named}): records were deleted from it, "
            "and a read model rebuilt without them would lose them"
        )


def check_failed(report: RebuildReport) -> None:
    if report.failed:
        raise RebuildAborted(
            f"{report.failed} event(s) failed to apply (logged as 'event skipped by the rebuild'); "
            "the rebuilt read model would miss them"
        )


async def check_nothing_lost(shadow: ShadowTables) -> None:
    rows = await shadow.fewer_events()
    if rows:
        named = ", ".join(f"{r['consumer']} {r['region']}: {r['rebuilt']} < {r['live']}" for r in rows)
        raise RebuildAborted(
            f"the rebuilt read model counts fewer applied events than the live one ({named}); "
            "events the live consumers applied are no longer in the log"
        )


MAX_PROCESSES = 4
MIN_BATCH = 500
COLLECT_EVERY = 250_000


def replay_processes() -> int:
    """One replay process per CPU this program may use (at most :data:`MAX_PROCESSES`): decoding
    is Python's, one core per process."""
    return max(1, min(MAX_PROCESSES, len(os.sched_getaffinity(0))))


def split_shares(
    ends: Mapping[TopicPartition, int], processes: int, topic_prefix: str = ""
) -> list[dict[TopicPartition, int]]:
    """The bulk replay's shares of ``ends`` (partition -> end offset; every log starts at 0, so that
    is its number of records), one per process, at most ``processes``.

    A region's partitions of one number stay together: its topics are keyed by aggregate id, so
    where they have the same number of partitions one aggregate's events meet in one process, as
    they meet in one writer within it (:func:`shard_of`). Elsewhere two processes may write one row;
    bulk writes are order-free, so that costs a lock wait (or, rarely, a deadlock, which the batch's
    one-by-one retry in :meth:`Replayer._apply` resolves). These groups go, the largest first, to
    the share with the fewest records so far: the processes finish together whatever the number of
    partitions (by partition number alone, three partitions per topic in two processes gave one of
    them two thirds of the log, and it worked alone for the last third of the replay)."""
    groups: dict[tuple[str, int], dict[TopicPartition, int]] = {}
    for tp, end in ends.items():
        groups.setdefault((region_of(tp.topic, topic_prefix), tp.partition), {})[tp] = end
    count = max(1, min(processes, len(groups)))
    shares: list[dict[TopicPartition, int]] = [{} for _ in range(count)]
    loads = [0] * count
    for _, group in sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        n = min(range(count), key=lambda i: (loads[i], len(shares[i]), i))
        shares[n].update(group)
        loads[n] += sum(group.values())
    return shares


@dataclass
class ReplayShare:
    """The bulk replay shared among processes: this one replays its share of the partitions with
    its own :class:`Replayer`, each other share is replayed by a process of its own
    (:func:`_replay_process`) into the same shadow tables. The records' positions at the end are
    gathered, so that the catch-up continues from there."""

    settings: Settings
    shadow: str
    batch_size: int
    writers: int

    async def replay_all(self, replayer: Replayer, parts: Sequence[dict[TopicPartition, int]], progress: bool) -> int:
        """Every partition of ``parts`` (:func:`split_shares`) from its start, up to its end offset
        (the consumer is assigned here): the first share here, each other one in a process of its
        own; returns the records read, and adds the other processes' counts to ``replayer.report``."""
        until = {tp: end for part in parts for tp, end in part.items()}
        consumer, report = replayer.consumer, replayer.report
        report.processes = len(parts)
        # Every partition assigned here once; the others' are paused (never fetched) meanwhile.
        # (Assigning again afterwards can leave aiokafka's consumer unable to stop.)
        consumer.assign(list(until))
        for tp in until:
            consumer.seek(tp, 0)
        others = [tp for tp in until if tp not in parts[0]]
        consumer.pause(*others)
        done = 0

        def advance(records: int) -> None:
            nonlocal done
            done += records

        bar = _progress_bar() if progress else None
        helpers: list[_Helper] = []
        replaying: asyncio.Future[int] | None = None
        try:
            for n, part in enumerate(parts[1:], 1):  # each one stopped below, even if a later one fails to start
                helpers.append(_Helper.start(self, part, n))
            replaying = asyncio.ensure_future(replayer.replay(parts[0], derive=False, advance=advance))
            with bar or contextlib.nullcontext():
                task = bar.add_task("replaying", total=sum(until.values())) if bar is not None else None
                while not (replaying.done() and all(h.result is not None for h in helpers)):
                    await asyncio.wait({replaying}, timeout=0.2)
                    for helper in helpers:
                        helper.check()  # raises RebuildAborted if it failed or died
                    if bar is not None and task is not None:
                        bar.update(task, completed=done + sum(h.records for h in helpers))
            read = await replaying
            positions = {tp: await consumer.position(tp) for tp in parts[0]}
        finally:
            if replaying is not None and not replaying.done():
                replaying.cancel()
                with contextlib.suppress(asyncio.CancelledError, RebuildAborted):
                    await replaying
            for helper in helpers:
                helper.stop()
        for helper in helpers:
            assert helper.result is not None
            share, share_positions = helper.result
            report.add_share(share)
            read += share.records
            positions.update(share_positions)
        for tp in others:
            consumer.seek(tp, positions[tp])
        consumer.resume(*others)
        return read

    async def replay_part(
        self, until: dict[TopicPartition, int], advance: Callable[[int], None]
    ) -> tuple[RebuildReport, dict[TopicPartition, int]]:
        """In a replay process: ``until``'s partitions from their start into the shadow tables."""
        _few_gc_passes()
        report = RebuildReport()
        conns = await _writer_connections(self.settings.database_url.get_secret_value(), self.shadow, self.writers)
        consumer = _log_consumer(self.settings)
        try:
            await consumer.start()
            consumer.assign(list(until))
            for tp in until:
                consumer.seek(tp, 0)
            routes_ = routes(CONSUMERS, self.settings.regions, self.settings.topic_prefix)
            replayer = Replayer(consumer, conns, routes_, report, self.batch_size)
            await replayer.replay(until, derive=False, advance=advance)
            positions = {tp: await consumer.position(tp) for tp in until}
        finally:
            await consumer.stop()
            for conn in conns:
                await _close(conn)
        report.peak_rss_mb = peak_resident_mb()
        return report, positions


HELPER_STOP_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` ends (Linux's parent-death signal), and
    end at once if it already has. Elsewhere nothing is set: the rebuild stops its helpers when it
    ends by an exception or a signal it handles (SIGINT, SIGTERM)."""
    if sys.platform != "linux":
        return
    import ctypes  # only here: a Linux system call

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("could not tie the replay process to the rebuild", extra={"errno": ctypes.get_errno()})
    if os.getppid() != parent:  # it ended before the signal was set
        os._exit(1)


class _Helper:
    """A replay process seen from the rebuild: its records so far (a shared counter), its result
    or failure (a pipe)."""

    def __init__(self, process: BaseProcess, pipe: MPConnection, counter: Any, number: int) -> None:
        self.process, self.pipe, self.counter, self.number = process, pipe, counter, number
        self.result: tuple[RebuildReport, dict[TopicPartition, int]] | None = None

    @classmethod
    def start(cls, share: ReplayShare, until: dict[TopicPartition, int], number: int) -> _Helper:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no event loop, no sockets inherited
        ours, theirs = context.Pipe(duplex=False)
        counter = context.Value("q", 0)
        process = context.Process(
            target=_replay_process,
            args=(share, until, counter, theirs, os.getpid()),
            name=f"kotaku-rebuild-{number}",
            daemon=True,
        )
        process.start()
        theirs.close()
        return cls(process, ours, counter, number)

    @property
    def records(self) -> int:
        return int(self.counter.value)

    def check(self) -> None:
        """Take its result if it has sent one; raise :class:`RebuildAborted` if it failed or died."""
        if self.result is not None:
            return
        try:
            message = self.pipe.recv() if self.pipe.poll() else None
        except (EOFError, OSError):
            message = None
        if message is None:
            if not self.process.is_alive():
                raise RebuildAborted(
                    f"replay process {self.number} stopped without a result (exit code {self.process.exitcode})"
                )
            return
        outcome, detail = message
        if outcome == "done":
            self.result = detail
            return
        raise RebuildAborted(detail if outcome == "aborted" else f"replay process {self.number} failed: {detail}")

    def stop(self) -> None:
        """Ended, whatever its state: asked first (SIGTERM), then killed if it has not gone within
        :data:`HELPER_STOP_SECONDS` (a process that does not run, stopped or stuck, never ends on
        its own)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(HELPER_STOP_SECONDS)
        if self.process.is_alive():
            log.warning("replay process did not stop; killing it", extra={"replay_process": self.number})
            self.process.kill()
        self.process.join(HELPER_STOP_SECONDS)
        self.pipe.close()


def _replay_process(
    share: ReplayShare, until: dict[TopicPartition, int], counter: Any, pipe: MPConnection, parent: int
) -> None:
    """A replay process's body: its share, then its report and the positions reached, or why not.
    It dies with the rebuild (``parent``), however that ends: a rebuild killed outright (SIGKILL,
    or SIGTERM before it can stop its helpers) would otherwise leave it writing on its own."""
    _die_with(parent)
    configure_logging("reporting", share.settings.log_level)

    def advance(records: int) -> None:
        with counter.get_lock():
            counter.value += records

    try:
        pipe.send(("done", asyncio.run(share.replay_part(until, advance))))
    except RebuildAborted as exc:
        pipe.send(("aborted", str(exc)))
    except Exception as exc:
        log.exception("replay process failed")
        pipe.send(("failed", repr(exc)))
    finally:
        pipe.close()


def _few_gc_passes() -> tuple[int, int, int]:
    """Decoding allocates millions of short-lived objects: fewer cyclic GC passes (nothing here
    builds reference cycles at that rate) save a third of the CPU time. The oldest generation is
    then never collected by itself, so the replay collects every :data:`COLLECT_EVERY` records:
    the few cycles that reach it (asyncio's, the drivers') would otherwise add up over millions of
    records. Returns the thresholds to put back."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    return thresholds


def _log_consumer(settings: Settings) -> AIOKafkaConsumer:
    return kafka_clients.consumer(
        settings,
        client_id="kotaku-reporting-rebuild",
        group_id=None,
        enable_auto_commit=False,
        # Never jump silently: a fetch below the start of the log (records deleted meanwhile) raises.
        auto_offset_reset="none",
        # A fetch returns up to this much of each partition, and the unread rest waits in memory for
        # every partition at once: 1 MB cost 100 MB more of peak memory (3M events: 371 MB against
        # 267 MB), for 6% more speed.
        max_partition_fetch_bytes=256 * 1024,
        fetch_max_bytes=8 * 1024 * 1024,
    )


async def _writer_connections(dsn: str, shadow: str, writers: int) -> list[asyncpg.Connection]:
    conns: list[asyncpg.Connection] = []
    try:
        for _ in range(max(1, writers)):
            conns.append(
                await asyncpg.connect(
                    dsn,
                    server_settings={
                        "search_path": shadow,
                        "application_name": "kotaku-rebuild-writer",
                        # Their commits need not wait for the disk: nothing they write is used before
                        # the swap, whose commit (synchronous, on another connection) flushes the log
                        # up to it, theirs included; a crash before it loses the shadow tables only.
                        "synchronous_commit": "off",
                    },
                )
            )
    except BaseException:
        for conn in conns:
            await _close(conn)
        raise
    return conns


async def rebuild(
    settings: Settings,
    *,
    schema: str = SCHEMA,
    batch_size: int = 5000,
    progress: bool = True,
    drop_previous: bool = False,
    writers: int = 2,
    processes: int | None = None,
) -> RebuildReport:
    """Replay, then swap. Raises :class:`RebuildAborted` (live tables untouched, shadow tables
    dropped) instead of swapping in a read model that would hold less than the live one.
    ``processes``: how many processes share the bulk replay (default: one per CPU, at most
    :data:`MAX_PROCESSES`)."""
    report = RebuildReport()
    started = time.perf_counter()
    thresholds = _few_gc_passes()
    dsn = settings.database_url.get_secret_value()
    admin = await asyncpg.connect(dsn, server_settings={"search_path": schema, "application_name": "kotaku-rebuild"})
    shadow = ShadowTables(admin, schema)
    try:
        other = await shadow.claim()
        if other is not None:
            raise RebuildAborted(
                f"another rebuild of {schema} is running (its session began {other:%Y-%m-%d %H:%M:%S %Z}); "
                "one rebuild at a time"
            )
        conns = await _writer_connections(dsn, shadow.shadow, writers)
    except BaseException:
        await _close(admin)
        raise
    work = conns[0]
    consumer = _log_consumer(settings)
    created = swapped = False
    try:
        routes_ = routes(CONSUMERS, settings.regions, settings.topic_prefix)
        await check_regions(shadow, settings.regions)
        await consumer.start()
        admin_client = kafka_clients.admin(settings, "kotaku-rebuild")
        await admin_client.start()
        try:
            partitions = await partitions_of(admin_client, list(routes_))
        finally:
            await admin_client.close()
        missing = sorted(set(routes_) - {tp.topic for tp in partitions})
        if missing:
            log.warning("topics not found; nothing to replay from them", extra={"topics": missing})
        report.partitions = len(partitions)
        await check_log_starts(consumer, partitions)
        created = True
        await shadow.create()
        await BulkDedupe.create(work)  # in the shadow schema, the writers' search_path
        for consumer_ in CONSUMERS:
            if consumer_.bulk_begin is not None:
                await consumer_.bulk_begin(work)
        # 1. bulk replay up to the end offsets at the start, then the derived tables once
        bulk_started = time.perf_counter()
        parts = split_shares(
            await _end_offsets(consumer, partitions), processes or replay_processes(), settings.topic_prefix
        )
        # the records in flight (and the memory they take) stay those of one process
        per_process = max(MIN_BATCH, batch_size // len(parts))
        replayer = Replayer(consumer, conns, routes_, report, per_process)
        share = ReplayShare(settings, shadow.shadow, per_process, writers)
        report.bulk_records = await share.replay_all(replayer, parts, progress)
        report.bulk_seconds = time.perf_counter() - bulk_started
        check_failed(report)
        derive_started = time.perf_counter()

        async def derive() -> None:
            async with work.transaction():
                await shadow.allow_big_sorts(work)
                for consumer_ in CONSUMERS:
                    if consumer_.derive_all is not None:
                        await consumer_.derive_all(work)

        async def finish_dedupe(conn: asyncpg.Connection) -> tuple[int, list[BulkSummary]]:
            async with conn.transaction():
                await shadow.allow_big_sorts(conn)
                return await BulkDedupe.finish(conn)

        if len(conns) > 1:  # two sorts of millions of rows at once, on two connections
            _, (staged, summaries) = await _together(derive(), finish_dedupe(conns[1]))
        else:
            await derive()
            staged, summaries = await finish_dedupe(work)
        async with work.transaction():
            for name in sorted({row.consumer for row in summaries}):
                await shadow.record_freshness(work, name, [r for r in summaries if r.consumer == name])
        distinct = sum(r.messages for r in summaries)
        report.applied += distinct
        report.duplicates += staged - distinct
        await shadow.analyze(*conns[:2])
        report.derive_seconds = time.perf_counter() - derive_started
        report.bulk_seconds += report.derive_seconds
        _say(progress, f"replayed {report.bulk_records:,} records in {report.bulk_seconds:.1f}s")

        # 2. catch up without blocking anyone
        report.catchup_records += await replayer.replay(await _end_offsets(consumer, partitions), derive=True)
        check_failed(report)

        # 3. swap under the dedupe table's lock, unless the new tables would hold less than the live ones
        swap_started = time.perf_counter()
        names = [c.name for c in CONSUMERS]
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            report.swap_attempts = attempt
            try:
                async with admin.transaction():
                    await shadow.lock_live()
                    report.catchup_records += await replayer.replay(
                        await _end_offsets(consumer, partitions), derive=True
                    )
                    check_failed(report)
                    await check_nothing_lost(shadow)
                    await shadow.swap(names)
                swapped = True
                break
            except asyncpg.LockNotAvailableError:
                if attempt == SWAP_ATTEMPTS:
                    raise
                log.warning("swap could not take its locks in time; retrying", extra={"attempt": attempt})
                await asyncio.sleep(1.0)
        report.swap_seconds = time.perf_counter() - swap_started
        if drop_previous:
            await shadow.drop_previous()
    finally:
        await consumer.stop()
        for conn in conns:
            await _close(conn)
        if created and not swapped:  # the writers are gone: nothing holds a lock on the shadow tables
            try:
                await shadow.drop()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("could not drop the shadow tables", extra={"schema": shadow.shadow, "error": repr(exc)})
        await _close(admin)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    report.seconds = time.perf_counter() - started
    report.peak_rss_mb += peak_resident_mb()  # and the other replay processes' peaks
    return report


async def _together(first: Awaitable[Any], second: Awaitable[T]) -> tuple[Any, T]:
    """Both at once; if one fails, the other is cancelled and the failure raised as it is."""
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    tasks = (one, two)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and task.exception() is not None:
                await task  # raises it
        return await one, await two
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def peak_resident_mb() -> float:
    """This process's peak resident memory. Linux's ``VmHWM`` counts this program only;
    ``getrusage``'s maximum also keeps the memory of the process it was forked from (a rebuild
    started by a big parent would report the parent's size), so it is only the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _close(conn: asyncpg.Connection) -> None:
    """Close gracefully; a connection left mid-statement by a failed writer is cut off."""
    try:
        await conn.close(timeout=10)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        conn.terminate()


async def _end_offsets(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    return await _by_topic(consumer.end_offsets, partitions)


async def _by_topic(
    lookup: Callable[[list[TopicPartition]], Awaitable[dict[TopicPartition, int]]],
    partitions: Sequence[TopicPartition],
) -> dict[TopicPartition, int]:
    """``lookup`` (a consumer's ``beginning_offsets`` or ``end_offsets``) over ``partitions``: one
    call per topic, all at once. A consumer that does not know a topic yet learns one topic per
    retry, 100 ms apart (aiokafka stops at the first unknown partition): one call over 100 new
    topics took 10 s before the replay could begin. Called per topic, every topic joins the same
    metadata updates (0.7 s)."""
    topics: dict[str, list[TopicPartition]] = {}
    for tp in partitions:
        topics.setdefault(tp.topic, []).append(tp)
    found: dict[TopicPartition, int] = {}
    for offsets in await asyncio.gather(*(lookup(tps) for tps in topics.values())):
        found.update(offsets)
    return found


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
