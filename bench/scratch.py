"""Throwaway resources on the local machine for one run of the benchmark or of the real-stack tests:
a free loopback port, and private databases on the local PostgreSQL, created and dropped as its
test administrator (kotaku_test)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import asyncpg

from shared.tools.devstack import local_secrets

SERVICE_ROLES = ("kotaku_registration", "kotaku_training", "kotaku_reporting")


def admin_dsn() -> str:
    s = local_secrets()
    return f"postgresql://kotaku_test:{s['KOTAKU_PG_PASSWORD_TEST']}@127.0.0.1:{s['KOTAKU_PG_PORT']}/postgres"


@contextlib.asynccontextmanager
async def admin_connection() -> AsyncIterator[asyncpg.Connection]:
    """A connection as the test administrator, closed on exit."""
    conn = await asyncpg.connect(admin_dsn())
    try:
        yield conn
    finally:
        await conn.close()


async def create_database(database: str, roles: Sequence[str] = SERVICE_ROLES) -> None:
    """Create ``database``, closed to PUBLIC and open (CONNECT, CREATE) to the service ``roles``."""
    async with admin_connection() as conn:
        await conn.execute(f"CREATE DATABASE {database}")
        await conn.execute(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
        await conn.execute(f"GRANT CONNECT, CREATE ON DATABASE {database} TO {', '.join(roles)}")


async def drop_database(database: str) -> None:
    """Drop ``database`` if it exists, ending the sessions still connected to it."""
    async with admin_connection() as conn:
        await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
