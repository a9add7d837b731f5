"""Consumer ``reporting.xapi``: every region's learning facts as xAPI statements on the national
topic ``national.xapi.statements.v1`` (docs/xapi.md).

It reads the training, enrollment and participation streams (groups ``reporting.xapi.<region>``)
through the one pipeline: deduplicated into ``processed_events``, and the statements of a batch are
written to reporting's outbox in the same transaction, so each event gives its statement once. The
envelope of a statement has the statement id as its ``event_id`` (uuid5 of the source event's id),
and is keyed by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.reporting.entrypoints.decoding import decode
from services.reporting.repositories import xapi
from shared.kernel.consumer import Consumer
from shared.kernel.contracts import XapiStatementRecorded
from shared.kernel.db import Conn
from shared.kernel.envelope import Event, new_event
from shared.kernel.runtime import Runtime
from shared.kernel.topics import ENROLLMENT, PARTICIPATION, TRAINING

SOURCE = "kotaku.reporting"
STREAMS = (TRAINING, ENROLLMENT, PARTICIPATION)


def statement_event(source: Event[Any], statement: dict[str, Any]) -> Event[Any]:
    """The envelope of ``statement``: same region, time and correlation as the fact it states,
    caused by it, and identified by the statement id."""
    env = source.envelope
    payload = XapiStatementRecorded(statement_id=statement["id"], source_event_type=env.event_type, statement=statement)
    event = new_event(
        payload,
        region=env.region,
        source=SOURCE,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        causation_id=env.event_id,
    )
    return Event(event.envelope.model_copy(update={"event_id": payload.statement_id}), payload)


# A statement is forwarded to the learning record store later anyway (docs/xapi.md), so the
# consumer gathers a fetch for up to this long: fewer, larger batches, and the cores left to the
# read models, whose freshness people watch (docs/reporting.md, "fifth measurement").
GATHER_MS = 250


def xapi_consumer(runtime: Runtime) -> Consumer:
    """Built per process: its statements go through that process's outbox."""

    async def apply(conn: Conn, events: Sequence[Any]) -> None:
        stated = await xapi.statements(conn, events)
        if stated:  # in the batch's transaction
            await runtime.outbox.write_in(conn, [statement_event(event, statement) for event, statement in stated])

    return Consumer(
        name=xapi.NAME,
        streams=STREAMS,
        handles=xapi.HANDLES,
        apply=apply,
        decode=decode,
        gather_ms=GATHER_MS,
    )
