"""Schedule, update, cancel and close, on fakes: results, state, events and refusal codes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.training.domain import CANCELLED, CLOSED, SCHEDULED
from services.training.usecases import facts, trainings
from services.training.usecases.facts import CompleteOJT, ScoreAssessments, ScoreEntry
from services.training.usecases.trainings import CancelTraining, CloseTraining, ScheduleTraining, UpdateTraining
from shared.kernel.contracts import (
    AssessmentKind,
    CompletionRule,
    Session,
    SessionKind,
    SubmissionSubmitted,
    TrainingCancelled,
    TrainingClass,
    TrainingClosed,
    TrainingCompleted,
    TrainingNotCompleted,
    TrainingScheduled,
    TrainingType,
    TrainingUpdated,
)
from shared.kernel.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from tests.unit.training.builders import KEL, at, close, http, schedule, scheduled
from tests.unit.training.fakes import DEPLOYMENT, NOW, REGION, FakeDatabase, FakeUnitOfWork, only


async def test_scheduling_stores_the_training_and_announces_it() -> None:
    db = FakeDatabase()
    tid = uuid.uuid4()
    summary = await scheduled(db, tid)
    assert summary.training.training_id == tid
    assert (summary.training.status, summary.training.region, summary.training.version) == (SCHEDULED, REGION, 1)
    assert summary.counts.enrolled == 0
    assert db.state.trainings[tid].title == "Pelatihan Dasar Fasilitator"
    [event] = db.published
    assert isinstance(event.payload, TrainingScheduled)
    assert (event.envelope.region, event.envelope.source, event.key) == (REGION, "kotaku.training", str(tid))
    assert [s.session_id for s in event.payload.sessions] == ["d0", "d1", "d2", "d3"]


async def test_a_training_id_is_drawn_when_the_caller_gives_none() -> None:
    db = FakeDatabase()
    cmd = ScheduleTraining(REGION, TrainingType.BASIC, schedule())
    async with db.unit_of_work() as uow:
        summary = await trainings.schedule_training(cmd, uow, DEPLOYMENT, only(REGION))
    assert summary.training.training_id in db.state.trainings


async def test_the_summary_counts_enrollments_that_arrived_before_the_schedule() -> None:
    db = FakeDatabase()
    tid = uuid.uuid4()
    db.enroll(tid)
    assert (await scheduled(db, tid)).counts.enrolled == 1


async def test_scheduling_the_same_id_twice_is_refused_and_announced_once() -> None:
    db = FakeDatabase()
    tid = uuid.uuid4()
    await scheduled(db, tid)
    with pytest.raises(Conflict) as refused:
        await scheduled(db, tid)
    assert (refused.value.code, refused.value.details) == ("training_exists", {"training_id": str(tid)})
    assert len(db.published) == 1


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"end_date": date(2016, 7, 1)}, "end_date is before start_date"),
        ({"classes": (TrainingClass(class_id="A", name="A"), TrainingClass(class_id="A", name="A2"))}, "class ids"),
        (
            {"sessions": (Session(session_id="x", date=date(2016, 9, 1), kind=SessionKind.CLASSROOM),)},
            "outside the training's dates",
        ),
    ],
)
async def test_an_inconsistent_schedule_is_refused(changes: dict[str, Any], problem: str) -> None:
    db = FakeDatabase()
    with pytest.raises(Invalid) as refused:
        await scheduled(db, **changes)
    assert refused.value.code == "invalid_schedule"
    assert problem in refused.value.message
    assert not db.state.trainings
    assert not db.published


async def test_who_may_schedule_where() -> None:
    db = FakeDatabase()
    cmd = ScheduleTraining("oc05", TrainingType.BASIC, schedule())
    async with db.unit_of_work() as uow:
        with pytest.raises(Forbidden):
            await trainings.schedule_training(cmd, uow, DEPLOYMENT, only(REGION))
        with pytest.raises(Invalid) as refused:  # allowed, but this deployment does not serve oc05
            await trainings.schedule_training(cmd, uow, DEPLOYMENT, only("oc05"))
    assert refused.value.code == "region_not_served"
    assert refused.value.message == "this deployment serves ['oc02'], not oc05"
    assert not db.published


async def test_an_update_replaces_the_schedule_and_announces_all_of_it() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    cmd = UpdateTraining(tid, schedule(venue="Hotel Aryaduta", capacity=40))
    async with db.unit_of_work() as uow:
        summary = await trainings.update_training(cmd, uow, DEPLOYMENT, only(REGION))
    assert (summary.training.venue, summary.training.capacity, summary.training.version) == ("Hotel Aryaduta", 40, 2)
    assert db.state.locked == [tid]
    event = db.published[-1].payload
    assert isinstance(event, TrainingUpdated)
    assert (event.venue, event.capacity, event.organiser) == ("Hotel Aryaduta", 40, "OC 02 Sumatera Selatan")


async def test_an_unknown_training_is_not_found() -> None:
    db = FakeDatabase()
    async with db.unit_of_work() as uow:
        with pytest.raises(NotFound) as refused:
            await trainings.update_training(UpdateTraining(uuid.uuid4(), schedule()), uow, DEPLOYMENT, only(REGION))
    assert refused.value.code == "training_not_found"


async def test_capacity_cannot_fall_below_the_enrolled() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    for _ in range(3):
        db.enroll(tid)
    async with db.unit_of_work() as uow:
        with pytest.raises(Conflict) as refused:
            await trainings.update_training(UpdateTraining(tid, schedule(capacity=2)), uow, DEPLOYMENT, only(REGION))
    assert refused.value.code == "capacity_below_enrolled"
    assert db.state.trainings[tid].capacity == 60


async def test_a_class_with_participants_cannot_be_removed() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    db.state.classes[(tid, db.enroll(tid))] = "B"
    cmd = UpdateTraining(tid, schedule(classes=(TrainingClass(class_id="A", name="Kelas A"),)))
    async with db.unit_of_work() as uow:
        with pytest.raises(DomainError) as refused:
            await trainings.update_training(cmd, uow, DEPLOYMENT, only(REGION))
    assert refused.value.code == "class_in_use"


async def test_the_rule_in_force_at_the_close_decides() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    fid = db.enroll(tid)
    db.define_kelurahan(KEL)
    async with db.unit_of_work() as uow:
        score = ScoreAssessments(tid, AssessmentKind.POST, 100, (ScoreEntry(fid, 70),), at(3))
        await facts.record_assessments(score, uow, DEPLOYMENT, only(REGION), http())
        done = CompleteOJT(tid, fid, KEL, 4, occurred_at=at(3))
        await facts.complete_ojt(done, uow, DEPLOYMENT, only(REGION), http())
    easier = schedule(completion_rule=CompletionRule(min_attendance_ratio=0, require_post_test=True, require_ojt=True))
    async with db.unit_of_work() as uow:
        summary = await trainings.update_training(UpdateTraining(tid, easier), uow, DEPLOYMENT, only(REGION))
    assert (summary.counts.completed, summary.counts.certificates) == (0, 0)  # provisional until the close
    assert not db.payloads(TrainingCompleted)
    summary = await close(db, tid)
    assert (summary.counts.completed, summary.counts.certificates) == (1, 1)
    assert [type(p).__name__ for p in db.payloads()[-4:]] == [
        "TrainingCompleted",
        "CertificateIssued",
        "TrainingClosed",
        "SubmissionSubmitted",  # the close, for verification
    ]


async def test_cancelling_ends_the_training() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    async with db.unit_of_work() as uow:
        summary = await trainings.cancel_training(CancelTraining(tid, "banjir"), uow, DEPLOYMENT, only(REGION))
    assert (summary.training.status, summary.training.status_reason) == (CANCELLED, "banjir")
    assert db.payloads(TrainingCancelled)[0].reason == "banjir"
    attempts: list[Callable[[FakeUnitOfWork], Awaitable[object]]] = [
        lambda uow: trainings.cancel_training(CancelTraining(tid), uow, DEPLOYMENT, only(REGION)),
        lambda uow: trainings.update_training(UpdateTraining(tid, schedule()), uow, DEPLOYMENT, only(REGION)),
        lambda uow: trainings.close_training(CloseTraining(tid), uow, DEPLOYMENT, only(REGION)),
    ]
    for attempt in attempts:
        async with db.unit_of_work() as uow:
            with pytest.raises(Conflict) as refused:
                await attempt(uow)
        assert refused.value.code == "training_cancelled"
    assert len(db.published) == 2


async def test_a_closed_training_with_its_decisions_cannot_be_cancelled() -> None:
    db = FakeDatabase()
    nothing_required = CompletionRule(min_attendance_ratio=0, require_post_test=False, require_ojt=False)
    tid = (await scheduled(db, completion_rule=nothing_required)).training.training_id
    fid = db.enroll(tid)
    await close(db, tid)
    assert db.state.decisions[(tid, fid)].outcome == "completed"
    async with db.unit_of_work() as uow:
        with pytest.raises(Conflict) as refused:
            await trainings.cancel_training(CancelTraining(tid), uow, DEPLOYMENT, only(REGION))
    assert refused.value.code == "training_closed"
    assert db.state.trainings[tid].status == CLOSED


async def test_closing_decides_everyone_left_and_announces_the_counts() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id
    stays, leaves = db.enroll(tid), db.enroll(tid)
    db.withdraw(tid, leaves)
    async with db.unit_of_work() as uow:
        summary = await trainings.close_training(CloseTraining(tid), uow, DEPLOYMENT, only(REGION))
    assert summary.training.status == CLOSED
    assert summary.training.closed_at == NOW
    assert (summary.counts.completed, summary.counts.not_completed) == (0, 2)
    unmet = {p.facilitator_id: p.unmet for p in db.payloads(TrainingNotCompleted)}
    assert unmet == {
        stays: ["attendance_below_minimum", "post_test_missing", "ojt_not_completed"],
        leaves: ["withdrawn"],
    }
    assert db.state.decisions[(tid, stays)].decided_by == "training_closed"
    [closed] = db.payloads(TrainingClosed)
    assert (closed.completed, closed.not_completed) == (0, 2)
    assert [type(e.payload) for e in db.published[-2:]] == [TrainingClosed, SubmissionSubmitted]  # then: to verify
    async with db.unit_of_work() as uow:
        with pytest.raises(Conflict) as refused:
            await trainings.close_training(CloseTraining(tid), uow, DEPLOYMENT, only(REGION))
    assert refused.value.code == "training_closed"


async def test_a_training_closes_once_its_last_day_has_begun_everywhere_in_indonesia() -> None:
    db = FakeDatabase()
    tid = (await scheduled(db)).training.training_id  # last session on 4 August 2016
    before = replace(DEPLOYMENT, clock=lambda: datetime(2016, 8, 3, 14, 59, tzinfo=UTC))  # 23:59 WIT
    async with db.unit_of_work() as uow:
        with pytest.raises(Conflict) as refused:
            await trainings.close_training(CloseTraining(tid), uow, before, only(REGION))
    assert refused.value.code == "training_not_over"
    assert refused.value.message == "the last session is on 2016-08-04; close it after that"
    midnight = replace(DEPLOYMENT, clock=lambda: datetime(2016, 8, 3, 15, 0, tzinfo=UTC))  # 00:00 WIT
    async with db.unit_of_work() as uow:
        summary = await trainings.close_training(CloseTraining(tid), uow, midnight, only(REGION))
    assert summary.training.status == CLOSED
