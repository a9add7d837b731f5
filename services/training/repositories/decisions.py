"""Completion decisions and certificates in PostgreSQL (tables ``decisions``, ``certificates``).
The primary key of ``decisions`` is the last guard of "each participant decided exactly once"."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.training.domain import Decision
from services.training.usecases.ports import Participant
from shared.kernel.db import Conn

COUNT_DECISIONS = "SELECT count(*) FROM decisions WHERE training_id = $1"
UNDECIDED = """
SELECT r.facilitator_id, r.status FROM roster r
LEFT JOIN decisions d ON d.training_id = r.training_id AND d.facilitator_id = r.facilitator_id
WHERE r.training_id = $1 AND d.facilitator_id IS NULL AND ($2::uuid[] IS NULL OR r.facilitator_id = ANY($2::uuid[]))
ORDER BY r.facilitator_id
"""
INSERT_DECISION = """
INSERT INTO decisions (training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (training_id, facilitator_id) DO NOTHING
RETURNING decided_at
"""
DECISION_COUNTS = """
SELECT count(*) FILTER (WHERE outcome = 'completed') AS completed,
       count(*) FILTER (WHERE outcome = 'not_completed') AS not_completed
FROM decisions WHERE training_id = $1
"""
INSERT_CERTIFICATE = """
INSERT INTO certificates (code, training_id, facilitator_id) VALUES ($1, $2, $3)
ON CONFLICT (code) DO NOTHING
RETURNING code
"""


class PostgresDecisions:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def count(self, training_id: uuid.UUID) -> int:
        return int(await self.conn.fetchval(COUNT_DECISIONS, training_id))

    async def undecided(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID] | None) -> list[Participant]:
        ids = list(facilitator_ids) if facilitator_ids is not None else None
        rows = await self.conn.fetch(UNDECIDED, training_id, ids)
        return [Participant(r["facilitator_id"], r["status"] == "withdrawn") for r in rows]

    async def add(self, training_id: uuid.UUID, facilitator_id: uuid.UUID, decision: Decision, decided_by: str) -> bool:
        took = await self.conn.fetchval(
            INSERT_DECISION,
            training_id,
            facilitator_id,
            decision.outcome.value,
            list(decision.unmet),
            decision.attendance_ratio,
            decided_by,
        )
        return took is not None

    async def outcome_counts(self, training_id: uuid.UUID) -> tuple[int, int]:
        row = await self.conn.fetchrow(DECISION_COUNTS, training_id)
        assert row is not None
        return int(row["completed"]), int(row["not_completed"])


class PostgresCertificates:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, code: str, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> bool:
        return await self.conn.fetchval(INSERT_CERTIFICATE, code, training_id, facilitator_id) is not None
