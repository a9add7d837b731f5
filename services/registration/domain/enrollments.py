"""Trainings as registration knows them, enrollments, and the rules of enrolling and withdrawing.
Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.registration.domain import errors
from services.registration.domain.facilitators import Facilitator

TrainingStatus = Literal["scheduled", "cancelled", "closed"]
EnrollmentStatus = Literal["enrolled", "withdrawn"]


@dataclass(frozen=True)
class KnownTraining:
    """A training learned from the training service's events. Only a cancellation or closure may
    have arrived so far: then the details (``capacity`` and the rest) are still None."""

    training_id: uuid.UUID
    region: str
    status: TrainingStatus
    training_type: str | None = None
    title: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    capacity: int | None = None
    eligible_roles: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Enrollment:
    enrollment_id: uuid.UUID
    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    status: EnrollmentStatus


def open_training(training: KnownTraining | None, training_id: uuid.UUID) -> KnownTraining:
    """The training to enroll into, if this service knows its details."""
    if training is None or training.capacity is None:  # only a cancel/close event arrived so far
        if training is not None and training.status != "scheduled":
            raise errors.training_not_open(training_id, training.status)
        raise errors.training_unknown(training_id)
    return training


def check_enrollable(facilitator: Facilitator, training: KnownTraining) -> None:
    """The rules that depend on the facilitator and the training, in the order they are told."""
    if training.region != facilitator.region:
        raise errors.training_region_mismatch(training.training_id, training.region, facilitator.region)
    if training.status != "scheduled":
        raise errors.training_not_open(training.training_id, training.status)
    if facilitator.status != "active":
        raise errors.inactive_not_enrollable()
    eligible = training.eligible_roles or ()
    if facilitator.role.value not in eligible:
        raise errors.role_not_eligible(training.training_id, ", ".join(eligible), facilitator.role.value)


def check_not_enrolled(existing: Enrollment | None) -> None:
    if existing is not None and existing.status == "enrolled":
        raise errors.already_enrolled(existing.enrollment_id)


def check_place_left(training: KnownTraining, active: int) -> None:
    capacity = training.capacity or 0
    if active >= capacity:
        raise errors.training_full(training.training_id, active, capacity)


def check_withdrawable(
    enrollment: Enrollment | None, training: KnownTraining | None, facilitator_id: uuid.UUID, training_id: uuid.UUID
) -> Enrollment:
    if enrollment is None:
        raise errors.enrollment_not_found(facilitator_id, training_id)
    if enrollment.status != "enrolled":
        raise errors.already_withdrawn()
    if training is not None and training.status == "closed":
        raise errors.training_closed_for_withdrawal(training_id)
    return enrollment
