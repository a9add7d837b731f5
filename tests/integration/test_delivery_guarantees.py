"""Each delivery guarantee, proven on the real broker and database. Every test here would fail
if the mechanism it names were removed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import FacilitatorRegistered, Role
from shared.kernel.envelope import Event, new_event
from shared.kernel.topics import FACILITATOR, dlq_topic
from tests.integration.conftest import REGION, Stack, eventually, metric_value, read_topic

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[2]


def registered(province: str = "16", kabkota: str = "16.71", region: str = REGION) -> Event[FacilitatorRegistered]:
    payload = FacilitatorRegistered(
        facilitator_id=uuid.uuid4(),
        full_name="Dewi Lestari",
        role=Role.FASILITATOR,
        province_code=province,
        kabkota_code=kabkota,
        effective_from=date(2016, 7, 1),
    )
    return new_event(payload, region=region, source="test")


async def send(
    producer: AIOKafkaProducer,
    stack: Stack,
    event: Event[FacilitatorRegistered] | None = None,
    *,
    raw: bytes | None = None,
    partition: int | None = None,
) -> None:
    value = raw if raw is not None else event.to_bytes()  # type: ignore[union-attr]
    headers = [(k, v.encode()) for k, v in event.headers().items()] if event else []
    await producer.send_and_wait(
        stack.topic(FACILITATOR.topic(REGION)), value, key=b"same-key", headers=headers, partition=partition
    )


async def total(stack: Stack) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        body = (await http.get(f"{stack.url('reporting')}/api/v1/reports/facilitator-counts")).json()
    return int(body["total"])


async def metrics(stack: Stack, name: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(f"{stack.services[name].url}/metrics")).text


async def test_the_same_event_delivered_twice_is_counted_once(stack: Stack, producer: AIOKafkaProducer) -> None:
    stack.start("reporting")
    event = registered()
    await send(producer, stack, event)
    await send(producer, stack, event)
    await send(producer, stack, registered())

    async def seen() -> str | None:
        text = await metrics(stack, "reporting")
        done = metric_value(text, "kotaku_events_consumed_total", outcome="applied") == 2
        return text if done and metric_value(text, "kotaku_events_consumed_total", outcome="duplicate") == 1 else None

    await eventually(seen)
    assert await total(stack) == 2


async def test_consumer_killed_after_db_commit_before_offset_commit_neither_loses_nor_doubles(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    proc = stack.start("reporting", KOTAKU_FAULT_POINTS="consumer.after_db_commit")
    event = registered()
    await send(producer, stack, event)
    await eventually(lambda: not proc.alive(), within=30)
    assert proc.popen is not None
    assert proc.popen.returncode == -9
    db = service_db["reporting"]
    assert await db.fetchval("SELECT count(*) FROM processed_events WHERE event_id = $1", event.envelope.event_id) == 1
    assert await db.fetchval("SELECT sum(registered) FROM facilitator_totals") == 1

    stack.start("reporting")  # no fault this time: the uncommitted batch is delivered again

    async def redelivered() -> bool:
        return metric_value(await metrics(stack, "reporting"), "kotaku_events_consumed_total", outcome="duplicate") == 1

    await eventually(redelivered)
    assert await total(stack) == 1
    assert await db.fetchval("SELECT sum(registered) FROM facilitator_totals") == 1


async def test_undecodable_and_forged_messages_are_dead_lettered_and_the_partition_moves_on(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    stack.start("reporting")
    garbage = b"\x00\xffKasino online terpercaya! not json {"
    await send(producer, stack, raw=garbage, partition=0)
    forged = registered(region="oc05")  # an oc05 event on an oc02 topic
    await send(producer, stack, forged, partition=0)
    await send(producer, stack, raw=json.dumps({"event_type": "FacilitatorRegistered"}).encode(), partition=0)
    valid = registered()
    await send(producer, stack, valid, partition=0)

    await eventually(lambda: total(stack))
    assert await total(stack) == 1
    dead = await read_topic(dlq_topic(stack.topic(FACILITATOR.topic(REGION))), expect=3)
    assert len(dead) == 3
    reasons = [dict(r.headers)["x-dlq-reason"] for r in dead]
    assert reasons == [b"not_json", b"region_mismatch", b"invalid_envelope"]
    assert dead[0].value == garbage  # raw bytes kept as they arrived
    first = dict(dead[0].headers)
    assert first["x-dlq-consumer"] == b"reporting.facilitators"
    assert first["x-dlq-original-topic"].decode() == stack.topic(FACILITATOR.topic(REGION))
    assert first["x-dlq-original-partition"] == b"0"
    assert dict(dead[1].headers)["ce_id"].decode() == str(forged.envelope.event_id)
    text = await metrics(stack, "reporting")
    assert metric_value(text, "kotaku_dead_letters_total", reason="not_json") == 1
    assert metric_value(text, "kotaku_dead_letters_total", reason="region_mismatch") == 1


async def test_an_event_that_keeps_failing_is_retried_a_bounded_number_of_times_then_dead_lettered(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    stack.start("reporting", KOTAKU_RETRY_ATTEMPTS="3")
    db = service_db["reporting"]
    # Make every write of province 99 fail inside the database, as a bug or bad data would.
    await db.execute("ALTER TABLE facilitators ADD CONSTRAINT no_99 CHECK (province_code <> '99')")
    poisoned = registered(province="99", kabkota="99.01")
    await send(producer, stack, poisoned, partition=1)
    healthy = registered()
    await send(producer, stack, healthy, partition=1)

    dead = await read_topic(dlq_topic(stack.topic(FACILITATOR.topic(REGION))), expect=1, within=30)
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers["x-dlq-reason"] == b"processing_failed"
    assert b"no_99" in headers["x-dlq-detail"]
    assert headers["ce_id"].decode() == str(poisoned.envelope.event_id)

    await eventually(lambda: total(stack))
    assert await total(stack) == 1  # the healthy event behind it was applied
    text = await metrics(stack, "reporting")
    assert metric_value(text, "kotaku_consumer_retries_total") == 2  # attempts 1 and 2 retried, 3 gave up

    # Once the cause is fixed, the replay command puts the dead letter back, exactly once.
    await db.execute("ALTER TABLE facilitators DROP CONSTRAINT no_99")
    dlq = dlq_topic(stack.topic(FACILITATOR.topic(REGION)))
    listed = dlq_cli("list", dlq)
    assert "reason=processing_failed" in listed
    assert str(poisoned.envelope.event_id) in listed
    assert dlq_cli("replay", dlq).startswith("replayed 1,")

    async def replayed() -> bool:
        return await total(stack) == 2

    await eventually(replayed)
    assert dlq_cli("replay", dlq).startswith("replayed 0,")  # progress is remembered
    assert await db.fetchval("SELECT count(*) FROM facilitators WHERE province_code = '99'") == 1


def dlq_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "shared.tools.dlq", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


async def test_relay_killed_after_publishing_before_marking_sent_duplicate_is_absorbed(
    stack: Stack, service_db: dict[str, asyncpg.Connection]
) -> None:
    stack.start("reporting")
    # Let the reference data seeded at migrate time go out first, then arm the crash point.
    stack.start("registration")
    outbox = service_db["registration"]
    await eventually(lambda: outbox.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))
    stack.services["registration"].stop()
    proc = stack.start("registration", KOTAKU_FAULT_POINTS="relay.after_publish")
    async with httpx.AsyncClient(timeout=10, headers=stack.auth()) as http:
        r = await http.post(
            f"{stack.url('registration')}/api/v1/facilitators",
            json={
                "nik": "1671030303900001",
                "full_name": "Bayu Saputra",
                "role": "askot",
                "region": REGION,
                "province_code": "16",
                "kabkota_code": "16.71",
            },
        )
    assert r.status_code == 201
    await eventually(lambda: not proc.alive(), within=30)
    assert proc.popen is not None
    assert proc.popen.returncode == -9
    assert await outbox.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1

    stack.start("registration")  # the relay publishes the unmarked row again
    await eventually(lambda: outbox.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))
    copies = await read_topic(stack.topic(FACILITATOR.topic(REGION)), expect=2)
    assert len(copies) == 2
    assert copies[0].value == copies[1].value

    async def absorbed() -> bool:
        text = await metrics(stack, "reporting")
        registered = {"event_type": "FacilitatorRegistered"}
        return (
            metric_value(text, "kotaku_events_consumed_total", outcome="applied", **registered) == 1
            and metric_value(text, "kotaku_events_consumed_total", outcome="duplicate", **registered) == 1
        )

    await eventually(absorbed)
    assert await total(stack) == 1


async def test_postgresql_restart_while_events_flow_loses_nothing(stack: Stack) -> None:
    stack.start("registration", KOTAKU_RETRY_ATTEMPTS="10")
    stack.start("reporting", KOTAKU_RETRY_ATTEMPTS="10")
    wanted = 60
    accepted: set[str] = set()

    async def register(http: httpx.AsyncClient, i: int) -> None:
        body = {
            "nik": f"16710404{i:08d}",
            "full_name": "Peserta Pelatihan",
            "role": "fasilitator",
            "region": REGION,
            "province_code": "16",
            "kabkota_code": "16.71",
        }
        for _ in range(200):
            try:
                r = await http.post(f"{stack.url('registration')}/api/v1/facilitators", json=body)
            except httpx.TransportError:
                await asyncio.sleep(0.1)
                continue
            if r.status_code == 201:
                accepted.add(r.json()["facilitator_id"])
                return
            if r.status_code == 409:  # committed before the connection dropped: the NIK says so
                accepted.add(r.json()["error"]["details"]["facilitator_id"])
                return
            assert r.status_code == 503, r.text  # database unavailable: retry as the client should
            await asyncio.sleep(0.1)
        raise AssertionError(f"registration {i} never succeeded")

    async with httpx.AsyncClient(timeout=10, headers=stack.auth()) as http:
        for i in range(wanted):
            if i == 20:
                restart = asyncio.create_task(
                    asyncio.to_thread(
                        subprocess.run,
                        [str(ROOT / "deploy/local/postgres.sh"), "restart"],
                        check=True,
                        capture_output=True,
                    )
                )
            await register(http, i)
            await asyncio.sleep(0.03)
        await restart

    assert len(accepted) == wanted

    async def all_counted() -> bool:
        return await total(stack) == wanted

    await eventually(all_counted, within=60)
    dead = await read_topic(dlq_topic(stack.topic(FACILITATOR.topic(REGION))), expect=0, within=2)
    assert dead == []
