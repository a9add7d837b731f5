"""What every command on a training does first: find and lock it, check who may act on it, and
emit its events in its region."""

from __future__ import annotations

import uuid
from typing import Any

from services.training.domain import Training
from services.training.domain.errors import RegionNotServed, TrainingNotFound
from services.training.usecases.ports import Authorize, Deployment, UnitOfWork
from shared.kernel.envelope import EventPayload, new_event


def check_region_served(deployment: Deployment, region: str) -> None:
    if region not in deployment.regions:
        raise RegionNotServed(deployment.regions, region)


async def locked(uow: UnitOfWork, deployment: Deployment, training_id: uuid.UUID, authorize: Authorize) -> Training:
    """The training, locked for the rest of the unit of work, once the caller may act on it."""
    training = await uow.trainings.lock(training_id)
    if training is None:
        raise TrainingNotFound(training_id)
    authorize(training.region)
    check_region_served(deployment, training.region)
    return training


async def reload(uow: UnitOfWork, training_id: uuid.UUID) -> Training:
    training = await uow.trainings.get(training_id)
    assert training is not None
    return training


def emit(uow: UnitOfWork, deployment: Deployment, training: Training, payload: EventPayload, **kw: Any) -> None:
    uow.emit(new_event(payload, region=training.region, source=deployment.source, **kw))
