"""A faster path to the same decision as :func:`shared.kernel.envelope.decode_event`.

The shared decoder parses JSON into Python objects, validates the envelope, then validates the
payload a second time against its contract. Here each contract has an envelope model of its own
(``event_type`` fixed, ``payload`` typed by the contract), and one discriminated union of them
parses and validates envelope and payload from the JSON bytes in a single pass of pydantic's
parser. Anything the fast path does not accept outright is handed to ``decode_event``, which then
decides (and names the dead-letter reason): so a message is never accepted here that the shared
decoder would refuse, and refusals carry the same reasons.

The envelope of an event decoded here carries its payload as the contract's model (reporting
reads only the envelope's metadata); ``tests/unit/test_reporting_projections.py`` checks that the
metadata and the payload are those the shared decoder gives.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, create_model

from shared.kernel.envelope import CONTRACTS, MAX_EVENT_BYTES, Envelope, Event, EventPayload, decode_event


@cache
def _typed() -> Callable[[bytes], Any] | None:
    """One validator for every contract's typed envelope, or None when some type has several
    schema versions (the discriminator is the type alone; the shared decoder handles those)."""
    types = [event_type for event_type, _ in CONTRACTS]
    if len(set(types)) != len(types) or len(types) < 2:
        return None
    models: list[Any] = [
        create_model(
            f"{contract.__name__}Envelope",
            __base__=Envelope,
            event_type=(_exactly(event_type), ...),
            schema_version=(_exactly(version), ...),
            payload=(contract, ...),
        )
        for (event_type, version), contract in sorted(CONTRACTS.items())
    ]
    union: Any = Annotated[functools.reduce(operator.or_, models), Field(discriminator="event_type")]
    adapter: TypeAdapter[Any] = TypeAdapter(union)
    return adapter.validate_json


def _exactly(value: str | int) -> Any:
    """The type whose only value is ``value``."""
    return Literal[value]


def decode(raw: bytes | None, topic_region: str) -> Event[Any]:
    validate = _typed()
    if raw is not None and len(raw) <= MAX_EVENT_BYTES and validate is not None:
        try:
            envelope = validate(raw)
            if envelope.region == topic_region:
                payload: EventPayload = envelope.payload
                return Event(envelope, payload)
        except (ValidationError, ValueError, RecursionError):
            pass
    return decode_event(raw, topic_region=topic_region)
