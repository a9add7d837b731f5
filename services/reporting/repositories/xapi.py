"""The state of consumer ``reporting.xapi`` (migration 0004_xapi.sql) and the statements of a batch.

TrainingScheduled/TrainingUpdated teach it a training's title, sessions and modules and
FacilitatorEnrolled a participant's province and kota/kabupaten, last writer by (occurred_at,
event_id). A batch first learns, then states: each learning fact becomes the statement of
:func:`services.reporting.domain.xapi.build_statement` with what is known by then; a fact whose
training is not known yet still gets a statement, with a generic name (it never waits).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from services.reporting.domain.xapi import (
    STATEMENT_EVENTS,
    Placement,
    SessionInfo,
    TrainingInfo,
    build_statement,
    statement_id,
)
from services.reporting.repositories.projections.common import columns_of, event_id, occurred_at
from shared.kernel.contracts import CertificateIssued, CertificateRevoked, FacilitatorEnrolled
from shared.kernel.db import Conn
from shared.kernel.envelope import Event
from shared.kernel.pipeline import PermanentError

NAME = "reporting.xapi"
# This consumer's own state (what it learned to name statements): not part of the read model, so a
# rebuild of the read model leaves it alone.
TABLES = ("xapi_trainings", "xapi_placements", "xapi_certificates")
LEARNS = frozenset({"TrainingScheduled", "TrainingUpdated", "FacilitatorEnrolled"})
HANDLES = LEARNS | STATEMENT_EVENTS

UPSERT_TRAINING = """
INSERT INTO xapi_trainings AS t (training_id, title, sessions, modules, version_at, version_event)
VALUES ($1, $2, $3::jsonb, coalesce($4::jsonb, '{}'::jsonb), $5, $6)
ON CONFLICT (training_id) DO UPDATE
SET title = excluded.title, sessions = excluded.sessions,
    modules = CASE WHEN $4::jsonb IS NULL THEN t.modules ELSE excluded.modules END,
    version_at = excluded.version_at, version_event = excluded.version_event
WHERE (excluded.version_at, excluded.version_event) > (t.version_at, t.version_event)
"""
UPSERT_PLACEMENTS = """
INSERT INTO xapi_placements AS p (training_id, facilitator_id, province_code, kabkota_code, version_at, version_event)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::uuid[])
ON CONFLICT (training_id, facilitator_id) DO UPDATE
SET province_code = excluded.province_code, kabkota_code = excluded.kabkota_code,
    version_at = excluded.version_at, version_event = excluded.version_event
WHERE (excluded.version_at, excluded.version_event) > (p.version_at, p.version_event)
"""
SELECT_TRAININGS = (
    "SELECT training_id, title, sessions, modules FROM xapi_trainings WHERE training_id = ANY($1::uuid[])"
)
SELECT_PLACEMENTS = """
SELECT training_id, facilitator_id, province_code, kabkota_code FROM xapi_placements
WHERE (training_id, facilitator_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
"""
SELECT_CERTIFICATES = "SELECT certificate_code, statement_id FROM xapi_certificates WHERE certificate_code = ANY($1)"
INSERT_CERTIFICATES = """
INSERT INTO xapi_certificates (certificate_code, statement_id)
SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT DO NOTHING
"""


def newest_placements(enrolled: Sequence[Event[Any]]) -> list[Event[Any]]:
    """Per (training, facilitator), the newest of ``enrolled`` by (occurred_at, event_id)."""
    newest: dict[tuple[Any, Any], Event[Any]] = {}
    for event in enrolled:
        key = (event.payload.training_id, event.payload.facilitator_id)
        known = newest.get(key)
        if known is None or _version(event) > _version(known):
            newest[key] = event
    return list(newest.values())


async def learn_placements(conn: Conn, enrolled: Sequence[Event[Any]]) -> None:
    """The participants' places, in one statement: per (training, facilitator) the batch's newest
    version only (an upsert may not touch a row twice), which the table keeps if newer still."""
    rows = newest_placements(enrolled)
    if not rows:
        return
    await conn.execute(
        UPSERT_PLACEMENTS,
        *columns_of(
            rows,
            lambda e: e.payload.training_id,
            lambda e: e.payload.facilitator_id,
            lambda e: e.payload.province_code,
            lambda e: e.payload.kabkota_code,
            occurred_at,
            event_id,
        ),
    )


def _version(event: Event[Any]) -> tuple[Any, str]:
    """The order of two facts about one row, as the table compares them (uuid order = text order)."""
    return event.envelope.occurred_at, str(event.envelope.event_id)


async def learn(conn: Conn, event: Event[Any]) -> None:
    """A training's title, sessions and modules."""
    p = event.payload
    env = event.envelope
    sessions = {
        s.session_id: {"date": s.date.isoformat(), "kind": s.kind.value, "module_code": s.module_code}
        for s in p.sessions
    }
    modules = None if p.modules is None else {m.code: m.title for m in p.modules}
    await conn.execute(
        UPSERT_TRAINING,
        p.training_id,
        p.title,
        json.dumps(sessions),
        None if modules is None else json.dumps(modules),
        env.occurred_at,
        env.event_id,
    )


def _training(row: Any) -> TrainingInfo:
    sessions = {
        sid: SessionInfo(date.fromisoformat(s["date"]), s["kind"], s.get("module_code"))
        for sid, s in json.loads(row["sessions"]).items()
    }
    return TrainingInfo(row["title"], sessions, json.loads(row["modules"]))


async def statements(conn: Conn, events: Sequence[Event[Any]]) -> list[tuple[Event[Any], dict[str, Any]]]:
    """Learn from the batch's events, then return each learning fact with its statement (facts
    that state nothing, such as an absence, are left out), in the batch's order."""
    facts: list[Event[Any]] = []
    enrolled: list[Event[Any]] = []
    for event in events:
        if isinstance(event.payload, FacilitatorEnrolled):
            enrolled.append(event)
        elif event.envelope.event_type in LEARNS:
            await learn(conn, event)
        if event.envelope.event_type in STATEMENT_EVENTS:
            facts.append(event)
    await learn_placements(conn, enrolled)
    if not facts:
        return []
    tids = list({e.payload.training_id for e in facts})
    trainings = {r["training_id"]: _training(r) for r in await conn.fetch(SELECT_TRAININGS, tids)}
    pairs = list({(e.payload.training_id, e.payload.facilitator_id) for e in facts})
    placements = {
        (r["training_id"], r["facilitator_id"]): Placement(r["province_code"], r["kabkota_code"])
        for r in await conn.fetch(SELECT_PLACEMENTS, [t for t, _ in pairs], [f for _, f in pairs])
    }
    codes = [e.payload.certificate_code for e in facts if isinstance(e.payload, CertificateRevoked)]
    issued: dict[str, uuid.UUID] = {}
    if codes:
        issued = {r["certificate_code"]: r["statement_id"] for r in await conn.fetch(SELECT_CERTIFICATES, codes)}
    new_certificates: dict[str, uuid.UUID] = {}
    out: list[tuple[Event[Any], dict[str, Any]]] = []
    for event in facts:
        p = event.payload
        if isinstance(p, CertificateRevoked) and p.certificate_code not in issued:
            # Issue and revocation are on one partition (keyed by the training), in that order.
            raise PermanentError("certificate_unknown", f"no CertificateIssued seen for {p.certificate_code}")
        if isinstance(p, CertificateIssued):
            sid = statement_id(event.envelope.event_id)
            issued.setdefault(p.certificate_code, sid)
            new_certificates.setdefault(p.certificate_code, sid)
        statement = build_statement(
            event,
            trainings.get(p.training_id),
            placements.get((p.training_id, p.facilitator_id)),
            issued.get(p.certificate_code) if isinstance(p, CertificateRevoked) else None,
        )
        if statement is not None:
            out.append((event, statement))
    if new_certificates:
        await conn.execute(INSERT_CERTIFICATES, list(new_certificates), list(new_certificates.values()))
    return out
