"""The parts of the consumer plumbing that need no broker: which errors mean "wait for the
database", how a batch is rewound, and that no record can fail the batch before our decoder."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.consumer.fetcher import Fetcher, FetchResult
from aiokafka.errors import IllegalStateError
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber, LogicSubscriber

from services.reporting.entrypoints.consumers import TRAININGS
from services.reporting.entrypoints.xapi import GATHER_MS
from shared.kernel import kafka as kafka_clients
from shared.kernel.consumer import (
    GATHER_BYTES,
    HOLD_FETCH_SECONDS,
    WAL_POSITIONS,
    ConsumerContext,
    Durability,
    OffsetCommits,
    as_message,
    dead_letter_id,
    hold_fetch_while_busy,
    next_offsets,
    parse_batch,
    poll_without_idle_pause,
    rewind,
    subscribe,
)
from shared.kernel.db import database_unavailable
from shared.kernel.envelope import RejectedMessage, decode_event, parse_json
from shared.kernel.intake import intake_decoder
from shared.kernel.topics import REGISTRATION_INTAKE


def record(
    topic: str, partition: int, offset: int, value: bytes = b"{}", headers: Any = ()
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(topic, partition, offset, 1, 0, b"k", value, None, 1, len(value), list(headers))


class SeekRecorder:
    def __init__(self, revoked: set[TopicPartition] | None = None) -> None:
        self.seeks: dict[TopicPartition, int] = {}
        self.revoked = revoked or set()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp in self.revoked:
            raise IllegalStateError("not assigned")
        self.seeks[tp] = offset


def test_rewind_moves_every_partition_of_the_batch_back_to_its_first_record() -> None:
    batch = [record("a", 0, 10), record("a", 1, 5), record("a", 0, 11), record("b", 2, 7), record("a", 1, 6)]
    consumer = SeekRecorder()
    rewind(consumer, batch)
    assert consumer.seeks == {TopicPartition("a", 0): 10, TopicPartition("a", 1): 5, TopicPartition("b", 2): 7}


def test_rewind_skips_a_partition_revoked_meanwhile() -> None:
    consumer = SeekRecorder(revoked={TopicPartition("a", 1)})
    rewind(consumer, [record("a", 0, 3), record("a", 1, 4)])
    assert consumer.seeks == {TopicPartition("a", 0): 3}


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000, b'{"message_id": "x", "payload": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", b"{" * 5000],
)
def test_json_nested_too_deeply_is_a_dead_letter_not_a_crash(raw: bytes) -> None:
    with pytest.raises(RejectedMessage) as caught:
        parse_json(raw)
    assert caught.value.reason in {"too_deep", "not_json"}
    with pytest.raises(RejectedMessage):
        decode_event(raw, topic_region="oc02")
    with pytest.raises(RejectedMessage):
        intake_decoder(REGISTRATION_INTAKE, "")(raw, "oc02")


def test_the_batch_parser_survives_header_bytes_that_are_not_utf8() -> None:
    odd = record("t", 0, 1, headers=[("note", b"\xff\xfe"), ("ok", b"yes")])
    plain = record("t", 0, 2, headers=[("ok", b"yes")])
    seen: list[tuple[ConsumerRecord[Any, Any], ...]] = []

    class Parsed:
        raw_message: Any = None
        body: Any = None

    async def original(records: tuple[ConsumerRecord[Any, Any], ...]) -> Parsed:
        for r in records:  # what FastStream's own parser does with every header
            {k: v.decode() for k, v in r.headers}
        seen.append(records)
        parsed = Parsed()
        parsed.raw_message, parsed.body = records, [r.value for r in records]
        return parsed

    parsed = asyncio.run(parse_batch((odd, plain), original))
    assert parsed.raw_message == (odd, plain), "the handler gets the original records, header bytes and all"
    assert seen[0][0].headers == [("ok", b"yes")]
    assert asyncio.run(as_message(parsed)) is parsed, "the handler gets the message, bodies left as bytes"


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.TooManyConnectionsError(),
        asyncpg.AdminShutdownError(),
        asyncpg.CannotConnectNowError(),
        asyncpg.SerializationError(),
        asyncpg.DeadlockDetectedError(),
        asyncpg.InterfaceError("connection is closed"),
    ],
)
def test_outages_are_told_apart_from_bad_work(error: Exception) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [asyncpg.UniqueViolationError(), asyncpg.CheckViolationError(), ValueError("bad"), KeyError("x")],
)
def test_bad_work_is_not_an_outage(error: Exception) -> None:
    assert not database_unavailable(error)


def test_a_dead_letter_id_names_one_record_of_one_consumer() -> None:
    a = record("t", 0, 1)
    assert dead_letter_id("c", a) == dead_letter_id("c", record("t", 0, 1))
    assert len({dead_letter_id("c", a), dead_letter_id("d", a), dead_letter_id("c", record("t", 1, 1))}) == 3
    assert isinstance(dead_letter_id("c", a), uuid.UUID)


def test_a_consumer_fetches_again_only_once_its_batch_was_taken() -> None:
    """The fetcher of the aiokafka version we run has the attribute ``hold_fetch_while_busy`` sets,
    with aiokafka's 100 ms default, and a fetched result then holds its broker's next fetch for
    :data:`HOLD_FETCH_SECONDS`, not 100 ms. A consumer not started (no fetcher) is left alone."""
    parameter = inspect.signature(Fetcher.__init__).parameters["prefetch_backoff"]
    assert parameter.default == pytest.approx(0.1)
    assert "self._prefetch_backoff = prefetch_backoff" in inspect.getsource(Fetcher.__init__)

    fetcher = SimpleNamespace(_prefetch_backoff=0.1)
    hold_fetch_while_busy(SimpleNamespace(_fetcher=fetcher))
    assert fetcher._prefetch_backoff == HOLD_FETCH_SECONDS
    hold_fetch_while_busy(SimpleNamespace())  # not started: nothing to do, no error

    waiting = FetchResult(
        TopicPartition("t", 0), assignment=None, partition_records=None, backoff=fetcher._prefetch_backoff
    )
    assert waiting.calculate_backoff() > 1.0  # the broker's next fetch waits until the batch is taken


def test_faststream_still_pauses_after_an_empty_poll_and_calls_get_msg_on_the_instance() -> None:
    """Why :func:`poll_without_idle_pause` exists, and that its replacement is still called: the
    batch subscriber's own ``get_msg`` sleeps after an empty ``getmany``, and the consume loop asks
    ``self.get_msg`` (so an instance attribute wins over the class's method)."""
    assert "sleep" in inspect.getsource(BatchSubscriber.get_msg)
    assert "await self.get_msg(consumer)" in inspect.getsource(LogicSubscriber._run_consume_loop)


class Clock:
    """A fake monotonic clock: ``getmany`` and ``sleep`` move it instead of waiting."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class FakeConsumer:
    def __init__(self, clock: Clock, answers: list[tuple[float, dict[Any, Any]]]) -> None:
        self.clock, self.answers = clock, answers
        self.calls: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        self.calls.append((timeout_ms, max_records))
        took, fetched = self.answers.pop(0)
        self.clock.now += took
        return fetched


def test_a_poll_returns_records_at_once_and_pauses_only_when_getmany_returned_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr("shared.kernel.consumer.time.monotonic", clock.monotonic)
    monkeypatch.setattr("shared.kernel.consumer.asyncio.sleep", clock.sleep)
    subscriber = SimpleNamespace()
    poll_without_idle_pause(subscriber, timeout_ms=25, max_records=500)
    a, b = record("t", 0, 7), record("t", 1, 3)
    consumer = FakeConsumer(
        clock,
        [
            (0.004, {TopicPartition("t", 0): [a], TopicPartition("t", 1): [b]}),  # records: no pause
            (0.025, {}),  # waited the whole timeout for nothing: poll again at once
            (0.005, {}),  # returned early with nothing (a rebalance): sleep the rest, never spin
        ],
    )
    assert asyncio.run(subscriber.get_msg(consumer)) == (a, b)
    assert asyncio.run(subscriber.get_msg(consumer)) == ()
    assert clock.sleeps == []
    assert asyncio.run(subscriber.get_msg(consumer)) == ()
    assert clock.sleeps == [pytest.approx(0.020)]
    assert consumer.calls == [(25, 500)] * 3


def offline_context(broker: KafkaBroker, **options: Any) -> ConsumerContext:
    """A consumer context for subscribing on ``broker`` with no database behind it (prefix ``p.``)."""
    return ConsumerContext(
        pool=cast(asyncpg.Pool, None),
        broker=broker,
        metrics=cast(Any, SimpleNamespace(consumer_waiting=SimpleNamespace(labels=lambda *a: None), service="t")),
        topic_prefix="p.",
        retry_attempts=1,
        retry_backoff_seconds=0.1,
        **options,
    )


def test_only_a_gathering_consumer_asks_the_broker_to_hold_its_fetches() -> None:
    """The read models fetch whatever is there (the broker answers at the first record); the xAPI
    statements (``gather_ms``) ask for GATHER_BYTES or their wait; both poll without the idle pause."""
    broker = KafkaBroker("127.0.0.1:1")
    ctx = offline_context(broker, fetch_max_wait_ms=500)
    gathering = dataclasses.replace(TRAININGS, name="gathering", gather_ms=GATHER_MS)
    subscribe(broker, TRAININGS, ["oc02"], ctx, max_records=500)
    subscribe(broker, gathering, ["oc02"], ctx, max_records=500)
    args = {s.group_id: s._connection_args for s in broker.subscribers}  # type: ignore[attr-defined]
    assert args["p.reporting.trainings.oc02"]["fetch_min_bytes"] == 1
    assert args["p.reporting.trainings.oc02"]["fetch_max_wait_ms"] == 500
    assert args["p.gathering.oc02"]["fetch_min_bytes"] == GATHER_BYTES
    assert args["p.gathering.oc02"]["fetch_max_wait_ms"] == GATHER_MS > 0
    assert all("get_msg" in vars(s) for s in broker.subscribers)


def test_the_offsets_to_commit_are_each_partitions_next_after_the_batch() -> None:
    batch = [record("t", 0, 7), record("t", 0, 9), record("t", 1, 3), record("u", 0, 0), record("t", 0, 8)]
    assert next_offsets(batch) == {TopicPartition("t", 0): 10, TopicPartition("t", 1): 4, TopicPartition("u", 0): 1}


class SlowCommits:
    """A consumer whose commits wait until the test answers them."""

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.sent: list[dict[TopicPartition, int]] = []
        self.answers: list[asyncio.Event] = []
        self.failing = failing  # which commits (by number, from 0) the broker refuses

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        number = len(self.sent)
        self.sent.append(dict(offsets))
        answer = asyncio.Event()
        self.answers.append(answer)
        await answer.wait()
        if number in self.failing:
            raise IllegalStateError("partition no longer assigned")


def test_a_batchs_offsets_are_sent_without_waiting_and_in_order() -> None:
    async def scenario() -> None:
        kafka = SlowCommits()
        commits = OffsetCommits("c", "oc02")
        commits.send(kafka, [record("t", 0, 4)])  # returns at once
        await asyncio.sleep(0)
        assert kafka.sent == [{TopicPartition("t", 0): 5}]
        commits.send(kafka, [record("t", 0, 5), record("t", 1, 0)])
        commits.send(kafka, [record("t", 0, 6)])
        await asyncio.sleep(0.01)
        assert len(kafka.sent) == 1  # one commit in flight: the batches done meanwhile wait for it
        kafka.answers[0].set()
        await asyncio.sleep(0.01)
        assert kafka.sent[1] == {TopicPartition("t", 0): 7, TopicPartition("t", 1): 1}  # together, in order
        kafka.answers[1].set()
        await asyncio.wait_for(commits.settled(), 1)
        assert len(kafka.sent) == 2

    asyncio.run(scenario())


def test_a_commit_that_fails_is_logged_and_the_next_goes_out(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        kafka = SlowCommits(failing=frozenset({0}))
        commits = OffsetCommits("c", "oc02")
        commits.send(kafka, [record("t", 0, 1)])
        await asyncio.sleep(0)
        kafka.answers[0].set()
        await asyncio.sleep(0)
        commits.send(kafka, [record("t", 0, 2)])
        await asyncio.sleep(0.01)
        kafka.answers[1].set()
        await asyncio.wait_for(commits.settled(), 1)
        assert kafka.sent == [{TopicPartition("t", 0): 2}, {TopicPartition("t", 0): 3}]

    with caplog.at_level(logging.WARNING, logger="shared.kernel.consumer"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records] == [
        "offset commit failed; the batch will be redelivered and skipped as duplicates"
    ]


def test_offsets_of_a_batch_committed_without_waiting_for_the_disk_go_out_once_it_is_on_disk() -> None:
    async def scenario() -> None:
        kafka = SlowCommits()
        commits = OffsetCommits("c", "oc02")
        durable: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        commits.send(kafka, [record("t", 0, 4)], durable)
        await asyncio.sleep(0.01)
        assert kafka.sent == []
        durable.set_result(True)
        await asyncio.sleep(0.01)
        assert kafka.sent == [{TopicPartition("t", 0): 5}]
        kafka.answers[0].set()
        await asyncio.wait_for(commits.settled(), 1)

    asyncio.run(scenario())


def test_a_batch_that_never_reached_the_disk_takes_every_partition_back_to_its_first_uncommitted_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        kafka = SlowCommits()
        seeks = SeekRecorder(revoked={TopicPartition("u", 0)})
        kafka.seek = seeks.seek  # type: ignore[attr-defined]
        commits = OffsetCommits("c", "oc02")
        commits.send(kafka, [record("t", 0, 0), record("t", 1, 7)], epoch=commits.epoch)
        await asyncio.sleep(0)
        kafka.answers[0].set()
        await asyncio.wait_for(commits.settled(), 1)
        lost: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        later: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        taken = commits.epoch  # a batch taken now, still being applied when the news comes
        commits.send(kafka, [record("t", 0, 1), record("t", 0, 2)], lost, commits.epoch)
        commits.send(kafka, [record("t", 0, 3), record("u", 0, 0)], later, commits.epoch)
        lost.set_result(False)  # the server restarted before the first was flushed
        later.set_result(True)
        await asyncio.wait_for(commits.settled(), 1)
        assert len(kafka.sent) == 1  # nothing after the lost batch was committed
        # at once, without waiting for another batch: each partition back to its first record not
        # committed to Kafka (t-1: where it is; u-0 was revoked meanwhile)
        assert seeks.seeks == {TopicPartition("t", 0): 1, TopicPartition("t", 1): 8}
        commits.send(kafka, [record("v", 0, 5)], epoch=taken)  # taken before the rewind: dropped
        await asyncio.wait_for(commits.settled(), 1)
        assert len(kafka.sent) == 1
        commits.send(kafka, [record("t", 0, 1)], epoch=commits.epoch)  # taken again after the rewind
        await asyncio.sleep(0)
        assert kafka.sent[-1] == {TopicPartition("t", 0): 2}
        kafka.answers[-1].set()
        await asyncio.wait_for(commits.settled(), 1)

    with caplog.at_level(logging.WARNING, logger="shared.kernel.consumer"):
        asyncio.run(scenario())
    assert any("PostgreSQL restarted before a batch was on disk" in r.getMessage() for r in caplog.records)


class WalServer:
    """The answers of WAL_POSITIONS, as the test sets them; a query can be made to fail."""

    def __init__(self) -> None:
        self.written, self.flushed, self.started = 100, 100, datetime(2026, 1, 1, tzinfo=UTC)
        self.queries = 0
        self.failing = 0

    async def fetchrow(self, query: str) -> dict[str, Any]:
        assert query == WAL_POSITIONS
        self.queries += 1
        if self.failing:
            self.failing -= 1
            raise asyncpg.PostgresConnectionError("connection lost")
        return {"written": self.written, "flushed": self.flushed, "started": self.started}


def test_a_commit_is_durable_once_the_wal_is_flushed_past_the_position_written_when_asked() -> None:
    async def scenario() -> None:
        server = WalServer()
        durability = Durability(cast(asyncpg.Pool, server), every=0.001)
        await durability.prime()
        server.written = 150  # a commit up to 150, not flushed yet
        first = durability.after_commit()
        await asyncio.sleep(0.01)
        assert not first.done()
        server.written = 200  # more written since: the first waiter needs 150 only
        server.flushed = 160
        await asyncio.sleep(0.01)
        assert first.result() is True
        server.failing = 2  # the database is away for two queries: the waiter waits on
        second = durability.after_commit()
        await asyncio.sleep(0.01)
        assert not second.done()
        server.flushed = 200
        assert await asyncio.wait_for(second, 2) is True

    asyncio.run(scenario())


def test_a_commit_is_never_durable_across_a_server_restart() -> None:
    async def scenario() -> None:
        server = WalServer()
        durability = Durability(cast(asyncpg.Pool, server), every=0.001)
        await durability.prime()
        server.written = 150
        committed = durability.after_commit()  # not flushed: its waiter is pending
        await asyncio.sleep(0.01)
        server.started = datetime(2026, 1, 2, tzinfo=UTC)  # crashed and restarted; the WAL goes on
        server.written, server.flushed = 300, 300
        assert await asyncio.wait_for(committed, 1) is False
        server.written = 310  # a commit after the restart is durable as usual
        after = durability.after_commit()
        server.flushed = 310
        assert await asyncio.wait_for(after, 1) is True

    asyncio.run(scenario())


def test_a_batch_reaches_its_handler_without_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler gets the message as decoded (``as_message``), on the event loop: nothing is
    looked up on a worker thread per batch, as FastDepends did for the message's context."""
    handled: list[Any] = []

    async def applied(self: Any, records: Any) -> bool:
        handled.append(records)
        return False

    def no_thread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a batch went through a worker thread")

    monkeypatch.setattr("shared.kernel.consumer.BatchProcessor.process", applied)
    monkeypatch.setattr("shared.kernel.consumer.OffsetCommits.send", lambda self, *args: None)
    monkeypatch.setattr("anyio.to_thread.run_sync", no_thread)

    async def scenario() -> None:
        broker = kafka_clients.broker("127.0.0.1:1", "t")
        ctx = offline_context(broker)
        subscribe(broker, TRAININGS, ["oc02"], ctx, max_records=500)
        async with TestKafkaBroker(broker) as test_broker:
            await test_broker.publish(b"{}", TRAININGS.streams[0].topic("oc02", "p."))

    asyncio.run(scenario())
    assert len(handled) == 1, "the batch was handled once"
