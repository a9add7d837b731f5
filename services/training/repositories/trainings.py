"""Trainings in PostgreSQL (table ``trainings``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg

from services.training.domain import Schedule, Training
from services.training.usecases.ports import NewTraining, TrainingCounts
from shared.kernel.contracts import CompletionRule, Module, Role, Session, TrainingClass, TrainingType
from shared.kernel.db import Conn

Executor = Conn | asyncpg.Pool  # a connection in a unit of work, or the pool for reads

TRAINING_COLUMNS = """
training_id, region, training_type, title, organiser, venue, start_date, end_date, capacity,
eligible_roles, modules, classes, sessions, completion_rule, status, status_reason, version,
created_at, updated_at, closed_at
"""
SELECT_TRAINING = "SELECT" + TRAINING_COLUMNS + "FROM trainings WHERE training_id = $1"
LOCK_TRAINING = SELECT_TRAINING + " FOR UPDATE"
INSERT_TRAINING = """
INSERT INTO trainings (training_id, region, training_type, title, organiser, venue, start_date, end_date,
                       capacity, eligible_roles, modules, classes, sessions, completion_rule)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb)
ON CONFLICT (training_id) DO NOTHING
RETURNING training_id
"""
UPDATE_TRAINING = """
UPDATE trainings
SET title = $2, organiser = $3, venue = $4, start_date = $5, end_date = $6, capacity = $7, eligible_roles = $8,
    modules = $9::jsonb, classes = $10::jsonb, sessions = $11::jsonb, completion_rule = $12::jsonb,
    version = version + 1, updated_at = now()
WHERE training_id = $1
"""
SET_STATUS = """
UPDATE trainings
SET status = $2, status_reason = $3, version = version + 1, updated_at = now(),
    closed_at = CASE WHEN $2 = 'closed' THEN now() END
WHERE training_id = $1
"""
TRAINING_COUNTS = """
SELECT
    (SELECT count(*) FROM roster WHERE training_id = $1 AND status = 'enrolled') AS enrolled,
    (SELECT count(*) FROM roster WHERE training_id = $1 AND status = 'withdrawn') AS withdrawn,
    (SELECT count(*) FROM decisions WHERE training_id = $1 AND outcome = 'completed') AS completed,
    (SELECT count(*) FROM decisions WHERE training_id = $1 AND outcome = 'not_completed') AS not_completed,
    (SELECT count(*) FROM certificates WHERE training_id = $1 AND revoked_at IS NULL) AS certificates
"""


def training_of(row: asyncpg.Record) -> Training:
    """The training of a row of TRAINING_COLUMNS: the columns by name, the typed ones parsed."""
    return Training(
        **{
            **dict(row),
            "training_type": TrainingType(row["training_type"]),
            "eligible_roles": [Role(r) for r in row["eligible_roles"]],
            "modules": [Module.model_validate(m) for m in json.loads(row["modules"])],
            "classes": [TrainingClass.model_validate(c) for c in json.loads(row["classes"])],
            "sessions": [Session.model_validate(s) for s in json.loads(row["sessions"])],
            "completion_rule": CompletionRule.model_validate(json.loads(row["completion_rule"])),
        }
    )


def _json_list(items: Iterable[Any]) -> str:
    return json.dumps([i.model_dump(mode="json") for i in items])


def _schedule_columns(s: Schedule) -> tuple[Any, ...]:
    """title .. completion_rule, in the order of the statements above."""
    return (
        s.title,
        s.organiser,
        s.venue,
        s.start_date,
        s.end_date,
        s.capacity,
        [r.value for r in s.eligible_roles],
        _json_list(s.modules),
        _json_list(s.classes),
        _json_list(s.sessions),
        s.completion_rule.model_dump_json(),
    )


async def fetch_training(conn: Executor, training_id: uuid.UUID) -> Training | None:
    row = await conn.fetchrow(SELECT_TRAINING, training_id)
    return training_of(row) if row is not None else None


async def fetch_counts(conn: Executor, training_id: uuid.UUID) -> TrainingCounts:
    row = await conn.fetchrow(TRAINING_COUNTS, training_id)
    assert row is not None
    return TrainingCounts(**dict(row))


class PostgresTrainings:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, training: NewTraining) -> bool:
        inserted = await self.conn.fetchval(
            INSERT_TRAINING,
            training.training_id,
            training.region,
            training.training_type.value,
            *_schedule_columns(training.schedule),
        )
        return inserted is not None

    async def get(self, training_id: uuid.UUID) -> Training | None:
        return await fetch_training(self.conn, training_id)

    async def lock(self, training_id: uuid.UUID) -> Training | None:
        row = await self.conn.fetchrow(LOCK_TRAINING, training_id)
        return training_of(row) if row is not None else None

    async def update_schedule(self, training_id: uuid.UUID, schedule: Schedule) -> None:
        await self.conn.execute(UPDATE_TRAINING, training_id, *_schedule_columns(schedule))

    async def set_status(self, training_id: uuid.UUID, status: str, reason: str) -> None:
        await self.conn.execute(SET_STATUS, training_id, status, reason)

    async def counts(self, training_id: uuid.UUID) -> TrainingCounts:
        return await fetch_counts(self.conn, training_id)
