"""What a running service is made of, as the services see it: its definition (name, routers,
consumers, error table) and the runtime one process builds from it (settings, metrics, pool,
broker, outbox). The composition itself is shared.bootstrap's; services only read these."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from fastapi import APIRouter, Request
from faststream.kafka import KafkaBroker

from shared.kernel.consumer import Consumer
from shared.kernel.errors import ErrorTable
from shared.kernel.metrics import Metrics
from shared.kernel.outbox import Outbox
from shared.kernel.settings import Settings

# What a service needs of its settings before it may serve: why it cannot (one line), or None.
SettingsCheck = Callable[[Settings], str | None]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str  # also the database schema and the event ``source``
    title: str
    default_port: int
    migrations: Path
    routers: Sequence[APIRouter] = ()
    # A consumer, or a factory that builds one from the runtime (when it needs settings or the outbox).
    consumers: Sequence[Consumer | Callable[[Runtime], Consumer]] = ()
    description: str = ""
    errors: ErrorTable = field(default_factory=ErrorTable)  # HTTP status of each domain error code
    # Checked when a process of the service starts (every role); any problem and it refuses to start.
    requires: Sequence[SettingsCheck] = ()
    # The consumers whose batches write the outbox, for a service whose API writes none of it: only
    # a process running one of them relays it (see ``relays_outbox``). None: the API or any
    # consumer may write it, and every consuming process relays.
    outbox_writers: frozenset[str] | None = None

    def relays_outbox(self, consumers: Sequence[str]) -> bool:
        """Whether a consuming process running ``consumers`` relays the outbox: a process that writes
        none of it leaves the relay's publishing, and its CPU, to the process that does."""
        return self.outbox_writers is None or not self.outbox_writers.isdisjoint(consumers)


@dataclass
class Runtime:
    """What request handlers and use cases need at run time; one per process."""

    definition: ServiceDefinition
    settings: Settings
    metrics: Metrics
    pool: asyncpg.Pool
    broker: KafkaBroker
    outbox: Outbox
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def source(self) -> str:
        return f"kotaku.{self.definition.name}"


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def current_runtime(request: Request) -> Runtime:
    """:func:`runtime_of` as a route dependency (``async``: FastAPI would run a plain function in a
    worker thread)."""
    return runtime_of(request)
