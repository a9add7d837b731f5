"""The verification chain on fakes: sheets and the close are submitted by what trainers record,
verified by the region, accepted by the national office, returned at either level, reopened by a
correction."""

from __future__ import annotations

import uuid

import pytest

from services.training.domain import Attendance, Fact
from services.training.domain.submissions import Action, Level, Status
from services.training.usecases import submissions
from services.training.usecases.sync import SyncFacts, sync_facts
from shared.kernel.contracts import (
    AttendanceStatus,
    SubmissionAccepted,
    SubmissionReturned,
    SubmissionSubmitted,
    SubmissionVerified,
)
from shared.kernel.errors import DomainError
from tests.unit.training.builders import at, close, training_with
from tests.unit.training.fakes import DEPLOYMENT, REGION, FakeDatabase, only

PRESENT, ABSENT = AttendanceStatus.PRESENT, AttendanceStatus.ABSENT
REGION_OFFICER = submissions.Actor(Level.REGION, only(REGION), "koordinator oc02")


def national(regions: tuple[str, ...] = (REGION, "oc05")) -> submissions.Actor:
    return submissions.Actor(Level.NATIONAL, only(*regions), "kantor nasional")


async def sheet(
    db: FakeDatabase, tid: uuid.UUID, fid: uuid.UUID, session: str, status: AttendanceStatus, n: int
) -> None:
    fact = Fact(f"{session}-{fid}-{n}", fid, at(int(session[1:]), 9 + n), Attendance(session, status))
    async with db.unit_of_work() as uow:
        await sync_facts(SyncFacts(tid, (fact,)), uow, DEPLOYMENT, only(REGION), channel="sync")


async def act(
    db: FakeDatabase, tid: uuid.UUID, sid: str, action: Action, actor: submissions.Actor, reason: str = ""
) -> Status:
    async with db.unit_of_work() as uow:
        done = await submissions.act(submissions.Act(tid, sid, action, reason), uow, DEPLOYMENT, actor)
    return done.status


async def refused(db: FakeDatabase, tid: uuid.UUID, sid: str, action: Action, actor: submissions.Actor) -> str:
    with pytest.raises(DomainError) as info:
        await act(db, tid, sid, action, actor, "alasan")
    return info.value.code


async def test_a_sheet_moves_up_the_chain_and_a_correction_reopens_it() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db, 2)
    await sheet(db, tid, p1, "d0", PRESENT, 0)
    await sheet(db, tid, p2, "d0", PRESENT, 0)  # the same sheet, still waiting: submitted once
    assert [(e.submission_id, e.reopened) for e in db.payloads(SubmissionSubmitted)] == [("attendance:d0", False)]
    assert await refused(db, tid, "attendance:d0", Action.ACCEPT, national()) == "wrong_status"
    assert await refused(db, tid, "attendance:d0", Action.ACCEPT, REGION_OFFICER) == "wrong_level"
    assert await refused(db, tid, "attendance:d0", Action.VERIFY, national()) == "wrong_level"
    assert await act(db, tid, "attendance:d0", Action.VERIFY, REGION_OFFICER) is Status.VERIFIED
    assert await refused(db, tid, "attendance:d0", Action.VERIFY, REGION_OFFICER) == "wrong_status"
    [verified] = db.payloads(SubmissionVerified)
    assert (verified.session_id, verified.by) == ("d0", "koordinator oc02")
    # a correction of the verified sheet reopens it, and says so
    await sheet(db, tid, p1, "d0", ABSENT, 1)
    reopened = db.payloads(SubmissionSubmitted)[-1]
    assert (reopened.reopened, reopened.previous_status) == (True, "verified")
    assert await act(db, tid, "attendance:d0", Action.VERIFY, REGION_OFFICER) is Status.VERIFIED
    assert await act(db, tid, "attendance:d0", Action.ACCEPT, national()) is Status.ACCEPTED
    [accepted] = db.payloads(SubmissionAccepted)
    assert accepted.by == "kantor nasional"
    steps = [(a, s) for t, i, a, s in db.state.submission_steps if i == "attendance:d0"]
    assert steps == [
        ("submit", "submitted"),
        ("verify", "verified"),
        ("reopen", "submitted"),
        ("verify", "verified"),
        ("accept", "accepted"),
    ]


async def test_either_level_returns_with_a_reason_and_the_close_is_submitted_too() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    await sheet(db, tid, p1, "d1", PRESENT, 0)
    assert await act(db, tid, "attendance:d1", Action.RETURN, REGION_OFFICER, "Tanda tangan kurang") is Status.RETURNED
    await sheet(db, tid, p1, "d1", PRESENT, 1)  # the trainers correct it: submitted again
    assert await act(db, tid, "attendance:d1", Action.VERIFY, REGION_OFFICER) is Status.VERIFIED
    assert await act(db, tid, "attendance:d1", Action.RETURN, national(), "Tanggal salah") is Status.RETURNED
    returns = [(e.level, e.reason) for e in db.payloads(SubmissionReturned)]
    assert returns == [("region", "Tanda tangan kurang"), ("national", "Tanggal salah")]
    await close(db, tid)
    views = await db.reads.submissions(tid)
    assert [(v.submission_id, v.status) for v in views] == [
        ("close", Status.SUBMITTED),
        ("attendance:d1", Status.RETURNED),
    ]
    assert await act(db, tid, "close", Action.VERIFY, REGION_OFFICER) is Status.VERIFIED
    assert await act(db, tid, "close", Action.ACCEPT, national()) is Status.ACCEPTED


async def test_only_the_trainings_region_verifies_and_unknown_submissions_are_not_found() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    await sheet(db, tid, p1, "d0", PRESENT, 0)
    other = submissions.Actor(Level.REGION, only("oc05"), "koordinator oc05")
    assert await refused(db, tid, "attendance:d0", Action.VERIFY, other) == "region_forbidden"
    assert await refused(db, tid, "attendance:d9", Action.VERIFY, REGION_OFFICER) == "submission_not_found"
    assert await refused(db, tid, "close", Action.VERIFY, REGION_OFFICER) == "submission_not_found"
