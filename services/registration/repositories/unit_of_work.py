"""The PostgreSQL unit of work: the repositories on one connection inside one transaction, and
the events the use case emits, written to the outbox (shared.kernel.outbox) in that same transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.registration.repositories.enrollments import PgEnrollments
from services.registration.repositories.facilitators import PgFacilitators
from services.registration.repositories.orgunits import PgOrgUnits
from services.registration.repositories.trainings import PgTrainings
from shared.kernel import outbox
from shared.kernel.db import Conn
from shared.kernel.envelope import Event, EventPayload


class PgRepositories:
    """Every repository of the service on ``conn``."""

    def __init__(self, conn: Conn) -> None:
        self.facilitators = PgFacilitators(conn)
        self.trainings = PgTrainings(conn)
        self.enrollments = PgEnrollments(conn)
        self.orgunits = PgOrgUnits(conn)


class PgUnitOfWork(PgRepositories):
    """The repositories on the connection of an outbox unit of work, whose transaction commits
    the changes and the emitted events together."""

    def __init__(self, transaction: outbox.UnitOfWork, topic_prefix: str | None = None) -> None:
        super().__init__(transaction.conn)
        self._transaction = transaction
        self._topic_prefix = topic_prefix

    def emit(self, event: Event[EventPayload]) -> None:
        self._transaction.emit(event)

    async def flush(self) -> None:
        """Without the topic prefix (a unit of work joined by the intake), the events wait for the commit."""
        if self._topic_prefix is None:
            return
        await outbox.write_events(self._transaction.conn, self._transaction.events, self._topic_prefix)
        self._transaction.events.clear()


class PgStore:
    """Where the entrypoints get units of work (writes) and repositories (reads) from."""

    def __init__(self, pool: asyncpg.Pool, events: outbox.Outbox) -> None:
        self.pool = pool
        self.events = events

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PgUnitOfWork]:
        async with self.events.unit_of_work() as transaction:
            yield PgUnitOfWork(transaction, self.events.topic_prefix)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[PgRepositories]:
        """Repositories on a pooled connection, outside any transaction (each read sees the
        latest committed state)."""
        async with self.pool.acquire() as conn:
            yield PgRepositories(conn)
