"""Kafka entrypoints of the training service: rosters from enrollments, and the kelurahan known
from the registration service's reference data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.consumer import Consumer
from shared.contracts import EnrollmentWithdrawn, FacilitatorEnrolled, OrgUnitDefined, OrgUnitLevel
from shared.db import Conn
from shared.envelope import Event
from shared.topics import ENROLLMENT, ORGUNIT

UPSERT_ENROLLED = """
INSERT INTO roster
    (training_id, facilitator_id, enrollment_id, region, role, status, enrolled_at, province_code, kabkota_code)
VALUES ($1, $2, $3, $4, $5, 'enrolled', $6, $7, $8)
ON CONFLICT (training_id, facilitator_id) DO UPDATE
SET enrollment_id = excluded.enrollment_id, role = excluded.role, status = 'enrolled',
    enrolled_at = excluded.enrolled_at, withdrawn_at = NULL,
    province_code = coalesce(excluded.province_code, roster.province_code),
    kabkota_code = coalesce(excluded.kabkota_code, roster.kabkota_code)
WHERE roster.enrolled_at <= excluded.enrolled_at
"""
MARK_WITHDRAWN = """
UPDATE roster SET status = 'withdrawn', withdrawn_at = $3
WHERE training_id = $1 AND facilitator_id = $2 AND enrolled_at <= $3
"""
UPSERT_KELURAHAN = """
INSERT INTO known_kelurahan (code, name, parent_code, region, effective_from)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (code) DO UPDATE
SET name = excluded.name, parent_code = excluded.parent_code, region = excluded.region,
    effective_from = excluded.effective_from, updated_at = now()
WHERE known_kelurahan.effective_from <= excluded.effective_from
"""


async def on_enrollment_events(conn: Conn, events: Sequence[Event[Any]]) -> None:
    for event in events:
        p, env = event.payload, event.envelope
        if isinstance(p, FacilitatorEnrolled):
            await conn.execute(
                UPSERT_ENROLLED,
                p.training_id,
                p.facilitator_id,
                p.enrollment_id,
                env.region,
                p.role.value,
                env.occurred_at,
                p.province_code,
                p.kabkota_code,
            )
        elif isinstance(p, EnrollmentWithdrawn):
            await conn.execute(MARK_WITHDRAWN, p.training_id, p.facilitator_id, env.occurred_at)


async def on_org_units(conn: Conn, events: Sequence[Event[Any]]) -> None:
    for event in events:
        p = event.payload
        if isinstance(p, OrgUnitDefined) and p.level is OrgUnitLevel.KELURAHAN:
            await conn.execute(UPSERT_KELURAHAN, p.code, p.name, p.parent_code, event.envelope.region, p.effective_from)


ROSTER = Consumer(
    name="training.roster",
    streams=(ENROLLMENT,),
    handles=frozenset({FacilitatorEnrolled.event_type, EnrollmentWithdrawn.event_type}),
    apply=on_enrollment_events,
)

KELURAHAN = Consumer(
    name="training.kelurahan",
    streams=(ORGUNIT,),
    handles=frozenset({OrgUnitDefined.event_type}),
    apply=on_org_units,
)
