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

# The roster row of (training, facilitator) is a function of the newest enrollment and the newest
# withdrawal seen, whatever order they came in: withdrawn when the newest withdrawal is not older
# than the newest enrollment. Withdrawals are also kept in roster_withdrawals (a tombstone), so one
# that arrives before its enrollment is not lost.
UPSERT_ENROLLED = """
WITH w AS (SELECT max(withdrawn_at) AS at FROM roster_withdrawals WHERE training_id = $1 AND facilitator_id = $2)
INSERT INTO roster AS r
    (training_id, facilitator_id, enrollment_id, region, role, status, enrolled_at, withdrawn_at,
     province_code, kabkota_code)
SELECT $1, $2, $3, $4, $5,
       CASE WHEN w.at >= $6 THEN 'withdrawn' ELSE 'enrolled' END,
       $6, CASE WHEN w.at >= $6 THEN w.at END, $7, $8
FROM w
ON CONFLICT (training_id, facilitator_id) DO UPDATE
SET enrollment_id = excluded.enrollment_id, role = excluded.role, status = excluded.status,
    enrolled_at = excluded.enrolled_at, withdrawn_at = excluded.withdrawn_at,
    province_code = coalesce(excluded.province_code, r.province_code),
    kabkota_code = coalesce(excluded.kabkota_code, r.kabkota_code)
WHERE r.enrolled_at <= excluded.enrolled_at
"""
RECORD_WITHDRAWAL = """
INSERT INTO roster_withdrawals AS w (training_id, facilitator_id, withdrawn_at) VALUES ($1, $2, $3)
ON CONFLICT (training_id, facilitator_id) DO UPDATE SET withdrawn_at = greatest(w.withdrawn_at, excluded.withdrawn_at)
"""
MARK_WITHDRAWN = """
UPDATE roster SET status = 'withdrawn', withdrawn_at = $3
WHERE training_id = $1 AND facilitator_id = $2 AND enrolled_at <= $3 AND (withdrawn_at IS NULL OR withdrawn_at < $3)
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
            await conn.execute(RECORD_WITHDRAWAL, p.training_id, p.facilitator_id, env.occurred_at)
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
