"""Projections: batches of new events written set-based into the reporting read models.

Two consumers, each subscribed once per region (groups ``<name>.<region>``):
``reporting.facilitators`` (facilitator and org unit streams) and ``reporting.trainings``
(training, enrollment and participation streams). Both are used by the live service and by the
rebuild (:mod:`services.reporting.rebuild`), which calls the same ``apply`` functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.reporting.projections import facilitators, trainings
from shared.kernel.consumer import Consumer
from shared.kernel.db import Conn
from shared.kernel.envelope import Event


class ApplyFn(Protocol):
    def __call__(
        self, conn: Conn, events: Sequence[Event[Any]], *, derive: bool = True, lock: bool = True
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Projection:
    consumer: Consumer
    apply: ApplyFn
    derive_all: Callable[[Conn], Awaitable[None]]


PROJECTIONS: tuple[Projection, ...] = (
    Projection(facilitators.CONSUMER, facilitators.apply, facilitators.derive_all),
    Projection(trainings.CONSUMER, trainings.apply, trainings.derive_all),
)
FACILITATORS = facilitators.CONSUMER
TRAININGS = trainings.CONSUMER
CONSUMERS: tuple[Consumer, ...] = tuple(p.consumer for p in PROJECTIONS)

# Every table of the read model (swapped as a whole by a rebuild). processed_events, the dedupe
# table of the consumers above, is swapped with them.
READ_MODEL_TABLES: tuple[str, ...] = (
    "facilitators",
    "facilitator_totals",
    "facilitator_assignments",
    "org_units",
    "province_regions",
    "trainings",
    "training_sessions",
    "participants",
    "attendance",
    "session_stats",
    "training_stats",
    "training_area_stats",
    "region_freshness",
)
DEDUPE_TABLE = "processed_events"

__all__ = ["CONSUMERS", "DEDUPE_TABLE", "FACILITATORS", "PROJECTIONS", "READ_MODEL_TABLES", "TRAININGS", "Projection"]
