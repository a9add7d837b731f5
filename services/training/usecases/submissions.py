"""The verification chain (domain/submissions.py) as use cases: what trainers record submits it
(``submit``: a session's sheet when attendance is recorded, the close when the training closes or a
decision is corrected); the OC region verifies or returns, the national office accepts or returns
(``act``). Each step is an event with who and when."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from services.training.domain import Training
from services.training.domain.errors import SubmissionNotFound
from services.training.domain.submissions import Action, Level, Status, Submission, next_status, submission_id
from services.training.usecases.common import emit, locked
from services.training.usecases.ports import Authorize, Deployment, UnitOfWork
from shared.kernel.contracts import (
    SubmissionAccepted,
    SubmissionKind,
    SubmissionReturned,
    SubmissionSubmitted,
    SubmissionVerified,
)


async def submit(
    uow: UnitOfWork,
    deployment: Deployment,
    training: Training,
    kind: SubmissionKind,
    session_ids: Iterable[str | None] = (None,),
) -> None:
    """Submit (or reopen) the sheets of ``session_ids`` (attendance) or the close: anything not
    already waiting for the region's verification goes back to ``submitted``."""
    wanted = {submission_id(kind, s): s for s in session_ids}
    known = await uow.submissions.of(training.training_id, list(wanted))
    for sid, session in sorted(wanted.items()):
        before = known.get(sid)
        if before is not None and before.status is Status.SUBMITTED:
            continue
        after = Submission(
            training.training_id,
            sid,
            kind,
            session,
            Status.SUBMITTED,
            reopened=before.reopened + 1 if before is not None else 0,
        )
        await uow.submissions.put(after, "reopen" if before is not None else "submit")
        emit(
            uow,
            deployment,
            training,
            SubmissionSubmitted(
                training_id=training.training_id,
                submission_id=sid,
                kind=kind,
                session_id=session,
                reopened=before is not None,
                previous_status=before.status.value if before is not None else None,
            ),
        )


@dataclass(frozen=True)
class Act:
    """A level's step on one submission of a training: verify, return (with a reason) or accept."""

    training_id: uuid.UUID
    submission_id: str
    action: Action
    reason: str = ""


@dataclass(frozen=True)
class Actor:
    """Who acts: their ``level``, the ``authorize`` check of the training's region (a region
    credential must hold it; the national office reads every region) and their label."""

    level: Level
    authorize: Authorize
    who: str


async def act(cmd: Act, uow: UnitOfWork, deployment: Deployment, actor: Actor) -> Submission:
    training = await locked(uow, deployment, cmd.training_id, actor.authorize)
    current = (await uow.submissions.of(training.training_id, [cmd.submission_id])).get(cmd.submission_id)
    if current is None:
        raise SubmissionNotFound(cmd.submission_id)
    status = next_status(cmd.action, actor.level, current.status)
    after = replace(current, status=status, by=actor.who, reason=cmd.reason)
    await uow.submissions.put(after, cmd.action.value)
    common = {
        "training_id": training.training_id,
        "submission_id": current.submission_id,
        "kind": current.kind,
        "session_id": current.session_id,
        "by": actor.who[:200],
    }
    if status is Status.VERIFIED:
        emit(uow, deployment, training, SubmissionVerified(**common))
    elif status is Status.ACCEPTED:
        emit(uow, deployment, training, SubmissionAccepted(**common))
    else:
        emit(uow, deployment, training, SubmissionReturned(**common, level=actor.level.value, reason=cmd.reason))
    return after
