"""Kafka entrypoints of the registration service: the trainings it may enroll facilitators into,
learned from the training service's events (``<region>.training.training.v1``).

Events of one training share a key, so they arrive in order; the statements below are written to
be right even if they did not: a later schedule (by ``occurred_at``) wins, and a cancelled or
closed training never becomes open again. A cancellation or closure that arrives before the
schedule is kept, so the training is refused with its real state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.consumer import Consumer
from shared.contracts import TrainingCancelled, TrainingClosed, TrainingScheduled, TrainingUpdated
from shared.db import Conn
from shared.envelope import Event
from shared.topics import TRAINING

UPSERT_SCHEDULE = """
INSERT INTO known_trainings
    (training_id, region, status, training_type, title, start_date, end_date, capacity, eligible_roles, details_as_of)
VALUES ($1, $2, 'scheduled', $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (training_id) DO UPDATE
SET training_type = coalesce(excluded.training_type, known_trainings.training_type),
    title = excluded.title, start_date = excluded.start_date, end_date = excluded.end_date,
    capacity = excluded.capacity, eligible_roles = excluded.eligible_roles,
    details_as_of = excluded.details_as_of, updated_at = now()
WHERE known_trainings.details_as_of IS NULL OR known_trainings.details_as_of <= excluded.details_as_of
"""
# closed wins over cancelled, and both win over scheduled
SET_FINAL_STATUS = """
INSERT INTO known_trainings (training_id, region, status) VALUES ($1, $2, $3)
ON CONFLICT (training_id) DO UPDATE
SET status = CASE WHEN known_trainings.status = 'closed' THEN 'closed' ELSE excluded.status END, updated_at = now()
"""

HANDLED = (TrainingScheduled, TrainingUpdated, TrainingCancelled, TrainingClosed)


async def on_training_events(conn: Conn, events: Sequence[Event[Any]]) -> None:
    for event in events:
        p, env = event.payload, event.envelope
        if isinstance(p, TrainingScheduled | TrainingUpdated):
            await conn.execute(
                UPSERT_SCHEDULE,
                p.training_id,
                env.region,
                p.training_type.value if isinstance(p, TrainingScheduled) else None,
                p.title,
                p.start_date,
                p.end_date,
                p.capacity,
                [role.value for role in p.eligible_roles],
                env.occurred_at,
            )
        elif isinstance(p, TrainingCancelled):
            await conn.execute(SET_FINAL_STATUS, p.training_id, env.region, "cancelled")
        elif isinstance(p, TrainingClosed):
            await conn.execute(SET_FINAL_STATUS, p.training_id, env.region, "closed")


TRAININGS = Consumer(
    name="registration.trainings",
    streams=(TRAINING,),
    handles=frozenset(contract.event_type for contract in HANDLED),
    apply=on_training_events,
)
