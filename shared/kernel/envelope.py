"""The one event envelope every message carries (CloudEvents-compatible field set).

On the wire the body is the JSON envelope; ``event_id`` and ``event_type`` are mirrored into Kafka
headers (``ce_id``, ``ce_type``, ...) so that tools can route and dedupe without parsing bodies.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.kernel.settings import REGION_PATTERN
from shared.kernel.topics import Stream

MAX_EVENT_BYTES = 256 * 1024


class ContractModel(BaseModel):
    """Base of every model that is part of a published contract: frozen, and a tolerant reader:
    fields it does not know are ignored, so a producer may add an optional field without breaking
    consumers that were deployed before it."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class EventPayload(ContractModel):
    """Base of every event contract. Subclasses are versioned and registered by type."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    stream: ClassVar[Stream]
    key_field: ClassVar[str]

    def key(self) -> str:
        """Kafka key: the aggregate id, so that one entity's events stay ordered in one partition."""
        return str(getattr(self, self.key_field))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            CONTRACTS[(cls.event_type, cls.schema_version)] = cls


CONTRACTS: dict[tuple[str, int], type[EventPayload]] = {}


class Envelope(BaseModel):
    """Metadata shared by every event, with the contract-specific ``payload``."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # tolerant reader, as ContractModel

    event_id: uuid.UUID = Field(description="Unique id of this fact; the dedupe key of every consumer")
    event_type: str = Field(min_length=1, max_length=100, description="Stable type name, e.g. FacilitatorRegistered")
    schema_version: int = Field(ge=1, le=1000)
    occurred_at: AwareDatetime = Field(description="When it happened in the field")
    recorded_at: AwareDatetime = Field(description="When a KOTAKU service recorded it")
    source: str = Field(min_length=1, max_length=200, description="Producing system or service")
    region: str = Field(pattern=REGION_PATTERN, description="OC region code, equal to the topic's region")
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    payload: dict[str, Any]


P = TypeVar("P", bound=EventPayload)


@dataclass(frozen=True)
class Event(Generic[P]):
    """An envelope together with its validated, typed payload."""

    envelope: Envelope
    payload: P

    def to_bytes(self) -> bytes:
        return self.envelope.model_dump_json().encode()

    def headers(self) -> dict[str, str]:
        env = self.envelope
        return {
            "ce_specversion": "1.0",
            "ce_id": str(env.event_id),
            "ce_type": env.event_type,
            "ce_source": env.source,
            "ce_time": env.occurred_at.isoformat(),
            "kotaku_schema_version": str(env.schema_version),
            "kotaku_region": env.region,
        }

    @property
    def key(self) -> str:
        return self.payload.key()

    # What the consumer plumbing needs of anything it processes (see shared.kernel.pipeline.Message).
    @property
    def dedupe_id(self) -> uuid.UUID:
        return self.envelope.event_id

    @property
    def message_type(self) -> str:
        return self.envelope.event_type

    @property
    def recorded_at(self) -> datetime:
        return self.envelope.recorded_at

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at

    @property
    def correlation_id(self) -> uuid.UUID:
        return self.envelope.correlation_id


def new_event(
    payload: P,
    *,
    region: str,
    source: str,
    occurred_at: datetime | None = None,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
) -> Event[P]:
    now = datetime.now(UTC)
    envelope = Envelope(
        event_id=uuid.uuid4(),
        event_type=payload.event_type,
        schema_version=payload.schema_version,
        occurred_at=occurred_at or now,
        recorded_at=now,
        source=source,
        region=region,
        correlation_id=correlation_id or uuid.uuid4(),
        causation_id=causation_id,
        payload=payload.model_dump(mode="json"),
    )
    return Event(envelope, payload)


class RejectedMessage(Exception):
    """A message that can never be processed as it is: it goes to the dead-letter topic at once."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def parse_json(raw: bytes | None) -> Any:
    """The JSON value of a message body, or :class:`RejectedMessage` (empty, too large, not JSON)."""
    if raw is None:
        raise RejectedMessage("empty_body", "the message has no value")
    if len(raw) > MAX_EVENT_BYTES:
        raise RejectedMessage("too_large", f"{len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedMessage("not_json", str(exc)[:500]) from exc
    except RecursionError as exc:
        # e.g. 100,000 '[' or a field nested 50,000 arrays deep: the parser recurses once per
        # level and gives up cleanly; no contract nests more than a few levels.
        raise RejectedMessage("too_deep", "JSON nested too deeply to decode") from exc


def decode_event(raw: bytes | None, *, topic_region: str | None = None) -> Event[EventPayload]:
    """Parse and validate a message body. Raises :class:`RejectedMessage` with a stable reason code."""
    data = parse_json(raw)
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise RejectedMessage("invalid_envelope", _summarise(exc)) from exc
    contract = CONTRACTS.get((envelope.event_type, envelope.schema_version))
    if contract is None:
        raise RejectedMessage("unknown_event_type", f"no contract for {envelope.event_type} v{envelope.schema_version}")
    if topic_region is not None and envelope.region != topic_region:
        raise RejectedMessage("region_mismatch", f"event region {envelope.region} arrived on a {topic_region} topic")
    try:
        payload = contract.model_validate(envelope.payload)
    except ValidationError as exc:
        raise RejectedMessage("invalid_payload", _summarise(exc)) from exc
    return Event(envelope, payload)


def _summarise(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10]]
    return "; ".join(parts)[:1000]
