"""A consumer working off a backlog applies it on database sessions whose backend processes run at a
lower CPU priority than the others (the 'prioritize' extension, installed by deploy/local/postgres.sh),
on the real database."""

from __future__ import annotations

import pytest

from shared.kernel.db import create_background_pool, create_pool
from shared.tools.devstack import database_url, local_secrets
from tests.integration.conftest import Stack

pytestmark = pytest.mark.real

PRIORITY = "SELECT public.get_backend_priority(pg_backend_pid())"


async def test_backlog_sessions_run_lower_and_apart_from_the_others(stack: Stack) -> None:
    dsn = database_url("reporting", stack.database, local_secrets())
    regular = await create_pool(dsn, "reporting", min_size=1, max_size=1)
    lowered = await create_background_pool(dsn, "reporting", 25, max_size=1)
    assert lowered is not None, "the database lacks the prioritize extension: run deploy/local/postgres.sh start"
    try:
        async with regular.acquire() as conn:
            base = await conn.fetchval(PRIORITY)
        async with lowered.acquire() as conn:
            assert await conn.fetchval(PRIORITY) == min(19, base + 25)  # at most 19, the lowest there is
            assert await conn.fetchval("SHOW search_path") == "reporting"
            assert await conn.fetchval("SELECT current_setting('application_name')") == "kotaku-reporting-backlog"
        async with regular.acquire() as conn:  # the others' sessions keep the server's priority
            assert await conn.fetchval(PRIORITY) == base
        assert lowered.get_size() == 1
    finally:
        await regular.close()
        if lowered is not None:
            await lowered.close()


async def test_no_backlog_sessions_without_a_step_to_lower(stack: Stack) -> None:
    dsn = database_url("reporting", stack.database, local_secrets())
    assert await create_background_pool(dsn, "reporting", 0) is None


async def test_a_lowered_session_is_never_raised_again(stack: Stack) -> None:
    """Why the lowered sessions are a pool of their own: the database server may not raise a
    backend's priority back, so a lowered session would slow whatever work it served next."""
    dsn = database_url("reporting", stack.database, local_secrets())
    lowered = await create_background_pool(dsn, "reporting", 5, max_size=1)
    assert lowered is not None
    try:
        async with lowered.acquire() as conn:
            first = await conn.fetchval(PRIORITY)
            assert await conn.fetchval("SELECT public.set_backend_priority(pg_backend_pid(), 0)") is False
            assert await conn.fetchval(PRIORITY) == first
    finally:
        await lowered.close()
