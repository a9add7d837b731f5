"""Kafka entrypoints of the training service: the roster from the registration service's
enrollment events, participants' names from its facilitator events (for certificates), and the
kelurahan known from its reference data. These keep copies of another
service's facts, with no rule of training's own, so they go straight to the repositories (whose
SQL makes them independent of the order events arrive in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.training.repositories.kelurahan import Kelurahan, PostgresKelurahan
from services.training.repositories.names import PostgresNames
from services.training.repositories.roster import PostgresRoster
from shared.kernel.consumer import Consumer
from shared.kernel.contracts import (
    EnrollmentWithdrawn,
    FacilitatorEnrolled,
    FacilitatorRegistered,
    FacilitatorUpdated,
    OrgUnitDefined,
    OrgUnitLevel,
)
from shared.kernel.db import Conn
from shared.kernel.envelope import Event
from shared.kernel.topics import ENROLLMENT, FACILITATOR, ORGUNIT


async def on_enrollment_events(conn: Conn, events: Sequence[Event[Any]]) -> None:
    roster = PostgresRoster(conn)
    for event in events:
        p, env = event.payload, event.envelope
        if isinstance(p, FacilitatorEnrolled):
            await roster.record_enrollment(
                p.training_id,
                p.facilitator_id,
                p.enrollment_id,
                env.region,
                p.role.value,
                env.occurred_at,
                p.province_code,
                p.kabkota_code,
            )
        elif isinstance(p, EnrollmentWithdrawn):
            await roster.record_withdrawal(p.training_id, p.facilitator_id, env.occurred_at)


async def on_facilitator_events(conn: Conn, events: Sequence[Event[Any]]) -> None:
    names = PostgresNames(conn)
    for event in events:
        p, env = event.payload, event.envelope
        if isinstance(p, FacilitatorRegistered | FacilitatorUpdated):
            await names.record(p.facilitator_id, p.full_name, env.occurred_at, env.event_id)


async def on_org_units(conn: Conn, events: Sequence[Event[Any]]) -> None:
    """One statement a batch: loading the whole country publishes about 89,000 kelurahan."""
    await PostgresKelurahan(conn).define_many(
        [
            Kelurahan(p.code, p.name, p.parent_code, event.envelope.region, p.effective_from)
            for event in events
            if isinstance(p := event.payload, OrgUnitDefined) and p.level is OrgUnitLevel.KELURAHAN
        ]
    )


ROSTER = Consumer(
    name="training.roster",
    streams=(ENROLLMENT,),
    handles=frozenset({FacilitatorEnrolled.event_type, EnrollmentWithdrawn.event_type}),
    apply=on_enrollment_events,
)

NAMES = Consumer(
    name="training.names",
    streams=(FACILITATOR,),
    handles=frozenset({FacilitatorRegistered.event_type, FacilitatorUpdated.event_type}),
    apply=on_facilitator_events,
)

KELURAHAN = Consumer(
    name="training.kelurahan",
    streams=(ORGUNIT,),
    handles=frozenset({OrgUnitDefined.event_type}),
    apply=on_org_units,
)
