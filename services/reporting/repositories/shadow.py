"""The SQL of a rebuild: shadow tables beside the live read model, the checks before a swap, and
the swap itself. The orchestration (Kafka, the pipeline, when to check and to swap) is
``entrypoints/rebuild.py``; docs/reporting.md explains the guarantees.

``<schema>_rebuild`` holds the shadow tables while they are filled, ``<schema>_previous`` the
tables a swap replaced (kept until the next swap, for inspection or a manual roll-back).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.reporting.repositories.projections import DEDUPE_TABLE, READ_MODEL_TABLES
from services.reporting.repositories.projections.common import TOUCH_FRESHNESS

SCHEMA = "reporting"
SWAP_LOCK_TIMEOUT = "10s"


def shadow_schema(schema: str = SCHEMA) -> str:
    return f"{schema}_rebuild"


def previous_schema(schema: str = SCHEMA) -> str:
    return f"{schema}_previous"


# One rebuild of a schema at a time (a session-level advisory lock of the rebuild's admin session).
CLAIM = "SELECT pg_try_advisory_lock(hashtextextended('kotaku-rebuild-' || $1, 0))"
OTHER_REBUILD = """
SELECT min(backend_start) FROM pg_stat_activity
WHERE application_name = 'kotaku-rebuild' AND pid <> pg_backend_pid() AND datname = current_database()
"""
RELOPTIONS = "SELECT reloptions FROM pg_class WHERE oid = $1::regclass"
INDEXES = """
SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = $1::regclass
ORDER BY c.relname
"""
INDEX_NAME_AND_TABLE = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ ")
BIG_SORTS = "SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '256MB'"

COPY_OTHER_CONSUMERS = """
INSERT INTO {shadow}.processed_events SELECT * FROM {schema}.processed_events
WHERE consumer <> ALL($1::text[]) ON CONFLICT DO NOTHING
"""

# Regions whose events the live read model holds. Every applied event is counted in region_freshness
# under the region of its topic; the base tables carry that same region (which also covers rows
# written before region_freshness counted per region).
LIVE_REGIONS = """
SELECT region FROM "{schema}".region_freshness WHERE events_applied > 0
UNION SELECT region FROM "{schema}".facilitators WHERE region IS NOT NULL
UNION SELECT region FROM "{schema}".facilitator_assignments
UNION SELECT region FROM "{schema}".province_regions
UNION SELECT region FROM "{schema}".trainings WHERE region IS NOT NULL
UNION SELECT region FROM "{schema}".participants WHERE region IS NOT NULL
"""
# (consumer, region) for which the rebuilt tables count fewer applied events than the live ones.
# Read under the swap's lock: no live batch is in flight, and every event a live consumer applied
# lies below the end offsets the rebuild replayed to, so the rebuilt count can only be larger.
FEWER_EVENTS = """
SELECT l.consumer, l.region, l.events_applied AS live, coalesce(s.events_applied, 0) AS rebuilt
FROM "{schema}".region_freshness AS l
LEFT JOIN "{shadow}".region_freshness AS s USING (consumer, region)
WHERE coalesce(s.events_applied, 0) < l.events_applied
ORDER BY l.consumer, l.region
"""


class ShadowTables:
    """The shadow read model of ``schema``, worked on through ``admin`` (search_path: the live
    schema); the writers fill it through connections whose search_path is :attr:`shadow`."""

    def __init__(self, admin: asyncpg.Connection, schema: str = SCHEMA) -> None:
        self.admin = admin
        self.schema = schema
        self.shadow = shadow_schema(schema)
        self.previous = previous_schema(schema)

    async def live_regions(self) -> set[str]:
        return {str(r["region"]) for r in await self.admin.fetch(LIVE_REGIONS.format(schema=self.schema))}

    async def claim(self) -> datetime | None:
        """Take this schema's rebuild lock for the admin connection's session (released when it
        ends, however the rebuild ends): None, or when the session of the rebuild that holds it
        began. Two rebuilds at once would drop and fill each other's shadow tables."""
        if await self.admin.fetchval(CLAIM, self.schema):
            return None
        started: datetime | None = await self.admin.fetchval(OTHER_REBUILD)
        if started is None and await self.admin.fetchval(CLAIM, self.schema):  # it has just ended
            return None
        return started or datetime.now(UTC)

    async def create(self) -> None:
        """Empty tables ``LIKE`` the live ones (columns, constraints, indexes, storage parameters)."""
        conn, schema, shadow = self.admin, self.schema, self.shadow
        await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
        await conn.execute(f'CREATE SCHEMA "{shadow}"')
        for table in (*READ_MODEL_TABLES, DEDUPE_TABLE):
            await conn.execute(f'CREATE TABLE "{shadow}"."{table}" (LIKE "{schema}"."{table}" INCLUDING ALL)')
            options = await conn.fetchval(RELOPTIONS, f'"{schema}"."{table}"')
            if options:  # LIKE does not copy storage parameters such as fillfactor
                await conn.execute(f'ALTER TABLE "{shadow}"."{table}" SET ({", ".join(options)})')
            await self._copy_index_names(table)

    async def _copy_index_names(self, table: str) -> None:
        """LIKE names the copied indexes after PostgreSQL's defaults (``<table>_<column>_idx``): give
        each one the name of the live index it copies, so that names survive the swap (a migration
        may refer to them)."""
        conn = self.admin
        names: dict[str, list[str]] = {}
        for row in await conn.fetch(INDEXES, f'"{self.schema}"."{table}"'):
            names.setdefault(_index_shape(row["definition"]), []).append(row["name"])
        for row in await conn.fetch(INDEXES, f'"{self.shadow}"."{table}"'):
            wanted = names.get(_index_shape(row["definition"]))
            if wanted:
                name = wanted.pop(0)
                if name != row["name"]:
                    await conn.execute(f'ALTER INDEX "{self.shadow}"."{row["name"]}" RENAME TO "{name}"')

    @staticmethod
    async def allow_big_sorts(conn: asyncpg.Connection) -> None:
        """For the transaction on ``conn``: sorts of millions of rows stay in memory."""
        await conn.execute(BIG_SORTS)

    @staticmethod
    async def record_freshness(conn: asyncpg.Connection, consumer: str, rows: Sequence[Any]) -> None:
        """Per region of ``rows`` (``region``, ``newest_occurred_at``, ``messages``): what the live
        consumers count event by event in ``region_freshness``."""
        rows = sorted(rows, key=lambda r: r.region)
        await conn.execute(
            TOUCH_FRESHNESS,
            consumer,
            [r.region for r in rows],
            [r.newest_occurred_at for r in rows],
            [r.messages for r in rows],
        )

    async def analyze(self, *conns: asyncpg.Connection) -> None:
        """Fresh tables have no statistics yet: the tables shared among ``conns``, analysed at once."""

        async def some(conn: asyncpg.Connection, tables: Sequence[str]) -> None:
            for table in tables:
                await conn.execute(f'ANALYZE "{self.shadow}"."{table}"')

        await asyncio.gather(*(some(conn, READ_MODEL_TABLES[n :: len(conns)]) for n, conn in enumerate(conns)))

    async def lock_live(self) -> None:
        """In the caller's transaction: no live batch is in flight or can start (each begins by
        inserting into the dedupe table) until it ends."""
        await self.admin.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
        await self.admin.execute(f'LOCK TABLE "{self.schema}"."{DEDUPE_TABLE}" IN ACCESS EXCLUSIVE MODE')

    async def fewer_events(self) -> list[asyncpg.Record]:
        """(consumer, region, live, rebuilt) where the shadow tables count fewer applied events."""
        return list(await self.admin.fetch(FEWER_EVENTS.format(schema=self.schema, shadow=self.shadow)))

    async def swap(self, consumers: Sequence[str]) -> None:
        """In the caller's transaction, under :meth:`lock_live`: keep the other consumers' dedupe
        rows, move the live tables to the previous schema and the shadow tables into the live one."""
        await self.admin.execute(COPY_OTHER_CONSUMERS.format(shadow=self.shadow, schema=self.schema), list(consumers))
        for statement in self._swap_statements():
            await self.admin.execute(statement)

    def _swap_statements(self) -> Iterator[str]:
        # the previous tables are replaced only by a swap: a rebuild that stops keeps them
        yield f'DROP SCHEMA IF EXISTS "{self.previous}" CASCADE'
        yield f'CREATE SCHEMA "{self.previous}"'
        for table in (*READ_MODEL_TABLES, DEDUPE_TABLE):
            yield f'ALTER TABLE "{self.schema}"."{table}" SET SCHEMA "{self.previous}"'
            yield f'ALTER TABLE "{self.shadow}"."{table}" SET SCHEMA "{self.schema}"'
        yield f'DROP SCHEMA "{self.shadow}"'

    async def drop(self) -> None:
        await self.admin.execute(f'DROP SCHEMA IF EXISTS "{self.shadow}" CASCADE')

    async def drop_previous(self) -> None:
        await self.admin.execute(f'DROP SCHEMA IF EXISTS "{self.previous}" CASCADE')


def _index_shape(definition: str) -> str:
    """An index definition without its name and table: ``CREATE INDEX ON USING brin (processed_at)``."""
    return INDEX_NAME_AND_TABLE.sub(r"CREATE \1INDEX ON ", definition, count=1)
