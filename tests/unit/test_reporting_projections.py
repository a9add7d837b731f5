"""Reporting projections without a database: order independence of the merges, the SQL they
produce, the tables the rebuild swaps, and the fast decoder's agreement with the shared one."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.generator import Generator
from services.reporting.entrypoints.consumers import FACILITATORS, TRAININGS
from services.reporting.entrypoints.decoding import decode
from services.reporting.entrypoints.rebuild import shard_of
from services.reporting.repositories.projections import DEDUPE_TABLE, READ_MODEL_TABLES, facilitators, trainings
from services.reporting.repositories.projections.common import (
    LOCK_FACILITATOR,
    LOCK_TRAINING,
    ByType,
    lww_upsert,
    rounds,
)
from services.reporting.repositories.projections.trainings import UPSERT_PARTICIPANTS, merge_participants
from services.reporting.repositories.xapi import TABLES as XAPI_TABLES
from shared.kernel.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    AttendanceStatus,
    FacilitatorEnrolled,
    FacilitatorRegistered,
    Role,
    TrainingCancelled,
    TrainingCompleted,
    TrainingNotCompleted,
)
from shared.kernel.envelope import Event, EventPayload, RejectedMessage, decode_event, new_event

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "reporting" / "migrations"
T0 = datetime(2016, 7, 31, 8, tzinfo=UTC)
TID, FID = uuid.uuid4(), uuid.uuid4()


def ev(payload: EventPayload, minutes: int = 0) -> Event[Any]:
    return new_event(payload, region="oc02", source="test", occurred_at=T0 + timedelta(minutes=minutes))


def test_rounds_put_repeated_keys_into_later_rounds_and_keep_order() -> None:
    items = ["a1", "b1", "a2", "c1", "a3", "b2"]
    assert rounds(items, lambda s: s[0]) == [["a1", "b1", "c1"], ["a2", "b2"], ["a3"]]
    assert rounds(["x", "y"], lambda s: s) == [["x", "y"]]
    assert rounds([], lambda s: s) == []


def test_lww_upsert_only_overwrites_with_a_newer_version() -> None:
    sql = lww_upsert("t", ["id"], [("id", "uuid"), ("v", "text"), ("at", "timestamptz"), ("ev", "uuid")], ["at", "ev"])
    assert "unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[])" in sql
    assert "ON CONFLICT (id) DO UPDATE SET v = excluded.v" in sql
    assert sql.rstrip().endswith("WHERE (t.at IS NULL OR (excluded.at, excluded.ev) > (t.at, t.ev))")


def test_participant_parts_merge_to_the_newest_event_whatever_the_order() -> None:
    events = [
        ev(FacilitatorEnrolled(enrollment_id=uuid.uuid4(), training_id=TID, facilitator_id=FID, role=Role.ASKOT), 0),
        ev(AssessmentScored(training_id=TID, facilitator_id=FID, kind=AssessmentKind.PRE, score=10, max_score=40), 1),
        ev(AssessmentScored(training_id=TID, facilitator_id=FID, kind=AssessmentKind.PRE, score=20, max_score=40), 5),
        ev(AssessmentScored(training_id=TID, facilitator_id=FID, kind=AssessmentKind.POST, score=30, max_score=40), 9),
        ev(
            TrainingNotCompleted(
                training_id=TID, facilitator_id=FID, attendance_ratio=0.5, unmet=["ojt_not_completed"]
            ),
            10,
        ),
        ev(
            TrainingCompleted(
                training_id=TID, facilitator_id=FID, attendance_ratio=1.0, ojt_kelurahan_code="16.71.01.1001"
            ),
            20,
        ),
    ]
    results = {json.dumps(merge_participants(list(order)), default=str) for order in itertools.permutations(events)}
    assert len(results) == 1
    (row,) = merge_participants(events)
    names = re.findall(r"INSERT INTO participants AS t \(([^)]*)\)", UPSERT_PARTICIPANTS)[0].split(", ")
    got = dict(zip(names, row, strict=True))
    assert got["role"] == "askot"
    assert str(got["pre_pct"]) == "50.0000"  # the later pre-test (20/40) wins
    assert str(got["post_pct"]) == "75.0000"
    assert got["outcome"] == "completed"
    assert got["outcome_kelurahan"] == "16.71.01.1001"
    assert got["withdrawn_at"] is None


def registered() -> Event[Any]:
    """FID's registration."""
    return ev(
        FacilitatorRegistered(
            facilitator_id=FID,
            full_name="Siti",
            role=Role.FASILITATOR,
            province_code="16",
            kabkota_code="16.71",
            effective_from=date(2016, 7, 1),
        )
    )


def test_by_type_groups_by_exact_payload_class() -> None:
    a = ev(AttendanceRecorded(training_id=TID, session_id="d1", facilitator_id=FID, status=AttendanceStatus.LATE))
    r = registered()
    g = ByType([a, r, a])
    assert g.of(AttendanceRecorded) == [a, a]
    assert g.of(AttendanceRecorded, FacilitatorRegistered) == [a, a, r]
    assert g.of(TrainingCompleted) == []


def test_a_batch_locks_each_aggregate_whose_derived_figures_it_recomputes_once() -> None:
    other = uuid.uuid4()
    attended = ev(
        AttendanceRecorded(training_id=TID, session_id="d1", facilitator_id=FID, status=AttendanceStatus.LATE)
    )
    completed = ev(TrainingCompleted(training_id=other, facilitator_id=FID, attendance_ratio=1.0))
    cancelled = ev(TrainingCancelled(training_id=uuid.uuid4(), reason="no venue"))
    # the consumers hand their locks to the pipeline's dedupe statement
    assert TRAININGS.locks is trainings.locks
    assert FACILITATORS.locks is facilitators.locks
    # a cancellation derives no figures: only the trainings with participation are locked, each once
    assert trainings.locks([attended, cancelled, completed, attended]) == (
        LOCK_TRAINING,
        sorted([str(TID), str(other)]),
    )
    siti = registered()
    assert facilitators.locks([siti, siti]) == (LOCK_FACILITATOR, [str(FID)])
    assert facilitators.locks([]) == (LOCK_FACILITATOR, [])


def test_events_of_one_aggregate_go_to_one_rebuild_writer() -> None:
    a = ev(
        AttendanceRecorded(training_id=TID, session_id="d1", facilitator_id=uuid.uuid4(), status=AttendanceStatus.LATE)
    )
    b = ev(TrainingCompleted(training_id=TID, facilitator_id=uuid.uuid4(), attendance_ratio=1.0))
    assert shard_of(a, 2) == shard_of(b, 2) == TID.int % 2


def _tables(sql: str) -> tuple[set[str], set[str]]:
    created = set(re.findall(r"CREATE TABLE (\w+)", sql))
    dropped = set(re.findall(r"DROP TABLE (\w+)", sql))
    return created, dropped


def test_the_rebuild_swaps_every_table_the_migrations_create() -> None:
    tables: set[str] = set()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        created, dropped = _tables(path.read_text())
        tables = (tables - dropped) | created
    assert tables - set(XAPI_TABLES) == set(READ_MODEL_TABLES)  # the xAPI consumer keeps its own state
    assert set(XAPI_TABLES) <= tables
    assert DEDUPE_TABLE not in tables  # it comes from the shared migrations


def _outcome(fn: Any, raw: bytes | None, region: str) -> tuple[str, Any]:
    try:
        event = fn(raw, region)
    except RejectedMessage as exc:
        return "rejected", exc.reason
    # reporting reads the envelope's metadata and the typed payload, never the envelope's raw payload
    envelope = event.envelope.model_dump(mode="json", exclude={"payload"})
    return "accepted", (envelope, event.payload.model_dump(mode="json"))


def _shared(raw: bytes | None, region: str) -> Event[Any]:
    return decode_event(raw, topic_region=region)


VALID = ev(AttendanceRecorded(training_id=TID, session_id="d1", facilitator_id=FID, status=AttendanceStatus.PRESENT))


def _variant(**changes: Any) -> bytes:
    body = json.loads(VALID.to_bytes())
    payload = changes.pop("payload", None)
    body.update(changes)
    if payload is not None:
        body["payload"] = {**body["payload"], **payload}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        (VALID.to_bytes(), "oc02"),
        (VALID.to_bytes(), "oc05"),  # forged region
        (None, "oc02"),
        (b"\x00\xff not json", "oc02"),
        (b'{"event_type": "AttendanceRecorded"}', "oc02"),
        (_variant(event_type="NoSuchEvent"), "oc02"),
        (_variant(schema_version=7), "oc02"),
        (_variant(payload={"status": "asleep"}), "oc02"),
        (_variant(payload={"note": "\\ud800"}).replace(b"\\\\ud800", b"\\ud800"), "oc02"),
        (_variant(payload={"unexpected": 1}), "oc02"),
        (VALID.to_bytes().replace(b'"session_id":"d1"', b'"session_id":"d1","session_id":"d2"'), "oc02"),
        (b"[1, 2, 3]", "oc02"),
        (b" " * (300 * 1024), "oc02"),
    ],
)
def test_the_fast_decoder_decides_exactly_as_the_shared_one(raw: bytes | None, region: str) -> None:
    assert _outcome(decode, raw, region) == _outcome(_shared, raw, region)


def test_the_fast_decoder_agrees_on_every_kind_of_event_the_benchmark_sends() -> None:
    corpus = list(Generator(["oc02"], seed=11).events(3000))
    assert len({e.event_type for e in corpus}) >= 12  # every kind of fact, not one repeated
    for event in corpus:
        raw = event.body()
        fast, shared = decode(raw, "oc02"), _shared(raw, "oc02")
        assert type(fast.payload) is type(shared.payload)
        assert _outcome(decode, raw, "oc02") == _outcome(_shared, raw, "oc02")
