"""Projections: batches of events written set-based (one statement per table per batch)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from shared.consumer import Consumer
from shared.contracts import FacilitatorRegistered
from shared.db import Conn
from shared.envelope import Event
from shared.topics import FACILITATOR

INSERT_FACILITATORS = """
INSERT INTO facilitators (facilitator_id, region, province_code, kabkota_code, role, full_name, registered_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
ON CONFLICT (facilitator_id) DO NOTHING
"""
ADD_TOTALS = """
INSERT INTO facilitator_totals (region, province_code, role, registered)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (region, province_code, role) DO UPDATE
SET registered = facilitator_totals.registered + excluded.registered
"""
TOUCH_FRESHNESS = """
INSERT INTO region_freshness (region, last_event_at, last_applied_at)
SELECT region, max_at, now() FROM unnest($1::text[], $2::timestamptz[]) AS t(region, max_at)
ON CONFLICT (region) DO UPDATE
SET last_event_at = greatest(region_freshness.last_event_at, excluded.last_event_at), last_applied_at = now()
"""


async def on_facilitator_events(conn: Conn, events: Sequence[Event[Any]]) -> None:
    # Events reaching here are new to this consumer (deduplicated by shared.consumer), so the
    # totals can be added to, not recomputed.
    registered = [e for e in events if isinstance(e.payload, FacilitatorRegistered)]
    if registered:
        await conn.execute(
            INSERT_FACILITATORS,
            [e.payload.facilitator_id for e in registered],
            [e.envelope.region for e in registered],
            [e.payload.province_code for e in registered],
            [e.payload.kabkota_code for e in registered],
            [e.payload.role.value for e in registered],
            [e.payload.full_name for e in registered],
            [e.envelope.occurred_at for e in registered],
        )
        totals = Counter((e.envelope.region, e.payload.province_code, e.payload.role.value) for e in registered)
        keys = list(totals)
        await conn.execute(
            ADD_TOTALS, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [totals[k] for k in keys]
        )
    newest: dict[str, Any] = {}
    for e in events:
        newest[e.envelope.region] = max(newest.get(e.envelope.region, e.envelope.occurred_at), e.envelope.occurred_at)
    await conn.execute(TOUCH_FRESHNESS, list(newest), list(newest.values()))


FACILITATORS = Consumer(
    name="reporting.facilitators",
    streams=(FACILITATOR,),
    handles=frozenset({FacilitatorRegistered.event_type}),
    apply=on_facilitator_events,
)
