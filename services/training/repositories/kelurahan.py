"""Kelurahan known from the registration service's reference data (table ``known_kelurahan``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from shared.kernel.db import Conn

KNOWN_KELURAHAN_AMONG = "SELECT code FROM known_kelurahan WHERE code = ANY($1::text[])"
UPSERT_KELURAHAN = """
INSERT INTO known_kelurahan (code, name, parent_code, region, effective_from)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (code) DO UPDATE
SET name = excluded.name, parent_code = excluded.parent_code, region = excluded.region,
    effective_from = excluded.effective_from, updated_at = now()
WHERE known_kelurahan.effective_from <= excluded.effective_from
"""


class PostgresKelurahan:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def known_among(self, codes: Sequence[str]) -> set[str]:
        return {r["code"] for r in await self.conn.fetch(KNOWN_KELURAHAN_AMONG, list(codes))}

    async def define(self, code: str, name: str, parent_code: str | None, region: str, effective_from: date) -> None:
        """Kept by the kelurahan consumer: a definition with a later ``effective_from`` wins."""
        await self.conn.execute(UPSERT_KELURAHAN, code, name, parent_code, region, effective_from)
