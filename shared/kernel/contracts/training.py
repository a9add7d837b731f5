"""Events published by the training service: trainings and what happens in them."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from shared.kernel.contracts.registration import Role
from shared.kernel.envelope import ContractModel, EventPayload
from shared.kernel.topics import PARTICIPATION, TRAINING
from shared.kernel.validation import KELURAHAN_CODE, EventText


class TrainingType(StrEnum):
    BASIC = "basic"  # pelatihan dasar
    REFRESHER = "refresher"  # penyegaran
    TOT = "tot"  # training of trainers
    THEMATIC = "thematic"


class SessionKind(StrEnum):
    CLASSROOM = "classroom"
    OJT = "ojt"


class AttendanceStatus(StrEnum):
    PRESENT = "present"
    LATE = "late"
    EXCUSED = "excused"
    ABSENT = "absent"


class AssessmentKind(StrEnum):
    PRE = "pre"
    POST = "post"


class Module(ContractModel):
    """A training module, e.g. "Dasar Program KOTAKU"."""

    code: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=200)


class TrainingClass(ContractModel):
    """A class of about 20-30 participants led by two trainers (pemandu)."""

    class_id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    trainers: list[str] = Field(default_factory=list, max_length=4)


class Session(ContractModel):
    """One session (a day or half day) of a training, in the classroom or on the job."""

    session_id: str = Field(min_length=1, max_length=40)
    date: date
    kind: SessionKind
    module_code: str | None = None


class CompletionRule(ContractModel):
    """What a participant must do to complete the training."""

    min_attendance_ratio: float = Field(default=0.9, ge=0, le=1)
    require_post_test: bool = True
    require_ojt: bool = True


FactId = Annotated[
    str | None, Field(max_length=100, description="the recorder's own id of this fact (dedupe, tie-break)")
]


class TrainingEvent(EventPayload):
    """An event about a training itself: on the training stream, keyed by the training."""

    stream = TRAINING
    key_field = "training_id"

    training_id: uuid.UUID


class ParticipationEvent(EventPayload):
    """An event about what happens in a training: on the participation stream, keyed by the training
    (so that one training's facts stay in order)."""

    stream = PARTICIPATION
    key_field = "training_id"

    training_id: uuid.UUID


class ParticipantEvent(ParticipationEvent):
    """A participation event about one participant."""

    facilitator_id: uuid.UUID


class TrainingScheduled(TrainingEvent):
    """A training was scheduled. Registration validates enrollments against it."""

    event_type = "TrainingScheduled"

    training_type: TrainingType
    title: str = Field(min_length=1, max_length=300)
    organiser: str = Field(min_length=1, max_length=200)
    venue: str = Field(min_length=1, max_length=300)
    start_date: date
    end_date: date
    capacity: int = Field(ge=1, le=5000)
    eligible_roles: list[Role] = Field(min_length=1)
    modules: list[Module] = Field(default_factory=list)
    classes: list[TrainingClass] = Field(default_factory=list)
    sessions: list[Session] = Field(default_factory=list)
    completion_rule: CompletionRule = Field(default_factory=CompletionRule)

    @model_validator(mode="after")
    def _dates_in_order(self) -> TrainingScheduled:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class TrainingUpdated(TrainingEvent):
    """Schedule details changed; the full new state is carried (same fields as scheduled)."""

    event_type = "TrainingUpdated"

    title: str = Field(min_length=1, max_length=300)
    venue: str = Field(min_length=1, max_length=300)
    start_date: date
    end_date: date
    capacity: int = Field(ge=1, le=5000)
    eligible_roles: list[Role] = Field(min_length=1)
    sessions: list[Session] = Field(default_factory=list)
    # Added later, optional: absent (None) in events of older producers.
    organiser: str | None = Field(default=None, min_length=1, max_length=200)
    modules: list[Module] | None = None
    classes: list[TrainingClass] | None = None
    completion_rule: CompletionRule | None = None


class TrainingCancelled(TrainingEvent):
    event_type = "TrainingCancelled"

    reason: EventText = ""


class TrainingClosed(TrainingEvent):
    """The training is over; every participant's completion has been decided."""

    event_type = "TrainingClosed"

    completed: int = Field(ge=0)
    not_completed: int = Field(ge=0)


class AttendanceRecorded(ParticipationEvent):
    """Attendance of one participant at one session. A later ``occurred_at`` wins (corrections)."""

    event_type = "AttendanceRecorded"

    session_id: str = Field(min_length=1, max_length=40)
    facilitator_id: uuid.UUID
    status: AttendanceStatus
    note: EventText = ""
    fact_id: FactId = None


class AssessmentScored(ParticipantEvent):
    """A pre-test or post-test score. A later ``occurred_at`` wins (corrections)."""

    event_type = "AssessmentScored"

    kind: AssessmentKind
    score: float = Field(ge=0)
    max_score: float = Field(gt=0)
    fact_id: FactId = None

    @model_validator(mode="after")
    def _score_within_max(self) -> AssessmentScored:
        if self.score > self.max_score:
            raise ValueError("score exceeds max_score")
        return self


class OJTAssigned(ParticipantEvent):
    """A participant was assigned On-the-Job Training in a kelurahan."""

    event_type = "OJTAssigned"

    kelurahan_code: str = Field(pattern=KELURAHAN_CODE)
    mentor: str = Field(min_length=1, max_length=200)
    task: EventText = ""
    fact_id: FactId = None


class OJTCompleted(ParticipantEvent):
    """A participant completed their OJT, with a short report and a rating (1-5)."""

    event_type = "OJTCompleted"

    kelurahan_code: str = Field(pattern=KELURAHAN_CODE)
    report: EventText = ""
    rating: int = Field(ge=1, le=5)
    fact_id: FactId = None


class TrainingCompleted(ParticipantEvent):
    """A participant met every requirement of the training's completion rule."""

    event_type = "TrainingCompleted"

    attendance_ratio: float = Field(ge=0, le=1)
    pre_score: float | None = None
    post_score: float | None = None
    ojt_kelurahan_code: str | None = None


class TrainingNotCompleted(ParticipantEvent):
    """A participant did not complete; ``unmet`` lists the stable codes of unmet requirements
    (``attendance_below_minimum``, ``post_test_missing``, ``ojt_not_completed``, ``withdrawn``)."""

    event_type = "TrainingNotCompleted"

    attendance_ratio: float = Field(ge=0, le=1)
    unmet: list[str] = Field(min_length=1)


class CertificateIssued(ParticipantEvent):
    """A certificate was issued; ``GET /api/v1/certificates/{code}`` on training verifies it."""

    event_type = "CertificateIssued"

    certificate_code: str = Field(min_length=8, max_length=40)


class ReviewStatus(StrEnum):
    OPEN = "open"  # a fact recorded after the decision says otherwise: the region's officer decides
    RESOLVED = "resolved"  # an officer re-decided (TrainingOutcomeCorrected) or confirmed the decision
    MOOT = "moot"  # later facts agree with the decision again


class OutcomeReviewChanged(ParticipantEvent):
    """A review of a participant's decision opened or ended. It opens when a fact recorded after
    the training closed makes the facts disagree with the decision (``outcome_now``)."""

    event_type = "OutcomeReviewChanged"

    review_id: uuid.UUID
    status: ReviewStatus
    decided_outcome: str = Field(max_length=40)
    outcome_now: str = Field(max_length=40)
    unmet_now: list[str] = Field(default_factory=list)


class TrainingOutcomeCorrected(ParticipantEvent):
    """A training officer re-decided a participant's outcome after the close, with a reason. The
    certificate follows: ``CertificateRevoked`` or a new ``CertificateIssued``."""

    event_type = "TrainingOutcomeCorrected"

    previous_outcome: str = Field(max_length=40)
    outcome: str = Field(max_length=40)
    unmet: list[str] = Field(default_factory=list)
    attendance_ratio: float = Field(ge=0, le=1)
    reason: EventText
    corrected_by: str = Field(max_length=200, description="the label of the officer's credential")


class CertificateRevoked(ParticipantEvent):
    """A certificate no longer stands; verification answers revoked, with the date and reason."""

    event_type = "CertificateRevoked"

    certificate_code: str = Field(min_length=8, max_length=40)
    reason: EventText


class SubmissionKind(StrEnum):
    ATTENDANCE = "attendance"  # a session's attendance sheet
    CLOSE = "close"  # the close of a training, with its decisions


class SubmissionEvent(TrainingEvent):
    """A step of the verification chain of one submission of a training: a session's attendance
    sheet (``attendance:<session_id>``) or the close with its decisions (``close``), recorded by the
    trainers, verified by the OC region, accepted by the national office; returnable at each level."""

    submission_id: str = Field(min_length=1, max_length=60)
    kind: SubmissionKind
    session_id: str | None = Field(default=None, max_length=40)
    by: str = Field(default="", max_length=200, description="the label of the credential that acted")


class SubmissionSubmitted(SubmissionEvent):
    """Submitted for verification: first recorded, or ``reopened`` by a correction of a sheet
    that was verified, accepted or returned (its earlier verification no longer holds)."""

    event_type = "SubmissionSubmitted"

    reopened: bool = False
    previous_status: str | None = Field(default=None, max_length=20)


class SubmissionVerified(SubmissionEvent):
    event_type = "SubmissionVerified"


class SubmissionReturned(SubmissionEvent):
    """Returned with a reason, by the region (from submitted) or the national office (from verified)."""

    event_type = "SubmissionReturned"

    level: str = Field(max_length=20, description="region or national")
    reason: EventText


class SubmissionAccepted(SubmissionEvent):
    event_type = "SubmissionAccepted"
