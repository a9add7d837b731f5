"""The trainings registration may enroll facilitators into, learned from the training service's
events. Events of one training share a key, so they arrive in order; the repository is written to
be right even if they did not: a later schedule (by ``occurred_at``) wins, and a cancelled or
closed training never becomes open again. A cancellation or closure that arrives before the
schedule is kept, so the training is refused with its real state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.registration.domain.enrollments import KnownTraining
from services.registration.usecases.ports import Repositories
from shared.kernel.fields import build


@dataclass(frozen=True)
class LearnSchedule:
    """A training was scheduled (``training_type`` known) or its details were updated."""

    training_id: uuid.UUID
    region: str
    training_type: str | None
    title: str
    start_date: date
    end_date: date
    capacity: int
    eligible_roles: tuple[str, ...]
    as_of: datetime  # when the schedule was decided (the event's occurred_at)


@dataclass(frozen=True)
class LearnEnd:
    training_id: uuid.UUID
    region: str
    status: Literal["cancelled", "closed"]


async def learn_schedule(repos: Repositories, cmd: LearnSchedule) -> None:
    await repos.trainings.schedule(build(KnownTraining, cmd, status="scheduled"), cmd.as_of)


async def learn_end(repos: Repositories, cmd: LearnEnd) -> None:
    await repos.trainings.finish(cmd.training_id, cmd.region, cmd.status)
