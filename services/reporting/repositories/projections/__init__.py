"""Projections: batches of new events written set-based into the reporting read models.

Two projections, each behind one consumer (``entrypoints/consumers.py``): ``facilitators``
(facilitator and org unit streams) and ``trainings`` (training, enrollment and participation
streams). The live consumers and the rebuild (``entrypoints/rebuild.py``) call the same ``apply``
functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from services.reporting.repositories.projections import facilitators, trainings
from shared.kernel.db import Conn
from shared.kernel.envelope import Event


class ApplyFn(Protocol):
    def __call__(self, conn: Conn, events: Sequence[Event[Any]], *, derive: bool = True) -> Awaitable[None]: ...


# Every table of the read model (swapped as a whole by a rebuild). processed_events, the dedupe
# table of the consumers, is swapped with them.
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
    "submissions",
    "region_freshness",
)
DEDUPE_TABLE = "processed_events"

__all__ = ["DEDUPE_TABLE", "READ_MODEL_TABLES", "ApplyFn", "facilitators", "trainings"]
