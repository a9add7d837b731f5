"""Rows found by their key, read as they are or locked for the rest of the transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import asyncpg

from shared.kernel.db import Conn

K = TypeVar("K")
V = TypeVar("V")


class KeyedRows(Generic[K, V]):
    """``get`` and ``lock`` of a table whose rows a key finds: ``by_key`` selects the row of the
    key given as ``$1``, ``of`` makes it a value."""

    def __init__(self, conn: Conn, by_key: str, of: Callable[[asyncpg.Record], V]) -> None:
        self.conn = conn
        self._by_key = by_key
        self._of = of

    async def get(self, key: K) -> V | None:
        return await self._one(self._by_key, key)

    async def lock(self, key: K) -> V | None:
        """The row, locked (``FOR UPDATE``) until the transaction ends."""
        return await self._one(self._by_key + " FOR UPDATE", key)

    async def _one(self, statement: str, key: K) -> V | None:
        row = await self.conn.fetchrow(statement, key)
        return self._of(row) if row is not None else None
