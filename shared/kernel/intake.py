"""Intake from regional systems over Kafka: ``<region>.<context>.intake.v1``.

A regional system publishes JSON messages of this shape (documented in docs/intake.md):

    {"message_id": "<the sender's unique id>", "type": "RegisterFacilitator", "region": "oc02",
     "sent_at": "2016-07-31T08:00:00+07:00", "payload": {...}}

and every message ends as exactly one of:

- **accepted**: the same use case as over HTTP runs, and its canonical events are published;
- **rejected**: an ``IntakeRejected`` event on ``<region>.rejections.v1``, keyed by the sender's
  ``message_id``, with a stable ``reason`` code (the same codes as the HTTP API), a human
  ``detail`` and per-field ``errors``: the sender reads it back and reconciles;
- **dead-lettered**: bytes that are not a JSON object with a usable ``message_id`` cannot be
  answered, so they go to ``<intake topic>.dlq`` with the reason in headers.

Intake runs on the shared consumer plumbing: the dedupe key is derived from region and
``message_id``, so a message sent twice is processed once, and the dedupe row, the effect and the
outgoing events (or the rejection) commit in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ValidationError

from shared.kernel.consumer import Consumer
from shared.kernel.contracts.intake import FieldError, IntakeRejected
from shared.kernel.db import Conn
from shared.kernel.envelope import RejectedMessage, new_event, parse_json
from shared.kernel.errors import DomainError, Forbidden
from shared.kernel.http import ApiError
from shared.kernel.outbox import UnitOfWork
from shared.kernel.runtime import Runtime
from shared.kernel.text import refused_character
from shared.kernel.topics import Stream
from shared.kernel.validation import Identifier, Input, RegionCode

INTAKE_NAMESPACE = uuid.UUID("6f1d3a52-2b7c-4c1e-9a55-0b1d9c3e7a11")


class IntakeEnvelope(Input):
    message_id: Identifier
    type: Identifier
    region: RegionCode
    sent_at: AwareDatetime | None = None
    payload: dict[str, Any]


@dataclass(frozen=True)
class IntakeMessage:
    """A decoded intake message; ``envelope`` is None when only its ``message_id`` was usable."""

    message_id: str
    raw: Mapping[str, Any]
    topic: str
    topic_region: str
    received_at: datetime
    envelope: IntakeEnvelope | None
    envelope_errors: tuple[FieldError, ...] = ()

    @property
    def dedupe_id(self) -> uuid.UUID:
        return uuid.uuid5(INTAKE_NAMESPACE, f"{self.topic_region}/{self.message_id}")

    @property
    def message_type(self) -> str:
        return "intake"  # bounded metric label; the sender's type is free text

    @property
    def recorded_at(self) -> datetime:
        return self.received_at

    @property
    def correlation_id(self) -> uuid.UUID:
        return self.dedupe_id

    def authorize(self, region: str) -> None:
        """An intake message may act only on the region of the topic it arrived on (Kafka ACLs
        decide who may write that topic): the intake counterpart of an HTTP credential check."""
        if region != self.topic_region:
            raise Forbidden("region_forbidden", f"the {self.topic_region} intake cannot write {region} data")

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.sent_at if self.envelope and self.envelope.sent_at else self.received_at


def _printable_type(value: object) -> str:
    """The sender's ``type`` as it may be echoed in a rejection: text without control characters."""
    return value[:100] if isinstance(value, str) and refused_character(value) is None else ""


def field_errors(exc: ValidationError, prefix: str = "") -> tuple[FieldError, ...]:
    return tuple(
        FieldError(
            field=(prefix + ".".join(str(p) for p in e["loc"]))[:200],
            message=str(e["msg"])[:500],
            code=str(e["type"])[:100],
        )
        for e in exc.errors()[:50]
    )


def intake_decoder(stream: Stream, topic_prefix: str) -> Callable[[bytes | None, str], IntakeMessage]:
    """Decoder for one intake stream: anything with a usable ``message_id`` becomes a message
    (to accept or reject); anything else is a dead letter."""

    def decode(raw: bytes | None, topic_region: str) -> IntakeMessage:
        topic = stream.topic(topic_region, topic_prefix)
        data = parse_json(raw)
        if not isinstance(data, dict):
            raise RejectedMessage("not_an_object", "an intake message is a JSON object")
        message_id = data.get("message_id")
        if not isinstance(message_id, str) or not 0 < len(message_id.strip()) <= 100:
            raise RejectedMessage("no_message_id", "without a message_id the sender cannot be answered")
        if refused_character(message_id) is not None:
            raise RejectedMessage(
                "bad_message_id", "a message_id with control or invisible characters cannot be answered"
            )
        try:
            envelope: IntakeEnvelope | None = IntakeEnvelope.model_validate(data)
            errors: tuple[FieldError, ...] = ()
        except ValidationError as exc:
            envelope, errors = None, field_errors(exc)
        return IntakeMessage(message_id.strip(), data, topic, topic_region, datetime.now(UTC), envelope, errors)

    return decode


Handler = Callable[[Runtime, UnitOfWork, Any, IntakeMessage], Awaitable[None]]


@dataclass(frozen=True)
class IntakeCommand:
    """One message type a service accepts on its intake topic."""

    payload: type[BaseModel]
    handle: Handler


@dataclass(frozen=True)
class _Refusal:
    reason: str
    detail: str
    errors: tuple[FieldError, ...] = ()


def intake_consumer(name: str, stream: Stream, commands: Mapping[str, IntakeCommand]) -> Callable[[Runtime], Consumer]:
    """A consumer factory for ``stream`` (an intake stream) running ``commands``."""

    def build(runtime: Runtime) -> Consumer:
        async def apply(conn: Conn, messages: Sequence[IntakeMessage]) -> None:
            for message in messages:
                refusal = await _process(runtime, conn, commands, message)
                outcome = "accepted" if refusal is None else "rejected"
                runtime.metrics.intake_messages.labels(
                    runtime.metrics.service, message.topic_region, outcome, refusal.reason if refusal else ""
                ).inc()
                if refusal is None:
                    continue
                async with runtime.outbox.unit_of_work(conn) as uow:
                    uow.emit(
                        new_event(
                            IntakeRejected(
                                message_id=message.message_id,
                                message_type=_printable_type(message.raw.get("type")),
                                intake_topic=message.topic,
                                reason=refusal.reason,
                                detail=refusal.detail[:1000],
                                errors=list(refusal.errors),
                            ),
                            region=message.topic_region,
                            source=runtime.source,
                            correlation_id=message.correlation_id,
                        )
                    )

        return Consumer(
            name=name,
            streams=(stream,),
            handles=None,
            apply=apply,
            decode=intake_decoder(stream, runtime.settings.topic_prefix),
        )

    return build


async def _process(
    runtime: Runtime, conn: Conn, commands: Mapping[str, IntakeCommand], message: IntakeMessage
) -> _Refusal | None:
    envelope = message.envelope
    if envelope is None:
        return _Refusal("invalid_message", "the message does not match the intake schema", message.envelope_errors)
    if envelope.region != message.topic_region:
        return _Refusal(
            "region_mismatch",
            f"message for region {envelope.region} arrived on the {message.topic_region} intake topic",
        )
    command = commands.get(envelope.type)
    if command is None:
        return _Refusal("unknown_type", f"unknown message type; accepted types: {', '.join(sorted(commands))}")
    try:
        payload = command.payload.model_validate(envelope.payload)
    except ValidationError as exc:
        return _Refusal(
            "invalid_payload",
            "the payload does not match the schema of " + envelope.type,
            field_errors(exc, "payload."),
        )
    try:
        async with runtime.outbox.unit_of_work(conn) as uow:
            await command.handle(runtime, uow, payload, message)
    except (DomainError, ApiError) as exc:
        return _Refusal(exc.code, exc.message)
    return None
