"""PostgreSQL plumbing: connection pools scoped to a service's own schema, and the migration runner.

Each service owns one schema (named after the service) and connects as its own role, so no service
can read another's tables. Migrations are numbered SQL files, applied by an explicit prestart step
(``python -m services.<name> migrate``), never on import or on start-up.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# A connection, whether taken from a pool or opened directly.
Conn = asyncpg.Connection | PoolConnectionProxy

log = logging.getLogger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"

# Errors that mean "the database is not reachable right now", as opposed to a bad statement.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    # A pooled connection whose server went away mid-operation can surface as a protocol-state
    # error ("cannot switch to state ...; another operation is in progress") on its next use.
    asyncpg.InternalClientError,
)


# SQLSTATEs that say "not now" rather than "never": connection failures (class 08), the server
# shutting down or starting (57P01-57P03), out of resources (class 53), and conflicts that a retry
# resolves (serialization failure, deadlock).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53")
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot do the work right now (so the work must wait and
    be retried as it is) rather than that the work itself is wrong. Timeouts count as unavailable:
    an overloaded database is waited for, never a reason to give up on a message."""
    if isinstance(exc, (*CONNECTION_ERRORS, TimeoutError)):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state in _TRANSIENT_SQLSTATES or state.startswith(_TRANSIENT_SQLSTATE_CLASSES)
    return False


async def _as_left(conn: asyncpg.Connection) -> None:
    """A pool connection's reset on release: none. asyncpg's default sends ``pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL`` on every release, a round trip that every consumer batch and
    request waited for before it could go on. Nothing here leaves session state on a pool connection:
    settings are ``SET LOCAL``, locks transaction-scoped, no cursor outlives its transaction, and the
    outbox relay's leadership (session locks, ``LISTEN``) undoes its own state or closes its connection.
    asyncpg still rolls back a transaction left open before it calls this."""


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": f"kotaku-{schema}"},
        command_timeout=30,
        reset=_as_left,
    )
    assert pool is not None
    return pool


# The indexes of a table in the connection's search_path: those behind a constraint (primary key,
# unique) by the constraint's name and definition, the others by their own definition.
_INDEXES = """
SELECT i.indexrelid::regclass::text AS index, c.conname AS constraint_name,
       CASE WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid) ELSE pg_get_constraintdef(c.oid) END AS definition
FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')
WHERE i.indrelid = $1::regclass ORDER BY c.oid IS NULL, i.indexrelid
"""


@contextlib.asynccontextmanager
async def indexes_dropped(conn: Conn, table: str) -> AsyncIterator[None]:
    """Inside the caller's transaction: ``table``'s indexes dropped for the block and built again,
    same names, after it. Filling an empty table and then building each index by one sort is
    several times faster than inserting millions of rows into its B-trees. A duplicate key fails
    on the rebuilt index, as it would have on the insert."""
    indexes = await conn.fetch(_INDEXES, table)
    for row in indexes:
        if row["constraint_name"] is not None:
            await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{row["constraint_name"]}"')
        else:
            await conn.execute(f"DROP INDEX {row['index']}")
    yield
    for row in indexes:
        if row["constraint_name"] is not None:
            await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{row["constraint_name"]}" {row["definition"]}')
        else:
            await conn.execute(row["definition"])


def _migration_files(service_dir: Path) -> list[tuple[str, Path]]:
    files = [(f"shared/{p.stem}", p) for p in sorted(SHARED_MIGRATIONS.glob("*.sql"))]
    files += [(f"service/{p.stem}", p) for p in sorted(service_dir.glob("*.sql"))]
    return files


async def migrate(dsn: str, schema: str, service_migrations: Path) -> list[str]:
    """Apply pending migrations into ``schema``; returns the versions applied. Safe to run
    concurrently: an advisory lock serialises runners."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": f"kotaku-migrate-{schema}"})
    applied: list[str] = []
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute("SELECT pg_advisory_lock(hashtext('kotaku-migrate-' || $1))", schema)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, path in _migration_files(service_migrations):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                applied.append(version)
                log.info("migration applied", extra={"schema": schema, "version": version})
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('kotaku-migrate-' || $1))", schema)
    finally:
        await conn.close()
    return applied
