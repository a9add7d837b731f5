"""A broker dies under load on a real three-broker cluster (deploy/local/kafka-cluster.sh):
replication factor 3 and min.insync.replicas 2 mean that every registration the API acknowledged
(HTTP 201, committed with its event in the outbox) reaches reporting, and that the services carry
on by themselves, without a restart, while one broker is down and after it comes back."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.kernel.topics import all_topics
from shared.tools.kafka_admin import describe_partitions, ensure_topics
from tests.integration.conftest import REGION, Stack
from tests.ops.conftest import REPO, run

pytestmark = [pytest.mark.real, pytest.mark.timeout(280)]

SCRIPT = REPO / "deploy" / "local" / "kafka-cluster.sh"
LOAD_SECONDS = 40.0
KILL_AT = 10.0  # seconds into the load
RESTART_AT = 25.0
RATE = 20  # registrations per second


def letters(n: int) -> str:
    """A distinct name part without digits (names accept letters only): 0 -> Aa, 1 -> Ab, ..."""
    out = ""
    for _ in range(3):
        n, rest = divmod(n, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[rest] + out
    return out.capitalize()


def cluster(*args: str, timeout: float = 180) -> str:
    done = run("bash", SCRIPT, *args, timeout=timeout, env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 0, f"kafka-cluster.sh {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def kafka_cluster() -> Iterator[str]:
    """Three fresh brokers for this test only; always stopped and deleted afterwards."""
    cluster("reset")
    try:
        cluster("start")
        yield cluster("bootstrap").strip()
    finally:
        cluster("reset", timeout=120)


@dataclass
class Load:
    sent: int = 0
    acknowledged: int = 0
    failed: dict[int, int] = field(default_factory=dict)  # status (0 = no answer) -> count
    first_error: str = ""
    counts: list[tuple[float, int]] = field(default_factory=list)  # (seconds, reporting total)


async def replication_of(bootstrap: str, topics: list[str]) -> set[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await describe_partitions(admin, topics)
    finally:
        await admin.close()
    return {len(p["replicas"]) for parts in described.values() for p in parts}


async def test_acknowledged_registrations_survive_a_broker_kill(kafka_cluster: str, stack: Stack) -> None:
    topics = all_topics([REGION], stack.prefix)
    await ensure_topics(kafka_cluster, topics, partitions=3, replication_factor=3, min_insync_replicas=2)
    assert await replication_of(kafka_cluster, topics) == {3}
    # The services get the whole bootstrap list, including the broker that will be killed.
    env = {"KOTAKU_KAFKA_BOOTSTRAP": kafka_cluster}
    registration = stack.start("registration", **env)
    reporting = stack.start("reporting", **env)
    reg, rep = stack.url("registration"), stack.url("reporting")
    auth = stack.auth()
    load = Load()
    base = random.randrange(10**9, 9 * 10**9)
    started = time.monotonic()

    async def total(http: httpx.AsyncClient) -> int:
        try:
            r = await http.get(f"{rep}/api/v1/reports/facilitator-counts", params={"region": REGION})
        except httpx.HTTPError:
            return -1
        return int(r.json()["total"]) if r.status_code == 200 else -1

    async def send(http: httpx.AsyncClient, n: int) -> None:
        body = {
            "nik": f"1671{base + n:012d}",
            "full_name": f"Fasilitator {letters(n)}",
            "role": "fasilitator",
            "region": REGION,
            "province_code": "16",
            "kabkota_code": "16.71",
        }
        load.sent += 1
        try:
            r = await http.post(f"{reg}/api/v1/facilitators", json=body)
        except httpx.HTTPError:
            load.failed[0] = load.failed.get(0, 0) + 1
            return
        if r.status_code == 201:
            load.acknowledged += 1
        else:
            load.failed[r.status_code] = load.failed.get(r.status_code, 0) + 1
            load.first_error = load.first_error or r.text[:500]

    async def watch(http: httpx.AsyncClient, until: float) -> None:
        while time.monotonic() < until:
            load.counts.append((time.monotonic() - started, await total(http)))
            await asyncio.sleep(0.5)

    async with httpx.AsyncClient(timeout=10, headers=auth) as http:
        watcher = asyncio.create_task(watch(http, started + LOAD_SECONDS + 90))
        pending: set[asyncio.Task[None]] = set()
        events: dict[str, float] = {}
        counts_at: dict[str, int] = {}
        acked_at_kill = 0

        async def operate(name: str, *args: str) -> None:
            # in the background: the load goes on at its own pace while a broker dies and restarts
            counts_at[name] = load.counts[-1][1] if load.counts else -1
            await asyncio.to_thread(cluster, *args)
            events[name] = time.monotonic() - started

        operations: list[asyncio.Task[None]] = []
        n = 0
        while (elapsed := time.monotonic() - started) < LOAD_SECONDS:
            if elapsed > 3 and not load.acknowledged:
                pytest.fail(f"no registration was acknowledged: {load.failed} {load.first_error}")
            if not operations and elapsed >= KILL_AT:
                acked_at_kill = load.acknowledged
                operations.append(asyncio.create_task(operate("killed", "stop-node", "1", "KILL")))
            if len(operations) == 1 and elapsed >= RESTART_AT:
                operations.append(asyncio.create_task(operate("restarted", "start-node", "1")))
            task = asyncio.create_task(send(http, n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
            await asyncio.sleep(max(0.0, started + n / RATE - time.monotonic()))
        await asyncio.gather(*operations)
        killed_at, restarted_at = events["killed"], events["restarted"]
        count_before_restart = counts_at["restarted"]
        await asyncio.gather(*pending)
        load_ended = time.monotonic() - started

        for _ in range(180):  # up to 90 s for reporting to catch up
            if not 0 <= await total(http) < load.acknowledged:
                break
            await asyncio.sleep(0.5)
        counted = await total(http)
        await asyncio.sleep(2)  # nothing more may arrive: duplicates would show as a higher count
        counted_later = await total(http)
        caught_up = time.monotonic() - started
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        ready = {
            name: (await http.get(f"{url}/ready")).status_code
            for name, url in (("registration", reg), ("reporting", rep))
        }

    resumed = next((t for t, c in load.counts if t > killed_at and c >= acked_at_kill + RATE), None)
    print(
        f"\nthree-broker failover: sent={load.sent} acknowledged={load.acknowledged} counted={counted} "
        f"lost={load.acknowledged - counted} failed={load.failed or 0}\n"
        f"  broker 1 SIGKILLed at {killed_at:.1f}s, restarted at {restarted_at:.1f}s, load ended at {load_ended:.1f}s\n"
        f"  end-to-end resumed {(resumed - killed_at) if resumed else float('nan'):.1f}s after the kill "
        f"(reporting counted {acked_at_kill + RATE}+); all acknowledged counted at {caught_up:.1f}s"
    )
    assert load.acknowledged >= 0.95 * load.sent, (load.failed, load.first_error)
    assert counted == load.acknowledged, f"{load.acknowledged - counted} acknowledged registrations were lost"
    assert counted_later == counted, "reporting counted some registrations twice"
    # the services kept going while the broker was down, and never restarted
    assert resumed is not None, "nothing reached reporting after the kill"
    assert resumed < restarted_at, "nothing reached reporting while one broker was down"
    assert count_before_restart > acked_at_kill
    assert registration.alive()
    assert reporting.alive()
    assert ready == {"registration": 200, "reporting": 200}
