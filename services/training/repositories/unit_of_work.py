"""The PostgreSQL unit of work: the repositories on the connection of one shared.kernel.outbox unit of
work, whose transaction commits the state change and the emitted events (outbox rows) together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.training.repositories.decisions import PostgresCertificates, PostgresDecisions
from services.training.repositories.facts import PostgresFacts
from services.training.repositories.kelurahan import PostgresKelurahan
from services.training.repositories.roster import PostgresClasses, PostgresRoster
from services.training.repositories.submissions import PostgresSubmissions
from services.training.repositories.trainings import PostgresTrainings
from shared.kernel import outbox
from shared.kernel.db import Conn
from shared.kernel.envelope import Event, EventPayload


class PostgresUnitOfWork:
    """Implements ``usecases.ports.UnitOfWork`` over an open outbox unit of work."""

    def __init__(self, work: outbox.UnitOfWork) -> None:
        self._work = work
        conn = work.conn
        self.trainings = PostgresTrainings(conn)
        self.roster = PostgresRoster(conn)
        self.classes = PostgresClasses(conn)
        self.facts = PostgresFacts(conn)
        self.kelurahan = PostgresKelurahan(conn)
        self.decisions = PostgresDecisions(conn)
        self.certificates = PostgresCertificates(conn)
        self.submissions = PostgresSubmissions(conn)

    def emit(self, event: Event[EventPayload]) -> None:
        self._work.emit(event)


@asynccontextmanager
async def unit_of_work(box: outbox.Outbox, conn: Conn | None = None) -> AsyncIterator[PostgresUnitOfWork]:
    """A new transaction on a pooled connection (or, with ``conn``, a savepoint in its open
    transaction), committed with its events when the block ends without an error."""
    async with box.unit_of_work(conn) as work:
        yield PostgresUnitOfWork(work)
