"""Response models of the reporting API (and what the dashboard renders).

Each report is a summary plus named tables (lists of flat rows). Every table can be exported as
CSV or XLSX: :meth:`Report.tables` lists them, with their columns taken from the row model.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field


class Filters(BaseModel):
    period: str | None = Field(None, description="YYYY or YYYY-MM: trainings that started in it")
    role: str | None = Field(None, description="participant role (at enrollment) or facilitator role")
    training_type: str | None = None


class Freshness(BaseModel):
    region: str
    newest_event_at: datetime | None = Field(description="newest occurred_at among the events applied")
    last_applied_at: datetime | None = Field(description="when the read model last applied an event of the region")
    events_applied: int
    lag: int | None = Field(
        None, description="records not yet consumed: end offsets minus committed offsets of the reporting groups"
    )


class RegionFacilitators(BaseModel):
    region: str
    active: int
    inactive: int
    total: int


class AreaFacilitators(BaseModel):
    code: str
    name: str
    role: str
    active: int
    inactive: int


class AreaCompletion(BaseModel):
    code: str
    name: str
    enrolled: int
    withdrawn: int
    completed: int
    not_completed: int
    certified: int
    ojt_completed: int
    completion_rate: float | None = Field(description="completed / (completed + not completed)")


class PeriodTotal(BaseModel):
    period: str
    training_type: str
    trainings: int
    enrolled: int
    withdrawn: int
    completed: int
    not_completed: int
    certified: int


class RegionCompleteness(BaseModel):
    region: str
    sessions_due: int = Field(description="sessions of non-cancelled trainings dated before today")
    sessions_unreported: int = Field(description="of those, sessions with no attendance recorded")
    trainings_unreported: int


class TrainingRow(BaseModel):
    training_id: uuid.UUID
    region: str | None
    title: str | None
    training_type: str | None
    start_date: date | None
    end_date: date | None
    status: str
    enrolled: int
    withdrawn: int
    completed: int
    not_completed: int
    certified: int
    attendance_rate: float | None
    pre_mean: float | None
    post_mean: float | None
    gain_mean: float | None
    reviews_open: int = Field(default=0, description="decisions to review: facts recorded after the close disagree")
    sheets_verified: int = Field(default=0, description="attendance sheets verified by the region (or accepted)")
    sheets_accepted: int = Field(default=0, description="attendance sheets accepted by the national office")
    close_status: str | None = Field(
        default=None, description="where the close and its decisions stand: submitted, verified, accepted, returned"
    )


class WaitingSubmission(BaseModel):
    """A submission of the verification chain that waits: ``submitted`` for the region,
    ``verified`` for the national office, ``returned`` for the trainers."""

    training_id: uuid.UUID
    title: str | None
    submission_id: str
    kind: str | None
    session_id: str | None
    status: str | None
    waiting_for: str
    by: str | None
    since: datetime | None
    days_waiting: int | None


class VerificationLevels(BaseModel):
    """A region's completions by how far they were checked: as recorded, verified by the region
    (the training's close verified or accepted), accepted by the national office."""

    completed_recorded: int
    completed_verified: int
    completed_accepted: int


class UnreportedSession(BaseModel):
    region: str | None
    training_id: uuid.UUID
    title: str | None
    session_id: str
    session_date: date
    kind: str


class KelurahanOJT(BaseModel):
    kelurahan_code: str
    kelurahan_name: str
    ojt_assigned: int
    ojt_completed: int
    completed_training: int = Field(description="participants who completed the training, by their OJT kelurahan")


class SessionAttendance(BaseModel):
    session_id: str
    session_date: date | None
    kind: str | None
    module_code: str | None
    recorded: int
    present: int
    late: int
    excused: int
    absent: int
    attendance_rate: float | None = Field(description="(present + late) / recorded")


class DayAttendance(BaseModel):
    session_date: date | None
    sessions: int
    recorded: int
    attended: int
    attendance_rate: float | None


class ReasonCount(BaseModel):
    reason: str
    participants: int


class AreaBreakdown(BaseModel):
    province_code: str
    province_name: str
    kabkota_code: str
    kabkota_name: str
    role: str
    enrolled: int
    withdrawn: int
    completed: int
    not_completed: int
    certified: int
    ojt_completed: int


class Report(BaseModel):
    """Base of every report: filters, freshness and named tables."""

    TABLES: ClassVar[tuple[str, ...]] = ()
    filters: Filters
    data_as_of: datetime | None = Field(description="when the read model last applied an event")

    def tables(self) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
        """Every table as (columns, rows), in declaration order."""
        out: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
        for name in self.TABLES:
            rows: list[BaseModel] = getattr(self, name)
            annotation = type(self).model_fields[name].annotation
            row_type = getattr(annotation, "__args__", (None,))[0]
            columns = list(row_type.model_fields) if row_type is not None else []
            out[name] = (columns, [r.model_dump(mode="json") for r in rows])
        return out


class NationalSummary(BaseModel):
    facilitators_active: int
    facilitators_total: int
    trainings: int
    enrolled: int
    completed: int
    not_completed: int
    certified: int
    completion_rate: float | None
    sessions_unreported: int


class NationalReport(Report):
    TABLES = (
        "facilitators_by_region",
        "completion_by_province",
        "totals_by_month",
        "totals_by_year",
        "completeness_by_region",
        "freshness",
    )
    summary: NationalSummary
    lag_source: str = Field(description="how `lag` is measured")
    facilitators_by_region: list[RegionFacilitators]
    completion_by_province: list[AreaCompletion]
    totals_by_month: list[PeriodTotal]
    totals_by_year: list[PeriodTotal]
    completeness_by_region: list[RegionCompleteness]
    freshness: list[Freshness]


class RegionReport(Report):
    TABLES = (
        "facilitators_by_province",
        "completion_by_province",
        "trainings",
        "unreported_sessions",
        "waiting_verification",
        "freshness",
    )
    region: str
    facilitators_active: int
    facilitators_total: int
    facilitators_by_province: list[AreaFacilitators]
    completion_by_province: list[AreaCompletion]
    trainings: list[TrainingRow]
    unreported_sessions: list[UnreportedSession]
    verification: VerificationLevels
    waiting_verification: list[WaitingSubmission] = Field(
        default_factory=list, description="what waits at each level of the verification chain, oldest first"
    )
    freshness: list[Freshness]


class OJTCoverage(BaseModel):
    """Where OJT reached: per kota/kabupaten of a province, or per kelurahan of a kota/kabupaten
    (then ``kelurahan`` is 1), the kelurahan that had OJT (assigned or completed) and those that
    never did, from the reference data and every training."""

    code: str
    name: str
    kelurahan: int
    with_ojt: int
    never: int
    coverage_rate: float | None
    ojt_participants: int
    ojt_completed: int


class AreaReport(Report):
    """A province or a kota/kabupaten: its facilitators, and its participants in trainings."""

    TABLES = ("facilitators_by_area", "completion_by_area", "trainings", "ojt_kelurahan", "ojt_coverage")
    level: str
    code: str
    name: str
    region: str | None = Field(
        description="the OC region the province is assigned to (None while no assignment was applied); "
        "with aggregates not public, only a credential of this region (or a national one) reads the report"
    )
    regions: list[str] = Field(description="the regions the area's facilitators belong to")
    facilitators_active: int
    facilitators_total: int
    enrolled: int
    completed: int
    not_completed: int
    certified: int
    facilitators_by_area: list[AreaFacilitators] = Field(
        description="per kota/kabupaten (province report) or per role (kota/kabupaten report)"
    )
    completion_by_area: list[AreaCompletion]
    trainings: list[TrainingRow] = Field(description="trainings with participants from this area (their counts)")
    ojt_kelurahan: list[KelurahanOJT]
    kelurahan_total: int = Field(default=0, description="kelurahan/desa of the area in the reference data")
    kelurahan_with_ojt: int = Field(default=0, description="of them, those where any participant had OJT")
    ojt_coverage: list[OJTCoverage] = Field(
        default_factory=list,
        description="per kota/kabupaten (province) or per kelurahan (kota/kabupaten): which had OJT, which never",
    )


class TrainingInfo(BaseModel):
    training_id: uuid.UUID
    region: str | None
    title: str | None
    training_type: str | None
    organiser: str | None
    venue: str | None
    start_date: date | None
    end_date: date | None
    capacity: int | None
    status: str
    participants: int
    enrolled: int
    withdrawn: int
    completed: int
    not_completed: int
    certified: int
    attendance_rate: float | None
    pre_n: int
    pre_mean: float | None
    post_n: int
    post_mean: float | None
    gain_n: int
    gain_mean: float | None
    ojt_assigned: int
    ojt_completed: int
    reviews_open: int = Field(default=0, description="decisions to review: facts recorded after the close disagree")


class TrainingReport(Report):
    TABLES = (
        "attendance_by_session",
        "attendance_by_day",
        "not_completed_reasons",
        "ojt_kelurahan",
        "by_area",
        "unreported_sessions",
        "verification",
    )
    training: TrainingInfo
    attendance_by_session: list[SessionAttendance]
    attendance_by_day: list[DayAttendance]
    not_completed_reasons: list[ReasonCount]
    ojt_kelurahan: list[KelurahanOJT]
    by_area: list[AreaBreakdown]
    unreported_sessions: list[UnreportedSession]
    verification: list[WaitingSubmission] = Field(
        default_factory=list, description="the training's sheets and close not accepted yet, oldest first"
    )


class FacilitatorInfo(BaseModel):
    facilitator_id: uuid.UUID
    full_name: str | None
    registered: bool
    region: str | None
    role: str | None
    speciality: str | None
    province_code: str | None
    kabkota_code: str | None
    status: str
    deactivated_from: date | None


class AssignmentRow(BaseModel):
    effective_from: date
    kind: str
    region: str
    role: str
    speciality: str | None
    province_code: str
    kabkota_code: str


class HistoryRow(BaseModel):
    training_id: uuid.UUID
    title: str | None
    training_type: str | None
    start_date: date | None
    end_date: date | None
    role: str | None
    enrollment_status: str
    sessions_recorded: int
    sessions_attended: int
    pre_pct: float | None
    post_pct: float | None
    ojt_kelurahan: str | None
    ojt_completed: bool
    outcome: str | None
    unmet: str
    certificate_code: str | None


class FacilitatorHistory(Report):
    TABLES = ("trainings", "assignments")
    facilitator: FacilitatorInfo
    trainings: list[HistoryRow]
    assignments: list[AssignmentRow]


class AreaCount(BaseModel):
    region: str
    province_code: str
    facilitators: int


class FacilitatorCounts(BaseModel):
    total: int
    rows: list[AreaCount]
    data_as_of: datetime | None
    last_event_at: datetime | None
