"""Kafka entrypoints of the training service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.consumer import Consumer
from shared.contracts import EnrollmentWithdrawn, FacilitatorEnrolled
from shared.db import Conn
from shared.envelope import Event
from shared.topics import ENROLLMENT

UPSERT_ENROLLED = """
INSERT INTO roster (training_id, facilitator_id, enrollment_id, region, role, status, enrolled_at)
VALUES ($1, $2, $3, $4, $5, 'enrolled', $6)
ON CONFLICT (training_id, facilitator_id) DO UPDATE
SET enrollment_id = excluded.enrollment_id, role = excluded.role, status = 'enrolled',
    enrolled_at = excluded.enrolled_at, withdrawn_at = NULL
WHERE roster.enrolled_at <= excluded.enrolled_at
"""
MARK_WITHDRAWN = """
UPDATE roster SET status = 'withdrawn', withdrawn_at = $3
WHERE training_id = $1 AND facilitator_id = $2 AND enrolled_at <= $3
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
            )
        elif isinstance(p, EnrollmentWithdrawn):
            await conn.execute(MARK_WITHDRAWN, p.training_id, p.facilitator_id, env.occurred_at)


ROSTER = Consumer(
    name="training.roster",
    streams=(ENROLLMENT,),
    handles=frozenset({FacilitatorEnrolled.event_type, EnrollmentWithdrawn.event_type}),
    apply=on_enrollment_events,
)
