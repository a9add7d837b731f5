"""Queries: a training with its counts, its roster, its participants' state and history, public
certificate verification, known kelurahan. They read outside any unit of work."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from services.training import domain
from services.training.domain import Fact, Training
from services.training.domain.errors import CertificateNotFound, TrainingNotFound
from services.training.domain.submissions import Submission
from services.training.usecases.ports import (
    Authorize,
    CertificateView,
    DecisionEntry,
    KnownKelurahan,
    ParticipantRow,
    Reads,
    Review,
    RosterEntry,
)
from services.training.usecases.trainings import TrainingSummary
from shared.kernel.contracts import AssessmentKind


async def get_training(reads: Reads, training_id: uuid.UUID, authorize_read: Authorize) -> TrainingSummary:
    training = await reads.training(training_id)
    if training is None:
        raise TrainingNotFound(training_id)
    authorize_read(training.region)
    return TrainingSummary(training, await reads.counts(training_id))


@dataclass(frozen=True)
class Roster:
    training_id: uuid.UUID
    entries: list[RosterEntry]

    @property
    def enrolled(self) -> int:
        return sum(e.status == "enrolled" for e in self.entries)


async def roster(reads: Reads, training_id: uuid.UUID, authorize_read: Authorize) -> Roster:
    """The roster as learned from enrollments; the caller must be allowed to read every region on it."""
    entries = await reads.roster(training_id)
    for region in {e.region for e in entries}:
        authorize_read(region)
    return Roster(training_id, entries)


@dataclass(frozen=True)
class ParticipantView(ParticipantRow):
    """A participant as stored, with what their current facts say."""

    attendance: dict[str, str]
    attended: int
    attendance_ratio: float
    pre: domain.Assessment | None
    post: domain.Assessment | None
    gain: float | None
    ojt_assignment: domain.OJTAssignment | None
    ojt_completion: domain.OJTCompletion | None
    unmet_now: list[str]
    provisional: bool  # the training is not closed: ``outcome_now`` is what the facts say so far
    review: Review | None  # the open review of the decision, if any

    @property
    def outcome_now(self) -> str:
        return (domain.Outcome.COMPLETED if not self.unmet_now else domain.Outcome.NOT_COMPLETED).value

    @property
    def decision_outdated(self) -> bool:
        """Whether the facts as they stand now would decide differently (a correction arrived
        after the close): a review is open for the region's training officer (see README)."""
        return self.review is not None


async def participants(
    reads: Reads, training_id: uuid.UUID, authorize_read: Authorize
) -> tuple[Training, list[ParticipantView]]:
    summary = await get_training(reads, training_id, authorize_read)
    training = summary.training
    rows = await reads.participants(training_id)
    records = domain.fold(await reads.facts_of_training(training_id))
    open_reviews = {r.facilitator_id: r for r in await reads.reviews(training_id) if r.status == "open"}
    views = []
    for row in rows:
        record = records.get(row.facilitator_id, domain.EMPTY_RECORD)
        evaluation = domain.evaluate(training.completion_rule, training.sessions, record)
        pre, post = record.assessment(AssessmentKind.PRE), record.assessment(AssessmentKind.POST)
        assignment = record.ojt_assignment.data if record.ojt_assignment else None
        completion = record.ojt_completion.data if record.ojt_completion else None
        views.append(
            ParticipantView(
                **asdict(row),
                attendance={
                    s.session_id: status.value
                    for s in training.sessions
                    if (status := record.status_of(s.session_id)) is not None
                },
                attended=evaluation.attended,
                attendance_ratio=evaluation.attendance_ratio,
                pre=pre,
                post=post,
                gain=domain.gain(pre, post),
                ojt_assignment=assignment if isinstance(assignment, domain.OJTAssignment) else None,
                ojt_completion=completion if isinstance(completion, domain.OJTCompletion) else None,
                unmet_now=list(evaluation.unmet),
                provisional=training.status != domain.CLOSED,
                review=open_reviews.get(row.facilitator_id),
            )
        )
    return training, views


async def reviews(reads: Reads, training_id: uuid.UUID, authorize_read: Authorize) -> list[Review]:
    """The training's reviews: decisions that facts recorded after the close disagree with."""
    await get_training(reads, training_id, authorize_read)
    return await reads.reviews(training_id)


async def submissions(reads: Reads, training_id: uuid.UUID, authorize_read: Authorize) -> list[Submission]:
    """Where the training's sheets and close stand in the verification chain."""
    await get_training(reads, training_id, authorize_read)
    return await reads.submissions(training_id)


async def decision_history(
    reads: Reads, training_id: uuid.UUID, facilitator_id: uuid.UUID, authorize_read: Authorize
) -> list[DecisionEntry]:
    await get_training(reads, training_id, authorize_read)
    return await reads.decision_history(training_id, facilitator_id)


@dataclass(frozen=True)
class HistoryEntry:
    fact: Fact
    channel: str
    recorded_at: datetime
    current: bool


async def participant_history(
    reads: Reads, training_id: uuid.UUID, facilitator_id: uuid.UUID, authorize_read: Authorize
) -> list[HistoryEntry]:
    await get_training(reads, training_id, authorize_read)
    stored = await reads.history(training_id, facilitator_id)
    current = {f.fact_id for f in domain.current_facts(s.fact for s in stored).values()}
    return [HistoryEntry(s.fact, s.channel, s.recorded_at, s.fact.fact_id in current) for s in stored]


async def verify_certificate(reads: Reads, code: str) -> CertificateView:
    canonical = domain.normalise_certificate_code(code)
    certificate = await reads.certificate(canonical) if canonical else None
    if certificate is None:
        raise CertificateNotFound()
    return certificate


async def known_kelurahan(reads: Reads, code_prefix: str) -> list[KnownKelurahan]:
    return await reads.kelurahan(code_prefix)
