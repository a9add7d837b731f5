"""Offline sync: facts taken in the field without a connection, sent later as one batch in any
order, with duplicates. Each fact ends recorded, duplicate, or refused with a code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.training.domain import Fact
from services.training.usecases.facts import FactsOutcome, open_for_facts, record
from services.training.usecases.ports import Authorize, Deployment, UnitOfWork


@dataclass(frozen=True)
class SyncFacts:
    """Facts taken offline, each with its own id and time, in any order, duplicates allowed."""

    training_id: uuid.UUID
    facts: tuple[Fact, ...]


async def sync_facts(
    cmd: SyncFacts, uow: UnitOfWork, deployment: Deployment, authorize: Authorize, *, channel: str
) -> FactsOutcome:
    """Record a batch of facts taken offline. Each fact ends recorded, duplicate, or refused with a
    reason; the refused ones do not stop the others (a field device must be able to sync)."""
    training = await open_for_facts(uow, deployment, cmd.training_id, authorize)
    return await record(uow, deployment, training, cmd.facts, channel=channel, strict=False)
