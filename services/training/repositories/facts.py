"""Participation facts in PostgreSQL (table ``participation_facts``): every fact kept, keyed by
``(training_id, fact_id)``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg

from services.training import domain
from services.training.domain import Fact
from shared.kernel.db import Conn

INSERT_FACTS = """
INSERT INTO participation_facts (training_id, fact_id, kind, facilitator_id, subject, occurred_at, data, channel)
SELECT $1, f.fact_id, f.kind, f.facilitator_id, f.subject, f.occurred_at, f.data, $8
FROM unnest($2::text[], $3::text[], $4::uuid[], $5::text[], $6::timestamptz[], $7::jsonb[])
    AS f(fact_id, kind, facilitator_id, subject, occurred_at, data)
ON CONFLICT (training_id, fact_id) DO NOTHING
RETURNING fact_id
"""
FACTS_BY_ID = """
SELECT fact_id, kind, facilitator_id, subject, occurred_at, data FROM participation_facts
WHERE training_id = $1 AND fact_id = ANY($2::text[])
"""
FACTS_OF_PARTICIPANTS = """
SELECT fact_id, kind, facilitator_id, subject, occurred_at, data FROM participation_facts
WHERE training_id = $1 AND facilitator_id = ANY($2::uuid[])
"""
FACTS_OF_TRAINING = """
SELECT fact_id, kind, facilitator_id, subject, occurred_at, data, channel, recorded_at FROM participation_facts
WHERE training_id = $1
"""
FACTS_OF_PARTICIPANT = """
SELECT fact_id, kind, facilitator_id, subject, occurred_at, data, channel, recorded_at FROM participation_facts
WHERE training_id = $1 AND facilitator_id = $2
ORDER BY occurred_at, fact_id
"""


def fact_of(row: asyncpg.Record) -> Fact:
    return domain.fact_from_stored(
        row["fact_id"], row["kind"], row["facilitator_id"], row["subject"], row["occurred_at"], json.loads(row["data"])
    )


class PostgresFacts:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, training_id: uuid.UUID, facts: Sequence[Fact], channel: str) -> set[str]:
        rows = await self.conn.fetch(
            INSERT_FACTS,
            training_id,
            [f.fact_id for f in facts],
            [f.kind.value for f in facts],
            [f.facilitator_id for f in facts],
            [f.subject for f in facts],
            [f.occurred_at for f in facts],
            [json.dumps(f.payload()) for f in facts],
            channel,
        )
        return {r["fact_id"] for r in rows}

    async def by_id(self, training_id: uuid.UUID, fact_ids: Sequence[str]) -> dict[str, Fact]:
        return {r["fact_id"]: fact_of(r) for r in await self.conn.fetch(FACTS_BY_ID, training_id, list(fact_ids))}

    async def of_participants(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> list[Fact]:
        rows = await self.conn.fetch(FACTS_OF_PARTICIPANTS, training_id, list(facilitator_ids))
        return [fact_of(r) for r in rows]
