"""The roster (learned from the registration service's enrollment events) and class membership,
in PostgreSQL (tables ``roster``, ``roster_withdrawals``, ``class_members``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from shared.kernel.db import Conn

COUNT_ENROLLED = "SELECT count(*) FROM roster WHERE training_id = $1 AND status = 'enrolled'"
ENROLLED_AMONG = """
SELECT facilitator_id FROM roster
WHERE training_id = $1 AND status = 'enrolled' AND facilitator_id = ANY($2::uuid[])
"""
MEMBER_CLASSES = "SELECT DISTINCT class_id FROM class_members WHERE training_id = $1"
CLASS_MEMBERS = """
SELECT m.facilitator_id FROM class_members m
JOIN roster r ON r.training_id = m.training_id AND r.facilitator_id = m.facilitator_id AND r.status = 'enrolled'
WHERE m.training_id = $1 AND m.class_id = $2
ORDER BY m.facilitator_id
"""
UPSERT_CLASS_MEMBERS = """
INSERT INTO class_members (training_id, facilitator_id, class_id)
SELECT $1, f, c FROM unnest($2::uuid[], $3::text[]) AS a(f, c)
ON CONFLICT (training_id, facilitator_id) DO UPDATE SET class_id = excluded.class_id
"""

# The roster row of (training, facilitator) is a function of the newest enrollment and the newest
# withdrawal seen, whatever order they came in: withdrawn when the newest withdrawal is not older
# than the newest enrollment. Withdrawals are also kept in roster_withdrawals (a tombstone), so one
# that arrives before its enrollment is not lost.
UPSERT_ENROLLED = """
WITH w AS (SELECT max(withdrawn_at) AS at FROM roster_withdrawals WHERE training_id = $1 AND facilitator_id = $2)
INSERT INTO roster AS r
    (training_id, facilitator_id, enrollment_id, region, role, status, enrolled_at, withdrawn_at,
     province_code, kabkota_code)
SELECT $1, $2, $3, $4, $5,
       CASE WHEN w.at >= $6 THEN 'withdrawn' ELSE 'enrolled' END,
       $6, CASE WHEN w.at >= $6 THEN w.at END, $7, $8
FROM w
ON CONFLICT (training_id, facilitator_id) DO UPDATE
SET enrollment_id = excluded.enrollment_id, role = excluded.role, status = excluded.status,
    enrolled_at = excluded.enrolled_at, withdrawn_at = excluded.withdrawn_at,
    province_code = coalesce(excluded.province_code, r.province_code),
    kabkota_code = coalesce(excluded.kabkota_code, r.kabkota_code)
WHERE r.enrolled_at <= excluded.enrolled_at
"""
RECORD_WITHDRAWAL = """
INSERT INTO roster_withdrawals AS w (training_id, facilitator_id, withdrawn_at) VALUES ($1, $2, $3)
ON CONFLICT (training_id, facilitator_id) DO UPDATE SET withdrawn_at = greatest(w.withdrawn_at, excluded.withdrawn_at)
"""
MARK_WITHDRAWN = """
UPDATE roster SET status = 'withdrawn', withdrawn_at = $3
WHERE training_id = $1 AND facilitator_id = $2 AND enrolled_at <= $3 AND (withdrawn_at IS NULL OR withdrawn_at < $3)
"""


class PostgresRoster:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def count_enrolled(self, training_id: uuid.UUID) -> int:
        return int(await self.conn.fetchval(COUNT_ENROLLED, training_id))

    async def enrolled_among(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        rows = await self.conn.fetch(ENROLLED_AMONG, training_id, list(facilitator_ids))
        return {r["facilitator_id"] for r in rows}

    # -- kept by the roster consumer, from the registration service's events --------------------

    async def record_enrollment(
        self,
        training_id: uuid.UUID,
        facilitator_id: uuid.UUID,
        enrollment_id: uuid.UUID,
        region: str,
        role: str,
        enrolled_at: datetime,
        province_code: str | None,
        kabkota_code: str | None,
    ) -> None:
        """The newest enrollment wins; a withdrawal seen before it and not older still stands."""
        await self.conn.execute(
            UPSERT_ENROLLED,
            training_id,
            facilitator_id,
            enrollment_id,
            region,
            role,
            enrolled_at,
            province_code,
            kabkota_code,
        )

    async def record_withdrawal(
        self, training_id: uuid.UUID, facilitator_id: uuid.UUID, withdrawn_at: datetime
    ) -> None:
        """Keep the tombstone, and withdraw the enrollment it is not older than (if it is known)."""
        await self.conn.execute(RECORD_WITHDRAWAL, training_id, facilitator_id, withdrawn_at)
        await self.conn.execute(MARK_WITHDRAWN, training_id, facilitator_id, withdrawn_at)


class PostgresClasses:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def in_use(self, training_id: uuid.UUID) -> set[str]:
        return {r["class_id"] for r in await self.conn.fetch(MEMBER_CLASSES, training_id)}

    async def members(self, training_id: uuid.UUID, class_id: str) -> list[uuid.UUID]:
        return [r["facilitator_id"] for r in await self.conn.fetch(CLASS_MEMBERS, training_id, class_id)]

    async def assign(self, training_id: uuid.UUID, assignments: Sequence[tuple[uuid.UUID, str]]) -> None:
        await self.conn.execute(
            UPSERT_CLASS_MEMBERS, training_id, [f for f, _ in assignments], [c for _, c in assignments]
        )
