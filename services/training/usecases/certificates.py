"""Certificates to print and to verify by a person: each with its holder (name and role, as the
training service learned them from the registration service's events) and its training.

The holders are read through :class:`Holders`, a port of its own (implemented by
``repositories/certificates.py``); the training through :class:`TrainingReads`, the one query of
the read side (``ports.Reads``) these use cases need.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.training import domain
from services.training.domain import Training
from services.training.domain.errors import (
    CertificateNotFound,
    CertificateRevoked,
    NoValidCertificates,
    ParticipantNameUnknown,
    TrainingNotFound,
)
from services.training.usecases.ports import Authorize


@dataclass(frozen=True)
class Holder:
    """A certificate and its holder: the role they were enrolled with, and their name once the
    registration service's event with it has arrived (None until then)."""

    code: str
    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    issued_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    role: str | None
    full_name: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class TrainingReads(Protocol):
    async def training(self, training_id: uuid.UUID) -> Training | None: ...


class Holders(Protocol):
    async def by_code(self, code: str) -> Holder | None:
        """The certificate with this canonical code, revoked or not."""

    async def valid_of_training(self, training_id: uuid.UUID) -> list[Holder]:
        """The training's certificates that are not revoked, by name (unknown names last), then code."""


@dataclass(frozen=True)
class Printable:
    holder: Holder
    training: Training


async def _training(reads: TrainingReads, training_id: uuid.UUID) -> Training:
    training = await reads.training(training_id)
    if training is None:  # certificates are never issued without their training
        raise TrainingNotFound(training_id)
    return training


async def verification(reads: TrainingReads, holders: Holders, code: str) -> Printable:
    """Public: a certificate as a person verifies it, revoked ones included (shown as revoked)."""
    canonical = domain.normalise_certificate_code(code)
    holder = await holders.by_code(canonical) if canonical else None
    if holder is None:
        raise CertificateNotFound()
    return Printable(holder, await _training(reads, holder.training_id))


def _printable(holders: Sequence[Holder]) -> None:
    unnamed = [h.code for h in holders if h.full_name is None]
    if unnamed:
        raise ParticipantNameUnknown(unnamed)


async def printable(reads: TrainingReads, holders: Holders, code: str) -> Printable:
    """Public: one certificate to print. A revoked one is refused, and so is one whose holder's
    name is not known yet (it would print without it)."""
    found = await verification(reads, holders, code)
    h = found.holder
    if h.revoked_at is not None:
        raise CertificateRevoked(h.code, h.revoked_at, h.revoke_reason)
    _printable([h])
    return found


async def printable_of_training(
    reads: TrainingReads, holders: Holders, training_id: uuid.UUID, authorize_read: Authorize
) -> list[Printable]:
    """Every valid certificate of a training, to print at once; for a reader of its region."""
    training = await _training(reads, training_id)
    authorize_read(training.region)
    valid = await holders.valid_of_training(training_id)
    if not valid:
        raise NoValidCertificates(training_id)
    _printable(valid)
    return [Printable(h, training) for h in valid]
