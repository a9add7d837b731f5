"""Offline sync batches, completion decisions and certificates, on fakes."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

import pytest

from services.training import domain
from services.training.domain import Assessment, Attendance, Fact, OJTCompletion, Outcome
from services.training.usecases import completion, facts, queries
from services.training.usecases.completion import issue_certificate
from services.training.usecases.ports import Authorize
from services.training.usecases.sync import SyncFacts, sync_facts
from shared.kernel.contracts import (
    AssessmentKind,
    AttendanceRecorded,
    AttendanceStatus,
    CertificateIssued,
    CertificateRevoked,
    OutcomeReviewChanged,
    ReviewStatus,
    Session,
    TrainingCompleted,
    TrainingNotCompleted,
    TrainingOutcomeCorrected,
)
from shared.kernel.errors import DomainError
from tests.unit.training.builders import KEL, SESSIONS, at, close, scheduled, training_with
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


def marked(
    fid: uuid.UUID, tag: str, status: AttendanceStatus, sessions: Sequence[Session] = SESSIONS, hour: int = 18
) -> list[Fact]:
    """Attendance of ``fid`` at ``sessions`` corrected to ``status`` on the last day, at ``hour``."""
    return [Fact(f"{tag}-{s.session_id}", fid, at(3, hour), Attendance(s.session_id, status)) for s in sessions]


async def redecide(
    db: FakeDatabase, tid: uuid.UUID, fid: uuid.UUID, outcome: Outcome, reason: str, authorize: Authorize | None = None
) -> completion.Redecided:
    async with db.unit_of_work() as uow:
        cmd = completion.Redecide(tid, fid, outcome, reason)
        return await completion.redecide(cmd, uow, DEPLOYMENT, authorize or only(REGION), "officer oc02")


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


async def test_outcomes_are_provisional_until_the_close_decides_them_and_issues_certificates() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db, 2)
    await sync(db, tid, everything(p1) + everything(p2)[:-1])  # p2 has no post-test
    assert not db.payloads(TrainingCompleted)
    assert not db.payloads(CertificateIssued)
    _, views = await queries.participants(db.reads, tid, only(REGION))
    assert {v.facilitator_id: (v.provisional, v.outcome_now, v.outcome) for v in views} == {
        p1: (True, "completed", None),
        p2: (True, "not_completed", None),
    }
    await close(db, tid)
    [done] = db.payloads(TrainingCompleted)
    assert (done.facilitator_id, done.attendance_ratio, done.post_score, done.pre_score) == (p1, 1.0, 80, None)
    assert done.ojt_kelurahan_code == KEL
    [certificate] = db.payloads(CertificateIssued)
    assert domain.normalise_certificate_code(certificate.certificate_code) == certificate.certificate_code
    assert db.state.certificates[certificate.certificate_code][:2] == (tid, p1)
    assert db.state.decisions[(tid, p1)].decided_by == "training_closed"
    [missed] = db.payloads(TrainingNotCompleted)
    assert (missed.facilitator_id, missed.unmet) == (p2, ["post_test_missing"])


def deliveries(batch: list[Fact], rng: random.Random) -> list[list[Fact]]:
    """One way ``batch`` may arrive: shuffled, some facts sent again, cut into batches of any size."""
    stream = batch + rng.sample(batch, min(len(batch), 6))
    rng.shuffle(stream)
    cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(0, min(5, len(stream) - 1))))
    return [stream[i:j] for i, j in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


async def test_any_order_any_repeats_any_batches_decide_the_same() -> None:
    fids = [uuid.UUID(int=i + 1) for i in range(4)]
    # p1 complete; p2 without post-test; p3 complete, then corrected absent for two sessions (dated
    # later) before the close: not completed whatever the order; p4 absent, corrected present.
    corrections = [
        Fact(f"fix-{s.session_id}", fids[2], at(3, 18), Attendance(s.session_id, ABSENT)) for s in SESSIONS[:2]
    ]
    recovered = [
        Fact(f"abs-{s.session_id}", fids[3], at(i, 8), Attendance(s.session_id, ABSENT)) for i, s in enumerate(SESSIONS)
    ]
    facts_all = (
        everything(fids[0])
        + everything(fids[1])[:-1]
        + everything(fids[2])
        + corrections
        + recovered
        + everything(fids[3])
    )
    outcomes = set()
    for seed in range(8):
        db = FakeDatabase()
        tid = uuid.UUID(int=99)
        await scheduled(db, tid)
        db.define_kelurahan(KEL)
        for f in fids:
            db.enroll(tid, f)
        for part in deliveries(list(facts_all), random.Random(seed)):
            await sync(db, tid, part)
        await close(db, tid)
        outcomes.add(
            (
                tuple(sorted((p.facilitator_id, p.attendance_ratio) for p in db.payloads(TrainingCompleted))),
                tuple(sorted((p.facilitator_id, tuple(p.unmet)) for p in db.payloads(TrainingNotCompleted))),
                tuple(sorted(t[1] for t in db.state.certificates.values())),
            )
        )
    assert len(outcomes) == 1
    [(completed, not_completed, certified)] = outcomes
    assert [f for f, _ in completed] == [fids[0], fids[3]]
    assert not_completed == ((fids[1], ("post_test_missing",)), (fids[2], ("attendance_below_minimum",)))
    assert certified == (fids[0], fids[3])


async def test_a_correction_after_the_close_opens_a_review_and_the_officer_re_decides() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db, 2)
    await sync(db, tid, everything(p1) + everything(p2))
    await close(db, tid)
    [code, _] = [c for c, (t, f, _) in db.state.certificates.items() if f == p1] + [None]
    assert code is not None
    assert (await sync(db, tid, marked(p1, "fix", ABSENT))).count("recorded") == 4
    # the decision stands until an officer decides; a review says why it should be looked at
    assert db.state.decisions[(tid, p1)].outcome == "completed"
    [review] = await queries.reviews(db.reads, tid, only(REGION))
    assert (review.facilitator_id, review.status, review.decided_outcome, review.outcome_now) == (
        p1,
        "open",
        "completed",
        "not_completed",
    )
    assert review.unmet_now == ("attendance_below_minimum",)
    [opened] = db.payloads(OutcomeReviewChanged)
    assert (opened.status, opened.review_id) == (ReviewStatus.OPEN, review.review_id)
    # a second late fact does not open a second review
    await sync(db, tid, [Fact("fix-again", p1, at(3, 19), Attendance("d0", ABSENT))])
    assert len(db.payloads(OutcomeReviewChanged)) == 1

    done = await redecide(db, tid, p1, Outcome.NOT_COMPLETED, "Absen empat hari, dikoreksi dari daftar hadir")
    assert (done.previous_outcome, done.outcome, done.certificate_revoked, done.certificate_issued) == (
        "completed",
        "not_completed",
        code,
        None,
    )
    [corrected] = db.payloads(TrainingOutcomeCorrected)
    assert (corrected.previous_outcome, corrected.outcome, corrected.unmet) == (
        "completed",
        "not_completed",
        ["attendance_below_minimum"],
    )
    assert corrected.corrected_by == "officer oc02"
    [revoked] = db.payloads(CertificateRevoked)
    assert revoked.certificate_code == code
    view = await queries.verify_certificate(db.reads, code)
    assert view.revoked_at is not None
    assert view.revoke_reason == "Absen empat hari, dikoreksi dari daftar hadir"
    history = await queries.decision_history(db.reads, tid, p1, only(REGION))
    assert [(h.outcome, h.decided_by, h.decided_by_who) for h in history] == [
        ("completed", "training_closed", None),
        ("not_completed", "officer", "officer oc02"),
    ]
    [resolved] = await queries.reviews(db.reads, tid, only(REGION))
    assert (resolved.status, resolved.resolved_by) == ("resolved", "officer oc02")
    assert db.payloads(OutcomeReviewChanged)[-1].status is ReviewStatus.RESOLVED
    summary = await queries.get_training(db.reads, tid, only(REGION))
    assert (summary.counts.completed, summary.counts.not_completed, summary.counts.certificates) == (1, 1, 1)


async def test_a_non_completion_re_decided_gets_a_new_certificate() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    await sync(db, tid, everything(p1)[:-1])
    await close(db, tid)
    assert db.state.decisions[(tid, p1)].outcome == "not_completed"
    await sync(db, tid, everything(p1)[-1:])  # the post-test, found after the close
    [review] = await queries.reviews(db.reads, tid, only(REGION))
    assert review.outcome_now == "completed"
    done = await redecide(db, tid, p1, Outcome.COMPLETED, "Nilai post-test ditemukan")
    assert done.certificate_issued is not None
    assert [c.certificate_code for c in db.payloads(CertificateIssued)] == [done.certificate_issued]
    view = await queries.verify_certificate(db.reads, done.certificate_issued)
    assert view.revoked_at is None


async def test_a_review_is_moot_when_later_facts_agree_with_the_decision_again() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    await sync(db, tid, everything(p1))
    await close(db, tid)
    await sync(
        db, tid, [Fact(f"fix-{s.session_id}", p1, at(3, 18), Attendance(s.session_id, ABSENT)) for s in SESSIONS]
    )
    await sync(
        db, tid, [Fact(f"undo-{s.session_id}", p1, at(3, 19), Attendance(s.session_id, PRESENT)) for s in SESSIONS]
    )
    [review] = await queries.reviews(db.reads, tid, only(REGION))
    assert review.status == "moot"
    assert [e.status for e in db.payloads(OutcomeReviewChanged)] == [ReviewStatus.OPEN, ReviewStatus.MOOT]


async def test_re_deciding_is_refused_before_the_close_without_a_decision_or_with_nothing_to_review() -> None:
    db = FakeDatabase()
    tid, (p1,) = await training_with(db, 1)
    await sync(db, tid, everything(p1))
    with pytest.raises(DomainError) as before:
        await redecide(db, tid, p1, Outcome.NOT_COMPLETED, "Koreksi")
    assert before.value.code == "training_not_closed"
    await close(db, tid)
    with pytest.raises(DomainError) as same:
        await redecide(db, tid, p1, Outcome.COMPLETED, "Koreksi")
    assert same.value.code == "nothing_to_review"
    with pytest.raises(DomainError) as nobody:
        await redecide(db, tid, uuid.uuid4(), Outcome.COMPLETED, "Koreksi")
    assert nobody.value.code == "decision_not_found"
    with pytest.raises(DomainError) as other_region:
        await redecide(db, tid, p1, Outcome.NOT_COMPLETED, "Koreksi", authorize=only("oc05"))
    assert other_region.value.code == "region_forbidden"


async def test_a_certificate_code_already_taken_is_drawn_again() -> None:
    db = FakeDatabase()
    tid, (p1, p2) = await training_with(db, 2)
    async with db.unit_of_work() as uow:
        first = await issue_certificate(uow, tid, p1)
        second = await issue_certificate(uow, tid, p2)
    assert first != second
    assert set(db.state.certificates) == {first, second}
