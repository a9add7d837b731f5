"""The consumer plumbing under faults, on the real broker and database: poison records among valid
ones, a database outage longer than any retry budget, and events that arrive out of order. Every
message must end applied (or answered) once, or in a dead-letter topic once; nothing else."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from bench.scratch import admin_connection
from services.training.entrypoints.consumers import on_enrollment_events
from shared.kernel.consumer import prune_processed_events
from shared.kernel.contracts import EnrollmentWithdrawn, FacilitatorEnrolled
from shared.kernel.contracts.registration import Role
from shared.kernel.envelope import Event, EventPayload, new_event
from shared.kernel.topics import ENROLLMENT, FACILITATOR, REGISTRATION_INTAKE, REJECTIONS, TRAINING_INTAKE, dlq_topic
from tests.integration.conftest import REGION, Stack, eventually, metric_value, read_topic
from tests.integration.test_registration_support import intake_message, registration_message

pytestmark = pytest.mark.real

# The exact inputs from the acceptance report: ~100 KB of '[' and a field nested 50,000 arrays deep.
BRACKETS = b"[" * 100_000
DEEP = b'{"message_id": "deep", "payload": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
NOT_UTF8_HEADER = ("x-sender-note", b"\xff\xfe\x00caf\xe9")


async def http_get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url)


async def send_together(
    producer: AIOKafkaProducer, topic: str, values: Sequence[tuple[bytes, list[tuple[str, bytes]]]], key: bytes
) -> None:
    """Send without waiting in between, on one key: one partition, fetched in one batch."""
    futures = [await producer.send(topic, value, key=key, headers=headers) for value, headers in values]
    await asyncio.gather(*futures)


async def test_poison_records_among_valid_intake_messages_lose_nothing(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    stack.start("registration")
    intake = stack.topic(REGISTRATION_INTAKE.topic(REGION))
    valid = [registration_message(f"ok-{n}", f"16720101019{n:05d}") for n in range(4)]
    stamp = 1_470_000_000_000
    poison_headers = [NOT_UTF8_HEADER, ("x-trace", b"a"), ("x-trace", b"b")]  # repeated key kept too
    await send_together(
        producer,
        intake,
        [
            (valid[0], []),
            (BRACKETS, poison_headers),
            (valid[1], [NOT_UTF8_HEADER]),  # a valid message whose header bytes are not UTF-8
            (DEEP, []),
            (valid[2], []),
            (b"\x89PNG not json", []),
            (valid[3], []),
        ],
        key=b"oc02-mis",
    )
    await producer.send_and_wait(intake, BRACKETS, key=b"stamped", headers=poison_headers, timestamp_ms=stamp)

    registered = await read_topic(stack.topic(FACILITATOR.topic(REGION)), expect=4)
    assert len(registered) == 4, "every valid message in the batch is applied, once"
    dead = await read_topic(dlq_topic(intake), expect=4)
    assert sorted(dict(d.headers)["x-dlq-reason"] for d in dead) == [b"not_json", b"too_deep", b"too_deep", b"too_deep"]
    assert len({(dict(d.headers)["x-dlq-original-offset"]) for d in dead}) == 4, "each poison record once"
    stamped = next(d for d in dead if d.key == b"stamped")
    assert stamped.value == BRACKETS
    assert stamped.timestamp == stamp, "the dead letter keeps the original timestamp"
    assert [h for h in stamped.headers if not h[0].startswith("x-dlq-")] == poison_headers, "header bytes kept"

    metrics = (await http_get(f"{stack.url('registration')}/metrics")).text
    assert metric_value(metrics, "kotaku_dead_letters_total", reason="too_deep") == 3


async def test_poison_records_on_the_training_intake_lose_nothing(stack: Stack, producer: AIOKafkaProducer) -> None:
    stack.start("training")
    intake = stack.topic(TRAINING_INTAKE.topic(REGION))
    answered = [intake_message(f"close-{n}", "CloseTraining", {"training_id": str(uuid.uuid4())}) for n in range(3)]
    await send_together(
        producer,
        intake,
        [(answered[0], []), (BRACKETS, []), (answered[1], [NOT_UTF8_HEADER]), (DEEP, []), (answered[2], [])],
        key=b"oc02-mis",
    )
    rejections = await read_topic(stack.topic(REJECTIONS.topic(REGION)), expect=3)
    assert sorted(r.key for r in rejections) == [b"close-0", b"close-1", b"close-2"]
    dead = await read_topic(dlq_topic(intake), expect=2)
    assert [dict(d.headers)["x-dlq-reason"] for d in dead] == [b"too_deep", b"too_deep"]


def enrolled(training: uuid.UUID, person: uuid.UUID) -> FacilitatorEnrolled:
    return FacilitatorEnrolled(
        enrollment_id=uuid.uuid5(training, str(person)), training_id=training, facilitator_id=person, role=Role.ASKOT
    )


def withdrawn(training: uuid.UUID, person: uuid.UUID) -> EnrollmentWithdrawn:
    return EnrollmentWithdrawn(
        enrollment_id=uuid.uuid5(training, str(person)), training_id=training, facilitator_id=person, reason="sakit"
    )


def event_at(payload: EventPayload, when: datetime) -> Event[Any]:
    return new_event(payload, region=REGION, source="kotaku.registration", occurred_at=when)


async def publish(producer: AIOKafkaProducer, stack: Stack, events: Sequence[Event[Any]]) -> None:
    topic = stack.topic(ENROLLMENT.topic(REGION))
    futures = [
        await producer.send(
            topic, e.to_bytes(), key=e.key.encode(), headers=[(k, v.encode()) for k, v in e.headers().items()]
        )
        for e in events
    ]
    await asyncio.gather(*futures)


class Outage:
    """Makes one test database refuse one service role, as a stopped server would, without touching
    any other database of the machine: new connections fail ("too many connections") and the
    service's open ones are terminated (as at a server shutdown)."""

    def __init__(self, database: str, role: str) -> None:
        self.database = database
        self.role = role

    async def __aenter__(self) -> Outage:
        async with admin_connection() as conn:
            await conn.execute(f"ALTER DATABASE {self.database} CONNECTION LIMIT 0")
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND usename = $2 AND application_name = $3",
                self.database,
                self.role,
                self.role.replace("kotaku_", "kotaku-"),  # the service's pool, not the test's peek
            )
        return self

    async def __aexit__(self, *_: object) -> None:
        async with admin_connection() as conn:
            await conn.execute(f"ALTER DATABASE {self.database} CONNECTION LIMIT -1")


async def test_a_database_outage_pauses_consumers_and_dead_letters_nothing(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    training = stack.start("training")
    base = datetime(2016, 8, 1, 8, tzinfo=UTC)
    trainings = [uuid.uuid4() for _ in range(6)]  # six keys: records on every partition
    people = [uuid.uuid4() for _ in range(5)]
    events = [event_at(enrolled(t, p), base) for t in trainings for p in people]
    # some withdrawals, published BEFORE their enrollments' batch is applied
    events += [event_at(withdrawn(t, people[0]), base + timedelta(hours=1)) for t in trainings]

    async with Outage(stack.database, "kotaku_training"):
        await publish(producer, stack, events)
        # far longer than the old retry budget (6 attempts, 0.2 s doubling: ~6 s), after which the
        # events used to be dead-lettered
        await asyncio.sleep(12)
        assert (await http_get(f"{training.url}/ready")).status_code == 503
        metrics = (await http_get(f"{training.url}/metrics")).text
        assert metric_value(metrics, "kotaku_consumer_waiting_for_database", consumer="training.roster") == 1
        assert metric_value(metrics, "kotaku_dead_letters_total") == 0

    async def roster() -> list[asyncpg.Record] | None:
        rows = await service_db["training"].fetch(
            "SELECT training_id, facilitator_id, status FROM roster WHERE training_id = ANY($1::uuid[])", trainings
        )
        return rows if len(rows) == len(trainings) * len(people) else None

    rows = await eventually(roster, within=40)
    statuses = {(r["training_id"], r["facilitator_id"]): r["status"] for r in rows}
    assert statuses == {(t, p): "withdrawn" if p == people[0] else "enrolled" for t in trainings for p in people}
    dead = await read_topic(dlq_topic(stack.topic(ENROLLMENT.topic(REGION))), expect=0, within=2)
    assert dead == [], "an outage is not a reason to dead-letter"
    assert (await http_get(f"{training.url}/ready")).status_code == 200
    metrics = (await http_get(f"{training.url}/metrics")).text
    assert metric_value(metrics, "kotaku_consumer_waiting_for_database", consumer="training.roster") == 0
    assert metric_value(metrics, "kotaku_consumer_database_waits_total", consumer="training.roster") >= 1


async def test_a_withdrawal_that_arrives_before_its_enrollment_is_kept(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    stack.start("training")
    t, person, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base = datetime(2016, 8, 1, 8, tzinfo=UTC)
    # on the log in the wrong order, as after a dead letter of the enrollment was replayed
    await publish(
        producer,
        stack,
        [
            event_at(withdrawn(t, person), base + timedelta(hours=1)),
            event_at(enrolled(t, person), base),
            event_at(enrolled(t, other), base),
        ],
    )

    async def roster() -> dict[uuid.UUID, str] | None:
        rows = await service_db["training"].fetch("SELECT facilitator_id, status FROM roster WHERE training_id = $1", t)
        return {r["facilitator_id"]: r["status"] for r in rows} if len(rows) == 2 else None

    assert await eventually(roster) == {person: "withdrawn", other: "enrolled"}


@pytest.fixture
def roster_db(stack: Stack, service_db: dict[str, asyncpg.Connection]) -> asyncpg.Connection:
    stack.start("training")  # migrates the training schema
    return service_db["training"]


async def test_the_roster_is_a_function_of_the_set_of_events(roster_db: asyncpg.Connection) -> None:
    """Every order of a participant's enrollments and withdrawals, each applied once or twice and
    one by one or together, gives the same roster row as the newest-wins rule."""
    t, person = uuid.uuid4(), uuid.uuid4()
    base = datetime(2016, 8, 1, 8, tzinfo=UTC)
    histories = {
        "enrolled": [event_at(enrolled(t, person), base)],
        "withdrawn": [event_at(enrolled(t, person), base), event_at(withdrawn(t, person), base + timedelta(hours=1))],
        "re-enrolled": [
            event_at(enrolled(t, person), base),
            event_at(withdrawn(t, person), base + timedelta(hours=1)),
            event_at(enrolled(t, person), base + timedelta(hours=2)),
        ],
        "withdrawn again": [
            event_at(enrolled(t, person), base),
            event_at(withdrawn(t, person), base + timedelta(hours=1)),
            event_at(enrolled(t, person), base + timedelta(hours=2)),
            event_at(withdrawn(t, person), base + timedelta(hours=3)),
        ],
    }
    for expected, history in histories.items():
        status = "enrolled" if expected in ("enrolled", "re-enrolled") else "withdrawn"
        for order in itertools.permutations(history):
            for together in (False, True):
                delivered = [*order, order[0]]  # the first one redelivered at the end
                tx = roster_db.transaction()
                await tx.start()
                try:
                    if together:
                        await on_enrollment_events(roster_db, delivered)
                    else:
                        for event in delivered:
                            await on_enrollment_events(roster_db, [event])
                    row = await roster_db.fetchrow(
                        "SELECT status FROM roster WHERE training_id = $1 AND facilitator_id = $2", t, person
                    )
                finally:
                    await tx.rollback()
                assert row is not None
                assert row["status"] == status, (expected, [e.message_type for e in order])


async def test_processed_events_forgets_only_ids_older_than_the_window(
    stack: Stack, service_db: dict[str, asyncpg.Connection]
) -> None:
    stack.start("training")
    db = service_db["training"]
    old, recent = uuid.uuid4(), uuid.uuid4()
    await db.execute(
        "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES"
        " ('test', $1, now() - interval '31 days'), ('test', $2, now() - interval '29 days')",
        old,
        recent,
    )
    removed = await prune_processed_events(db, 30, chunk=1)
    assert removed >= 1
    left = {r["event_id"] for r in await db.fetch("SELECT event_id FROM processed_events WHERE consumer = 'test'")}
    assert left == {recent}
