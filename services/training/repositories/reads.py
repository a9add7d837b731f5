"""The read side in PostgreSQL: each query on its own pooled connection, outside any transaction."""

from __future__ import annotations

import uuid

import asyncpg

from services.training.domain import Fact, Training
from services.training.domain.submissions import Submission
from services.training.repositories.decisions import review_of
from services.training.repositories.facts import FACTS_OF_PARTICIPANT, FACTS_OF_TRAINING, fact_of
from services.training.repositories.submissions import submissions_of_training
from services.training.repositories.trainings import fetch_counts, fetch_training
from services.training.usecases.ports import (
    CertificateView,
    DecisionEntry,
    KnownKelurahan,
    ParticipantRow,
    Review,
    RosterEntry,
    StoredFact,
    TrainingCounts,
)

ROSTER_OF_TRAINING = """
SELECT facilitator_id, enrollment_id, region, role, status, enrolled_at, withdrawn_at, province_code, kabkota_code
FROM roster WHERE training_id = $1 ORDER BY enrolled_at, facilitator_id
"""
PARTICIPANTS = """
SELECT r.facilitator_id, r.status, r.role, r.province_code, r.kabkota_code, m.class_id,
       d.outcome, d.unmet, d.decided_by, d.decided_at, c.code AS certificate_code
FROM roster r
LEFT JOIN class_members m ON m.training_id = r.training_id AND m.facilitator_id = r.facilitator_id
LEFT JOIN decisions d ON d.training_id = r.training_id AND d.facilitator_id = r.facilitator_id
LEFT JOIN certificates c ON c.training_id = r.training_id AND c.facilitator_id = r.facilitator_id
    AND c.revoked_at IS NULL
WHERE r.training_id = $1
ORDER BY m.class_id NULLS LAST, r.facilitator_id
"""
CERTIFICATE = """
SELECT c.code, c.facilitator_id, c.issued_at, t.training_id, t.title, t.training_type, t.organiser, t.venue,
       t.start_date, t.end_date, t.region, c.revoked_at, c.revoke_reason
FROM certificates c JOIN trainings t ON t.training_id = c.training_id
WHERE c.code = $1
"""
REVIEWS = """
SELECT * FROM reviews WHERE training_id = $1
ORDER BY status <> 'open', opened_at, facilitator_id
"""
DECISION_HISTORY = """
SELECT outcome, unmet, attendance_ratio, decided_by, decided_by_who, reason, decided_at FROM decision_history
WHERE training_id = $1 AND facilitator_id = $2 ORDER BY seq
"""
KNOWN_KELURAHAN = """
SELECT code, name, parent_code, region, effective_from FROM known_kelurahan
WHERE code LIKE $1 || '%'
ORDER BY code
LIMIT 1000
"""


class PostgresReads:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def training(self, training_id: uuid.UUID) -> Training | None:
        return await fetch_training(self.pool, training_id)

    async def counts(self, training_id: uuid.UUID) -> TrainingCounts:
        return await fetch_counts(self.pool, training_id)

    async def roster(self, training_id: uuid.UUID) -> list[RosterEntry]:
        return [RosterEntry(**dict(r)) for r in await self.pool.fetch(ROSTER_OF_TRAINING, training_id)]

    async def participants(self, training_id: uuid.UUID) -> list[ParticipantRow]:
        return [
            ParticipantRow(**{**dict(r), "unmet": list(r["unmet"]) if r["unmet"] is not None else None})
            for r in await self.pool.fetch(PARTICIPANTS, training_id)
        ]

    async def facts_of_training(self, training_id: uuid.UUID) -> list[Fact]:
        return [fact_of(r) for r in await self.pool.fetch(FACTS_OF_TRAINING, training_id)]

    async def history(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> list[StoredFact]:
        rows = await self.pool.fetch(FACTS_OF_PARTICIPANT, training_id, facilitator_id)
        return [StoredFact(fact_of(r), r["channel"], r["recorded_at"]) for r in rows]

    async def certificate(self, code: str) -> CertificateView | None:
        row = await self.pool.fetchrow(CERTIFICATE, code)
        return CertificateView(**dict(row)) if row is not None else None

    async def reviews(self, training_id: uuid.UUID) -> list[Review]:
        return [review_of(r) for r in await self.pool.fetch(REVIEWS, training_id)]

    async def decision_history(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> list[DecisionEntry]:
        rows = await self.pool.fetch(DECISION_HISTORY, training_id, facilitator_id)
        return [DecisionEntry(**{**dict(r), "unmet": list(r["unmet"])}) for r in rows]

    async def submissions(self, training_id: uuid.UUID) -> list[Submission]:
        return await submissions_of_training(self.pool, training_id)

    async def kelurahan(self, code_prefix: str) -> list[KnownKelurahan]:
        return [KnownKelurahan(**dict(r)) for r in await self.pool.fetch(KNOWN_KELURAHAN, code_prefix)]
