"""Per-region outbox relays on one schema, on the real broker and database.

In Kubernetes each region's deployment of a service uses the same schema, and its Kafka user may
write only that region's topics. These tests run the relays of two such deployments (oc02 and
oc05) on one outbox that also holds rows of a region nobody serves (oc07), each relay behind a
broker that refuses other regions' topics as the ACLs do: every relay publishes exactly its own
regions' rows, in id order; no foreign or unserved row stalls anything; losing one relay stops
only its regions, and another relay for them takes over."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from faststream.kafka import KafkaBroker

from shared.kernel.contracts import OrgUnitDefined
from shared.kernel.contracts.registration import OrgUnitLevel
from shared.kernel.db import SHARED_MIGRATIONS, create_pool, migrate
from shared.kernel.envelope import Event, EventPayload, new_event
from shared.kernel.metrics import Metrics
from shared.kernel.outbox import Outbox, OutboxRelay
from shared.kernel.topics import ORGUNIT
from shared.tools.devstack import database_url, local_secrets
from shared.tools.kafka_admin import delete_topics, ensure_topics
from tests.integration.conftest import BOOTSTRAP, Stack, read_topic

pytestmark = pytest.mark.real

SCHEMA = "registration"
SERVED = ("oc02", "oc05")
UNSERVED = "oc07"
POLL = 0.2


class RegionalBroker:
    """The broker as one region's Kafka user sees it: a write to another region's topic is refused,
    as the per-region ACL refuses it. Every attempt is recorded as (region, event id)."""

    def __init__(self, broker: KafkaBroker, prefix: str, regions: Iterable[str]) -> None:
        self.broker = broker
        self.prefix = prefix
        self.regions = set(regions)
        self.attempts: list[tuple[str, str]] = []

    async def publish(self, body: bytes, *, topic: str, **kwargs: Any) -> Any:
        region = topic.removeprefix(self.prefix).split(".", 1)[0]
        self.attempts.append((region, kwargs["headers"]["ce_id"]))
        if region not in self.regions:
            raise TopicAuthorizationFailedError(f"not authorized to write {topic}")
        return await self.broker.publish(body, topic=topic, **kwargs)

    def published(self, region: str) -> list[str]:
        return [event_id for r, event_id in self.attempts if r == region]

    def refused(self) -> list[tuple[str, str]]:
        return [(r, event_id) for r, event_id in self.attempts if r not in self.regions]


class RunningRelay:
    """One deployment's relay: its own connection pool, metrics and (guarded) broker."""

    def __init__(self, pool: asyncpg.Pool, broker: RegionalBroker, regions: list[str]) -> None:
        self.pool = pool
        self.broker = broker
        self.metrics = Metrics(SCHEMA)
        relay = OutboxRelay(pool, broker, self.metrics, regions, poll_seconds=POLL)
        self.task = asyncio.create_task(relay.run())
        self.dead = False

    def gauge(self, name: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, {"service": SCHEMA})

    async def kill(self) -> None:
        """As a crashed pod: the connections drop (the server releases the locks), nothing is tidied up."""
        if self.dead:
            return
        self.dead = True
        self.pool.terminate()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.1)


def defined(region: str, n: int) -> Event[EventPayload]:
    """An org unit event; one aggregate (key) per region, so a region's events share a partition."""
    code = {"oc02": "16", "oc05": "13", "oc07": "61"}[region]
    payload = OrgUnitDefined(
        code=code, level=OrgUnitLevel.PROVINCE, name=f"{region} name {n}", effective_from=date(2016, 1, 1)
    )
    return new_event(payload, region=region, source="test")


@pytest.fixture
async def outbox_db(stack: Stack, tmp_path: Path) -> AsyncIterator[str]:
    """The DSN of the registration role on the test database, with the shared migrations applied,
    and the topics of the served regions (the unserved region's are never created)."""
    dsn = database_url(SCHEMA, stack.database, local_secrets())
    await migrate(dsn, SCHEMA, tmp_path / "no-service-migrations")
    topics = [stack.topic(ORGUNIT.topic(region)) for region in SERVED]
    await ensure_topics(BOOTSTRAP, topics, partitions=3)
    try:
        yield dsn
    finally:
        await delete_topics(BOOTSTRAP, [stack.topic(ORGUNIT.topic("oc05"))])


@pytest.fixture
async def broker() -> AsyncIterator[KafkaBroker]:
    kafka = KafkaBroker(BOOTSTRAP, acks="all", enable_idempotence=True, client_id="outbox-regions-test")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


async def test_each_regional_relay_publishes_exactly_its_regions_rows_and_survives_the_others(
    stack: Stack, outbox_db: str, broker: KafkaBroker
) -> None:
    writer = await create_pool(outbox_db, SCHEMA)
    relays: list[RunningRelay] = []
    try:
        outbox = Outbox(writer, stack.prefix, Metrics(SCHEMA))

        async def write(*regions: str) -> None:
            async with outbox.unit_of_work() as uow:
                for n, region in enumerate(regions):
                    uow.emit(defined(region, n))

        async def event_ids(region: str, *, unsent: bool = False) -> list[str]:
            rows = await writer.fetch(
                "SELECT event_id FROM outbox WHERE region = $1 AND (sent_at IS NULL OR NOT $2) ORDER BY id",
                region,
                unsent,
            )
            return [str(r["event_id"]) for r in rows]

        async def all_sent(region: str) -> bool:
            return not await event_ids(region, unsent=True)

        async def on_kafka(region: str, expect: int) -> list[str]:
            records = await read_topic(stack.topic(ORGUNIT.topic(region)), expect=expect)
            return [json.loads(r.value)["event_id"] for r in records if r.value is not None]

        # The unserved region's row comes first: a relay that reads every region's rows stops there.
        await write(UNSERVED, "oc05", "oc02")
        for _ in range(5):
            await write("oc02", "oc05", "oc02", UNSERVED, "oc05")

        # Two regional deployments: oc02's and oc05's, each allowed to write its own topics only.
        oc02 = RunningRelay(
            await create_pool(outbox_db, SCHEMA), RegionalBroker(broker, stack.prefix, ["oc02"]), ["oc02"]
        )
        oc05 = RunningRelay(
            await create_pool(outbox_db, SCHEMA), RegionalBroker(broker, stack.prefix, ["oc05"]), ["oc05"]
        )
        relays += [oc02, oc05]
        await wait_for(lambda: all_sent("oc02"), "every oc02 row sent")
        await wait_for(lambda: all_sent("oc05"), "every oc05 row sent")

        for relay, region in ((oc02, "oc02"), (oc05, "oc05")):
            expected = await event_ids(region)
            assert len(expected) == 11
            assert relay.broker.published(region) == expected, f"{region}: exactly its rows, once, in id order"
            assert relay.broker.refused() == [], f"{region}'s relay tried to write another region's topic"
            assert await on_kafka(region, len(expected)) == expected
        assert len(await event_ids(UNSERVED, unsent=True)) == 6, "a region nobody serves waits"

        # The rows nobody publishes stay visible in every relay's backlog.
        async def backlog_shows_the_waiting_rows() -> bool:
            return all(r.gauge("kotaku_outbox_backlog") == 6 for r in relays)

        await wait_for(backlog_shows_the_waiting_rows, "the backlog gauge counts the unserved rows")
        assert (oc05.gauge("kotaku_outbox_oldest_unsent_age_seconds") or 0.0) > 0.0

        # oc02's relay dies. oc05 goes on; oc02's new rows wait for a relay of their own.
        await oc02.kill()
        await write("oc02", "oc05", UNSERVED, "oc02", "oc05")
        await wait_for(lambda: all_sent("oc05"), "oc05 rows sent while oc02's relay is down")
        await asyncio.sleep(5 * POLL)
        assert len(await event_ids("oc02", unsent=True)) == 2
        expected_oc05 = await event_ids("oc05")
        assert oc05.broker.published("oc05") == expected_oc05
        assert await on_kafka("oc05", len(expected_oc05)) == expected_oc05

        # A relay that serves both regions (another replica, or a wider deployment) takes over the
        # orphaned region only: oc05 stays with the relay that holds it.
        both = RunningRelay(
            await create_pool(outbox_db, SCHEMA), RegionalBroker(broker, stack.prefix, SERVED), list(SERVED)
        )
        relays.append(both)
        await wait_for(lambda: all_sent("oc02"), "oc02's waiting rows sent by the relay that took over")
        expected_oc02 = await event_ids("oc02")
        assert both.broker.published("oc02") == expected_oc02[-2:]
        assert oc02.broker.published("oc02") == expected_oc02[:-2]
        assert await on_kafka("oc02", len(expected_oc02)) == expected_oc02

        await write("oc05", "oc02")
        await wait_for(lambda: all_sent("oc05"), "the last oc05 row sent")
        await wait_for(lambda: all_sent("oc02"), "the last oc02 row sent")
        assert both.broker.published("oc05") == [], "oc05 is led by one relay at a time"
        assert oc05.broker.published("oc05") == await event_ids("oc05")
        assert len(await event_ids(UNSERVED, unsent=True)) == 7
        for relay in relays:
            assert relay.broker.refused() == []
    finally:
        for relay in relays:
            await relay.kill()
        await writer.close()


async def test_the_migration_gives_existing_rows_the_region_of_their_topic(stack: Stack) -> None:
    """Rows written before the region column existed (also those of a previous release still
    writing during a rolling upgrade) get the region code of their topic, after any prefix."""
    conn = await asyncpg.connect(database_url(SCHEMA, stack.database, local_secrets()))
    try:
        await conn.execute(f'CREATE SCHEMA "{SCHEMA}"; SET search_path TO "{SCHEMA}"')
        migrations = sorted(SHARED_MIGRATIONS.glob("*.sql"))
        assert migrations[2].name.startswith("0003_")
        for path in migrations[:2]:
            await conn.execute(path.read_text())
        legacy = """
            INSERT INTO outbox (event_id, event_type, topic, key, headers, body, sent_at)
            VALUES ($1, 'OrgUnitDefined', $2, '16', '{}', '{}', $3)
        """
        topics = {
            "oc02.registration.orgunit.v1": "oc02",
            "t1a2b3c4d5e.oc05.registration.facilitator.v1": "oc05",
            "staging.oc11.training.training.v1": "oc11",
        }
        for topic in topics:
            await conn.execute(legacy, uuid.uuid4(), topic, None)
        await conn.execute(legacy, uuid.uuid4(), "t9.oc03.rejections.v1", datetime(2016, 1, 1, tzinfo=UTC))
        for path in migrations[2:]:
            await conn.execute(path.read_text())

        rows = await conn.fetch("SELECT topic, region FROM outbox ORDER BY id")
        assert {r["topic"]: r["region"] for r in rows} == {**topics, "t9.oc03.rejections.v1": "oc03"}
        nullable = await conn.fetchval(
            "SELECT is_nullable FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = 'outbox' AND column_name = 'region'",
            SCHEMA,
        )
        assert nullable == "NO"

        # A writer of the previous release, after the migration.
        await conn.execute(legacy, uuid.uuid4(), "t1.oc09.registration.enrollment.v1", None)
        assert await conn.fetchval("SELECT region FROM outbox ORDER BY id DESC LIMIT 1") == "oc09"
        with pytest.raises(asyncpg.NotNullViolationError):
            await conn.execute(legacy, uuid.uuid4(), "not-a-regional-topic", None)
        # The relay's query can read its region's unsent rows in id order from the partial index.
        await conn.execute("SET enable_seqscan = off")
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT id FROM outbox WHERE region = 'oc02' AND sent_at IS NULL ORDER BY id LIMIT 10"
        )
        assert "outbox_unsent_region_idx" in plan
    finally:
        await conn.close()


async def test_a_write_wakes_only_the_publishing_loops_of_its_regions(stack: Stack, outbox_db: str) -> None:
    """The notification names the regions a transaction wrote (each once), so the relay queries
    only their outboxes: a relay serving oc02 and oc05 does not wake oc05's loop for oc02's rows,
    nor any loop for a region served elsewhere."""
    listener = await asyncpg.connect(outbox_db)
    writer = await create_pool(outbox_db, SCHEMA)
    heard: list[str] = []
    try:
        await listener.add_listener(f"outbox_{SCHEMA}", lambda *args: heard.append(args[3]))
        outbox = Outbox(writer, stack.prefix, Metrics(SCHEMA))
        async with outbox.unit_of_work() as uow:
            for n in range(3):
                uow.emit(defined("oc02", n))
            uow.emit(defined("oc07", 0))
        await wait_for(lambda: _true(len(heard) >= 2), "two notifications")
        await asyncio.sleep(0.3)
        assert sorted(heard) == ["oc02", "oc07"]

        relay = OutboxRelay(writer, None, Metrics(SCHEMA), list(SERVED))
        for region in heard:
            relay._on_notify(listener, 0, f"outbox_{SCHEMA}", region)
        assert {region: wake.is_set() for region, wake in relay._wake.items()} == {"oc02": True, "oc05": False}
        relay._on_notify(listener, 0, f"outbox_{SCHEMA}", "")  # an unmigrated writer's notification
        assert all(wake.is_set() for wake in relay._wake.values())
    finally:
        await listener.close()
        await writer.close()


async def _true(value: bool) -> bool:
    return value
