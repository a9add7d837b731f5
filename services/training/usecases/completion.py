"""Completion decisions, reviews and certificates, under the lock of the command that makes them
due: the close decides every participant over every fact known then (so the outcome does not
depend on the order facts arrived in); a fact recorded after the close that makes the facts
disagree with the decision opens a review; the region's training officer re-decides with a reason
(``redecide``), which revokes the certificate or issues a new one."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.training import domain
from services.training.domain import CLOSED, Decision, Fact, Outcome, Training
from services.training.domain.errors import DecisionNotFound, NothingToReview, TrainingNotClosed
from services.training.usecases.common import emit, locked
from services.training.usecases.ports import Authorize, Deployment, Review, UnitOfWork
from services.training.usecases.submissions import submit
from shared.kernel.contracts import (
    AssessmentKind,
    CertificateIssued,
    CertificateRevoked,
    OutcomeReviewChanged,
    ReviewStatus,
    SubmissionKind,
    TrainingCompleted,
    TrainingNotCompleted,
    TrainingOutcomeCorrected,
)

TRAINING_CLOSED = "training_closed"
OFFICER = "officer"
REVIEW_NAMESPACE = uuid.UUID("5d0f1c2e-8b7a-4e3f-a1d9-6c4b2e7f9a03")


async def _facts_of(uow: UnitOfWork, training: Training, people: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Fact]]:
    facts_of: dict[uuid.UUID, list[Fact]] = {}
    for fact in await uow.facts.of_participants(training.training_id, list(people)):
        facts_of.setdefault(fact.facilitator_id, []).append(fact)
    return facts_of


async def decide_at_close(uow: UnitOfWork, deployment: Deployment, training: Training) -> None:
    """Decide every participant not decided yet, over all their facts known now (the close)."""
    undecided = await uow.decisions.undecided(training.training_id, None)
    if not undecided:
        return
    facts_of = await _facts_of(uow, training, [p.facilitator_id for p in undecided])
    for participant in undecided:
        fid = participant.facilitator_id
        decision = domain.decide(
            training.completion_rule, training.sessions, facts_of.get(fid, []), withdrawn=participant.withdrawn
        )
        if await uow.decisions.add(training.training_id, fid, decision, TRAINING_CLOSED):
            await _announce(uow, deployment, training, fid, decision)


async def _announce(
    uow: UnitOfWork, deployment: Deployment, training: Training, fid: uuid.UUID, decision: Decision
) -> None:
    """The events of a decision: completed with its certificate, or not completed."""
    if decision.outcome is Outcome.COMPLETED:
        record = decision.record
        pre, post = record.assessment(AssessmentKind.PRE), record.assessment(AssessmentKind.POST)
        emit(
            uow,
            deployment,
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
        await _certify(uow, deployment, training, fid)
    else:
        emit(
            uow,
            deployment,
            training,
            TrainingNotCompleted(
                training_id=training.training_id,
                facilitator_id=fid,
                attendance_ratio=decision.attendance_ratio,
                unmet=list(decision.unmet),
            ),
        )


async def _certify(uow: UnitOfWork, deployment: Deployment, training: Training, fid: uuid.UUID) -> None:
    code = await issue_certificate(uow, training.training_id, fid)
    emit(
        uow,
        deployment,
        training,
        CertificateIssued(training_id=training.training_id, facilitator_id=fid, certificate_code=code),
    )


async def review_after_close(
    uow: UnitOfWork, deployment: Deployment, training: Training, people: Sequence[uuid.UUID]
) -> None:
    """After facts about ``people`` were recorded on a closed training: open a review where the
    facts now disagree with the decision, and end as moot an open one where they agree again."""
    decisions = await uow.decisions.of(training.training_id, people)
    if not decisions:
        return
    facts_of = await _facts_of(uow, training, list(decisions))
    for fid, decided in sorted(decisions.items()):
        if decided.unmet == (domain.WITHDRAWN,):
            continue  # a withdrawal decides, whatever the facts
        now = domain.decide(training.completion_rule, training.sessions, facts_of.get(fid, []), withdrawn=False)
        open_review = await uow.decisions.open_review(training.training_id, fid)
        if now.outcome is decided.outcome:
            if open_review is not None:
                await uow.decisions.end_review(open_review.review_id, ReviewStatus.MOOT, "", "the facts agree again")
                _review_event(uow, deployment, training, open_review, ReviewStatus.MOOT)
            continue
        if open_review is not None:
            continue
        review = Review(
            review_id=uuid.uuid5(REVIEW_NAMESPACE, f"{training.training_id}/{fid}/{deployment.clock().isoformat()}"),
            training_id=training.training_id,
            facilitator_id=fid,
            decided_outcome=decided.outcome.value,
            outcome_now=now.outcome.value,
            unmet_now=now.unmet,
        )
        if await uow.decisions.add_review(review):
            _review_event(uow, deployment, training, review, ReviewStatus.OPEN)


def _review_event(
    uow: UnitOfWork, deployment: Deployment, training: Training, review: Review, status: ReviewStatus
) -> None:
    emit(
        uow,
        deployment,
        training,
        OutcomeReviewChanged(
            training_id=training.training_id,
            facilitator_id=review.facilitator_id,
            review_id=review.review_id,
            status=status,
            decided_outcome=review.decided_outcome,
            outcome_now=review.outcome_now,
            unmet_now=list(review.unmet_now),
        ),
    )


@dataclass(frozen=True)
class Redecide:
    """An officer's decision about one participant of a closed training, with the reason."""

    training_id: uuid.UUID
    facilitator_id: uuid.UUID
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class Redecided:
    previous_outcome: str
    outcome: str
    certificate_revoked: str | None
    certificate_issued: str | None


async def redecide(cmd: Redecide, uow: UnitOfWork, deployment: Deployment, authorize: Authorize, who: str) -> Redecided:
    """Re-decide after the close: the outcome the officer gives, on the facts as they stand (the
    unmet requirements and ratio are those of the facts). The same outcome confirms the decision
    and ends the open review; another replaces it, revokes the certificate or issues a new one."""
    training = await locked(uow, deployment, cmd.training_id, authorize)
    if training.status != CLOSED:
        raise TrainingNotClosed()
    fid = cmd.facilitator_id
    decided = (await uow.decisions.of(training.training_id, [fid])).get(fid)
    if decided is None:
        raise DecisionNotFound()
    open_review = await uow.decisions.open_review(training.training_id, fid)
    facts = (await _facts_of(uow, training, [fid])).get(fid, [])
    now = domain.decide(training.completion_rule, training.sessions, facts, withdrawn=False)
    revoked = issued = None
    if cmd.outcome is decided.outcome:
        if open_review is None:
            raise NothingToReview(decided.outcome.value)
    else:
        unmet = now.unmet if cmd.outcome is Outcome.NOT_COMPLETED else ()
        if cmd.outcome is Outcome.NOT_COMPLETED and not unmet:
            unmet = ("officer_decision",)
        decision = Decision(cmd.outcome, unmet, now.attendance_ratio, now.record)
        await uow.decisions.correct(training.training_id, fid, decision, cmd.reason, who)
        emit(
            uow,
            deployment,
            training,
            TrainingOutcomeCorrected(
                training_id=training.training_id,
                facilitator_id=fid,
                previous_outcome=decided.outcome.value,
                outcome=cmd.outcome.value,
                unmet=list(unmet),
                attendance_ratio=now.attendance_ratio,
                reason=cmd.reason,
                corrected_by=who[:200],
            ),
        )
        if cmd.outcome is Outcome.NOT_COMPLETED:
            revoked = await uow.certificates.valid_code(training.training_id, fid)
            if revoked is not None:
                await uow.certificates.revoke(revoked, cmd.reason)
                emit(
                    uow,
                    deployment,
                    training,
                    CertificateRevoked(
                        training_id=training.training_id,
                        facilitator_id=fid,
                        certificate_code=revoked,
                        reason=cmd.reason,
                    ),
                )
        else:
            issued = await issue_certificate(uow, training.training_id, fid)
            emit(
                uow,
                deployment,
                training,
                CertificateIssued(training_id=training.training_id, facilitator_id=fid, certificate_code=issued),
            )
    if cmd.outcome is not decided.outcome:
        await submit(uow, deployment, training, SubmissionKind.CLOSE)  # the close changed: verify it again
    if open_review is not None:
        await uow.decisions.end_review(open_review.review_id, ReviewStatus.RESOLVED, who, cmd.reason)
        _review_event(uow, deployment, training, open_review, ReviewStatus.RESOLVED)
    return Redecided(decided.outcome.value, cmd.outcome.value, revoked, issued)


def new_certificate_code() -> str:
    n = len(domain.CERTIFICATE_ALPHABET)
    return domain.format_certificate_code(
        [secrets.randbelow(n) for _ in range(domain.CERTIFICATE_GROUPS * domain.CERTIFICATE_GROUP_LENGTH)]
    )


async def issue_certificate(uow: UnitOfWork, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> str:
    for _ in range(5):  # a collision of ~79-bit codes is not expected; retry rather than fail
        code = new_certificate_code()
        if await uow.certificates.add(code, training_id, facilitator_id):
            return code
    raise RuntimeError("could not draw a unique certificate code")
