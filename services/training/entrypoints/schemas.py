"""Request shapes of the training service, shared by the HTTP API and the Kafka intake, and their
translation into the use cases' commands."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from services.training import domain
from services.training.domain import Fact, Schedule
from services.training.domain.submissions import SUBMISSION_ID
from services.training.usecases.classes import AssignClasses
from services.training.usecases.classes import ClassAssignment as Assignment
from services.training.usecases.facts import (
    AssignOJT,
    AttendanceEntry,
    CompleteOJT,
    RecordAttendance,
    ScoreAssessments,
    ScoreEntry,
)
from services.training.usecases.sync import SyncFacts
from services.training.usecases.trainings import ScheduleTraining as ScheduleCommand
from shared.kernel.contracts import (
    AssessmentKind,
    AttendanceStatus,
    CompletionRule,
    Module,
    Role,
    Session,
    SessionKind,
    TrainingClass,
    TrainingType,
)
from shared.kernel.fields import build
from shared.kernel.validation import (
    Identifier,
    Input,
    KelurahanCode,
    Label,
    Note,
    PersonName,
    Reason,
    RegionCode,
    ShortId,
    Title,
)

FactId = Annotated[
    Identifier, Field(description="the recorder's own unique id of this fact; a fact sent again with it is a duplicate")
]

MAX_FACTS = 5000


class ModuleIn(Input):
    """A training module, e.g. "Dasar Program KOTAKU" (published as a ``Module``)."""

    code: ShortId
    title: Label


class ClassIn(Input):
    """A class of about 20-30 participants led by two trainers (pemandu)."""

    class_id: ShortId
    name: Annotated[Label, Field(max_length=100)]
    trainers: list[PersonName] = Field(default_factory=list, max_length=4)


class SessionIn(Input):
    """One session (a day or half day) of a training, in the classroom or on the job."""

    session_id: ShortId
    date: date
    kind: SessionKind
    module_code: ShortId | None = None


class CompletionRuleIn(Input):
    """What a participant must do to complete the training."""

    min_attendance_ratio: float = Field(default=0.9, ge=0, le=1)
    require_post_test: bool = True
    require_ojt: bool = True


class ScheduleDetails(Input):
    """What can change about a training after it was scheduled."""

    title: Title
    organiser: Label
    venue: Title
    start_date: date
    end_date: date
    capacity: int = Field(ge=1, le=5000)
    eligible_roles: list[Role] = Field(min_length=1)
    modules: list[ModuleIn] = Field(default_factory=list, max_length=50)
    classes: list[ClassIn] = Field(
        default_factory=list, max_length=200, description="classes of about 20-30 with two trainers each"
    )
    sessions: list[SessionIn] = Field(
        default_factory=list, max_length=500, description="sessions (days or half days), in the classroom or OJT"
    )
    completion_rule: CompletionRuleIn = Field(default_factory=CompletionRuleIn)

    def schedule(self) -> Schedule:
        return build(
            Schedule,
            self,
            eligible_roles=tuple(self.eligible_roles),
            modules=tuple(build(Module, m) for m in self.modules),
            classes=tuple(build(TrainingClass, c, trainers=list(c.trainers)) for c in self.classes),
            sessions=tuple(build(Session, s) for s in self.sessions),
            completion_rule=build(CompletionRule, self.completion_rule),
        )


class ScheduleTraining(ScheduleDetails):
    """A training to schedule. ``training_id`` may be chosen by the caller (idempotent retries)."""

    training_id: uuid.UUID | None = None
    region: RegionCode = Field(description="the OC region that organises it, e.g. oc02")
    training_type: TrainingType

    def command(self) -> ScheduleCommand:
        return ScheduleCommand(self.region, self.training_type, self.schedule(), self.training_id)


class CancelTraining(Input):
    reason: Note = ""


class SubmissionStep(Input):
    """Verify, return or accept a submission; a return needs the reason."""

    reason: Note = ""


class SubmissionStepIntake(SubmissionStep):
    training_id: uuid.UUID
    submission_id: Annotated[str, StringConstraints(pattern=SUBMISSION_ID)]


class Redecision(Input):
    """An officer's decision about a participant of a closed training, with the reason."""

    outcome: Literal["completed", "not_completed"]
    reason: Reason


class ClassAssignment(Input):
    facilitator_id: uuid.UUID
    class_id: ShortId


class ClassAssignments(Input):
    assignments: list[ClassAssignment] = Field(min_length=1, max_length=MAX_FACTS)

    def command(self, training_id: uuid.UUID) -> AssignClasses:
        return AssignClasses(training_id, tuple(Assignment(a.facilitator_id, a.class_id) for a in self.assignments))


class AttendanceRecord(Input):
    facilitator_id: uuid.UUID
    status: AttendanceStatus
    note: Note = ""
    fact_id: FactId | None = None


class AttendanceSheet(Input):
    """Attendance at one session: one participant, a few, or a whole class sheet.

    With ``class_id`` and ``default_status``, every participant of the class not listed in
    ``records`` gets ``default_status`` (the usual sheet: everyone present but the exceptions).
    ``sheet_id`` makes a resent sheet a duplicate instead of a second record."""

    session_id: ShortId
    occurred_at: AwareDatetime | None = Field(default=None, description="when it was taken; now if omitted")
    class_id: ShortId | None = None
    default_status: AttendanceStatus | None = None
    sheet_id: Identifier | None = None
    records: list[AttendanceRecord] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _something_to_record(self) -> AttendanceSheet:
        if self.default_status is not None and self.class_id is None:
            raise ValueError("default_status needs class_id")
        if not self.records and self.default_status is None:
            raise ValueError("give records, or class_id with default_status")
        return self

    def command(self, training_id: uuid.UUID) -> RecordAttendance:
        records = tuple(build(AttendanceEntry, r) for r in self.records)
        return build(RecordAttendance, self, training_id=training_id, records=records)


class Score(Input):
    facilitator_id: uuid.UUID
    score: float = Field(ge=0)
    fact_id: FactId | None = None


class Assessments(Input):
    """Pre-test or post-test scores of one or many participants, out of ``max_score``."""

    kind: AssessmentKind
    max_score: float = Field(gt=0, le=10_000)
    occurred_at: AwareDatetime | None = None
    scores: list[Score] = Field(min_length=1, max_length=MAX_FACTS)

    @model_validator(mode="after")
    def _within_max(self) -> Assessments:
        over = [str(s.facilitator_id) for s in self.scores if s.score > self.max_score]
        if over:
            raise ValueError(f"score exceeds max_score for {', '.join(over[:5])}")
        return self

    def command(self, training_id: uuid.UUID) -> ScoreAssessments:
        scores = tuple(build(ScoreEntry, s) for s in self.scores)
        return build(ScoreAssessments, self, training_id=training_id, scores=scores)


class OJTAssignments(Input):
    """Assign participants (listed, or a whole class) to OJT in a kelurahan."""

    kelurahan_code: KelurahanCode
    mentor: Label
    task: Note = ""
    facilitator_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_FACTS)
    class_id: ShortId | None = None
    occurred_at: AwareDatetime | None = None
    fact_id: FactId | None = Field(
        default=None,
        description="the caller's id of this assignment: the fact id for one person, the seed of each "
        "person's fact id for several; sent again, it is a duplicate",
    )

    @model_validator(mode="after")
    def _who(self) -> OJTAssignments:
        if bool(self.facilitator_ids) == (self.class_id is not None):
            raise ValueError("give either facilitator_ids or class_id")
        return self

    def command(self, training_id: uuid.UUID) -> AssignOJT:
        return build(AssignOJT, self, training_id=training_id, facilitator_ids=tuple(self.facilitator_ids))


class OJTCompletionIn(Input):
    facilitator_id: uuid.UUID
    kelurahan_code: KelurahanCode
    report: Note = ""
    rating: int = Field(ge=1, le=5)
    occurred_at: AwareDatetime | None = None
    fact_id: FactId | None = None

    def command(self, training_id: uuid.UUID) -> CompleteOJT:
        return build(CompleteOJT, self, training_id=training_id)


# -- offline sync: self-contained facts, each with its own id and time --------------------------


class _FactIn(Input):
    fact_id: FactId
    occurred_at: AwareDatetime
    facilitator_id: uuid.UUID


class AttendanceFact(_FactIn):
    kind: Literal["attendance"]
    session_id: ShortId
    status: AttendanceStatus
    note: Note = ""


class AssessmentFact(_FactIn):
    kind: Literal["assessment"]
    assessment: AssessmentKind
    score: float = Field(ge=0)
    max_score: float = Field(gt=0, le=10_000)

    @model_validator(mode="after")
    def _within_max(self) -> AssessmentFact:
        if self.score > self.max_score:
            raise ValueError("score exceeds max_score")
        return self


class OJTAssignmentFact(_FactIn):
    kind: Literal["ojt_assignment"]
    kelurahan_code: KelurahanCode
    mentor: Label
    task: Note = ""


class OJTCompletionFact(_FactIn):
    kind: Literal["ojt_completion"]
    kelurahan_code: KelurahanCode
    report: Note = ""
    rating: int = Field(ge=1, le=5)


FactIn = Annotated[AttendanceFact | AssessmentFact | OJTAssignmentFact | OJTCompletionFact, Field(discriminator="kind")]


class SyncBatch(Input):
    """Facts recorded offline, in any order, possibly sent before (duplicates are recognised by
    ``fact_id``)."""

    device_id: Identifier | None = None
    facts: list[FactIn] = Field(min_length=1, max_length=MAX_FACTS)

    def command(self, training_id: uuid.UUID) -> SyncFacts:
        return SyncFacts(training_id, tuple(fact_of(f) for f in self.facts))


def fact_of(item: FactIn) -> Fact:
    data: domain.FactData
    if item.kind == "attendance":
        data = domain.Attendance(item.session_id, item.status, item.note)
    elif item.kind == "assessment":
        data = domain.Assessment(item.assessment, item.score, item.max_score)
    elif item.kind == "ojt_assignment":
        data = domain.OJTAssignment(item.kelurahan_code, item.mentor, item.task)
    else:
        data = domain.OJTCompletion(item.kelurahan_code, item.rating, item.report)
    return Fact(item.fact_id, item.facilitator_id, item.occurred_at, data)


# -- intake variants: the same commands, naming the training in the payload ----------------------


class _OfTraining(Input):
    training_id: uuid.UUID


class RecordAttendanceIntake(AttendanceSheet, _OfTraining):
    pass


class ScoreAssessmentsIntake(Assessments, _OfTraining):
    pass


class AssignOJTIntake(OJTAssignments, _OfTraining):
    pass


class CompleteOJTIntake(OJTCompletionIn, _OfTraining):
    pass


class SyncFactsIntake(SyncBatch, _OfTraining):
    pass


class CloseTrainingIntake(_OfTraining):
    pass


class ScheduleTrainingIntake(ScheduleTraining):
    training_id: uuid.UUID  # required over intake: the sender must know what it scheduled
