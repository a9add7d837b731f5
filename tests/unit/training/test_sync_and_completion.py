"""Offline sync batches, completion decisions and certificates, on fakes."""

from __future__ import annotations

import random
import uuid

from services.training import domain
from services.training.domain import Assessment, Attendance, Fact, OJTCompletion
from services.training.usecases import facts
from services.training.usecases.completion import issue_certificate
from services.training.usecases.facts import AttendanceEntry, RecordAttendance
from services.training.usecases.sync import SyncFacts, sync_facts
from shared.kernel.contracts import (
    AssessmentKind,
    AttendanceRecorded,
    AttendanceStatus,
    CertificateIssued,
    TrainingCompleted,
)
from tests.unit.training.builders import KEL, SESSIONS, at, http, scheduled, training_with
from tests.unit.training.fakes import DEPLOYMENT, REGION, FakeDatabase, only

PRESENT, ABSENT = AttendanceStatus.PRESENT, AttendanceStatus.ABSENT


def everything(fid: uuid.UUID, tag: str = "") -> list[Fact]:
    """Every requirement met, the last one (the post-test) on day 3."""
    return [
        *(
            Fact(f"{tag}att-{s.session_id}-{fid}", fid, at(i), Attendance(s.session_id, PRESENT))
            for i, s in enumerate(SESSIONS)
        ),
        Fact(f"{tag}ojt-{fid}", fid, at(2), OJTCompletion(KEL, 4)),
        Fact(f"{tag}post-{fid}", fid, at(3, 11), Assessment(AssessmentKind.POST, 80, 100)),
    ]


async def sync(db: FakeDatabase, tid: uuid.UUID, batch: list[Fact]) -> facts.FactsOutcome:
    async with db.unit_of_work() as uow:
        return await sync_facts(SyncFacts(tid, tuple(batch)), uow, DEPLOYMENT, only(REGION), channel="sync")


async def test_a_batch_ends_each_fact_recorded_duplicate_or_refused_without_stopping_the_rest() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    first = everything(p1)[:2]
    await sync(db, tid, first)
    stranger = Fact("stranger", uuid.uuid4(), at(0), Attendance("d0", PRESENT))
    changed = Fact(first[0].fact_id, p1, at(0), Attendance("d0", ABSENT))
    fresh = Fact("late-correction", p1, at(1, 15), Attendance("d1", AttendanceStatus.LATE))
    outcome = await sync(db, tid, [first[1], stranger, changed, fresh])
    assert [(r.outcome, r.code) for r in outcome.results] == [
        ("duplicate", None),
        ("refused", "not_enrolled"),
        ("refused", "fact_id_conflict"),
        ("recorded", None),
    ]
    assert db.state.facts[(tid, "late-correction")].channel == "sync"
    assert [e.fact_id for e in db.payloads(AttendanceRecorded)] == [
        first[0].fact_id,
        first[1].fact_id,
        "late-correction",
    ]


async def test_a_participant_completes_when_the_last_requirement_is_met_and_gets_a_certificate() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    batch = everything(p1)
    await sync(db, tid, batch[:-1])
    assert not db.payloads(TrainingCompleted)  # the post-test is missing
    await sync(db, tid, batch[-1:])
    [done] = db.payloads(TrainingCompleted)
    assert (done.facilitator_id, done.attendance_ratio, done.post_score, done.pre_score) == (p1, 1.0, 80, None)
    assert done.ojt_kelurahan_code == KEL
    [certificate] = db.payloads(CertificateIssued)
    assert domain.normalise_certificate_code(certificate.certificate_code) == certificate.certificate_code
    assert db.state.certificates[certificate.certificate_code][:2] == (tid, p1)
    assert db.state.decisions[(tid, p1)].decided_by == "requirements_met"
    kinds = [type(p).__name__ for p in db.payloads()[-3:]]
    assert kinds == ["AssessmentScored", "TrainingCompleted", "CertificateIssued"]


async def test_a_participant_is_decided_once_and_a_later_correction_does_not_revoke_it() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    await sync(db, tid, everything(p1))
    absent = [Fact(f"fix-{s.session_id}", p1, at(3, 18), Attendance(s.session_id, ABSENT)) for s in SESSIONS]
    outcome = await sync(db, tid, absent)
    assert outcome.count("recorded") == 4
    assert len(db.payloads(TrainingCompleted)) == len(db.payloads(CertificateIssued)) == 1
    assert db.state.decisions[(tid, p1)].outcome == "completed"


async def test_any_order_and_any_repeats_decide_as_in_order_delivery() -> None:
    in_order, shuffled = FakeDatabase(), FakeDatabase()
    fids = [uuid.UUID(int=i + 1) for i in range(3)]
    decided = []
    for db, arrange in ((in_order, False), (shuffled, True)):
        tid = uuid.UUID(int=99)
        await scheduled(db, tid)
        db.define_kelurahan(KEL)
        for f in fids:
            db.enroll(tid, f)
        batch = everything(fids[0]) + everything(fids[1])[:-1] + everything(fids[2])
        if arrange:
            rng = random.Random(3)
            batch = batch + rng.sample(batch, 5)
            rng.shuffle(batch)
            await sync(db, tid, batch)
        else:
            for fact in sorted(batch, key=lambda f: f.rank):
                await sync(db, tid, [fact])
        decided.append(
            sorted((p.facilitator_id, p.attendance_ratio, p.post_score) for p in db.payloads(TrainingCompleted))
        )
    assert decided[0] == decided[1]
    assert [d[0] for d in decided[0]] == [fids[0], fids[2]]


async def test_a_fact_recorded_after_the_completion_decides_nothing_again() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    await sync(db, tid, everything(p1)[1:])  # all but the first session: 3 of 4 meets 75%
    assert len(db.payloads(TrainingCompleted)) == 1
    async with db.unit_of_work() as uow:
        cmd = RecordAttendance(tid, "d0", (AttendanceEntry(p1, PRESENT),), at(0))
        await facts.record_attendance(cmd, uow, DEPLOYMENT, only(REGION), http())
    assert len(db.payloads(TrainingCompleted)) == 1


async def test_a_certificate_code_already_taken_is_drawn_again() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db, 2)
    async with db.unit_of_work() as uow:
        first = await issue_certificate(uow, tid, p1)
        second = await issue_certificate(uow, tid, p2)
    assert first != second
    assert set(db.state.certificates) == {first, second}
