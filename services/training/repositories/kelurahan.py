"""Kelurahan known from the registration service's reference data (table ``known_kelurahan``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from shared.kernel.db import Conn

KNOWN_KELURAHAN_AMONG = "SELECT code FROM known_kelurahan WHERE code = ANY($1::text[])"
UPSERT_KELURAHAN = """
INSERT INTO known_kelurahan (code, name, parent_code, region, effective_from)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[])
ON CONFLICT (code) DO UPDATE
SET name = excluded.name, parent_code = excluded.parent_code, region = excluded.region,
    effective_from = excluded.effective_from, updated_at = now()
WHERE known_kelurahan.effective_from <= excluded.effective_from
"""


@dataclass(frozen=True)
class Kelurahan:
    code: str
    name: str
    parent_code: str | None
    region: str
    effective_from: date


class PostgresKelurahan:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def known_among(self, codes: Sequence[str]) -> set[str]:
        return {r["code"] for r in await self.conn.fetch(KNOWN_KELURAHAN_AMONG, list(codes))}

    async def define(self, code: str, name: str, parent_code: str | None, region: str, effective_from: date) -> None:
        """Kept by the kelurahan consumer: a definition with a later ``effective_from`` wins."""
        await self.define_many([Kelurahan(code, name, parent_code, region, effective_from)])

    async def define_many(self, kelurahan: Sequence[Kelurahan]) -> None:
        """Many definitions with one statement (the whole country is about 89,000): of several
        of one code, the last with the latest ``effective_from`` is applied (a statement may not
        touch a row twice), with the same rule as :meth:`define` against what is stored."""
        last: dict[str, Kelurahan] = {}
        for k in kelurahan:
            if k.code not in last or last[k.code].effective_from <= k.effective_from:
                last[k.code] = k
        if last:
            rows = list(last.values())
            await self.conn.execute(
                UPSERT_KELURAHAN,
                [k.code for k in rows],
                [k.name for k in rows],
                [k.parent_code for k in rows],
                [k.region for k in rows],
                [k.effective_from for k in rows],
            )
