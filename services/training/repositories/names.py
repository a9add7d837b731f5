"""Participants' names, learned from the registration service's facilitator events (table
``participant_names``): only what a certificate prints, never a NIK or a phone number."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.kernel.db import Conn

# Last writer wins by (named_at, event_id), so the stored name does not depend on the order the
# events arrive in; the same event again finds an equal key and changes nothing.
UPSERT_NAME = """
INSERT INTO participant_names AS n (facilitator_id, full_name, named_at, event_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (facilitator_id) DO UPDATE
SET full_name = excluded.full_name, named_at = excluded.named_at, event_id = excluded.event_id, updated_at = now()
WHERE (n.named_at, n.event_id) < (excluded.named_at, excluded.event_id)
"""


class PostgresNames:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def record(self, facilitator_id: uuid.UUID, full_name: str, named_at: datetime, event_id: uuid.UUID) -> None:
        """Kept by the names consumer: the name of the newest event wins."""
        await self.conn.execute(UPSERT_NAME, facilitator_id, full_name, named_at, event_id)
