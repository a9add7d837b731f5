"""The parts of the consumer plumbing that need no broker: which errors mean "wait for the
database", how a batch is rewound, and that no record can fail the batch before our decoder."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.consumer.fetcher import Fetcher, FetchResult
from aiokafka.errors import IllegalStateError

from shared.kernel.consumer import (
    HOLD_FETCH_SECONDS,
    dead_letter_id,
    hold_fetch_while_busy,
    parse_batch,
    raw_bodies,
    rewind,
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
    assert asyncio.run(raw_bodies(parsed)) == [b"{}", b"{}"], "bodies are left as bytes"


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
