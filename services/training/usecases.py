"""Use cases of the training service. Each command runs inside a unit of work given by its caller
(an HTTP request or an intake message), so its state change and its events commit together.

``authorize`` is the caller's check that it may act on a region: an HTTP credential's regions, or
the region of the intake topic the message arrived on. Every command on a training locks its row
first, which serialises commands per training (exactly-once decisions, events in order).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import asyncpg

from services.training import domain
from services.training.domain import Fact, FactKind, Outcome
from services.training.schemas import (
    Assessments,
    AttendanceSheet,
    ClassAssignments,
    FactIn,
    OJTAssignments,
    OJTCompletionIn,
    ScheduleDetails,
    ScheduleTraining,
)
from shared.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    CertificateIssued,
    CompletionRule,
    Module,
    OJTAssigned,
    OJTCompleted,
    Role,
    Session,
    TrainingCancelled,
    TrainingClass,
    TrainingClosed,
    TrainingCompleted,
    TrainingNotCompleted,
    TrainingScheduled,
    TrainingType,
    TrainingUpdated,
)
from shared.db import Conn
from shared.envelope import EventPayload, new_event
from shared.http import ApiError
from shared.outbox import UnitOfWork
from shared.service import Runtime

Authorize = Callable[[str], None]

OJT_DATA = (domain.OJTAssignment, domain.OJTCompletion)
FACT_NAMESPACE = uuid.UUID("0b6f3c1e-7a0d-4f57-9d2e-3c5a8e41b9d7")
# The latest calendar day anywhere in Indonesia (WIT, UTC+9): a training is over on its last day there.
LATEST_INDONESIAN_TZ = timezone(timedelta(hours=9))

TRAINING_COLUMNS = """
training_id, region, training_type, title, organiser, venue, start_date, end_date, capacity,
eligible_roles, modules, classes, sessions, completion_rule, status, status_reason, version,
created_at, updated_at, closed_at
"""
SELECT_TRAINING = "SELECT" + TRAINING_COLUMNS + "FROM trainings WHERE training_id = $1"
LOCK_TRAINING = SELECT_TRAINING + " FOR UPDATE"
INSERT_TRAINING = """
INSERT INTO trainings (training_id, region, training_type, title, organiser, venue, start_date, end_date,
                       capacity, eligible_roles, modules, classes, sessions, completion_rule)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb)
ON CONFLICT (training_id) DO NOTHING
RETURNING training_id
"""
UPDATE_TRAINING = """
UPDATE trainings
SET title = $2, organiser = $3, venue = $4, start_date = $5, end_date = $6, capacity = $7, eligible_roles = $8,
    modules = $9::jsonb, classes = $10::jsonb, sessions = $11::jsonb, completion_rule = $12::jsonb,
    version = version + 1, updated_at = now()
WHERE training_id = $1
"""
SET_STATUS = """
UPDATE trainings
SET status = $2, status_reason = $3, version = version + 1, updated_at = now(),
    closed_at = CASE WHEN $2 = 'closed' THEN now() END
WHERE training_id = $1
"""
COUNT_ENROLLED = "SELECT count(*) FROM roster WHERE training_id = $1 AND status = 'enrolled'"
MEMBER_CLASSES = "SELECT DISTINCT class_id FROM class_members WHERE training_id = $1"
COUNT_DECISIONS = "SELECT count(*) FROM decisions WHERE training_id = $1"
ENROLLED_AMONG = """
SELECT facilitator_id FROM roster
WHERE training_id = $1 AND status = 'enrolled' AND facilitator_id = ANY($2::uuid[])
"""
CLASS_MEMBERS = """
SELECT m.facilitator_id FROM class_members m
JOIN roster r ON r.training_id = m.training_id AND r.facilitator_id = m.facilitator_id AND r.status = 'enrolled'
WHERE m.training_id = $1 AND m.class_id = $2
ORDER BY m.facilitator_id
"""
UPSERT_CLASS_MEMBERS = """
INSERT INTO class_members (training_id, facilitator_id, class_id)
SELECT $1, f, c FROM unnest($2::uuid[], $3::text[]) AS a(f, c)
ON CONFLICT (training_id, facilitator_id) DO UPDATE SET class_id = excluded.class_id
"""
KNOWN_KELURAHAN_AMONG = "SELECT code FROM known_kelurahan WHERE code = ANY($1::text[])"
INSERT_FACTS = """
INSERT INTO participation_facts (training_id, fact_id, kind, facilitator_id, subject, occurred_at, data, channel)
SELECT $1, f.fact_id, f.kind, f.facilitator_id, f.subject, f.occurred_at, f.data, $8
FROM unnest($2::text[], $3::text[], $4::uuid[], $5::text[], $6::timestamptz[], $7::jsonb[])
    AS f(fact_id, kind, facilitator_id, subject, occurred_at, data)
ON CONFLICT (training_id, fact_id) DO NOTHING
RETURNING fact_id
"""
FACTS_BY_ID = """
SELECT fact_id, kind, facilitator_id, subject, occurred_at, data FROM participation_facts
WHERE training_id = $1 AND fact_id = ANY($2::text[])
"""
FACTS_OF_PARTICIPANTS = """
SELECT fact_id, kind, facilitator_id, subject, occurred_at, data FROM participation_facts
WHERE training_id = $1 AND facilitator_id = ANY($2::uuid[])
"""
FACTS_OF_TRAINING = """
SELECT fact_id, kind, facilitator_id, subject, occurred_at, data, channel, recorded_at FROM participation_facts
WHERE training_id = $1
"""
FACTS_OF_PARTICIPANT = """
SELECT fact_id, kind, facilitator_id, subject, occurred_at, data, channel, recorded_at FROM participation_facts
WHERE training_id = $1 AND facilitator_id = $2
ORDER BY occurred_at, fact_id
"""
UNDECIDED = """
SELECT r.facilitator_id, r.status FROM roster r
LEFT JOIN decisions d ON d.training_id = r.training_id AND d.facilitator_id = r.facilitator_id
WHERE r.training_id = $1 AND d.facilitator_id IS NULL AND ($2::uuid[] IS NULL OR r.facilitator_id = ANY($2::uuid[]))
ORDER BY r.facilitator_id
"""
INSERT_DECISION = """
INSERT INTO decisions (training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (training_id, facilitator_id) DO NOTHING
RETURNING decided_at
"""
INSERT_CERTIFICATE = """
INSERT INTO certificates (code, training_id, facilitator_id) VALUES ($1, $2, $3)
ON CONFLICT (code) DO NOTHING
RETURNING code
"""
DECISION_COUNTS = """
SELECT count(*) FILTER (WHERE outcome = 'completed') AS completed,
       count(*) FILTER (WHERE outcome = 'not_completed') AS not_completed
FROM decisions WHERE training_id = $1
"""
TRAINING_COUNTS = """
SELECT
    (SELECT count(*) FROM roster WHERE training_id = $1 AND status = 'enrolled') AS enrolled,
    (SELECT count(*) FROM roster WHERE training_id = $1 AND status = 'withdrawn') AS withdrawn,
    (SELECT count(*) FROM decisions WHERE training_id = $1 AND outcome = 'completed') AS completed,
    (SELECT count(*) FROM decisions WHERE training_id = $1 AND outcome = 'not_completed') AS not_completed,
    (SELECT count(*) FROM certificates WHERE training_id = $1) AS certificates
"""
PARTICIPANTS = """
SELECT r.facilitator_id, r.status, r.role, r.province_code, r.kabkota_code, m.class_id,
       d.outcome, d.unmet, d.decided_by, d.decided_at, c.code AS certificate_code
FROM roster r
LEFT JOIN class_members m ON m.training_id = r.training_id AND m.facilitator_id = r.facilitator_id
LEFT JOIN decisions d ON d.training_id = r.training_id AND d.facilitator_id = r.facilitator_id
LEFT JOIN certificates c ON c.training_id = r.training_id AND c.facilitator_id = r.facilitator_id
WHERE r.training_id = $1
ORDER BY m.class_id NULLS LAST, r.facilitator_id
"""
CERTIFICATE = """
SELECT c.code, c.facilitator_id, c.issued_at, t.training_id, t.title, t.training_type, t.organiser, t.venue,
       t.start_date, t.end_date, t.region
FROM certificates c JOIN trainings t ON t.training_id = c.training_id
WHERE c.code = $1
"""
KNOWN_KELURAHAN = """
SELECT code, name, parent_code, region, effective_from FROM known_kelurahan
WHERE code LIKE $1 || '%'
ORDER BY code
LIMIT 1000
"""


# -- trainings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Training:
    training_id: uuid.UUID
    region: str
    training_type: TrainingType
    title: str
    organiser: str
    venue: str
    start_date: date
    end_date: date
    capacity: int
    eligible_roles: list[Role]
    modules: list[Module]
    classes: list[TrainingClass]
    sessions: list[Session]
    completion_rule: CompletionRule
    status: str
    status_reason: str
    version: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> Training:
        return cls(
            training_id=row["training_id"],
            region=row["region"],
            training_type=TrainingType(row["training_type"]),
            title=row["title"],
            organiser=row["organiser"],
            venue=row["venue"],
            start_date=row["start_date"],
            end_date=row["end_date"],
            capacity=row["capacity"],
            eligible_roles=[Role(r) for r in row["eligible_roles"]],
            modules=[Module.model_validate(m) for m in json.loads(row["modules"])],
            classes=[TrainingClass.model_validate(c) for c in json.loads(row["classes"])],
            sessions=[Session.model_validate(s) for s in json.loads(row["sessions"])],
            completion_rule=CompletionRule.model_validate(json.loads(row["completion_rule"])),
            status=row["status"],
            status_reason=row["status_reason"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            closed_at=row["closed_at"],
        )

    @property
    def last_day(self) -> date:
        return max((s.date for s in self.sessions), default=self.end_date)


def _json_list(items: Iterable[Any]) -> str:
    return json.dumps([i.model_dump(mode="json") for i in items])


def check_region_served(runtime: Runtime, region: str) -> None:
    if region not in runtime.settings.regions:
        raise ApiError(422, "region_not_served", f"this deployment serves {runtime.settings.regions}, not {region}")


def _check_schedule(details: ScheduleDetails) -> None:
    problems = domain.schedule_problems(
        details.start_date, details.end_date, details.modules, details.classes, details.sessions
    )
    if problems:
        raise ApiError(422, "invalid_schedule", "; ".join(problems)[:1000], {"problems": problems})


def _ensure_open(training: Training) -> None:
    if training.status == "cancelled":
        raise ApiError(409, "training_cancelled", "the training was cancelled")
    if training.status == "closed":
        raise ApiError(409, "training_closed", "the training is closed; its completions are decided")


async def _locked(runtime: Runtime, uow: UnitOfWork, training_id: uuid.UUID, authorize: Authorize) -> Training:
    row = await uow.conn.fetchrow(LOCK_TRAINING, training_id)
    if row is None:
        raise ApiError(404, "training_not_found", f"no training {training_id}")
    training = Training.of(row)
    authorize(training.region)
    check_region_served(runtime, training.region)
    return training


async def _reload(conn: Conn, training_id: uuid.UUID) -> Training:
    row = await conn.fetchrow(SELECT_TRAINING, training_id)
    assert row is not None
    return Training.of(row)


def _emit(runtime: Runtime, uow: UnitOfWork, training: Training, payload: EventPayload, **kw: Any) -> None:
    uow.emit(new_event(payload, region=training.region, source=runtime.source, **kw))


async def schedule_training(runtime: Runtime, uow: UnitOfWork, cmd: ScheduleTraining, authorize: Authorize) -> Training:
    authorize(cmd.region)
    check_region_served(runtime, cmd.region)
    _check_schedule(cmd)
    training_id = cmd.training_id or uuid.uuid4()
    inserted = await uow.conn.fetchval(
        INSERT_TRAINING,
        training_id,
        cmd.region,
        cmd.training_type.value,
        cmd.title,
        cmd.organiser,
        cmd.venue,
        cmd.start_date,
        cmd.end_date,
        cmd.capacity,
        [r.value for r in cmd.eligible_roles],
        _json_list(cmd.modules),
        _json_list(cmd.classes),
        _json_list(cmd.sessions),
        cmd.completion_rule.model_dump_json(),
    )
    if inserted is None:
        raise ApiError(409, "training_exists", "a training with this id exists", {"training_id": str(training_id)})
    training = await _reload(uow.conn, training_id)
    _emit(
        runtime,
        uow,
        training,
        TrainingScheduled(
            training_id=training_id,
            training_type=cmd.training_type,
            title=cmd.title,
            organiser=cmd.organiser,
            venue=cmd.venue,
            start_date=cmd.start_date,
            end_date=cmd.end_date,
            capacity=cmd.capacity,
            eligible_roles=cmd.eligible_roles,
            modules=cmd.modules,
            classes=cmd.classes,
            sessions=cmd.sessions,
            completion_rule=cmd.completion_rule,
        ),
    )
    return training


async def update_training(
    runtime: Runtime, uow: UnitOfWork, training_id: uuid.UUID, cmd: ScheduleDetails, authorize: Authorize
) -> Training:
    training = await _locked(runtime, uow, training_id, authorize)
    _ensure_open(training)
    _check_schedule(cmd)
    enrolled = await uow.conn.fetchval(COUNT_ENROLLED, training_id)
    if cmd.capacity < enrolled:
        raise ApiError(
            409, "capacity_below_enrolled", f"{enrolled} participants are enrolled; capacity {cmd.capacity} is less"
        )
    in_use = {r["class_id"] for r in await uow.conn.fetch(MEMBER_CLASSES, training_id)}
    dropped = sorted(in_use - {c.class_id for c in cmd.classes})
    if dropped:
        raise ApiError(422, "class_in_use", f"classes with participants cannot be removed: {', '.join(dropped)}")
    await uow.conn.execute(
        UPDATE_TRAINING,
        training_id,
        cmd.title,
        cmd.organiser,
        cmd.venue,
        cmd.start_date,
        cmd.end_date,
        cmd.capacity,
        [r.value for r in cmd.eligible_roles],
        _json_list(cmd.modules),
        _json_list(cmd.classes),
        _json_list(cmd.sessions),
        cmd.completion_rule.model_dump_json(),
    )
    updated = await _reload(uow.conn, training_id)
    _emit(
        runtime,
        uow,
        updated,
        TrainingUpdated(
            training_id=training_id,
            title=cmd.title,
            venue=cmd.venue,
            start_date=cmd.start_date,
            end_date=cmd.end_date,
            capacity=cmd.capacity,
            eligible_roles=cmd.eligible_roles,
            sessions=cmd.sessions,
            organiser=cmd.organiser,
            modules=cmd.modules,
            classes=cmd.classes,
            completion_rule=cmd.completion_rule,
        ),
    )
    # A new rule or new sessions may let participants complete now.
    await _decide(runtime, uow, updated, None, closing=False)
    return updated


async def cancel_training(
    runtime: Runtime, uow: UnitOfWork, training_id: uuid.UUID, reason: str, authorize: Authorize
) -> Training:
    training = await _locked(runtime, uow, training_id, authorize)
    _ensure_open(training)
    if await uow.conn.fetchval(COUNT_DECISIONS, training_id):
        raise ApiError(409, "training_has_decisions", "participants already completed; close the training instead")
    await uow.conn.execute(SET_STATUS, training_id, "cancelled", reason)
    _emit(runtime, uow, training, TrainingCancelled(training_id=training_id, reason=reason))
    return await _reload(uow.conn, training_id)


async def close_training(
    runtime: Runtime, uow: UnitOfWork, training_id: uuid.UUID, authorize: Authorize, now: datetime | None = None
) -> Training:
    """Decide every participant not decided yet, then close. Decisions are final (see README)."""
    training = await _locked(runtime, uow, training_id, authorize)
    _ensure_open(training)
    today = (now or datetime.now(UTC)).astimezone(LATEST_INDONESIAN_TZ).date()
    if training.last_day > today:
        raise ApiError(
            409, "training_not_over", f"the last session is on {training.last_day.isoformat()}; close it after that"
        )
    await _decide(runtime, uow, training, None, closing=True)
    counts = await uow.conn.fetchrow(DECISION_COUNTS, training_id)
    assert counts is not None
    await uow.conn.execute(SET_STATUS, training_id, "closed", "")
    _emit(
        runtime,
        uow,
        training,
        TrainingClosed(training_id=training_id, completed=counts["completed"], not_completed=counts["not_completed"]),
    )
    return await _reload(uow.conn, training_id)


async def assign_classes(
    runtime: Runtime, uow: UnitOfWork, training_id: uuid.UUID, cmd: ClassAssignments, authorize: Authorize
) -> int:
    training = await _locked(runtime, uow, training_id, authorize)
    _ensure_open(training)
    known = {c.class_id for c in training.classes}
    unknown = sorted({a.class_id for a in cmd.assignments} - known)
    if unknown:
        raise ApiError(422, "unknown_class", f"the training has no class {', '.join(unknown)}", {"classes": unknown})
    await _ensure_enrolled(uow.conn, training_id, [a.facilitator_id for a in cmd.assignments])
    await uow.conn.execute(
        UPSERT_CLASS_MEMBERS,
        training_id,
        [a.facilitator_id for a in cmd.assignments],
        [a.class_id for a in cmd.assignments],
    )
    return len(cmd.assignments)


async def _ensure_enrolled(conn: Conn, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> None:
    enrolled = {r["facilitator_id"] for r in await conn.fetch(ENROLLED_AMONG, training_id, list(facilitator_ids))}
    missing = sorted({str(f) for f in facilitator_ids if f not in enrolled})
    if missing:
        raise ApiError(
            422,
            domain.NOT_ENROLLED,
            f"{len(missing)} facilitator(s) are not enrolled in this training",
            {"facilitator_ids": missing[:100]},
        )


# -- participation facts -----------------------------------------------------------------------


@dataclass(frozen=True)
class FactResult:
    fact_id: str
    facilitator_id: uuid.UUID
    outcome: str  # recorded | duplicate | refused
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class FactsOutcome:
    results: list[FactResult]

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)


class FactIds:
    """Fact ids for commands that do not carry them: random, or derived from a seed (an intake
    message, a sheet id) so that the same command sent again makes the same ids (duplicates)."""

    def __init__(self, seed: uuid.UUID | None = None) -> None:
        self.seed = seed

    def make(self, kind: FactKind, subject: str, facilitator_id: uuid.UUID) -> str:
        if self.seed is None:
            return str(uuid.uuid4())
        return str(uuid.uuid5(self.seed, f"{kind.value}/{subject}/{facilitator_id}"))


def sheet_seed(training_id: uuid.UUID, sheet_id: str) -> uuid.UUID:
    return uuid.uuid5(FACT_NAMESPACE, f"{training_id}/sheet/{sheet_id}")


async def _open_for_facts(runtime: Runtime, uow: UnitOfWork, training_id: uuid.UUID, authorize: Authorize) -> Training:
    training = await _locked(runtime, uow, training_id, authorize)
    if training.status == "cancelled":
        raise ApiError(409, "training_cancelled", "the training was cancelled")
    return training


async def record_attendance(
    runtime: Runtime,
    uow: UnitOfWork,
    training_id: uuid.UUID,
    sheet: AttendanceSheet,
    authorize: Authorize,
    *,
    channel: str,
    occurred_at: datetime,
    ids: FactIds,
) -> FactsOutcome:
    training = await _open_for_facts(runtime, uow, training_id, authorize)
    at = sheet.occurred_at or occurred_at
    if sheet.sheet_id is not None:
        ids = FactIds(sheet_seed(training_id, sheet.sheet_id))
    facts = [
        Fact(
            r.fact_id or ids.make(FactKind.ATTENDANCE, sheet.session_id, r.facilitator_id),
            r.facilitator_id,
            at,
            domain.Attendance(sheet.session_id, r.status, r.note),
        )
        for r in sheet.records
    ]
    if sheet.class_id is not None:
        if sheet.class_id not in {c.class_id for c in training.classes}:
            raise ApiError(422, "unknown_class", f"the training has no class {sheet.class_id}")
        members = [r["facilitator_id"] for r in await uow.conn.fetch(CLASS_MEMBERS, training_id, sheet.class_id)]
        listed = {r.facilitator_id for r in sheet.records}
        outside = sorted(str(f) for f in listed - set(members))
        if outside:
            raise ApiError(
                422,
                "not_in_class",
                f"{len(outside)} participant(s) on the sheet are not in class {sheet.class_id}",
                {"facilitator_ids": outside[:100]},
            )
        if sheet.default_status is not None:
            facts += [
                Fact(
                    ids.make(FactKind.ATTENDANCE, sheet.session_id, fid),
                    fid,
                    at,
                    domain.Attendance(sheet.session_id, sheet.default_status),
                )
                for fid in members
                if fid not in listed
            ]
    return await _record(runtime, uow, training, facts, channel=channel, strict=True)


async def record_assessments(
    runtime: Runtime,
    uow: UnitOfWork,
    training_id: uuid.UUID,
    cmd: Assessments,
    authorize: Authorize,
    *,
    channel: str,
    occurred_at: datetime,
    ids: FactIds,
) -> FactsOutcome:
    training = await _open_for_facts(runtime, uow, training_id, authorize)
    at = cmd.occurred_at or occurred_at
    facts = [
        Fact(
            s.fact_id or ids.make(FactKind.ASSESSMENT, cmd.kind.value, s.facilitator_id),
            s.facilitator_id,
            at,
            domain.Assessment(cmd.kind, s.score, cmd.max_score),
        )
        for s in cmd.scores
    ]
    return await _record(runtime, uow, training, facts, channel=channel, strict=True)


async def assign_ojt(
    runtime: Runtime,
    uow: UnitOfWork,
    training_id: uuid.UUID,
    cmd: OJTAssignments,
    authorize: Authorize,
    *,
    channel: str,
    occurred_at: datetime,
    ids: FactIds,
) -> FactsOutcome:
    training = await _open_for_facts(runtime, uow, training_id, authorize)
    who = list(cmd.facilitator_ids)
    if cmd.class_id is not None:
        if cmd.class_id not in {c.class_id for c in training.classes}:
            raise ApiError(422, "unknown_class", f"the training has no class {cmd.class_id}")
        who = [r["facilitator_id"] for r in await uow.conn.fetch(CLASS_MEMBERS, training_id, cmd.class_id)]
        if not who:
            raise ApiError(422, "empty_class", f"class {cmd.class_id} has no participants")
    at = cmd.occurred_at or occurred_at
    data = domain.OJTAssignment(cmd.kelurahan_code, cmd.mentor, cmd.task)
    facts = [Fact(ids.make(FactKind.OJT_ASSIGNMENT, "", fid), fid, at, data) for fid in dict.fromkeys(who)]
    return await _record(runtime, uow, training, facts, channel=channel, strict=True)


async def complete_ojt(
    runtime: Runtime,
    uow: UnitOfWork,
    training_id: uuid.UUID,
    cmd: OJTCompletionIn,
    authorize: Authorize,
    *,
    channel: str,
    occurred_at: datetime,
    ids: FactIds,
) -> FactsOutcome:
    training = await _open_for_facts(runtime, uow, training_id, authorize)
    fact = Fact(
        cmd.fact_id or ids.make(FactKind.OJT_COMPLETION, "", cmd.facilitator_id),
        cmd.facilitator_id,
        cmd.occurred_at or occurred_at,
        domain.OJTCompletion(cmd.kelurahan_code, cmd.rating, cmd.report),
    )
    return await _record(runtime, uow, training, [fact], channel=channel, strict=True)


def fact_of(item: FactIn) -> Fact:
    data: domain.FactData
    if item.kind == "attendance":
        data = domain.Attendance(item.session_id, item.status, item.note)
    elif item.kind == "assessment":
        data = domain.Assessment(item.assessment, item.score, item.max_score)
    elif item.kind == "ojt_assignment":
        data = domain.OJTAssignment(item.kelurahan_code, item.mentor, item.task)
    else:
        data = domain.OJTCompletion(item.kelurahan_code, item.rating, item.report)
    return Fact(item.fact_id, item.facilitator_id, item.occurred_at, data)


async def sync_facts(
    runtime: Runtime,
    uow: UnitOfWork,
    training_id: uuid.UUID,
    facts: Sequence[FactIn],
    authorize: Authorize,
    *,
    channel: str,
) -> FactsOutcome:
    """Record a batch of facts taken offline. Each fact ends recorded, duplicate, or refused with a
    reason; the refused ones do not stop the others (a field device must be able to sync)."""
    training = await _open_for_facts(runtime, uow, training_id, authorize)
    return await _record(runtime, uow, training, [fact_of(f) for f in facts], channel=channel, strict=False)


async def _record(
    runtime: Runtime, uow: UnitOfWork, training: Training, facts: Sequence[Fact], *, channel: str, strict: bool
) -> FactsOutcome:
    conn = uow.conn
    people = list({f.facilitator_id for f in facts})
    places = list({f.data.kelurahan_code for f in facts if isinstance(f.data, OJT_DATA)})
    enrolled = await conn.fetch(ENROLLED_AMONG, training.training_id, people)
    known = await conn.fetch(KNOWN_KELURAHAN_AMONG, places) if places else []
    ctx = domain.FactContext(
        sessions={s.session_id: s for s in training.sessions},
        enrolled=frozenset(r["facilitator_id"] for r in enrolled),
        known_kelurahan=frozenset(r["code"] for r in known),
        now=datetime.now(UTC),
    )
    refused: dict[int, domain.Refusal] = {}
    for i, fact in enumerate(facts):
        refusal = domain.refusal_of(fact, ctx)
        if refusal is not None:
            refused[i] = refusal
    if strict and refused:
        _raise_refused(facts, refused)
    valid = [f for i, f in enumerate(facts) if i not in refused]
    inserted: set[str] = set()
    if valid:
        rows = await conn.fetch(
            INSERT_FACTS,
            training.training_id,
            [f.fact_id for f in valid],
            [f.kind.value for f in valid],
            [f.facilitator_id for f in valid],
            [f.subject for f in valid],
            [f.occurred_at for f in valid],
            [json.dumps(f.payload()) for f in valid],
            channel,
        )
        inserted = {r["fact_id"] for r in rows}
    stored: dict[str, Fact] = {}
    if len(inserted) < len(valid):
        again = [f.fact_id for f in valid if f.fact_id not in inserted]
        for r in await conn.fetch(FACTS_BY_ID, training.training_id, again):
            stored[r["fact_id"]] = _stored_fact(r)
    results: list[FactResult] = []
    recorded: list[Fact] = []
    for i, fact in enumerate(facts):
        if i in refused:
            results.append(
                FactResult(fact.fact_id, fact.facilitator_id, "refused", refused[i].code, refused[i].message)
            )
        elif fact.fact_id in inserted:
            inserted.discard(fact.fact_id)
            stored[fact.fact_id] = fact
            recorded.append(fact)
            results.append(FactResult(fact.fact_id, fact.facilitator_id, "recorded"))
        elif stored[fact.fact_id].same_as(fact):
            results.append(FactResult(fact.fact_id, fact.facilitator_id, "duplicate"))
        else:
            refused[i] = domain.Refusal(
                domain.FACT_ID_CONFLICT, f"fact {fact.fact_id} was recorded before with different content"
            )
            results.append(
                FactResult(fact.fact_id, fact.facilitator_id, "refused", refused[i].code, refused[i].message)
            )
    if strict and refused:
        _raise_refused(facts, refused, status=409)
    for fact in recorded:
        _emit(runtime, uow, training, _event_of(training.training_id, fact), occurred_at=fact.occurred_at)
    if recorded and training.status == "scheduled":
        await _decide(runtime, uow, training, list({f.facilitator_id for f in recorded}), closing=False)
    return FactsOutcome(results)


def _refused(fact: Fact, refusal: domain.Refusal) -> FactResult:
    return FactResult(fact.fact_id, fact.facilitator_id, "refused", refusal.code, refusal.message)


def _raise_refused(facts: Sequence[Fact], refused: dict[int, domain.Refusal], status: int = 422) -> None:
    first = refused[min(refused)]
    details = [
        {
            "fact_id": facts[i].fact_id,
            "facilitator_id": str(facts[i].facilitator_id),
            "code": r.code,
            "message": r.message,
        }
        for i, r in sorted(refused.items())[:100]
    ]
    suffix = f" (and {len(refused) - 1} more refusal(s), see details)" if len(refused) > 1 else ""
    raise ApiError(status, first.code, first.message + suffix, {"refused": details})


def _stored_fact(row: asyncpg.Record) -> Fact:
    return domain.fact_from_stored(
        row["fact_id"], row["kind"], row["facilitator_id"], row["subject"], row["occurred_at"], json.loads(row["data"])
    )


def _event_of(training_id: uuid.UUID, fact: Fact) -> EventPayload:
    d = fact.data
    if isinstance(d, domain.Attendance):
        return AttendanceRecorded(
            training_id=training_id,
            session_id=d.session_id,
            facilitator_id=fact.facilitator_id,
            status=d.status,
            note=d.note,
            fact_id=fact.fact_id,
        )
    if isinstance(d, domain.Assessment):
        return AssessmentScored(
            training_id=training_id,
            facilitator_id=fact.facilitator_id,
            kind=d.kind,
            score=d.score,
            max_score=d.max_score,
            fact_id=fact.fact_id,
        )
    if isinstance(d, domain.OJTAssignment):
        return OJTAssigned(
            training_id=training_id,
            facilitator_id=fact.facilitator_id,
            kelurahan_code=d.kelurahan_code,
            mentor=d.mentor,
            task=d.task,
            fact_id=fact.fact_id,
        )
    return OJTCompleted(
        training_id=training_id,
        facilitator_id=fact.facilitator_id,
        kelurahan_code=d.kelurahan_code,
        report=d.report,
        rating=d.rating,
        fact_id=fact.fact_id,
    )


# -- completion --------------------------------------------------------------------------------


async def _decide(
    runtime: Runtime,
    uow: UnitOfWork,
    training: Training,
    facilitator_ids: Sequence[uuid.UUID] | None,
    *,
    closing: bool,
) -> None:
    """Take the decisions that are due for the undecided participants among ``facilitator_ids``
    (everyone when None): completed as soon as every requirement is met; at close, the rest."""
    conn = uow.conn
    undecided = await conn.fetch(UNDECIDED, training.training_id, facilitator_ids)
    if not undecided:
        return
    rows = await conn.fetch(FACTS_OF_PARTICIPANTS, training.training_id, [r["facilitator_id"] for r in undecided])
    facts_of: dict[uuid.UUID, list[Fact]] = {}
    for r in rows:
        facts_of.setdefault(r["facilitator_id"], []).append(_stored_fact(r))
    decided_by = "training_closed" if closing else "requirements_met"
    for row in undecided:
        fid = row["facilitator_id"]
        decision = domain.decide(
            training.completion_rule,
            training.sessions,
            facts_of.get(fid, []),
            withdrawn=row["status"] == "withdrawn",
            closing=closing,
        )
        if decision is None:
            continue
        record = decision.record
        took = await conn.fetchval(
            INSERT_DECISION,
            training.training_id,
            fid,
            decision.outcome.value,
            list(decision.unmet),
            decision.attendance_ratio,
            decided_by,
        )
        if took is None:
            continue
        if decision.outcome is Outcome.COMPLETED:
            pre, post = record.assessment(AssessmentKind.PRE), record.assessment(AssessmentKind.POST)
            _emit(
                runtime,
                uow,
                training,
                TrainingCompleted(
                    training_id=training.training_id,
                    facilitator_id=fid,
                    attendance_ratio=decision.attendance_ratio,
                    pre_score=pre.score if pre else None,
                    post_score=post.score if post else None,
                    ojt_kelurahan_code=record.ojt_kelurahan,
                ),
            )
            code = await _issue_certificate(conn, training.training_id, fid)
            _emit(
                runtime,
                uow,
                training,
                CertificateIssued(training_id=training.training_id, facilitator_id=fid, certificate_code=code),
            )
        else:
            _emit(
                runtime,
                uow,
                training,
                TrainingNotCompleted(
                    training_id=training.training_id,
                    facilitator_id=fid,
                    attendance_ratio=decision.attendance_ratio,
                    unmet=list(decision.unmet),
                ),
            )


def new_certificate_code() -> str:
    n = len(domain.CERTIFICATE_ALPHABET)
    return domain.format_certificate_code(
        [secrets.randbelow(n) for _ in range(domain.CERTIFICATE_GROUPS * domain.CERTIFICATE_GROUP_LENGTH)]
    )


async def _issue_certificate(conn: Conn, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> str:
    for _ in range(5):  # a collision of ~79-bit codes is not expected; retry rather than fail
        code = await conn.fetchval(INSERT_CERTIFICATE, new_certificate_code(), training_id, facilitator_id)
        if code is not None:
            return str(code)
    raise RuntimeError("could not draw a unique certificate code")


# -- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSummary:
    training: Training
    enrolled: int
    withdrawn: int
    completed: int
    not_completed: int
    certificates: int


async def get_training(runtime: Runtime, training_id: uuid.UUID, authorize_read: Authorize) -> TrainingSummary:
    row = await runtime.pool.fetchrow(SELECT_TRAINING, training_id)
    if row is None:
        raise ApiError(404, "training_not_found", f"no training {training_id}")
    training = Training.of(row)
    authorize_read(training.region)
    counts = await runtime.pool.fetchrow(TRAINING_COUNTS, training_id)
    assert counts is not None
    return TrainingSummary(training, **dict(counts))


@dataclass(frozen=True)
class ParticipantView:
    facilitator_id: uuid.UUID
    status: str
    role: str
    province_code: str | None
    kabkota_code: str | None
    class_id: str | None
    attendance: dict[str, str]
    attended: int
    attendance_ratio: float
    pre: domain.Assessment | None
    post: domain.Assessment | None
    gain: float | None
    ojt_assignment: domain.OJTAssignment | None
    ojt_completion: domain.OJTCompletion | None
    unmet_now: list[str]
    outcome: str | None
    unmet: list[str] | None
    decided_by: str | None
    decided_at: datetime | None
    certificate_code: str | None

    @property
    def decision_outdated(self) -> bool:
        """Whether the facts as they stand now would decide differently (a correction arrived
        after the decision; the decision stands, see README)."""
        if self.outcome is None or (self.outcome == "not_completed" and self.unmet == [domain.WITHDRAWN]):
            return False
        return (self.outcome == "completed") != (not self.unmet_now)


async def participants(
    runtime: Runtime, training_id: uuid.UUID, authorize_read: Authorize
) -> tuple[Training, list[ParticipantView]]:
    summary = await get_training(runtime, training_id, authorize_read)
    training = summary.training
    roster = await runtime.pool.fetch(PARTICIPANTS, training_id)
    records = domain.fold(_stored_fact(r) for r in await runtime.pool.fetch(FACTS_OF_TRAINING, training_id))
    views = []
    for row in roster:
        record = records.get(row["facilitator_id"], domain.EMPTY_RECORD)
        evaluation = domain.evaluate(training.completion_rule, training.sessions, record)
        pre, post = record.assessment(AssessmentKind.PRE), record.assessment(AssessmentKind.POST)
        assignment = record.ojt_assignment.data if record.ojt_assignment else None
        completion = record.ojt_completion.data if record.ojt_completion else None
        views.append(
            ParticipantView(
                facilitator_id=row["facilitator_id"],
                status=row["status"],
                role=row["role"],
                province_code=row["province_code"],
                kabkota_code=row["kabkota_code"],
                class_id=row["class_id"],
                attendance={
                    s.session_id: status.value
                    for s in training.sessions
                    if (status := record.status_of(s.session_id)) is not None
                },
                attended=evaluation.attended,
                attendance_ratio=evaluation.attendance_ratio,
                pre=pre,
                post=post,
                gain=domain.gain(pre, post),
                ojt_assignment=assignment if isinstance(assignment, domain.OJTAssignment) else None,
                ojt_completion=completion if isinstance(completion, domain.OJTCompletion) else None,
                unmet_now=list(evaluation.unmet),
                outcome=row["outcome"],
                unmet=list(row["unmet"]) if row["unmet"] is not None else None,
                decided_by=row["decided_by"],
                decided_at=row["decided_at"],
                certificate_code=row["certificate_code"],
            )
        )
    return training, views


@dataclass(frozen=True)
class HistoryEntry:
    fact: Fact
    channel: str
    recorded_at: datetime
    current: bool


async def participant_history(
    runtime: Runtime, training_id: uuid.UUID, facilitator_id: uuid.UUID, authorize_read: Authorize
) -> list[HistoryEntry]:
    await get_training(runtime, training_id, authorize_read)
    rows = await runtime.pool.fetch(FACTS_OF_PARTICIPANT, training_id, facilitator_id)
    facts = [_stored_fact(r) for r in rows]
    current = {f.fact_id for f in domain.current_facts(facts).values()}
    return [
        HistoryEntry(f, r["channel"], r["recorded_at"], f.fact_id in current) for f, r in zip(facts, rows, strict=True)
    ]


async def verify_certificate(runtime: Runtime, code: str) -> asyncpg.Record:
    canonical = domain.normalise_certificate_code(code)
    row = await runtime.pool.fetchrow(CERTIFICATE, canonical) if canonical else None
    if row is None:
        raise ApiError(404, "certificate_not_found", "no certificate has this code")
    return row


async def known_kelurahan(runtime: Runtime, code_prefix: str) -> list[asyncpg.Record]:
    return list(await runtime.pool.fetch(KNOWN_KELURAHAN, code_prefix))
