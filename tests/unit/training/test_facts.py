"""Attendance, assessments and OJT on fakes: what is recorded, published, refused, and duplicates."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from services.training.domain import CANCELLED, Attendance
from services.training.usecases import facts, trainings
from services.training.usecases.facts import (
    AssignOJT,
    AttendanceEntry,
    CompleteOJT,
    FactIds,
    Origin,
    RecordAttendance,
    ScoreAssessments,
    ScoreEntry,
)
from services.training.usecases.trainings import CloseTraining
from shared.kernel.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    AttendanceStatus,
    OJTAssigned,
    OJTCompleted,
    TrainingCompleted,
)
from shared.kernel.errors import Conflict, Forbidden, Invalid
from tests.unit.training.builders import KEL, at, http, record, training_with
from tests.unit.training.fakes import DEPLOYMENT, NOW, REGION, FakeDatabase, only

PRESENT = AttendanceStatus.PRESENT


async def test_attendance_is_recorded_and_published_with_its_time() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db)
    cmd = RecordAttendance(
        tid,
        "d0",
        (AttendanceEntry(p1, PRESENT, fact_id="sheet-1/p1"), AttendanceEntry(p2, AttendanceStatus.LATE, "macet")),
        occurred_at=at(0),
    )
    outcome = await record(db, facts.record_attendance, cmd)
    assert (outcome.count("recorded"), outcome.count("duplicate"), outcome.count("refused")) == (2, 0, 0)
    assert outcome.results[0].fact_id == "sheet-1/p1"
    stored = db.state.facts[(tid, "sheet-1/p1")]
    assert (stored.channel, stored.fact.data) == ("http", Attendance("d0", PRESENT))
    recorded = db.payloads(AttendanceRecorded)
    assert [p.status for p in recorded] == [PRESENT, AttendanceStatus.LATE]
    assert (recorded[0].fact_id, recorded[1].note) == ("sheet-1/p1", "macet")
    assert {e.envelope.occurred_at for e in db.published if e.envelope.event_type == "AttendanceRecorded"} == {at(0)}


async def test_a_fact_sent_again_with_its_id_is_a_duplicate_and_published_once() -> None:
    db = FakeDatabase()
    tid, (p1, _) = await training_with(db)
    cmd = ScoreAssessments(tid, AssessmentKind.PRE, 50, (ScoreEntry(p1, 20, "pre-p1"),), at(0))
    for _ in range(2):
        outcome = await record(db, facts.record_assessments, cmd)
    assert [r.outcome for r in outcome.results] == ["duplicate"]
    assert len(db.payloads(AssessmentScored)) == 1
    assert db.payloads(AssessmentScored)[0].max_score == 50


async def test_a_fact_id_reused_with_other_content_is_a_conflict_and_nothing_is_recorded() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db)
    first = ScoreAssessments(tid, AssessmentKind.PRE, 50, (ScoreEntry(p1, 20, "pre-p1"),), at(0))
    await record(db, facts.record_assessments, first)
    changed = ScoreAssessments(tid, AssessmentKind.PRE, 50, (ScoreEntry(p2, 30), ScoreEntry(p1, 25, "pre-p1")), at(0))
    with pytest.raises(Conflict) as refused:
        await record(db, facts.record_assessments, changed)
    assert refused.value.code == "fact_id_conflict"
    assert [d["fact_id"] for d in refused.value.details["refused"]] == ["pre-p1"]
    assert len(db.state.facts) == 1  # all or nothing: p2's score is not kept either
    assert len(db.payloads(AssessmentScored)) == 1


async def test_one_refused_fact_refuses_the_request_and_lists_every_refusal() -> None:
    db = FakeDatabase()
    tid, (p1, _) = await training_with(db)
    strangers = [uuid.uuid4(), uuid.uuid4()]
    cmd = RecordAttendance(tid, "d0", tuple(AttendanceEntry(f, PRESENT) for f in [p1, *strangers]), occurred_at=at(0))
    with pytest.raises(Invalid) as refused:
        await record(db, facts.record_attendance, cmd)
    assert refused.value.code == "not_enrolled"
    assert refused.value.message.endswith("(and 1 more refusal(s), see details)")
    assert [d["code"] for d in refused.value.details["refused"]] == ["not_enrolled", "not_enrolled"]
    assert not db.state.facts
    assert len(db.published) == 1  # TrainingScheduled only


@pytest.mark.parametrize(
    ("session", "when", "code"),
    [
        ("d9", at(0), "unknown_session"),
        ("d3", at(2), "session_not_yet_held"),
        ("d0", NOW + timedelta(minutes=6), "occurred_in_future"),
    ],
)
async def test_attendance_refusals(session: str, when: object, code: str) -> None:
    db = FakeDatabase()
    tid, (p1, _) = await training_with(db)
    cmd = RecordAttendance(tid, session, (AttendanceEntry(p1, PRESENT),), occurred_at=when)  # type: ignore[arg-type]
    with pytest.raises(Invalid) as refused:
        await record(db, facts.record_attendance, cmd)
    assert refused.value.code == code


async def test_a_class_sheet_marks_everyone_of_the_class_but_the_exceptions() -> None:
    db = FakeDatabase()
    tid, people = await training_with(db, 4)
    in_a = sorted(people[:3])
    db.state.classes.update({(tid, f): "A" for f in in_a} | {(tid, people[3]): "B"})
    sheet = RecordAttendance(
        tid,
        "d1",
        (AttendanceEntry(in_a[0], AttendanceStatus.EXCUSED, "sakit"),),
        occurred_at=at(1),
        class_id="A",
        default_status=PRESENT,
        sheet_id="A-d1",
    )
    outcome = await record(db, facts.record_attendance, sheet)
    statuses = {e.facilitator_id: e.status for e in db.payloads(AttendanceRecorded)}
    assert statuses == {in_a[0]: AttendanceStatus.EXCUSED, in_a[1]: PRESENT, in_a[2]: PRESENT}
    again = await record(db, facts.record_attendance, sheet)  # the same sheet again: its ids derive from sheet_id
    assert [r.fact_id for r in again.results] == [r.fact_id for r in outcome.results]
    assert again.count("duplicate") == 3
    assert len(db.payloads(AttendanceRecorded)) == 3


async def test_a_class_sheet_must_name_a_class_and_its_members() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db)
    db.state.classes[(tid, p1)] = "A"
    for cmd, code in (
        (RecordAttendance(tid, "d0", (), at(0), class_id="Z", default_status=PRESENT), "unknown_class"),
        (RecordAttendance(tid, "d0", (AttendanceEntry(p2, PRESENT),), at(0), class_id="A"), "not_in_class"),
    ):
        with pytest.raises(Invalid) as refused:
            await record(db, facts.record_attendance, cmd)
        assert refused.value.code == code


async def test_ojt_assignment_of_listed_participants_or_a_whole_class() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db)
    db.state.classes[(tid, p2)] = "B"
    async with db.unit_of_work() as uow:
        listed = AssignOJT(tid, KEL, "Bu Sari", "pemetaan", facilitator_ids=(p1, p1), occurred_at=at(2))
        one = await facts.assign_ojt(listed, uow, DEPLOYMENT, only(REGION), http())
        whole = await facts.assign_ojt(
            AssignOJT(tid, KEL, "Pak Budi", class_id="B"), uow, DEPLOYMENT, only(REGION), http()
        )
    assert (one.count("recorded"), whole.count("recorded")) == (1, 1)  # p1 listed twice: one fact
    assert {(e.facilitator_id, e.mentor) for e in db.payloads(OJTAssigned)} == {(p1, "Bu Sari"), (p2, "Pak Budi")}
    assert db.state.facts[(tid, whole.results[0].fact_id)].fact.occurred_at == at(0)  # the origin's time


async def test_an_ojt_assignment_sent_again_with_its_fact_id_is_a_duplicate() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db)
    one = AssignOJT(tid, KEL, "Bu Sari", facilitator_ids=(p1,), occurred_at=at(2), fact_id="ojt-sari-1")
    both = AssignOJT(tid, KEL, "Bu Sari", facilitator_ids=(p1, p2), occurred_at=at(2), fact_id="ojt-sari-2")
    first = [await record(db, facts.assign_ojt, cmd) for cmd in (one, both)]
    again = [await record(db, facts.assign_ojt, cmd) for cmd in (one, both)]
    assert [r.fact_id for r in first[0].results] == ["ojt-sari-1"]  # one person: the caller's id itself
    assert [[r.outcome for r in o.results] for o in first] == [["recorded"], ["recorded", "recorded"]]
    assert [[r.outcome for r in o.results] for o in again] == [["duplicate"], ["duplicate", "duplicate"]]
    assert [r.fact_id for r in again[1].results] == [r.fact_id for r in first[1].results]  # derived, stable
    assert len(db.payloads(OJTAssigned)) == 3


async def test_ojt_refusals() -> None:
    db = FakeDatabase()
    tid, (p1, _) = await training_with(db)
    for cmd, code in (
        (AssignOJT(tid, "16.71.99.9999", "Bu Sari", facilitator_ids=(p1,)), "unknown_kelurahan"),
        (AssignOJT(tid, KEL, "Bu Sari", class_id="Z"), "unknown_class"),
        (AssignOJT(tid, KEL, "Bu Sari", class_id="A"), "empty_class"),
    ):
        with pytest.raises(Invalid) as refused:
            await record(db, facts.assign_ojt, cmd)
        assert refused.value.code == code
    assert not db.state.facts


async def test_an_ojt_completion_is_recorded_and_published() -> None:
    db = FakeDatabase()
    tid, (p1, _) = await training_with(db)
    async with db.unit_of_work() as uow:
        cmd = CompleteOJT(tid, p1, KEL, 5, "peta swadaya", occurred_at=at(3))
        outcome = await facts.complete_ojt(cmd, uow, DEPLOYMENT, only(REGION), http())
    [done] = db.payloads(OJTCompleted)
    assert (done.rating, done.report, done.fact_id) == (5, "peta swadaya", outcome.results[0].fact_id)


async def test_ids_derived_from_a_seed_make_a_resent_command_a_duplicate() -> None:
    db = FakeDatabase()
    tid, (p1, _) = await training_with(db)
    seed = uuid.uuid4()
    cmd = CompleteOJT(tid, p1, KEL, 4)
    for _ in range(2):
        async with db.unit_of_work() as uow:
            outcome = await facts.complete_ojt(
                cmd, uow, DEPLOYMENT, only(REGION), Origin("intake", at(3), FactIds(seed))
            )
    assert outcome.count("duplicate") == 1
    assert db.state.facts[(tid, outcome.results[0].fact_id)].channel == "intake"


async def test_facts_need_a_training_that_is_not_cancelled_and_a_caller_of_its_region() -> None:
    db = FakeDatabase()
    tid, (p1, _) = await training_with(db)
    cmd = CompleteOJT(tid, p1, KEL, 4, occurred_at=at(3))
    with pytest.raises(Forbidden):
        async with db.unit_of_work() as uow:
            await facts.complete_ojt(cmd, uow, DEPLOYMENT, only("oc05"), http())
    db.state.trainings[tid] = replace(db.state.trainings[tid], status=CANCELLED)
    with pytest.raises(Conflict) as refused:
        await record(db, facts.complete_ojt, cmd)
    assert refused.value.code == "training_cancelled"


async def test_after_the_close_facts_are_recorded_but_decide_nothing() -> None:
    db = FakeDatabase()
    tid, (p1, _) = await training_with(db)
    async with db.unit_of_work() as uow:
        await trainings.close_training(CloseTraining(tid), uow, DEPLOYMENT, only(REGION))
    decided = dict(db.state.decisions)
    async with db.unit_of_work() as uow:
        cmd = CompleteOJT(tid, p1, KEL, 4, occurred_at=at(3))
        outcome = await facts.complete_ojt(cmd, uow, DEPLOYMENT, only(REGION), http())
    assert outcome.count("recorded") == 1
    assert db.state.decisions == decided
    assert not db.payloads(TrainingCompleted)
