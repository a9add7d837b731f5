"""The rebuild replays the whole log into fresh tables, equal row for row to the incrementally built
ones, and swaps them in while the live consumers keep running, so that nothing is skipped or
applied twice across the swap. It never swaps in less than the live read model holds: a failed
event, a region left out, a truncated or re-created log or a dead writer stop it before the swap,
and poison records are skipped as the live consumers skip them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from bench.generator import FACILITATORS_CONSUMER, TRAININGS_CONSUMER, Generator, Synthetic
from services.reporting.entrypoints import rebuild as rebuilding
from services.reporting.repositories.projections import DEDUPE_TABLE, READ_MODEL_TABLES
from shared.kernel.settings import Settings, load_settings
from shared.kernel.topics import FACILITATOR, TRAINING
from shared.tools.devstack import ServiceProcess
from shared.tools.kafka_admin import delete_topics, ensure_topics
from tests.integration.conftest import BOOTSTRAP, OTHER, REGION, Stack, eventually

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[2]
REGIONS = f"{REGION},{OTHER}"
WALL_CLOCK = {"region_freshness": ("last_applied_at",), DEDUPE_TABLE: ("processed_at",)}


async def publish(producer: AIOKafkaProducer, stack: Stack, events: Sequence[Synthetic]) -> None:
    futures = [
        await producer.send(stack.topic(e.stream.topic(e.region)), e.body(), key=e.key, headers=e.headers())
        for e in events
    ]
    await asyncio.gather(*futures)


def expected_applied(events: Sequence[Synthetic]) -> dict[str, int]:
    return {
        consumer: len({e.event_id for e in events if e.consumer == consumer})
        for consumer in (FACILITATORS_CONSUMER, TRAININGS_CONSUMER)
    }


async def applied(db: asyncpg.Connection) -> dict[str, int]:
    rows = await db.fetch("SELECT consumer, sum(events_applied)::bigint AS n FROM region_freshness GROUP BY consumer")
    return {r["consumer"]: r["n"] for r in rows}


async def run_rebuild(
    stack: Stack, *args: str, progress: bool = False, env: dict[str, str] | None = None
) -> tuple[int | None, str, str]:
    """``python -m services.reporting rebuild`` with the reporting service's environment (plus
    ``env``): its exit status, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.reporting",
        "rebuild",
        *([] if progress else ["--no-progress"]),
        *args,
        cwd=ROOT,
        env={**stack.services["reporting"].env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


async def rebuild(stack: Stack, *args: str, progress: bool = False) -> str:
    code, out, err = await run_rebuild(stack, *args, progress=progress)
    assert code == 0, out + err
    return out + err if progress else out


async def refused_rebuild(stack: Stack, **env: str) -> str:
    """A rebuild that must refuse to swap: its one-line reason."""
    code, out, err = await run_rebuild(stack, env=env)
    assert code == 2, f"exit status {code}\n{out}{err}"
    reasons = [line for line in err.splitlines() if line.startswith("rebuild refused to swap")]
    assert len(reasons) == 1, err
    return reasons[0]


def in_process_settings(stack: Stack) -> Settings:
    """The reporting service's settings, for a rebuild run inside the test."""
    env = stack.services["reporting"].env
    return load_settings(
        database_url=env["KOTAKU_DATABASE_URL"],
        regions=env["KOTAKU_REGIONS"],
        topic_prefix=stack.prefix,
        kafka_bootstrap=BOOTSTRAP,
    )


async def schemas(db: asyncpg.Connection) -> set[str]:
    rows = await db.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'reporting%'")
    return {r["nspname"] for r in rows}


async def snapshot(db: asyncpg.Connection, schema: str = "reporting") -> dict[str, Any]:
    """The tables of ``schema``: which ones they are (their oids: a swap replaces them) and their
    rows (wall-clock columns aside)."""
    tables = (*READ_MODEL_TABLES, DEDUPE_TABLE)
    oids = {t: await db.fetchval("SELECT to_regclass($1)::oid", f'"{schema}"."{t}"') for t in tables}
    return {"oids": oids, "rows": {t: await table_rows(db, schema, t) for t in tables}}


async def settled(db: asyncpg.Connection, schema: str = "reporting") -> dict[str, Any]:
    """A snapshot once the live consumers have nothing left to do (two in a row a second apart agree)."""
    last = await snapshot(db, schema)
    for _ in range(30):
        await asyncio.sleep(1.0)
        now = await snapshot(db, schema)
        if now == last:
            return now
        last = now
    raise AssertionError(f"{schema} kept changing")


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after["oids"] == before["oids"], "the tables were replaced"
    for table, rows in before["rows"].items():
        now = after["rows"][table]
        gone, new = [r for r in rows if r not in now][:3], [r for r in now if r not in rows][:3]
        assert now == rows, f"{table}: {len(rows)} rows before, {len(now)} after; gone {gone}, new {new}"


async def caught_up_with(db: asyncpg.Connection, events: Sequence[Synthetic]) -> None:
    want = expected_applied(events)

    async def done() -> bool:
        return await applied(db) == want

    await eventually(done, within=60)


async def reporting_caught_up(
    stack: Stack,
    producer: AIOKafkaProducer,
    db: asyncpg.Connection,
    regions: list[str],
    *,
    seed: int,
    count: int,
    **env: str,
) -> tuple[ServiceProcess, list[Synthetic]]:
    """The reporting service started (with ``env``) and ``count`` synthetic events of ``regions``
    published and applied by its live consumers: the service and the events."""
    service = stack.start("reporting", **env)
    events = list(Generator(regions, seed=seed).events(count))
    await publish(producer, stack, events)
    await caught_up_with(db, events)
    return service, events


async def table_rows(db: asyncpg.Connection, schema: str, table: str) -> list[tuple[Any, ...]]:
    columns = [
        r["column_name"]
        for r in await db.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2"
            " ORDER BY ordinal_position",
            schema,
            table,
        )
        if r["column_name"] not in WALL_CLOCK.get(table, ())
    ]
    assert columns, f"{schema}.{table} does not exist"
    listed = ", ".join(f'"{c}"' for c in columns)
    rows = await db.fetch(f'SELECT {listed} FROM "{schema}"."{table}" ORDER BY {listed}')  # noqa: S608 - test
    return [tuple(r) for r in rows]


async def assert_same_tables(db: asyncpg.Connection, left: str, right: str) -> dict[str, int]:
    sizes = {}
    for table in (*READ_MODEL_TABLES, DEDUPE_TABLE):
        a, b = await table_rows(db, left, table), await table_rows(db, right, table)
        assert a == b, f"{table}: {len(a)} rows in {left}, {len(b)} in {right}"
        sizes[table] = len(a)
    assert await indexes(db, left) == await indexes(db, right)  # names survive the swap
    return sizes


async def indexes(db: asyncpg.Connection, schema: str) -> set[tuple[str, str, str]]:
    rows = await db.fetch("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1", schema)
    return {
        (r["tablename"], r["indexname"], r["indexdef"].replace(f"{schema}.", ""))
        for r in rows
        if r["tablename"] in (*READ_MODEL_TABLES, DEDUPE_TABLE)
    }


async def national(stack: Stack) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        body: dict[str, Any] = (await http.get(f"{stack.url('reporting')}/api/v1/reports/national")).json()
    for key in ("data_as_of", "freshness"):
        body.pop(key)
    return body


async def test_rebuild_reproduces_the_incremental_read_models_row_for_row(
    stack: Stack,
    other_region: str,
    producer: AIOKafkaProducer,
    service_db: dict[str, asyncpg.Connection],
) -> None:
    db = service_db["reporting"]
    _, events = await reporting_caught_up(
        stack, producer, db, [REGION, other_region], seed=11, count=5000, KOTAKU_REGIONS=REGIONS
    )
    want = expected_applied(events)
    before = await national(stack)
    assert before["summary"]["enrolled"] > 0

    out = await rebuild(stack)
    assert "5,000 records" in out

    sizes = await assert_same_tables(db, "reporting", "reporting_previous")
    assert sizes["attendance"] > 1000
    # the rebuilt consumers' dedupe rows; the other consumers' (reporting.xapi) are carried over by the swap
    rebuilt = await db.fetch(
        "SELECT consumer, count(*) AS n FROM reporting.processed_events WHERE consumer = ANY($1) GROUP BY consumer",
        list(want),
    )
    assert {r["consumer"]: r["n"] for r in rebuilt} == want
    assert sizes[DEDUPE_TABLE] >= sum(want.values())
    assert await national(stack) == before  # the API reads the swapped-in tables


async def test_live_consumers_neither_skip_nor_double_apply_across_a_swap(
    stack: Stack,
    other_region: str,
    producer: AIOKafkaProducer,
    service_db: dict[str, asyncpg.Connection],
) -> None:
    stack.start("reporting", KOTAKU_REGIONS=REGIONS, KOTAKU_CONSUMER_MAX_RECORDS="100")
    events = list(Generator([REGION, other_region], seed=12).events(8000))
    first, rest = events[:3000], events[3000:]
    await publish(producer, stack, first)
    db = service_db["reporting"]

    async def trickle() -> None:  # events keep arriving while the rebuild runs and swaps
        for i in range(0, len(rest), 250):
            await publish(producer, stack, rest[i : i + 250])
            await asyncio.sleep(0.05)

    feeding = asyncio.create_task(trickle())
    await rebuild(stack)
    await feeding
    want = expected_applied(events)

    async def caught_up() -> dict[str, int] | None:
        got = await applied(db)
        return got if got == want else None

    # events_applied is counted per applied event: a skipped event would leave it short, an event
    # applied twice (once by the rebuild, once by the live consumer) would push it over.
    await eventually(caught_up, within=60)
    await asyncio.sleep(1.0)
    assert await applied(db) == want

    # and the state built across the swap is exactly what a replay of the whole log gives
    await rebuild(stack)
    await assert_same_tables(db, "reporting", "reporting_previous")
    shown = await rebuild(stack, "--drop-previous", progress=True)  # the replay processes' progress, summed
    assert re.search(r"rebuild replaying .* 8000/8000", shown), shown
    assert "replayed 8,000 records" in shown
    assert await db.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'reporting_previous'") == 0


# -- a rebuild never swaps in less than the live read model holds -----------------------------------


async def test_refuses_to_swap_when_an_event_fails_to_apply(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    db = service_db["reporting"]
    service, _ = await reporting_caught_up(stack, producer, db, [REGION], seed=21, count=1000)
    service.stop()  # what the live consumer does with the next event is not the subject here
    before = await settled(db)
    # A registration the contract accepts but PostgreSQL refuses (NUL in a text column): the
    # rebuild counts it as failed.
    registration = next(e for e in Generator([REGION], seed=22).events(100) if e.event_type == "FacilitatorRegistered")
    bad = dataclasses.replace(registration, payload={**registration.payload, "full_name": "Nama\x00Rusak"})
    await publish(producer, stack, [bad])

    reason = await refused_rebuild(stack)

    assert "1 event(s) failed to apply" in reason
    assert_unchanged(before, await snapshot(db))  # the same tables, the same rows
    assert await schemas(db) == {"reporting"}  # no previous tables, shadow tables dropped


async def test_refuses_to_swap_when_regions_of_the_live_read_model_are_left_out(
    stack: Stack,
    other_region: str,
    producer: AIOKafkaProducer,
    service_db: dict[str, asyncpg.Connection],
) -> None:
    db = service_db["reporting"]
    await reporting_caught_up(stack, producer, db, [REGION, other_region], seed=23, count=1000, KOTAKU_REGIONS=REGIONS)
    before = await settled(db)

    reason = await refused_rebuild(stack, KOTAKU_REGIONS=REGION)

    assert f"region(s) {other_region} that this rebuild does not replay" in reason
    assert f"run it with KOTAKU_REGIONS={REGION},{other_region}" in reason
    assert_unchanged(before, await snapshot(db))
    assert await schemas(db) == {"reporting"}


async def test_refuses_to_swap_when_the_log_no_longer_starts_at_offset_zero(
    stack: Stack,
    producer: AIOKafkaProducer,
    service_db: dict[str, asyncpg.Connection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = service_db["reporting"]
    await reporting_caught_up(stack, producer, db, [REGION], seed=24, count=1000)
    await rebuild(stack)  # a good rebuild first: its previous tables must survive the refused one
    before = {schema: await settled(db, schema) for schema in ("reporting", "reporting_previous")}

    topic = stack.topic(TRAINING.topic(REGION))
    partitions = [TopicPartition(topic, p) for p in range(3)]
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    cut = next(tp for tp in partitions if ends[tp] > 1)
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.delete_records({cut: RecordsToDelete(before_offset=1)})
    finally:
        await admin.close()

    reason = await refused_rebuild(stack)

    assert f"{topic}[{cut.partition}] starts at 1" in reason
    for schema, tables in before.items():
        assert_unchanged(tables, await snapshot(db, schema))
    assert await schemas(db) == {"reporting", "reporting_previous"}

    # Records deleted after that check (while the replay runs) are noticed by the fetch itself:
    # the consumer never jumps to the new start of the log.
    async def no_check(*_: Any) -> None:
        return None

    monkeypatch.setattr(rebuilding, "check_log_starts", no_check)
    deleted = re.escape(f"records were deleted from the log during the replay ({topic}[{cut.partition}] at 0)")
    with pytest.raises(rebuilding.RebuildAborted, match=deleted):
        await asyncio.wait_for(rebuilding.rebuild(in_process_settings(stack), progress=False), 60)
    for schema, tables in before.items():
        assert_unchanged(tables, await snapshot(db, schema))
    assert await schemas(db) == {"reporting", "reporting_previous"}


async def test_a_dead_writer_stops_the_rebuild_promptly_and_nothing_is_swapped(
    stack: Stack,
    producer: AIOKafkaProducer,
    service_db: dict[str, asyncpg.Connection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = service_db["reporting"]
    await reporting_caught_up(stack, producer, db, [REGION], seed=25, count=3000)
    before = await settled(db)

    # Writer 0 takes its first batch, works on it for a while (the reader meanwhile fills its
    # queue and waits for room), then dies.
    apply = rebuilding.Replayer._apply
    killed = False

    async def dying(
        self: rebuilding.Replayer, conn: asyncpg.Connection, work: rebuilding.Work, *, derive: bool
    ) -> None:
        nonlocal killed
        if conn is self.conns[0] and not killed:
            killed = True
            await asyncio.sleep(1.0)
            raise RuntimeError("writer killed by the test")
        await apply(self, conn, work, derive=derive)

    monkeypatch.setattr(rebuilding.Replayer, "_apply", dying)
    started = time.monotonic()
    with pytest.raises(
        rebuilding.RebuildAborted, match=r"writer 0 failed: RuntimeError\('writer killed by the test'\)"
    ):
        await asyncio.wait_for(rebuilding.rebuild(in_process_settings(stack), progress=False, batch_size=50), 30)
    assert killed
    assert time.monotonic() - started < 15
    assert_unchanged(before, await snapshot(db))
    assert await schemas(db) == {"reporting"}


async def test_refuses_to_swap_when_the_live_read_model_counts_events_the_log_no_longer_has(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    db = service_db["reporting"]
    service, events = await reporting_caught_up(stack, producer, db, [REGION], seed=27, count=1000)
    service.stop()
    before = await settled(db)
    # The facilitator topic deleted and created again, empty: it starts at offset 0, so only the
    # count under the swap's lock can tell that its events are gone.
    topic = stack.topic(FACILITATOR.topic(REGION))
    await delete_topics(BOOTSTRAP, [topic])
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:

        async def gone() -> bool:
            return topic not in await admin.list_topics()

        await eventually(gone, within=30)
    finally:
        await admin.close()
    await ensure_topics(BOOTSTRAP, [topic], partitions=3)

    reason = await refused_rebuild(stack)

    registered = expected_applied(events)[FACILITATORS_CONSUMER]
    assert f"fewer applied events than the live one ({FACILITATORS_CONSUMER} {REGION}: 0 < {registered})" in reason
    assert_unchanged(before, await snapshot(db))
    assert await schemas(db) == {"reporting"}


POISON = (
    b"[" * 100_000,  # not JSON, and 100,000 levels deep before the parser finds out
    b"[" * 50_000 + b"]" * 50_000,  # JSON, 50,000 arrays deep
)


async def test_poison_records_are_rejected_and_the_rebuild_goes_on(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    stack.start("reporting").stop()  # the live consumers are not the subject here
    events = list(Generator([REGION], seed=26).events(1000))
    envelope = events[0].body().replace(b'"payload":{', b'"payload":' + b"[" * 50_000 + b"{", 1)
    poison = [*POISON, envelope + b"]" * 50_000]  # an envelope whose payload is 50,000 arrays deep
    await publish(producer, stack, events[:500])
    futures = [await producer.send(stack.topic(FACILITATOR.topic(REGION)), value) for value in poison]
    await asyncio.gather(*futures)
    await publish(producer, stack, events[500:])

    out = await rebuild(stack)

    assert f"{len(events) + len(poison):,} records" in out
    assert f"{len(poison)} rejected, 0 failed" in out
    db = service_db["reporting"]
    assert await applied(db) == expected_applied(events)


# -- a rebuild's processes, stopped from outside ---------------------------------------------------


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first, then the parent's
    pid), or None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def replay_processes_of(pid: int) -> list[int]:
    """The replay processes (multiprocessing's spawned interpreters) whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (fields := stat_fields(int(entry.name))) is None or int(fields[1]) != pid:
            continue
        with contextlib.suppress(OSError):
            if b"spawn_main" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


async def rebuild_sessions(db: asyncpg.Connection) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'kotaku-rebuild%'"
            " AND datname = current_database()"
        )
    )


async def no_rebuild_sessions(db: asyncpg.Connection) -> bool:
    return await rebuild_sessions(db) == 0


async def rebuild_with_a_frozen_helper(stack: Stack, db: asyncpg.Connection) -> tuple[asyncio.subprocess.Process, int]:
    """A rebuild command (two replay processes) whose other replay process is stopped (SIGSTOP)
    in the middle of its share, its writers connected: the rebuild cannot finish until it is
    continued. The command and that process's pid."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.reporting",
        "rebuild",
        "--no-progress",
        "--processes",
        "2",
        "--batch-size",
        "10",
        cwd=ROOT,
        env=stack.services["reporting"].env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    (helper,) = await eventually(lambda: replay_processes_of(proc.pid), within=30, interval=0.01)

    async def connected() -> bool:  # both processes' two writers, and the rebuild's admin session
        return await rebuild_sessions(db) >= 5

    await eventually(connected, within=30, interval=0.01)
    os.kill(helper, signal.SIGSTOP)
    assert running(helper), "the replay process ended before it could be held"
    assert proc.returncode is None
    return proc, helper


async def test_one_rebuild_at_a_time_a_second_one_is_refused_and_the_first_goes_on(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    db = service_db["reporting"]
    _, events = await reporting_caught_up(stack, producer, db, [REGION], seed=27, count=6000)
    first, helper = await rebuild_with_a_frozen_helper(stack, db)

    reason = await refused_rebuild(stack)

    assert "another rebuild of reporting is running" in reason, reason
    os.kill(helper, signal.SIGCONT)
    out, err = await asyncio.wait_for(first.communicate(), 120)
    assert first.returncode == 0, (out + err).decode()
    assert f"{len(events):,} records" in out.decode()
    assert await applied(db) == expected_applied(events)


async def test_a_rebuild_stopped_by_sigterm_ends_its_replay_processes_and_drops_its_tables(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    db = service_db["reporting"]
    await reporting_caught_up(stack, producer, db, [REGION], seed=28, count=6000)
    before = await settled(db)
    proc, helper = await rebuild_with_a_frozen_helper(stack, db)

    proc.send_signal(signal.SIGTERM)  # what an orchestrator's stop sends
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        for pid in (proc.pid, helper):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, err = await proc.communicate()
        raise AssertionError(f"the rebuild did not stop within 30 s: {err.decode()[-3000:]}") from None

    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    assert "rebuild stopped by SIGTERM" in err.decode()
    assert not running(helper)  # stopped, even though it could not run to end itself
    await eventually(lambda: no_rebuild_sessions(db), within=10)
    assert await schemas(db) == {"reporting"}
    assert_unchanged(before, await snapshot(db))


async def test_a_killed_rebuild_takes_its_replay_processes_with_it_and_the_next_one_swaps(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    db = service_db["reporting"]
    _, events = await reporting_caught_up(stack, producer, db, [REGION], seed=29, count=6000)
    before = await settled(db)
    proc, helper = await rebuild_with_a_frozen_helper(stack, db)

    proc.kill()  # SIGKILL: no clean-up of its own at all
    await proc.wait()

    await eventually(lambda: not running(helper), within=10)  # the kernel ends it with its parent
    await eventually(lambda: no_rebuild_sessions(db), within=10)
    assert_unchanged(before, await snapshot(db))
    out = await rebuild(stack)  # drops the shadow tables the killed one left, and swaps
    assert f"{len(events):,} records" in out
    assert await applied(db) == expected_applied(events)
    assert "reporting_rebuild" not in await schemas(db)
