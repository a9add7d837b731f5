"""Facilitators and org units (consumer ``reporting.facilitators``).

Counts per region / province / kota-kabupaten / role / status stay right under reassignment and
reordering: the facilitator's row holds its current state (each part last-writer-wins), and
``facilitator_totals`` moves by the difference between each touched facilitator's bucket before
and after the batch. Only registered facilitators are counted: an event that arrives before the
registration (possible across topics) fills in its part of the row, and the facilitator enters
the totals when the registration arrives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from services.reporting.repositories.projections.common import (
    LOCK_FACILITATOR,
    ByType,
    columns_of,
    event_id,
    lock_keys,
    occurred_at,
    part_upsert,
    region,
    touch_freshness,
    upsert_by_key,
    upsert_part,
)
from shared.kernel.contracts import (
    FacilitatorDeactivated,
    FacilitatorReassigned,
    FacilitatorRegistered,
    FacilitatorUpdated,
    OrgUnitDefined,
    ProvinceAssignedToRegion,
)
from shared.kernel.db import Conn
from shared.kernel.envelope import Event

NAME = "reporting.facilitators"

_NAME_NEWER = "(t.name_at IS NULL OR (excluded.name_at, excluded.name_event) > (t.name_at, t.name_event))"
_ASSIGNMENT_NEWER = (
    "(t.assigned_from IS NULL OR (excluded.assigned_from, excluded.assigned_at, excluded.assigned_event)"
    " > (t.assigned_from, t.assigned_at, t.assigned_event))"
)
_NAME_COLUMNS = ("full_name", "name_at", "name_event")
_ASSIGNMENT_COLUMNS = (
    "region",
    "role",
    "speciality",
    "province_code",
    "kabkota_code",
    "assigned_from",
    "assigned_at",
    "assigned_event",
)

UPSERT_REGISTERED = """
INSERT INTO facilitators AS t (facilitator_id, registered, registered_at, full_name, name_at, name_event,
    region, role, speciality, province_code, kabkota_code, assigned_from, assigned_at, assigned_event)
SELECT id, true, at, name, at, ev, region, role, spec, prov, kab, eff, at, ev
FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::date[]) AS u(id, at, ev, name, region, role, spec, prov, kab, eff)
ON CONFLICT (facilitator_id) DO UPDATE SET
    registered = true,
    registered_at = least(t.registered_at, excluded.registered_at),
""" + ",\n".join(
    [f"    {c} = CASE WHEN {_NAME_NEWER} THEN excluded.{c} ELSE t.{c} END" for c in _NAME_COLUMNS]
    + [f"    {c} = CASE WHEN {_ASSIGNMENT_NEWER} THEN excluded.{c} ELSE t.{c} END" for c in _ASSIGNMENT_COLUMNS]
)
_FACILITATOR = [("facilitator_id", "uuid")]
UPSERT_REASSIGNED = part_upsert(
    "facilitators",
    _FACILITATOR,
    [
        ("region", "text"),
        ("role", "text"),
        ("speciality", "text"),
        ("province_code", "text"),
        ("kabkota_code", "text"),
        ("assigned_from", "date"),
    ],
    "assigned_at",
    "assigned_event",
    effective="assigned_from",
)
UPSERT_UPDATED = part_upsert("facilitators", _FACILITATOR, [("full_name", "text")], "name_at", "name_event")
UPSERT_DEACTIVATED = part_upsert(
    "facilitators",
    _FACILITATOR,
    [("deactivated_from", "date"), ("deactivation_reason", "text")],
    "deactivated_at",
    "deactivated_event",
)
INSERT_ASSIGNMENTS = """
INSERT INTO facilitator_assignments (event_id, facilitator_id, kind, effective_from, occurred_at, region, role,
    speciality, province_code, kabkota_code)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::date[], $5::timestamptz[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[])
ON CONFLICT (event_id) DO NOTHING
"""
UPSERT_ORG_UNITS = part_upsert(
    "org_units",
    [("code", "text")],
    [("level", "text"), ("name", "text"), ("parent_code", "text"), ("effective_from", "date")],
    "version_at",
    "version_event",
    effective="effective_from",
)
UPSERT_PROVINCE_REGIONS = part_upsert(
    "province_regions",
    [("province_code", "text")],
    [("region", "text"), ("province_name", "text"), ("effective_from", "date")],
    "version_at",
    "version_event",
    effective="effective_from",
)

BUCKETS = """
SELECT facilitator_id, region, province_code, kabkota_code, role, status
FROM facilitators WHERE registered AND facilitator_id = ANY($1::uuid[])
"""
ADD_TOTALS = """
INSERT INTO facilitator_totals AS t (region, province_code, kabkota_code, role, status, registered)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
ON CONFLICT (region, province_code, kabkota_code, role, status)
DO UPDATE SET registered = t.registered + excluded.registered
"""
DROP_EMPTY_TOTALS = """
DELETE FROM facilitator_totals t
USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
    AS k(region, province_code, kabkota_code, role, status)
WHERE t.region = k.region AND t.province_code = k.province_code AND t.kabkota_code = k.kabkota_code
  AND t.role = k.role AND t.status = k.status AND t.registered = 0
"""
CLEAR_TOTALS = "DELETE FROM facilitator_totals"
RECOMPUTE_TOTALS = """
INSERT INTO facilitator_totals (region, province_code, kabkota_code, role, status, registered)
SELECT region, province_code, kabkota_code, role, status, count(*)
FROM facilitators WHERE registered
GROUP BY region, province_code, kabkota_code, role, status
"""

Bucket = tuple[str, str, str, str, str]

HANDLES = frozenset(
    {
        FacilitatorRegistered.event_type,
        FacilitatorReassigned.event_type,
        FacilitatorDeactivated.event_type,
        FacilitatorUpdated.event_type,
        OrgUnitDefined.event_type,
        ProvinceAssignedToRegion.event_type,
    }
)


async def _buckets(conn: Conn, ids: list[Any]) -> dict[Any, Bucket]:
    rows = await conn.fetch(BUCKETS, ids)
    return {
        r["facilitator_id"]: (r["region"], r["province_code"], r["kabkota_code"], r["role"], r["status"]) for r in rows
    }


async def _move_totals(conn: Conn, before: dict[Any, Bucket], after: dict[Any, Bucket]) -> None:
    delta: Counter[Bucket] = Counter()
    for bucket in before.values():
        delta[bucket] -= 1
    for bucket in after.values():
        delta[bucket] += 1
    keys = sorted(k for k, v in delta.items() if v)
    if not keys:
        return
    cols = [[k[i] for k in keys] for i in range(5)]
    await conn.execute(ADD_TOTALS, *cols, [delta[k] for k in keys])
    if any(delta[k] < 0 for k in keys):
        await conn.execute(DROP_EMPTY_TOTALS, *cols)


# The columns of a facilitator's assignment (role, speciality, province, kota/kabupaten), in
# FacilitatorRegistered and FacilitatorReassigned alike.
ASSIGNMENT: tuple[Callable[[Event[Any]], Any], ...] = (
    lambda e: e.payload.role.value,
    lambda e: e.payload.speciality.value if e.payload.speciality else None,
    lambda e: e.payload.province_code,
    lambda e: e.payload.kabkota_code,
)


PEOPLE = (FacilitatorRegistered, FacilitatorReassigned, FacilitatorUpdated, FacilitatorDeactivated)


def locks(events: Sequence[Event[Any]]) -> tuple[int, list[str]]:
    """The facilitators whose totals a batch moves (``Consumer.locks``): two writers of one
    facilitator take turns, so neither moves the totals from a state the other is changing."""
    return lock_keys(LOCK_FACILITATOR, {e.payload.facilitator_id for e in events if type(e.payload) in PEOPLE})


async def apply(conn: Conn, events: Sequence[Event[Any]], *, derive: bool = True) -> None:
    """Apply new events, under the batch's :func:`locks`. ``derive=False`` (bulk rebuild) writes
    the base tables only: the totals and the freshness are computed once at the end
    (:func:`derive_all`, the rebuild)."""
    g = ByType(events)
    ids = sorted({e.payload.facilitator_id for e in g.of(*PEOPLE)})
    before: dict[Any, Bucket] = {}
    if derive and ids:
        before = await _buckets(conn, ids)

    def fid(e: Event[Any]) -> Any:
        return e.payload.facilitator_id

    await upsert_by_key(
        conn,
        UPSERT_REGISTERED,
        g.of(FacilitatorRegistered),
        fid,
        occurred_at,
        event_id,
        lambda e: e.payload.full_name,
        region,
        *ASSIGNMENT,
        lambda e: e.payload.effective_from,
    )
    await upsert_part(
        conn,
        UPSERT_REASSIGNED,
        g.of(FacilitatorReassigned),
        fid,
        region,
        *ASSIGNMENT,
        lambda e: e.payload.effective_from,
    )
    await upsert_part(conn, UPSERT_UPDATED, g.of(FacilitatorUpdated), fid, lambda e: e.payload.full_name)
    await upsert_part(
        conn,
        UPSERT_DEACTIVATED,
        g.of(FacilitatorDeactivated),
        fid,
        lambda e: e.payload.effective_from,
        lambda e: e.payload.reason,
    )
    assignments = g.of(FacilitatorRegistered, FacilitatorReassigned)
    if assignments:
        await conn.execute(
            INSERT_ASSIGNMENTS,
            *columns_of(
                assignments,
                event_id,
                fid,
                lambda e: "registered" if type(e.payload) is FacilitatorRegistered else "reassigned",
                lambda e: e.payload.effective_from,
                occurred_at,
                region,
                *ASSIGNMENT,
            ),
        )
    await upsert_part(
        conn,
        UPSERT_ORG_UNITS,
        g.of(OrgUnitDefined),
        lambda e: e.payload.code,
        lambda e: e.payload.level.value,
        lambda e: e.payload.name,
        lambda e: e.payload.parent_code,
        lambda e: e.payload.effective_from,
    )
    await upsert_part(
        conn,
        UPSERT_PROVINCE_REGIONS,
        g.of(ProvinceAssignedToRegion),
        lambda e: e.payload.province_code,
        region,
        lambda e: e.payload.province_name,
        lambda e: e.payload.effective_from,
    )
    if derive and ids:
        await _move_totals(conn, before, await _buckets(conn, ids))
    if derive:
        await touch_freshness(conn, NAME, events)


async def derive_all(conn: Conn) -> None:
    """Recompute the totals from the facilitators' current state (end of a bulk rebuild)."""
    await conn.execute(CLEAR_TOTALS)
    await conn.execute(RECOMPUTE_TOTALS)
