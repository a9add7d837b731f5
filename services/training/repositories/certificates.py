"""Certificates with their holders, for printing and for the verification page: each certificate
(table ``certificates``) with the role its holder was enrolled with (``roster``) and their name
(``participant_names``, kept by the names consumer). Implements ``usecases.certificates.Holders``."""

from __future__ import annotations

import uuid

import asyncpg

from services.training.usecases.certificates import Holder

HOLDER_COLUMNS = """
SELECT c.code, c.training_id, c.facilitator_id, c.issued_at, c.revoked_at, c.revoke_reason, r.role, n.full_name
FROM certificates c
LEFT JOIN roster r ON r.training_id = c.training_id AND r.facilitator_id = c.facilitator_id
LEFT JOIN participant_names n ON n.facilitator_id = c.facilitator_id
"""
HOLDER_BY_CODE = HOLDER_COLUMNS + "WHERE c.code = $1"
VALID_OF_TRAINING = (
    HOLDER_COLUMNS + "WHERE c.training_id = $1 AND c.revoked_at IS NULL ORDER BY n.full_name NULLS LAST, c.code"
)


class PostgresHolders:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def by_code(self, code: str) -> Holder | None:
        row = await self.pool.fetchrow(HOLDER_BY_CODE, code)
        return Holder(**dict(row)) if row is not None else None

    async def valid_of_training(self, training_id: uuid.UUID) -> list[Holder]:
        return [Holder(**dict(r)) for r in await self.pool.fetch(VALID_OF_TRAINING, training_id)]
