"""Completion decisions, their history, reviews and certificates in PostgreSQL (tables ``decisions``,
``decision_history``, ``reviews``, ``certificates``).
The primary key of ``decisions`` is the last guard of "each participant decided exactly once"."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from asyncpg import Record

from services.training.domain import Decision, Outcome
from services.training.usecases.ports import Participant, Review
from shared.kernel.db import Conn

COUNT_DECISIONS = "SELECT count(*) FROM decisions WHERE training_id = $1"
UNDECIDED = """
SELECT r.facilitator_id, r.status FROM roster r
LEFT JOIN decisions d ON d.training_id = r.training_id AND d.facilitator_id = r.facilitator_id
WHERE r.training_id = $1 AND d.facilitator_id IS NULL AND ($2::uuid[] IS NULL OR r.facilitator_id = ANY($2::uuid[]))
ORDER BY r.facilitator_id
"""
INSERT_DECISION = """
WITH taken AS (
    INSERT INTO decisions (training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (training_id, facilitator_id) DO NOTHING
    RETURNING *
)
INSERT INTO decision_history (training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by, decided_at)
SELECT training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by, decided_at FROM taken
RETURNING decided_at
"""
CORRECT_DECISION = """
WITH corrected AS (
    UPDATE decisions SET outcome = $3, unmet = $4, attendance_ratio = $5, decided_by = 'officer', reason = $6,
        decided_by_who = $7, decided_at = now()
    WHERE training_id = $1 AND facilitator_id = $2
    RETURNING *
)
INSERT INTO decision_history (training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by,
    decided_by_who, reason, decided_at)
SELECT training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by, decided_by_who, reason, decided_at
FROM corrected
"""
DECISIONS_OF = """
SELECT facilitator_id, outcome, unmet, attendance_ratio FROM decisions
WHERE training_id = $1 AND facilitator_id = ANY($2::uuid[])
"""
OPEN_REVIEW = "SELECT * FROM reviews WHERE training_id = $1 AND facilitator_id = $2 AND status = 'open'"
ADD_REVIEW = """
INSERT INTO reviews (review_id, training_id, facilitator_id, decided_outcome, outcome_now, unmet_now)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING review_id
"""
END_REVIEW = """
UPDATE reviews SET status = $2, resolved_at = now(), resolved_by = $3, resolution = $4
WHERE review_id = $1 AND status = 'open'
"""
DECISION_COUNTS = """
SELECT count(*) FILTER (WHERE outcome = 'completed') AS completed,
       count(*) FILTER (WHERE outcome = 'not_completed') AS not_completed
FROM decisions WHERE training_id = $1
"""
INSERT_CERTIFICATE = """
INSERT INTO certificates (code, training_id, facilitator_id) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING code
"""
VALID_CERTIFICATE = """
SELECT code FROM certificates WHERE training_id = $1 AND facilitator_id = $2 AND revoked_at IS NULL
"""
REVOKE_CERTIFICATE = "UPDATE certificates SET revoked_at = now(), revoke_reason = $2 WHERE code = $1"


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

    async def of(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Decision]:
        rows = await self.conn.fetch(DECISIONS_OF, training_id, list(facilitator_ids))
        return {
            r["facilitator_id"]: Decision(Outcome(r["outcome"]), tuple(r["unmet"]), r["attendance_ratio"]) for r in rows
        }

    async def correct(
        self, training_id: uuid.UUID, facilitator_id: uuid.UUID, decision: Decision, reason: str, who: str
    ) -> None:
        await self.conn.execute(
            CORRECT_DECISION,
            training_id,
            facilitator_id,
            decision.outcome.value,
            list(decision.unmet),
            decision.attendance_ratio,
            reason,
            who,
        )

    async def open_review(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> Review | None:
        row = await self.conn.fetchrow(OPEN_REVIEW, training_id, facilitator_id)
        return review_of(row) if row is not None else None

    async def add_review(self, review: Review) -> bool:
        taken = await self.conn.fetchval(
            ADD_REVIEW,
            review.review_id,
            review.training_id,
            review.facilitator_id,
            review.decided_outcome,
            review.outcome_now,
            list(review.unmet_now),
        )
        return taken is not None

    async def end_review(self, review_id: uuid.UUID, status: str, who: str, resolution: str) -> None:
        await self.conn.execute(END_REVIEW, review_id, status, who, resolution)


def review_of(row: Record) -> Review:
    return Review(**{**dict(row), "unmet_now": tuple(row["unmet_now"])})


class PostgresCertificates:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, code: str, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> bool:
        return await self.conn.fetchval(INSERT_CERTIFICATE, code, training_id, facilitator_id) is not None

    async def valid_code(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> str | None:
        code: str | None = await self.conn.fetchval(VALID_CERTIFICATE, training_id, facilitator_id)
        return code

    async def revoke(self, code: str, reason: str) -> None:
        await self.conn.execute(REVOKE_CERTIFICATE, code, reason)
