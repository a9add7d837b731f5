"""Queries on fakes, and the HTTP status of every training refusal code."""

from __future__ import annotations

import uuid

import pytest

from services.training.domain import Attendance, Fact, OJTCompletion
from services.training.domain.errors import (
    CapacityBelowEnrolled,
    CertificateNotFound,
    ClassInUse,
    EmptyClass,
    InvalidSchedule,
    NotEnrolled,
    NotInClass,
    RegionNotServed,
    TrainingCancelled,
    TrainingClosed,
    TrainingExists,
    TrainingHasDecisions,
    TrainingNotFound,
    TrainingNotOver,
    UnknownClass,
    facts_refused,
)
from services.training.domain.facts import Refusal
from services.training.entrypoints.errors import ERRORS
from services.training.usecases import queries
from services.training.usecases.sync import SyncFacts, sync_facts
from shared.kernel.contracts import AttendanceStatus
from shared.kernel.errors import DomainError, Forbidden, NotFound
from tests.unit.training.builders import KEL, at, close, scheduled
from tests.unit.training.fakes import DEPLOYMENT, REGION, FakeDatabase, only
from tests.unit.training.test_sync_and_completion import everything

PRESENT = AttendanceStatus.PRESENT


async def test_a_training_is_read_with_its_counts_by_a_reader_of_its_region() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    db.enroll(tid)
    db.withdraw(tid, db.enroll(tid))
    summary = await queries.get_training(db.reads, tid, only(REGION))
    assert (summary.counts.enrolled, summary.counts.withdrawn) == (1, 1)
    with pytest.raises(Forbidden):
        await queries.get_training(db.reads, tid, only("oc05"))
    with pytest.raises(NotFound) as refused:
        await queries.get_training(db.reads, uuid.uuid4(), only(REGION))
    assert refused.value.code == "training_not_found"


async def test_the_roster_needs_a_reader_of_every_region_on_it() -> None:
    db = FakeDatabase()
    tid = uuid.uuid4()
    db.enroll(tid)
    db.withdraw(tid, db.enroll(tid))
    roster = await queries.roster(db.reads, tid, only(REGION))
    assert (len(roster.entries), roster.enrolled) == (2, 1)
    with pytest.raises(Forbidden):
        await queries.roster(db.reads, tid, only("oc05"))
    assert (await queries.roster(db.reads, uuid.uuid4(), only("oc05"))).entries == []


async def test_participants_show_their_facts_decision_and_an_open_review() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    db.define_kelurahan(KEL)
    done, waiting = db.enroll(tid, uuid.UUID(int=1)), db.enroll(tid, uuid.UUID(int=2))
    db.state.classes[(tid, waiting)] = "A"
    batch = [*everything(done), Fact("w-ojt", waiting, at(2), OJTCompletion(KEL, 3))]
    correction = Fact("fix", done, at(3, 20), Attendance("d0", AttendanceStatus.ABSENT))
    correction2 = Fact("fix2", done, at(3, 20), Attendance("d1", AttendanceStatus.ABSENT))
    async with db.unit_of_work() as uow:
        await sync_facts(SyncFacts(tid, tuple(batch)), uow, DEPLOYMENT, only(REGION), channel="sync")
    await close(db, tid)
    async with db.unit_of_work() as uow:  # corrections after the close
        await sync_facts(SyncFacts(tid, (correction, correction2)), uow, DEPLOYMENT, only(REGION), channel="sync")
    training, views = await queries.participants(db.reads, tid, only(REGION))
    assert training.training_id == tid
    assert [v.facilitator_id for v in views] == [waiting, done]  # by class, unassigned last
    w, d = views
    assert (w.class_id, w.outcome, w.unmet_now) == (
        "A",
        "not_completed",
        ["attendance_below_minimum", "post_test_missing"],
    )
    assert w.ojt_completion == OJTCompletion(KEL, 3, "")
    assert (d.outcome, d.decided_by, d.attended, d.attendance_ratio) == ("completed", "training_closed", 2, 0.5)
    assert d.attendance == {"d0": "absent", "d1": "absent", "d2": "present", "d3": "present"}
    assert (d.provisional, d.outcome_now) == (False, "not_completed")
    assert d.review is not None  # the corrections came after the close: the decision stands, to review
    assert d.decision_outdated
    assert d.certificate_code is not None
    assert w.review is None


async def test_a_participants_history_marks_the_current_facts() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    p1 = db.enroll(tid)
    first = Fact("a", p1, at(0), Attendance("d0", AttendanceStatus.ABSENT))
    fix = Fact("b", p1, at(0, 15), Attendance("d0", PRESENT))
    async with db.unit_of_work() as uow:
        await sync_facts(SyncFacts(tid, (fix, first)), uow, DEPLOYMENT, only(REGION), channel="sync")
    history = await queries.participant_history(db.reads, tid, p1, only(REGION))
    assert [(e.fact.fact_id, e.current, e.channel) for e in history] == [("a", False, "sync"), ("b", True, "sync")]


async def test_a_certificate_is_verified_by_its_code_typed_loosely() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    db.define_kelurahan(KEL)
    p1 = db.enroll(tid)
    async with db.unit_of_work() as uow:
        await sync_facts(SyncFacts(tid, tuple(everything(p1))), uow, DEPLOYMENT, only(REGION), channel="sync")
    await close(db, tid)
    [code] = db.state.certificates
    found = await queries.verify_certificate(db.reads, " " + code.lower().replace("-", " ") + " ")
    assert (found.code, found.facilitator_id, found.title, found.region) == (
        code,
        p1,
        "Pelatihan Dasar Fasilitator",
        REGION,
    )
    for typed in ("", "nonsense", "2222-2222-2222-2222"):
        with pytest.raises(NotFound) as refused:
            await queries.verify_certificate(db.reads, typed)
        assert refused.value.code == "certificate_not_found"


async def test_known_kelurahan_by_code_prefix() -> None:
    db = FakeDatabase()
    for code in ("16.71.02.1005", "16.71.02.1004", "16.72.01.1001"):
        db.define_kelurahan(code)
    assert [k.code for k in await queries.known_kelurahan(db.reads, "16.71.")] == ["16.71.02.1004", "16.71.02.1005"]


REFUSED = [(Fact("x", uuid.UUID(int=1), at(0), Attendance("d0", PRESENT)), Refusal("not_enrolled", "no"))]
CONFLICTING = [(REFUSED[0][0], Refusal("fact_id_conflict", "no"))]


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (TrainingNotFound(uuid.UUID(int=1)), "training_not_found", 404),
        (TrainingExists(uuid.UUID(int=1)), "training_exists", 409),
        (TrainingCancelled(), "training_cancelled", 409),
        (TrainingClosed(), "training_closed", 409),
        (TrainingNotOver(at(0).date()), "training_not_over", 409),
        (TrainingHasDecisions(), "training_has_decisions", 409),
        (CapacityBelowEnrolled(3, 2), "capacity_below_enrolled", 409),
        (ClassInUse(["A"]), "class_in_use", 422),
        (InvalidSchedule(["end_date is before start_date"]), "invalid_schedule", 422),
        (RegionNotServed(["oc02"], "oc05"), "region_not_served", 422),
        (UnknownClass(["Z"]), "unknown_class", 422),
        (EmptyClass("A"), "empty_class", 422),
        (NotInClass("A", ["x"]), "not_in_class", 422),
        (NotEnrolled(["x"]), "not_enrolled", 422),
        (CertificateNotFound(), "certificate_not_found", 404),
        (facts_refused(REFUSED), "not_enrolled", 422),
        (facts_refused(CONFLICTING), "fact_id_conflict", 409),
    ],
)
def test_every_refusal_keeps_its_code_and_http_status(error: DomainError, code: str, status: int) -> None:
    assert (error.code, ERRORS.status(error)) == (code, status)
