"""The trainings registration knows (``known_trainings``), kept from the training service's
events. The statements are right whatever order the events arrive in: a later schedule (by
``details_as_of``) wins, and a cancelled or closed training never becomes open again."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.registration.domain.enrollments import KnownTraining
from services.registration.repositories.keyed import KeyedRows
from shared.kernel.db import Conn

TRAINING_BY_ID = """
SELECT training_id, region, status, training_type, title, start_date, end_date, capacity, eligible_roles
FROM known_trainings WHERE training_id = $1
"""
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


def training_of(row: asyncpg.Record) -> KnownTraining:
    roles = row["eligible_roles"]
    return KnownTraining(**{**dict(row), "eligible_roles": tuple(roles) if roles is not None else None})


class PgTrainings(KeyedRows[uuid.UUID, KnownTraining]):
    def __init__(self, conn: Conn) -> None:
        super().__init__(conn, TRAINING_BY_ID, training_of)

    async def schedule(self, training: KnownTraining, details_as_of: datetime) -> None:
        t = training
        await self.conn.execute(
            UPSERT_SCHEDULE,
            t.training_id,
            t.region,
            t.training_type,
            t.title,
            t.start_date,
            t.end_date,
            t.capacity,
            list(t.eligible_roles or ()),
            details_as_of,
        )

    async def finish(self, training_id: uuid.UUID, region: str, status: str) -> None:
        await self.conn.execute(SET_FINAL_STATUS, training_id, region, status)
