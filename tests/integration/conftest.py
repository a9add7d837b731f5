"""Fixtures that run the real services against the real Kafka broker and PostgreSQL.

Each test gets a private namespace: its own database (created and dropped here) and its own topic
prefix and consumer groups, so tests never see each other's data nor touch the ``make run`` stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from bench.scratch import create_database, drop_database
from shared.kernel.auth import CredentialStore
from shared.kernel.auth import Role as AuthRole
from shared.kernel.envelope import Event
from shared.kernel.topics import all_topics
from shared.tools.devstack import ServiceProcess, database_url, free_port, local_secrets, service_process
from shared.tools.kafka_admin import delete_topics, ensure_topics
from shared.tools.localenv import kafka_bootstrap

pytestmark = pytest.mark.real

BOOTSTRAP = kafka_bootstrap()
REGION = "oc02"
OTHER = "oc05"  # a second region, for the tests that take the other_region fixture


@dataclass
class Stack:
    """A private, running set of services for one test."""

    namespace: str
    database: str
    log_dir: Path
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def credentials_file(self) -> Path:
        return self.log_dir / "credentials.jsonl"

    def issue_credentials(self) -> None:
        """admin, national, and region writers for oc02 and oc05."""
        store = CredentialStore(self.credentials_file)
        self.tokens = {
            "admin": store.create(AuthRole.ADMIN, label="test admin"),
            "national": store.create(AuthRole.NATIONAL, label="test national"),
            "oc02": store.create(AuthRole.REGION, ["oc02"], label="test oc02"),
            "oc05": store.create(AuthRole.REGION, ["oc05"], label="test oc05"),
        }

    def auth(self, who: str = REGION) -> dict[str, str]:
        """Request headers carrying the credential of ``who`` (admin, national, oc02, oc05)."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def prefix(self) -> str:
        return f"{self.namespace}."

    def topic(self, stream_topic: str) -> str:
        return self.prefix + stream_topic

    def url(self, name: str) -> str:
        return self.services[name].url

    def start(self, name: str, *, process: str = "", regions: str = REGION, **extra_env: str) -> ServiceProcess:
        """Start (or restart, on the same port) the service ``name``, as the process ``process``
        when one service runs as several (e.g. reporting's API and its consumer processes)."""
        process = process or name
        old = self.services.get(process)
        port = old.port if old else free_port()
        proc = service_process(
            name,
            process=process,
            port=port,
            database=self.database,
            regions=regions,
            topic_prefix=self.prefix,
            log_dir=self.log_dir,
            extra_env={
                "KOTAKU_RETRY_BACKOFF_SECONDS": "0.2",
                # tests compare reports with what they just sent; the cache has its own test
                "KOTAKU_REPORT_CACHE_SECONDS": "0",
                "KOTAKU_OUTBOX_POLL_SECONDS": "0.2",
                "KOTAKU_CREDENTIALS_FILE": str(self.credentials_file),
                **extra_env,
            },
        )
        if not any(p.service == name for p in self.services.values()):
            proc.migrate()
        proc.start()
        self.services[process] = proc
        proc.wait_ready()
        return proc

    def stop_all(self) -> None:
        for proc in self.services.values():
            proc.stop()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    database = f"kotaku_{namespace}"
    try:
        await create_database(database)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"could not create the test database; is PostgreSQL running (`make infra`)? ({exc!r})")
    topics = all_topics([REGION], f"{namespace}.")
    await ensure_topics(BOOTSTRAP, topics, partitions=3)
    s = Stack(namespace, database, tmp_path)
    s.issue_credentials()
    try:
        yield s
    finally:
        s.stop_all()
        await drop_database(database)
        with contextlib.suppress(Exception):
            await delete_topics(BOOTSTRAP, topics)


@pytest.fixture
def reg(stack: Stack) -> str:
    """The registration service, started in the test's stack: its URL."""
    return stack.start("registration").url


@pytest.fixture
async def other_region(stack: Stack) -> AsyncIterator[str]:
    """The topics of a second region (OTHER) in the test's namespace."""
    topics = all_topics([OTHER], stack.prefix)
    await ensure_topics(BOOTSTRAP, topics, partitions=3)
    try:
        yield OTHER
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(BOOTSTRAP, topics)


@pytest.fixture
async def service_db(stack: Stack) -> AsyncIterator[dict[str, asyncpg.Connection]]:
    """Read-only peeks into each service's schema, as that service's role."""
    secrets_ = local_secrets()
    conns: dict[str, asyncpg.Connection] = {}
    for name in ("registration", "training", "reporting"):
        conns[name] = await asyncpg.connect(
            database_url(name, stack.database, secrets_),
            server_settings={"search_path": name},
        )
    try:
        yield conns
    finally:
        for conn in conns.values():
            await conn.close()


@pytest.fixture
async def producer() -> AsyncIterator[AIOKafkaProducer]:
    """A plain Kafka client, playing the part of any other system on the broker."""
    p = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def read_topic(topic: str, *, expect: int, within: float = 20.0) -> list[ConsumerRecord[bytes, bytes]]:
    """Everything on ``topic`` from the beginning, waiting until at least ``expect`` records arrived."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + within
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        # one more short poll, so a test also sees records beyond the expected number
        for part in (await consumer.getmany(timeout_ms=300)).values():
            records.extend(part)
    finally:
        await consumer.stop()
    return records


def by_message_id(rejections: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[str, dict[str, Any]]:
    """The payloads of the rejections (``IntakeRejected``) among the records of a rejections topic,
    by the id of the message each one rejects (the topic also carries batches' receipts)."""
    events = [json.loads(r.value) for r in rejections]
    return {e["payload"]["message_id"]: e["payload"] for e in events if e["event_type"] == "IntakeRejected"}


async def eventually(check, within: float = 20.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll ``check`` (sync or async) until it returns a truthy value; return that value."""
    deadline = asyncio.get_running_loop().time() + within
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within}s (last value: {last!r})")


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``, from Prometheus text."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def get_json(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5.0)


async def assert_documented(http: httpx.AsyncClient, paths: Sequence[str]) -> None:
    """Each of ``paths`` is an operation path of the service's OpenAPI document."""
    spec = (await http.get("/openapi.json")).json()
    for path in paths:
        assert path in spec["paths"], path


async def publish(producer: AIOKafkaProducer, stack: Stack, events: Sequence[Event[Any]]) -> None:
    """Send canonical events to the stack's topics, in order (per key and topic, Kafka keeps it)."""
    for event in events:
        await producer.send_and_wait(
            stack.topic(event.payload.stream.topic(event.envelope.region)),
            event.to_bytes(),
            key=event.key.encode(),
            headers=[(k, v.encode()) for k, v in event.headers().items()],
        )
