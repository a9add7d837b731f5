"""Completion decisions and certificates: taken inside the command that made them due (a fact
recorded, a schedule changed, the close), under that command's lock on the training, so each
participant is decided exactly once."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from services.training import domain
from services.training.domain import Fact, Outcome, Training
from services.training.usecases.common import emit
from services.training.usecases.ports import Deployment, UnitOfWork
from shared.kernel.contracts import AssessmentKind, CertificateIssued, TrainingCompleted, TrainingNotCompleted

REQUIREMENTS_MET = "requirements_met"
TRAINING_CLOSED = "training_closed"


async def decide_due(
    uow: UnitOfWork,
    deployment: Deployment,
    training: Training,
    facilitator_ids: Sequence[uuid.UUID] | None,
    *,
    closing: bool,
) -> None:
    """Take the decisions that are due for the undecided participants among ``facilitator_ids``
    (everyone when None): completed as soon as every requirement is met; at close, the rest."""
    undecided = await uow.decisions.undecided(training.training_id, facilitator_ids)
    if not undecided:
        return
    facts_of: dict[uuid.UUID, list[Fact]] = {}
    for fact in await uow.facts.of_participants(training.training_id, [p.facilitator_id for p in undecided]):
        facts_of.setdefault(fact.facilitator_id, []).append(fact)
    decided_by = TRAINING_CLOSED if closing else REQUIREMENTS_MET
    for participant in undecided:
        fid = participant.facilitator_id
        decision = domain.decide(
            training.completion_rule,
            training.sessions,
            facts_of.get(fid, []),
            withdrawn=participant.withdrawn,
            closing=closing,
        )
        if decision is None:
            continue
        if not await uow.decisions.add(training.training_id, fid, decision, decided_by):
            continue
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
            code = await issue_certificate(uow, training.training_id, fid)
            emit(
                uow,
                deployment,
                training,
                CertificateIssued(training_id=training.training_id, facilitator_id=fid, certificate_code=code),
            )
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
