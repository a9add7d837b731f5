"""Kafka consumers of the registration service: the trainings it may enroll facilitators into,
learned from the training service's events (``<region>.training.training.v1``); see
usecases.trainings for the rules of arrival order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.registration.repositories.unit_of_work import PgRepositories
from services.registration.usecases.trainings import LearnEnd, LearnSchedule, learn_end, learn_schedule
from shared.kernel.consumer import Consumer
from shared.kernel.contracts import TrainingCancelled, TrainingClosed, TrainingScheduled, TrainingUpdated
from shared.kernel.db import Conn
from shared.kernel.envelope import Event
from shared.kernel.topics import TRAINING

HANDLED = (TrainingScheduled, TrainingUpdated, TrainingCancelled, TrainingClosed)


async def on_training_events(conn: Conn, events: Sequence[Event[Any]]) -> None:
    """Runs in the consumer's transaction (with its dedupe rows), on ``conn``."""
    repos = PgRepositories(conn)
    for event in events:
        p, env = event.payload, event.envelope
        if isinstance(p, TrainingScheduled | TrainingUpdated):
            cmd = LearnSchedule(
                training_id=p.training_id,
                region=env.region,
                training_type=p.training_type.value if isinstance(p, TrainingScheduled) else None,
                title=p.title,
                start_date=p.start_date,
                end_date=p.end_date,
                capacity=p.capacity,
                eligible_roles=tuple(role.value for role in p.eligible_roles),
                as_of=env.occurred_at,
            )
            await learn_schedule(repos, cmd)
        elif isinstance(p, TrainingCancelled):
            await learn_end(repos, LearnEnd(p.training_id, env.region, "cancelled"))
        elif isinstance(p, TrainingClosed):
            await learn_end(repos, LearnEnd(p.training_id, env.region, "closed"))


TRAININGS = Consumer(
    name="registration.trainings",
    streams=(TRAINING,),
    handles=frozenset(contract.event_type for contract in HANDLED),
    apply=on_training_events,
)
