"""The database sessions behind every consumer batch, on the real PostgreSQL.

A pool connection goes back to its pool without a reset round trip, so nothing may leave session
state on one: these tests check that the dedupe statement takes a batch's advisory locks (scoped to
its transaction) before it records any id, that a writer of other keys never waits on them, that a
batch set to commit without waiting for the disk sets only its own transaction so (and learns when
it is on disk), and that the outbox relay's leadership, the one user of session locks and
``LISTEN``, leaves neither behind on the connection it gives back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from shared.kernel.consumer import Durability
from shared.kernel.db import create_pool, migrate
from shared.kernel.metrics import Metrics
from shared.kernel.outbox import OutboxRelay
from shared.kernel.pipeline import record_processed
from shared.tools.devstack import database_url, local_secrets
from tests.integration.conftest import Stack

pytestmark = pytest.mark.real

SCHEMA = "registration"
LOCK_CLASS = 7399

ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1 AND granted = $2"


@pytest.fixture
async def dsn(stack: Stack, tmp_path: Path) -> str:
    """A role's DSN on the test database, with the shared migrations (processed_events, outbox)."""
    url = database_url(SCHEMA, stack.database, local_secrets())
    await migrate(url, SCHEMA, tmp_path / "no-service-migrations")
    return url


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(dsn, SCHEMA, min_size=1, max_size=3)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def observer(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": SCHEMA})
    try:
        yield conn
    finally:
        await conn.close()


async def test_a_connection_goes_back_to_the_pool_without_a_reset_query(
    pool: asyncpg.Pool, observer: asyncpg.Connection
) -> None:
    async with pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute("SELECT 'the last statement of a batch'")
    last = await observer.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
    # asyncpg's default release sends "SELECT pg_advisory_unlock_all(); CLOSE ALL; ..." here
    assert last == "SELECT 'the last statement of a batch'"


async def test_the_dedupe_statement_takes_the_batchs_locks_before_it_records_anything(
    pool: asyncpg.Pool, observer: asyncpg.Connection
) -> None:
    first, second, third = (uuid.uuid4() for _ in range(3))
    async with pool.acquire() as a, pool.acquire() as b:
        b_pid = await b.fetchval("SELECT pg_backend_pid()")
        a_tx, b_tx = a.transaction(), b.transaction()
        await a_tx.start()
        await b_tx.start()
        waiting: asyncio.Task[set[uuid.UUID]] | None = None
        try:
            assert await record_processed(a, "test", [first], (LOCK_CLASS, ["t2", "t1"])) == {first}
            # other ids, one key in common: b waits for a's lock, not for a's rows
            waiting = asyncio.create_task(record_processed(b, "test", [second], (LOCK_CLASS, ["t1", "t3"])))
            await asyncio.sleep(0.5)
            assert not waiting.done()
            assert await observer.fetchval(ADVISORY_LOCKS, b_pid, False) == 1
            # a writer of other keys goes on meanwhile
            async with pool.acquire() as c, c.transaction():
                assert await record_processed(c, "test", [third], (LOCK_CLASS, ["t4"])) == {third}
            assert not waiting.done()
            await a_tx.commit()
            # a committed: b takes its locks and records its id
            assert await asyncio.wait_for(waiting, 10) == {second}
            await b_tx.commit()
        except BaseException:  # a failed check: nothing of this test stays open
            if waiting is not None:
                waiting.cancel()
                await asyncio.gather(waiting, return_exceptions=True)
            for tx in (a_tx, b_tx):
                with contextlib.suppress(Exception):
                    await tx.rollback()
            raise
    recorded = {r["event_id"] for r in await observer.fetch("SELECT event_id FROM processed_events")}
    assert {first, second, third} <= recorded
    held = await observer.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
    assert held == 0  # transaction-scoped: nothing stays on the pooled connections


async def test_a_batch_commits_without_waiting_for_the_disk_alone_and_learns_when_it_is_on_disk(
    pool: asyncpg.Pool,
) -> None:
    durability = Durability(pool, every=0.01)
    await durability.prime()
    async with pool.acquire() as conn:
        default = await conn.fetchval("SHOW synchronous_commit")
        async with conn.transaction():
            assert await record_processed(conn, "test", [uuid.uuid4()], unflushed=True)
            assert await conn.fetchval("SHOW synchronous_commit") == "off"
        on_disk = durability.after_commit()
        assert await conn.fetchval("SHOW synchronous_commit") == default  # the next transaction waits again
    # the WAL writer flushes within wal_writer_delay (200 ms by default)
    assert await asyncio.wait_for(on_disk, 10) is True


async def test_the_outbox_relays_leadership_leaves_no_session_state_on_its_pooled_connection(
    pool: asyncpg.Pool, observer: asyncpg.Connection
) -> None:
    relay = OutboxRelay(pool, None, Metrics(SCHEMA), ["oc02"], poll_seconds=0.1)
    task = asyncio.create_task(relay.run())
    leader = None
    try:
        for _ in range(100):
            leader = await observer.fetchval("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")
            if leader is not None:
                break
            await asyncio.sleep(0.1)
        assert leader is not None, "the relay never took a region's leadership"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await observer.fetchval(ADVISORY_LOCKS, leader, True) == 0
    # the leader's connection is still open, back in the pool: the state was undone, not dropped
    assert await observer.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", leader) == 1
    held = [await pool.acquire() for _ in range(3)]
    try:
        pids = [await conn.fetchval("SELECT pg_backend_pid()") for conn in held]
        assert leader in pids
        for conn in held:
            assert await conn.fetch("SELECT pg_listening_channels()") == []
    finally:
        for conn in held:
            await pool.release(conn)
