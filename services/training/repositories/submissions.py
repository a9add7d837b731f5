"""The verification chain in PostgreSQL (tables ``submissions``, ``submission_history``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from asyncpg import Record

from services.training.domain.submissions import Status, Submission
from services.training.repositories.trainings import Executor
from shared.kernel.contracts import SubmissionKind
from shared.kernel.db import Conn

COLUMNS = "training_id, submission_id, kind, session_id, status, since, by_who, reason, reopened"
OF_TRAINING = f"SELECT {COLUMNS} FROM submissions WHERE training_id = $1 AND submission_id = ANY($2::text[])"  # noqa: S608
ALL_OF_TRAINING = f"SELECT {COLUMNS} FROM submissions WHERE training_id = $1 ORDER BY kind DESC, submission_id"  # noqa: S608
PUT = """
WITH put AS (
    INSERT INTO submissions AS s (training_id, submission_id, kind, session_id, status, since, by_who, reason, reopened)
    VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8)
    ON CONFLICT (training_id, submission_id) DO UPDATE SET status = excluded.status, since = excluded.since,
        by_who = excluded.by_who, reason = excluded.reason, reopened = excluded.reopened
    RETURNING training_id, submission_id, status, by_who, reason, since
)
INSERT INTO submission_history (training_id, submission_id, status, action, by_who, reason, at)
SELECT training_id, submission_id, status, $9, by_who, reason, since FROM put
"""


def submission_of(row: Record) -> Submission:
    return Submission(
        training_id=row["training_id"],
        submission_id=row["submission_id"],
        kind=SubmissionKind(row["kind"]),
        session_id=row["session_id"],
        status=Status(row["status"]),
        since=row["since"],
        by=row["by_who"],
        reason=row["reason"],
        reopened=row["reopened"],
    )


class PostgresSubmissions:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def of(self, training_id: uuid.UUID, submission_ids: Sequence[str]) -> dict[str, Submission]:
        rows = await self.conn.fetch(OF_TRAINING, training_id, list(submission_ids))
        return {r["submission_id"]: submission_of(r) for r in rows}

    async def put(self, submission: Submission, action: str) -> None:
        s = submission
        await self.conn.execute(
            PUT,
            s.training_id,
            s.submission_id,
            s.kind.value,
            s.session_id,
            s.status.value,
            s.by,
            s.reason,
            s.reopened,
            action,
        )


async def submissions_of_training(conn: Executor, training_id: uuid.UUID) -> list[Submission]:
    return [submission_of(r) for r in await conn.fetch(ALL_OF_TRAINING, training_id)]
