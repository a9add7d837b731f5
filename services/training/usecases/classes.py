"""Classes and sessions: who sits in which class. Sessions are part of the schedule
(``trainings.update_training``); a class sheet of attendance is in ``facts``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.training.domain.errors import NotEnrolled, UnknownClass
from services.training.usecases.common import locked
from services.training.usecases.ports import Authorize, Deployment, UnitOfWork


@dataclass(frozen=True)
class ClassAssignment:
    facilitator_id: uuid.UUID
    class_id: str


@dataclass(frozen=True)
class AssignClasses:
    training_id: uuid.UUID
    assignments: tuple[ClassAssignment, ...]


@dataclass(frozen=True)
class Assigned:
    assigned: int


async def assign_classes(cmd: AssignClasses, uow: UnitOfWork, deployment: Deployment, authorize: Authorize) -> Assigned:
    training = await locked(uow, deployment, cmd.training_id, authorize)
    training.ensure_open()
    unknown = sorted({a.class_id for a in cmd.assignments} - training.class_ids)
    if unknown:
        raise UnknownClass(unknown, with_details=True)
    await ensure_enrolled(uow, cmd.training_id, [a.facilitator_id for a in cmd.assignments])
    await uow.classes.assign(cmd.training_id, [(a.facilitator_id, a.class_id) for a in cmd.assignments])
    return Assigned(len(cmd.assignments))


async def ensure_enrolled(uow: UnitOfWork, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> None:
    enrolled = await uow.roster.enrolled_among(training_id, list(facilitator_ids))
    missing = sorted({str(f) for f in facilitator_ids if f not in enrolled})
    if missing:
        raise NotEnrolled(missing)
