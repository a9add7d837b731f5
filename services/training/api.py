"""HTTP entrypoints of the training service (``/api/v1``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from shared.service import Runtime, runtime_of

router = APIRouter(prefix="/api/v1", tags=["training"])
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

ROSTER_OF_TRAINING = """
SELECT facilitator_id, enrollment_id, region, role, status, enrolled_at, withdrawn_at
FROM roster WHERE training_id = $1 ORDER BY enrolled_at, facilitator_id
"""


class RosterEntry(BaseModel):
    facilitator_id: uuid.UUID
    enrollment_id: uuid.UUID
    region: str
    role: str
    status: str
    enrolled_at: datetime
    withdrawn_at: datetime | None


class Roster(BaseModel):
    training_id: uuid.UUID
    enrolled: int
    entries: list[RosterEntry]


@router.get("/trainings/{training_id}/roster", response_model=Roster)
async def get_roster(training_id: uuid.UUID, runtime: RuntimeDep) -> Roster:
    rows = await runtime.pool.fetch(ROSTER_OF_TRAINING, training_id)
    entries = [RosterEntry.model_validate(dict(r)) for r in rows]
    return Roster(training_id=training_id, enrolled=sum(e.status == "enrolled" for e in entries), entries=entries)
