"""Trainings, enrollments and participation (consumer ``reporting.trainings``).

Base tables (``trainings``, ``training_sessions``, ``participants``, ``attendance``) are written
last-writer-wins per part. Derived tables (``session_stats``, ``training_stats``,
``training_area_stats``) are recomputed, set-based, for the sessions and trainings a batch
touched, under a per-training advisory lock (:func:`locks`, taken by the pipeline's dedupe
statement) so that two writers of one training (replicas reading different topics of it) cannot
interleave their recomputations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.reporting.repositories.projections.common import (
    LOCK_TRAINING,
    ByType,
    columns_of,
    event_id,
    freshness_args,
    freshness_upsert,
    lock_keys,
    occurred_at,
    part_upsert,
    region,
    rounds,
    touch_freshness,
    upsert_part,
)
from shared.kernel.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    CertificateIssued,
    CertificateRevoked,
    EnrollmentWithdrawn,
    FacilitatorEnrolled,
    OJTAssigned,
    OJTCompleted,
    OutcomeReviewChanged,
    SubmissionAccepted,
    SubmissionReturned,
    SubmissionSubmitted,
    SubmissionVerified,
    TrainingCancelled,
    TrainingClosed,
    TrainingCompleted,
    TrainingNotCompleted,
    TrainingOutcomeCorrected,
    TrainingScheduled,
    TrainingUpdated,
)
from shared.kernel.db import Conn, indexes_dropped
from shared.kernel.envelope import Event, EventPayload

NAME = "reporting.trainings"

_TRAINING = [("training_id", "uuid")]
UPSERT_SCHEDULED = part_upsert(
    "trainings", _TRAINING, [("training_type", "text"), ("organiser", "text")], "scheduled_at", "scheduled_event"
)
UPSERT_DETAILS = part_upsert(
    "trainings",
    _TRAINING,
    [
        ("region", "text"),
        ("title", "text"),
        ("venue", "text"),
        ("start_date", "date"),
        ("end_date", "date"),
        ("capacity", "integer"),
        ("eligible_roles", "jsonb"),
    ],
    "details_at",
    "details_event",
    returning="training_id",
)
DELETE_SESSIONS = "DELETE FROM training_sessions WHERE training_id = ANY($1::uuid[])"
INSERT_SESSIONS = """
INSERT INTO training_sessions (training_id, session_id, session_date, kind, module_code)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::date[], $4::text[], $5::text[])
"""
UPSERT_SUBMISSION = part_upsert(
    "submissions",
    [("training_id", "uuid"), ("submission_id", "text")],
    [("kind", "text"), ("session_id", "text"), ("status", "text"), ("by_who", "text")],
    "since",
    "event_id",
)
SUBMISSION_STATUS: dict[type[EventPayload], str] = {
    SubmissionSubmitted: "submitted",
    SubmissionVerified: "verified",
    SubmissionReturned: "returned",
    SubmissionAccepted: "accepted",
}
UPSERT_CANCELLED = part_upsert("trainings", _TRAINING, [("cancel_reason", "text")], "cancelled_at", "cancel_event")
UPSERT_CLOSED = part_upsert(
    "trainings",
    _TRAINING,
    [("closed_completed", "integer"), ("closed_not_completed", "integer")],
    "closed_at",
    "close_event",
)

# Participants: one row per (training, facilitator) with a part per kind of event. Each part has
# its own version (occurred_at, event_id). A batch's events are merged per row in Python (newest
# version per part) and written with ONE upsert that overwrites a part only with a newer version.
PARTS: dict[str, tuple[tuple[tuple[str, str], ...], str, str]] = {
    # part: ((column, sql type), ...), version time column, version event column
    "enrolled": (
        (
            ("region", "text"),
            ("enrollment_id", "uuid"),
            ("role", "text"),
            ("province_code", "text"),
            ("kabkota_code", "text"),
        ),
        "enrolled_at",
        "enrolled_event",
    ),
    "withdrawn": ((("withdraw_reason", "text"),), "withdrawn_at", "withdrawn_event"),
    "pre": ((("pre_score", "numeric"), ("pre_max", "numeric"), ("pre_pct", "numeric")), "pre_at", "pre_event"),
    "post": ((("post_score", "numeric"), ("post_max", "numeric"), ("post_pct", "numeric")), "post_at", "post_event"),
    "ojt": ((("ojt_kelurahan", "text"), ("ojt_mentor", "text")), "ojt_assigned_at", "ojt_assigned_event"),
    "ojt_done": ((("ojt_done_kelurahan", "text"), ("ojt_rating", "integer")), "ojt_done_at", "ojt_done_event"),
    "outcome": (
        (("outcome", "text"), ("attendance_ratio", "numeric"), ("unmet", "jsonb"), ("outcome_kelurahan", "text")),
        "outcome_at",
        "outcome_event",
    ),
    "certificate": ((("certificate_code", "text"),), "certificate_at", "certificate_event"),
    "review": ((("review_status", "text"),), "review_at", "review_event"),
}
_PART_COLUMNS: list[tuple[str, str]] = [("training_id", "uuid"), ("facilitator_id", "uuid")]
for _part_columns, _part_at, _part_event in PARTS.values():
    _PART_COLUMNS += [*_part_columns, (_part_at, "timestamptz"), (_part_event, "uuid")]
_PART_INDEX = {name: i for i, (name, _) in enumerate(_PART_COLUMNS)}


def _participants_upsert() -> str:
    names = [c for c, _ in _PART_COLUMNS]
    params = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(_PART_COLUMNS, 1))
    sets = []
    for cols, at, event in PARTS.values():
        newer = (
            f"excluded.{at} IS NOT NULL AND (t.{at} IS NULL OR (excluded.{at}, excluded.{event}) > (t.{at}, t.{event}))"
        )
        for c in [*(c for c, _ in cols), at, event]:
            sets.append(f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE t.{c} END")
    return (  # built from the constants above only
        f"INSERT INTO participants AS t ({', '.join(names)})\n"  # noqa: S608
        f"SELECT * FROM unnest({params})\n"
        f"ON CONFLICT (training_id, facilitator_id) DO UPDATE SET\n    " + ",\n    ".join(sets)
    )


UPSERT_PARTICIPANTS = _participants_upsert()


# A rebuild copies the participant rows of each batch (merged as for the upsert) into an unlogged
# staging table and keeps, once at the end, each part's newest version per participant: what the
# upserts leave in any order. A part nobody wrote stays empty.
PARTICIPANTS_STAGED = "participants_staged"


def _newest_parts() -> str:
    """Per participant, each part's newest version: one ``DISTINCT ON`` per part over the staged
    rows that carry it, joined on the participant. (One ``GROUP BY`` with an ordered aggregate per
    column sorts every participant's rows once per column: three times slower.)"""
    ctes = [f"staged_keys AS (SELECT DISTINCT training_id, facilitator_id FROM {PARTICIPANTS_STAGED})"]  # noqa: S608
    joins = []
    for part, (cols, at, event) in PARTS.items():
        names = ", ".join([*(c for c, _ in cols), at, event])
        ctes.append(
            f"part_{part} AS (SELECT DISTINCT ON (training_id, facilitator_id) training_id, facilitator_id, {names}"  # noqa: S608
            f" FROM {PARTICIPANTS_STAGED} WHERE {at} IS NOT NULL"
            f" ORDER BY training_id, facilitator_id, {at} DESC, {event} DESC)"
        )
        joins.append(f"LEFT JOIN part_{part} USING (training_id, facilitator_id)")
    return (  # built from the constants above only
        "WITH "
        + ",\n".join(ctes)
        + f"\nSELECT {', '.join(c for c, _ in _PART_COLUMNS)} FROM staged_keys\n"
        + "\n".join(joins)
    )


PARTICIPANT_COLUMNS = tuple(c for c, _ in _PART_COLUMNS)
CREATE_PARTICIPANTS_STAGED = (
    f"CREATE UNLOGGED TABLE {PARTICIPANTS_STAGED} (" + ", ".join(f"{c} {t}" for c, t in _PART_COLUMNS) + ")"
)
NEWEST_PARTICIPANTS = _newest_parts()
UPSERT_ATTENDANCE = part_upsert(
    "attendance",
    [("training_id", "uuid"), ("session_id", "text"), ("facilitator_id", "uuid")],
    [("status", "text")],
    "occurred_at",
    "event_id",
)

# A rebuild copies attendance into an unlogged staging table (COPY costs a fraction of an upsert,
# and attendance is half of all events) and keeps, once at the end, the newest version of each row:
# what the upserts, last writer wins by (occurred_at, event_id), leave in any order. The table lives
# in the rebuild's shadow schema (its connections' search_path).
ATTENDANCE_STAGED = "attendance_staged"
ATTENDANCE_COLUMNS = ("training_id", "session_id", "facilitator_id", "status", "occurred_at", "event_id")
CREATE_ATTENDANCE_STAGED = (
    f"CREATE UNLOGGED TABLE {ATTENDANCE_STAGED} (training_id uuid NOT NULL, session_id text NOT NULL, "
    "facilitator_id uuid NOT NULL, status text NOT NULL, occurred_at timestamptz NOT NULL, event_id uuid NOT NULL)"
)
NEWEST_ATTENDANCE = """
SELECT DISTINCT ON (training_id, session_id, facilitator_id)
    training_id, session_id, facilitator_id, status, occurred_at, event_id
FROM attendance_staged
ORDER BY training_id, session_id, facilitator_id, occurred_at DESC, event_id DESC
"""
# -- derived tables -------------------------------------------------------------------------------
# Each figure has one definition below, used both per batch (for the sessions and trainings the
# batch touched, in ONE statement: every statement costs a round trip and, on a busy machine, a
# wait for the server, which made up most of a live batch's time) and at the end of a rebuild (for
# everything).
_SESSION_COUNTS = """
SELECT training_id, session_id, count(*)::int,
    count(*) FILTER (WHERE status = 'present')::int, count(*) FILTER (WHERE status = 'late')::int,
    count(*) FILTER (WHERE status = 'excused')::int, count(*) FILTER (WHERE status = 'absent')::int
FROM attendance {where}
GROUP BY training_id, session_id
"""
_SESSION_INSERT = "INSERT INTO session_stats (training_id, session_id, recorded, present, late, excused, absent)"
RECOMPUTE_SESSION_STATS = _SESSION_INSERT + _SESSION_COUNTS.format(where="")

_TRAINING_STATS_COLUMNS = (
    "participants",
    "enrolled",
    "withdrawn",
    "completed",
    "not_completed",
    "certified",
    "pre_n",
    "pre_mean",
    "post_n",
    "post_mean",
    "gain_n",
    "gain_mean",
    "ojt_assigned",
    "ojt_completed",
    "attendance_recorded",
    "attendance_attended",
    "reviews_open",
)
# Templates below are filled only with constants of this module (never with input). Attendance is
# counted from ``attendance`` itself (the same counts as the sum of ``session_stats``), so that the
# training's figures do not depend on the session rows written by the same statement.
_TRAINING_STATS = """
WITH p AS (
    SELECT training_id,
        count(*)::int AS participants,
        count(*) FILTER (WHERE enrollment_status = 'enrolled')::int AS enrolled,
        count(*) FILTER (WHERE enrollment_status = 'withdrawn')::int AS withdrawn,
        count(*) FILTER (WHERE outcome = 'completed')::int AS completed,
        count(*) FILTER (WHERE outcome = 'not_completed')::int AS not_completed,
        count(certificate_code)::int AS certified,
        count(pre_pct)::int AS pre_n, round(avg(pre_pct), 2) AS pre_mean,
        count(post_pct)::int AS post_n, round(avg(post_pct), 2) AS post_mean,
        count(post_pct - pre_pct)::int AS gain_n, round(avg(post_pct - pre_pct), 2) AS gain_mean,
        count(ojt_assigned_at)::int AS ojt_assigned, count(ojt_done_at)::int AS ojt_completed,
        count(*) FILTER (WHERE review_status = 'open')::int AS reviews_open
    FROM participants {where} GROUP BY training_id
), s AS (
    SELECT training_id, count(*)::int AS recorded,
        count(*) FILTER (WHERE status IN ('present', 'late'))::int AS attended
    FROM attendance {where} GROUP BY training_id
)
INSERT INTO training_stats (training_id, {columns})
SELECT coalesce(p.training_id, s.training_id),
    coalesce(p.participants, 0), coalesce(p.enrolled, 0), coalesce(p.withdrawn, 0), coalesce(p.completed, 0),
    coalesce(p.not_completed, 0), coalesce(p.certified, 0), coalesce(p.pre_n, 0), p.pre_mean,
    coalesce(p.post_n, 0), p.post_mean, coalesce(p.gain_n, 0), p.gain_mean,
    coalesce(p.ojt_assigned, 0), coalesce(p.ojt_completed, 0), coalesce(s.recorded, 0), coalesce(s.attended, 0),
    coalesce(p.reviews_open, 0)
FROM p FULL JOIN s ON s.training_id = p.training_id
""".replace("{columns}", ", ".join(_TRAINING_STATS_COLUMNS))
RECOMPUTE_TRAINING_STATS = _TRAINING_STATS.format(where="")

_AREA_COLUMNS = ("enrolled", "withdrawn", "completed", "not_completed", "certified", "ojt_completed")
_AREA_COUNTS = """
SELECT training_id, coalesce(province_code, '') AS province_code, coalesce(kabkota_code, '') AS kabkota_code,
    coalesce(role, '') AS role,
    count(*) FILTER (WHERE enrollment_status = 'enrolled')::int AS enrolled,
    count(*) FILTER (WHERE enrollment_status = 'withdrawn')::int AS withdrawn,
    count(*) FILTER (WHERE outcome = 'completed')::int AS completed,
    count(*) FILTER (WHERE outcome = 'not_completed')::int AS not_completed,
    count(certificate_code)::int AS certified,
    count(ojt_done_at)::int AS ojt_completed
FROM participants {where}
GROUP BY 1, 2, 3, 4
"""
_AREA_INSERT = (
    "INSERT INTO training_area_stats (training_id, province_code, kabkota_code, role, "
    + ", ".join(_AREA_COLUMNS)
    + ")\n"
)
RECOMPUTE_AREA_STATS = _AREA_INSERT + _AREA_COUNTS.format(where="")

# A batch's derived rows in one statement. Sub-statements of a WITH see the same snapshot (the
# base tables as this transaction's earlier statements left them) and write different tables,
# except the area rows: the upsert writes the groups that exist now, the final DELETE removes the
# touched trainings' groups that no longer exist (e.g. after a participant's area changed), two
# disjoint sets of rows. $1: the touched trainings; $2, $3: the touched sessions; $4-$7: the
# batch's freshness (:func:`freshness_upsert`), so that a batch ends with this one statement.
DERIVE_TOUCHED = (  # built from the constants above only
    "WITH sessions AS (\n"  # noqa: S608
    + _SESSION_INSERT
    + _SESSION_COUNTS.format(
        where="JOIN unnest($2::uuid[], $3::text[]) AS k(training_id, session_id) USING (training_id, session_id)"
    )
    + """ON CONFLICT (training_id, session_id) DO UPDATE SET recorded = excluded.recorded, present = excluded.present,
    late = excluded.late, excused = excluded.excused, absent = excluded.absent
    RETURNING 1
), stats AS (
"""
    + _TRAINING_STATS.format(where="WHERE training_id = ANY($1::uuid[])")
    + "ON CONFLICT (training_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _TRAINING_STATS_COLUMNS)
    + """
    RETURNING 1
), area AS (
"""
    + _AREA_COUNTS.format(where="WHERE training_id = ANY($1::uuid[])")
    + "), area_rows AS (\n"
    + _AREA_INSERT
    + "SELECT * FROM area ON CONFLICT (training_id, province_code, kabkota_code, role) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _AREA_COLUMNS)
    + """
    RETURNING 1
), freshness AS (
"""
    + freshness_upsert(4)
    + """RETURNING 1
)
DELETE FROM training_area_stats t WHERE t.training_id = ANY($1::uuid[]) AND NOT EXISTS (
    SELECT 1 FROM area a
    WHERE (a.training_id, a.province_code, a.kabkota_code, a.role)
        = (t.training_id, t.province_code, t.kabkota_code, t.role)
)"""
)
CLEAR_DERIVED = ("DELETE FROM session_stats", "DELETE FROM training_stats", "DELETE FROM training_area_stats")

PARTICIPATION_TYPES = (
    FacilitatorEnrolled,
    EnrollmentWithdrawn,
    AssessmentScored,
    OJTAssigned,
    OJTCompleted,
    TrainingCompleted,
    TrainingNotCompleted,
    CertificateIssued,
    CertificateRevoked,
    TrainingOutcomeCorrected,
    OutcomeReviewChanged,
    AttendanceRecorded,
)
PARTICIPATION_SET = frozenset(PARTICIPATION_TYPES)
HANDLES = frozenset(
    t.event_type
    for t in (
        TrainingScheduled,
        TrainingUpdated,
        TrainingCancelled,
        TrainingClosed,
        *PARTICIPATION_TYPES,
    )
) | frozenset(t.event_type for t in SUBMISSION_STATUS)


def _pct(score: float, max_score: float) -> Decimal:
    return (Decimal(str(score)) / Decimal(str(max_score)) * 100).quantize(Decimal("0.0001"))


def _tid(e: Event[Any]) -> Any:
    return e.payload.training_id


async def _apply_trainings(conn: Conn, g: ByType) -> None:
    await upsert_part(
        conn,
        UPSERT_SCHEDULED,
        g.of(TrainingScheduled),
        _tid,
        lambda e: e.payload.training_type.value,
        lambda e: e.payload.organiser,
    )
    for batch in rounds(g.of(TrainingScheduled, TrainingUpdated), _tid):
        written = {
            r["training_id"]
            for r in await conn.fetch(
                UPSERT_DETAILS,
                *columns_of(
                    batch,
                    _tid,
                    region,
                    lambda e: e.payload.title,
                    lambda e: e.payload.venue,
                    lambda e: e.payload.start_date,
                    lambda e: e.payload.end_date,
                    lambda e: e.payload.capacity,
                    lambda e: json.dumps([r.value for r in e.payload.eligible_roles]),
                    occurred_at,
                    event_id,
                ),
            )
        }
        if written:
            winners = [e for e in batch if e.payload.training_id in written]
            sessions = [(e.payload.training_id, s) for e in winners for s in e.payload.sessions]
            await conn.execute(DELETE_SESSIONS, sorted(written))
            if sessions:
                await conn.execute(
                    INSERT_SESSIONS,
                    [t for t, _ in sessions],
                    [s.session_id for _, s in sessions],
                    [s.date for _, s in sessions],
                    [s.kind.value for _, s in sessions],
                    [s.module_code for _, s in sessions],
                )
    await upsert_part(conn, UPSERT_CANCELLED, g.of(TrainingCancelled), _tid, lambda e: e.payload.reason)
    for batch in rounds(g.of(*SUBMISSION_STATUS), lambda e: (_tid(e), e.payload.submission_id)):
        await conn.execute(
            UPSERT_SUBMISSION,
            *columns_of(
                batch,
                _tid,
                lambda e: e.payload.submission_id,
                lambda e: e.payload.kind.value,
                lambda e: e.payload.session_id,
                lambda e: SUBMISSION_STATUS[type(e.payload)],
                lambda e: e.payload.by,
                occurred_at,
                event_id,
            ),
        )
    await upsert_part(
        conn,
        UPSERT_CLOSED,
        g.of(TrainingClosed),
        _tid,
        lambda e: e.payload.completed,
        lambda e: e.payload.not_completed,
    )


def _enrolled(e: Event[Any]) -> tuple[str, tuple[Any, ...]]:
    p = e.payload
    return "enrolled", (e.envelope.region, p.enrollment_id, p.role.value, p.province_code, p.kabkota_code)


def _scored(e: Event[Any]) -> tuple[str, tuple[Any, ...]]:
    p = e.payload
    values = (Decimal(str(p.score)), Decimal(str(p.max_score)), _pct(p.score, p.max_score))
    return ("pre" if p.kind is AssessmentKind.PRE else "post"), values


def _not_completed(e: Event[Any]) -> tuple[str, tuple[Any, ...]]:
    p = e.payload
    return "outcome", ("not_completed", Decimal(str(p.attendance_ratio)), json.dumps(list(p.unmet)), None)


def _completed(e: Event[Any]) -> tuple[str, tuple[Any, ...]]:
    p = e.payload
    return "outcome", ("completed", Decimal(str(p.attendance_ratio)), "[]", p.ojt_kelurahan_code)


def _corrected(e: Event[Any]) -> tuple[str, tuple[Any, ...]]:
    p = e.payload
    return "outcome", (p.outcome, Decimal(str(p.attendance_ratio)), json.dumps(list(p.unmet)), None)


# Which part of the participant's row an event writes, and the values of that part.
PART_OF: dict[type, Callable[[Event[Any]], tuple[str, tuple[Any, ...]]]] = {
    FacilitatorEnrolled: _enrolled,
    EnrollmentWithdrawn: lambda e: ("withdrawn", (e.payload.reason,)),
    AssessmentScored: _scored,
    OJTAssigned: lambda e: ("ojt", (e.payload.kelurahan_code, e.payload.mentor)),
    OJTCompleted: lambda e: ("ojt_done", (e.payload.kelurahan_code, e.payload.rating)),
    TrainingCompleted: _completed,
    TrainingNotCompleted: _not_completed,
    CertificateIssued: lambda e: ("certificate", (e.payload.certificate_code,)),
    # a revocation empties the part; a newer CertificateIssued (a re-decision) fills it again
    CertificateRevoked: lambda e: ("certificate", (None,)),
    TrainingOutcomeCorrected: _corrected,
    OutcomeReviewChanged: lambda e: ("review", (e.payload.status.value,)),
}


def merge_participants(events: Sequence[Event[Any]]) -> list[list[Any]]:
    """One row per (training, facilitator), each part holding its newest event of the batch."""
    rows: dict[tuple[Any, Any], list[Any]] = {}
    width = len(_PART_COLUMNS)
    for e in events:
        part_of = PART_OF.get(type(e.payload))
        if part_of is None:
            continue
        part, values = part_of(e)
        cols, at, event = PARTS[part]
        key = (e.payload.training_id, e.payload.facilitator_id)
        row = rows.get(key)
        if row is None:
            row = rows[key] = [key[0], key[1], *([None] * (width - 2))]
        i_at, i_event = _PART_INDEX[at], _PART_INDEX[event]
        version = (e.envelope.occurred_at, e.envelope.event_id)
        if row[i_at] is None or version > (row[i_at], row[i_event]):
            first = _PART_INDEX[cols[0][0]]
            row[first : first + len(values)] = values
            row[i_at], row[i_event] = version
    return list(rows.values())


async def _apply_participation(conn: Conn, g: ByType, *, staged: bool = False) -> None:
    rows = merge_participants(g.of(*PART_OF))
    if staged:  # a rebuild: COPY now, keep the newest version at the end (derive_all)
        await conn.copy_records_to_table(
            PARTICIPANTS_STAGED, records=[tuple(row) for row in rows], columns=PARTICIPANT_COLUMNS
        )
        await conn.copy_records_to_table(
            ATTENDANCE_STAGED,
            records=[
                (
                    _tid(e),
                    e.payload.session_id,
                    e.payload.facilitator_id,
                    e.payload.status.value,
                    occurred_at(e),
                    event_id(e),
                )
                for e in g.of(AttendanceRecorded)
            ],
            columns=ATTENDANCE_COLUMNS,
        )
        return
    if rows:
        await conn.execute(UPSERT_PARTICIPANTS, *(list(col) for col in zip(*rows, strict=True)))
    for batch in rounds(g.of(AttendanceRecorded), lambda e: (_tid(e), e.payload.session_id, e.payload.facilitator_id)):
        await conn.execute(
            UPSERT_ATTENDANCE,
            *columns_of(
                batch,
                _tid,
                lambda e: e.payload.session_id,
                lambda e: e.payload.facilitator_id,
                lambda e: e.payload.status.value,
                occurred_at,
                event_id,
            ),
        )


def locks(events: Sequence[Event[Any]]) -> tuple[int, list[str]]:
    """The trainings whose derived figures a batch recomputes (``Consumer.locks``): two writers
    of one training (replicas reading different topics of it) take turns, so neither recomputes
    from a state without the other's rows."""
    return lock_keys(LOCK_TRAINING, {_tid(e) for e in events if type(e.payload) in PARTICIPATION_SET})


async def apply(conn: Conn, events: Sequence[Event[Any]], *, derive: bool = True) -> None:
    """Apply new events, under the batch's :func:`locks`. ``derive=False`` (bulk rebuild) writes
    the base tables only: the derived tables and the freshness are computed once at the end
    (:func:`derive_all`, the rebuild)."""
    g = ByType(events)
    touched = sorted({e.payload.training_id for e in g.of(*PARTICIPATION_TYPES)})
    await _apply_trainings(conn, g)
    await _apply_participation(conn, g, staged=not derive)
    if not derive:
        return
    if touched:
        sessions = sorted({(_tid(e), e.payload.session_id) for e in g.of(AttendanceRecorded)})
        await conn.execute(
            DERIVE_TOUCHED,
            touched,
            [t for t, _ in sessions],
            [s for _, s in sessions],
            *freshness_args(NAME, events),
        )
    else:
        await touch_freshness(conn, NAME, events)


@dataclass(frozen=True)
class Staged:
    """A rebuild's staging table: its CREATE, the base table it is merged into, that table's
    columns, and the newest row per key (a SELECT of those columns)."""

    table: str
    create: str
    target: str
    columns: tuple[str, ...]
    newest: str

    async def merge_into_base(self, conn: Conn) -> None:
        """The newest rows into the base table, then the staging table dropped. A rebuild's bulk
        replay writes this base table through the staging table only, so it is still empty here:
        a plain insert, its indexes built afterwards by one sort each."""
        async with indexes_dropped(conn, self.target):
            await conn.execute(f"INSERT INTO {self.target} ({', '.join(self.columns)})\n{self.newest}")
        await conn.execute(f"DROP TABLE {self.table}")


STAGED = (
    Staged(PARTICIPANTS_STAGED, CREATE_PARTICIPANTS_STAGED, "participants", PARTICIPANT_COLUMNS, NEWEST_PARTICIPANTS),
    Staged(ATTENDANCE_STAGED, CREATE_ATTENDANCE_STAGED, "attendance", ATTENDANCE_COLUMNS, NEWEST_ATTENDANCE),
)


async def bulk_begin(conn: Conn) -> None:
    """Before a rebuild's bulk replay: the staging tables its participants and attendance are
    copied into."""
    for staged in STAGED:
        await conn.execute(staged.create)


async def derive_all(conn: Conn) -> None:
    """The staged participants and attendance merged (newest version of each), then every derived
    table recomputed from the base tables (end of a bulk rebuild)."""
    for staged in STAGED:
        await staged.merge_into_base(conn)
    for sql in CLEAR_DERIVED:
        await conn.execute(sql)
    await conn.execute(RECOMPUTE_SESSION_STATS)
    await conn.execute(RECOMPUTE_TRAINING_STATS)
    await conn.execute(RECOMPUTE_AREA_STATS)
