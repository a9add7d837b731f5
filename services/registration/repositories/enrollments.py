"""Enrollments in PostgreSQL."""

from __future__ import annotations

import uuid

from services.registration.domain.enrollments import Enrollment
from shared.kernel.db import Conn

COUNT_ACTIVE = "SELECT count(*) FROM enrollments WHERE training_id = $1 AND status = 'enrolled'"
ENROLLMENT_OF = """
SELECT enrollment_id, status FROM enrollments WHERE training_id = $1 AND facilitator_id = $2 FOR UPDATE
"""
INSERT_ENROLLMENT = """
INSERT INTO enrollments (enrollment_id, training_id, facilitator_id, region) VALUES ($1, $2, $3, $4)
"""
REENROLL = """
UPDATE enrollments
SET enrollment_id = $3, status = 'enrolled', enrolled_at = now(), withdrawn_at = NULL, withdrawal_reason = NULL
WHERE training_id = $1 AND facilitator_id = $2
"""
WITHDRAW = """
UPDATE enrollments SET status = 'withdrawn', withdrawn_at = now(), withdrawal_reason = $3
WHERE training_id = $1 AND facilitator_id = $2
"""
# Enrollments that end with the facilitator: every active one, except in trainings already closed.
WITHDRAW_OPEN_ENROLLMENTS = """
UPDATE enrollments e
SET status = 'withdrawn', withdrawn_at = now(), withdrawal_reason = $2
WHERE e.facilitator_id = $1 AND e.status = 'enrolled'
  AND NOT EXISTS (SELECT 1 FROM known_trainings t WHERE t.training_id = e.training_id AND t.status = 'closed')
RETURNING e.enrollment_id, e.training_id
"""


class PgEnrollments:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def lock(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> Enrollment | None:
        row = await self.conn.fetchrow(ENROLLMENT_OF, training_id, facilitator_id)
        if row is None:
            return None
        return Enrollment(row["enrollment_id"], training_id, facilitator_id, row["status"])

    async def count_active(self, training_id: uuid.UUID) -> int:
        return int(await self.conn.fetchval(COUNT_ACTIVE, training_id))

    async def add(self, enrollment: Enrollment, region: str) -> None:
        await self.conn.execute(
            INSERT_ENROLLMENT, enrollment.enrollment_id, enrollment.training_id, enrollment.facilitator_id, region
        )

    async def reenroll(self, enrollment: Enrollment) -> None:
        await self.conn.execute(REENROLL, enrollment.training_id, enrollment.facilitator_id, enrollment.enrollment_id)

    async def withdraw(self, training_id: uuid.UUID, facilitator_id: uuid.UUID, reason: str) -> None:
        await self.conn.execute(WITHDRAW, training_id, facilitator_id, reason)

    async def withdraw_open(self, facilitator_id: uuid.UUID, reason: str) -> list[Enrollment]:
        rows = await self.conn.fetch(WITHDRAW_OPEN_ENROLLMENTS, facilitator_id, reason)
        return [Enrollment(r["enrollment_id"], r["training_id"], facilitator_id, "enrolled") for r in rows]
