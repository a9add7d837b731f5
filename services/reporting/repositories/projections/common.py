"""Helpers shared by the projections: last-writer-wins upserts, batch rounds, locks, freshness.

Every read model is a pure function of the set of events applied (not of their order): each part
of a row carries its own version and an upsert only overwrites a part with a newer version. A
batch may hold several events for the same row; they are split into rounds (one statement per
round, usually one round) so that no statement touches a row twice.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from shared.kernel.db import Conn
from shared.kernel.envelope import Event

T = TypeVar("T")

# Lock classes for pg_advisory_xact_lock(int, int): a key space of their own.
LOCK_FACILITATOR = 7301
LOCK_TRAINING = 7302


def freshness_upsert(first: int) -> str:
    """The upsert of ``region_freshness`` with its parameters from ``$first``: the consumer, then
    per region its name, its newest ``occurred_at`` and its count of events (see
    :func:`freshness_args`). A statement of its own (``TOUCH_FRESHNESS``) or a part of a batch's
    last statement."""
    consumer, regions, newest, counts = (f"${first + i}" for i in range(4))
    # built from parameter numbers only
    return f"""INSERT INTO region_freshness AS f (consumer, region, newest_event_at, last_applied_at, events_applied)
SELECT {consumer}::text, region, newest, now(), n
FROM unnest({regions}::text[], {newest}::timestamptz[], {counts}::bigint[]) AS t(region, newest, n)
ON CONFLICT (consumer, region) DO UPDATE
SET newest_event_at = greatest(f.newest_event_at, excluded.newest_event_at),
    last_applied_at = excluded.last_applied_at,
    events_applied = f.events_applied + excluded.events_applied
"""  # noqa: S608


TOUCH_FRESHNESS = freshness_upsert(1)


class ByType:
    """A batch's events grouped by their payload's exact class (contracts are final classes);
    cheaper than isinstance checks against pydantic models, which go through ABCMeta."""

    def __init__(self, events: Iterable[Event[Any]]) -> None:
        self.groups: dict[type, list[Event[Any]]] = {}
        for e in events:
            self.groups.setdefault(type(e.payload), []).append(e)

    def of(self, *kinds: type) -> list[Event[Any]]:
        if len(kinds) == 1:
            return self.groups.get(kinds[0], [])
        return [e for kind in kinds for e in self.groups.get(kind, ())]


def rounds(items: Iterable[T], key: Callable[[T], Hashable]) -> list[list[T]]:
    """Split ``items`` so that no round holds two items with the same key (order kept)."""
    items = list(items)
    keys = [key(item) for item in items]
    if len(set(keys)) == len(keys):  # the usual case: one round
        return [items] if items else []
    seen: dict[Hashable, int] = {}
    out: list[list[T]] = []
    for item in items:
        k = key(item)
        n = seen.get(k, 0)
        seen[k] = n + 1
        if n == len(out):
            out.append([])
        out[n].append(item)
    return out


def lww_upsert(
    table: str,
    key: Sequence[str],
    columns: Sequence[tuple[str, str]],
    version: Sequence[str],
    *,
    insert_extra: Sequence[tuple[str, str]] = (),
    returning: str = "",
) -> str:
    """An ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE`` that overwrites the
    ``columns`` group only when the incoming ``version`` (a tuple of columns, compared as a row)
    is newer than the stored one (``RETURNING`` then yields only the rows written). ``columns``
    are (name, sql type) and are the parameters $1..$n in order; ``insert_extra`` are
    (column, constant sql) set only when the row is new."""
    names = [c for c, _ in columns]
    params = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(columns, 1))
    cols = ", ".join(names + [c for c, _ in insert_extra])
    select = ", ".join(names + [v for _, v in insert_extra])
    newer = (
        f"(t.{version[0]} IS NULL OR ({', '.join('excluded.' + v for v in version)}) "
        f"> ({', '.join('t.' + v for v in version)}))"
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in names if c not in key)
    sql = (
        f"INSERT INTO {table} AS t ({cols})\n"
        f"SELECT {select} FROM unnest({params}) AS u({', '.join(names)})\n"
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}\n"
        f"WHERE {newer}"
    )
    return sql + (f"\nRETURNING {returning}" if returning else "")


def part_upsert(
    table: str,
    key: Sequence[tuple[str, str]],
    columns: Sequence[tuple[str, str]],
    at: str,
    event: str,
    *,
    effective: str | None = None,
    returning: str = "",
) -> str:
    """The :func:`lww_upsert` of one part of a row: the ``key`` columns, the part's ``columns``, then
    its version: the time of the newest event in ``at`` and that event's id in ``event``, ordered
    first by the ``effective`` date column (one of ``columns``) when the part has one. Columns are
    (name, sql type) and the parameters in that order."""
    version = [*([effective] if effective else []), at, event]
    return lww_upsert(
        table,
        [c for c, _ in key],
        [*key, *columns, (at, "timestamptz"), (event, "uuid")],
        version,
        returning=returning,
    )


def columns_of(events: Sequence[Event[Any]], *getters: Callable[[Event[Any]], Any]) -> list[list[Any]]:
    """Column arrays for an unnest statement: one list per getter."""
    return [[g(e) for e in events] for g in getters]


def occurred_at(e: Event[Any]) -> Any:
    return e.envelope.occurred_at


def event_id(e: Event[Any]) -> Any:
    return e.envelope.event_id


def region(e: Event[Any]) -> Any:
    return e.envelope.region


async def upsert_by_key(
    conn: Conn,
    statement: str,
    events: Sequence[Event[Any]],
    key: Callable[[Event[Any]], Hashable],
    *getters: Callable[[Event[Any]], Any],
) -> None:
    """Run an upsert whose columns are ``key`` then ``getters``, in as many rounds as needed for
    no round to hold one key twice (a statement may not touch a row twice)."""
    for batch in rounds(events, key):
        await conn.execute(statement, *columns_of(batch, key, *getters))


async def upsert_part(
    conn: Conn,
    statement: str,
    events: Sequence[Event[Any]],
    key: Callable[[Event[Any]], Hashable],
    *getters: Callable[[Event[Any]], Any],
) -> None:
    """Run a :func:`part_upsert` statement with one key column: ``key``, then ``getters``, then
    each event's version (its time and id)."""
    await upsert_by_key(conn, statement, events, key, *getters, occurred_at, event_id)


def lock_keys(lock_class: int, keys: Iterable[object]) -> tuple[int, list[str]]:
    """The advisory locks that serialise writers of the same aggregates (``Consumer.locks``: the
    dedupe statement takes them, transaction-scoped, in sorted order)."""
    return lock_class, sorted({str(k) for k in keys})


def freshness_args(consumer: str, events: Sequence[Event[Any]]) -> list[Any]:
    """The parameters of :func:`freshness_upsert` for a batch of new ``events``."""
    newest: dict[str, datetime] = {}
    counts: dict[str, int] = {}
    for e in events:
        region, at = e.envelope.region, e.envelope.occurred_at
        newest[region] = max(newest.get(region, at), at)
        counts[region] = counts.get(region, 0) + 1
    regions = sorted(newest)
    return [consumer, regions, [newest[r] for r in regions], [counts[r] for r in regions]]


async def touch_freshness(conn: Conn, consumer: str, events: Sequence[Event[Any]]) -> None:
    if events:
        await conn.execute(TOUCH_FRESHNESS, *freshness_args(consumer, events))
