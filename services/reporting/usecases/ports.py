"""What the report queries need from the read models, as a protocol. ``repositories/reads.py``
implements it over PostgreSQL (one read-only snapshot per report); the unit tests in memory.

Rows are read by column name; each method's docstring names the columns.
Filters follow the read models' rules: a :class:`TrainingFilter` selects trainings by start date and
type; ``role`` selects participants by their role at enrollment (facilitators: by current role).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal, Protocol

from services.reporting.domain.periods import TrainingFilter


class Row(Protocol):
    """A row of a read model, read by column name (an asyncpg record, or a dict in memory)."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


# Where facilitators are counted, completion summed, trainings and OJT kelurahan listed.
Level = Literal["national", "region", "province", "kabkota"]


class ReportReads(Protocol):
    async def data_as_of(self) -> Row | None:
        """last_applied_at, newest: over every region's freshness (None if nothing was applied)."""

    async def freshness(self, region: str | None) -> Sequence[Row]:
        """region, newest_event_at, last_applied_at, events_applied: per region (or one)."""

    async def facilitator_counts(self, region: str | None, province: str | None, role: str | None) -> Sequence[Row]:
        """region, province_code, facilitators: registered facilitators, active and inactive."""

    async def facilitators_by_region(self, role: str | None) -> Sequence[Row]:
        """region, active, inactive."""

    async def facilitators_of(self, level: Level, code: str, role: str | None) -> Sequence[Row]:
        """code, role, active, inactive: per province (a region), per kota/kabupaten (a province),
        per role (a kota/kabupaten; code is the kota/kabupaten)."""

    async def regions_of_area(self, province: str, kabkota: str | None) -> Sequence[str]:
        """The regions facilitators of the area belong to."""

    async def region_of_province(self, province: str) -> str | None:
        """The OC region the province is assigned to (the newest ProvinceAssignedToRegion applied),
        None if none was."""

    async def completion(self, level: Level, code: str | None, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        """code, enrolled, withdrawn, completed, not_completed, certified, ojt_completed: per
        province (national, region: code may be None for every region), per kota/kabupaten
        (province), per role (kabkota)."""

    async def totals_by_month(self, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        """period (YYYY-MM), training_type, trainings, enrolled, withdrawn, completed,
        not_completed, certified: non-cancelled trainings with a start date and type."""

    async def completeness_by_region(self, f: TrainingFilter, today: date) -> Sequence[Row]:
        """region, sessions_due, sessions_unreported, trainings_unreported."""

    async def unreported_sessions(
        self, of: Literal["region", "training"], key: Any, f: TrainingFilter, today: date
    ) -> Sequence[Row]:
        """region, training_id, title, session_id, session_date, kind: sessions before ``today``
        of non-cancelled trainings with no attendance recorded."""

    async def ojt_coverage(self, level: Level, code: str) -> Sequence[Row]:
        """code, name, kelurahan, with_ojt, ojt_participants, ojt_completed: per kota/kabupaten of a
        province (name empty), or per kelurahan of a kota/kabupaten, from the reference data."""

    async def waiting_submissions(self, of: Literal["region", "training"], key: Any) -> Sequence[Row]:
        """training_id, title, submission_id, kind, session_id, status, by_who, since: the
        submissions of the verification chain not accepted yet, oldest first."""

    async def trainings_of(self, level: Level, code: str, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        """training_id, region, title, training_type, start_date, end_date, status, enrolled,
        withdrawn, completed, not_completed, certified, attendance_recorded, attendance_attended,
        pre_mean, post_mean, gain_mean: a region's trainings, or those with participants of an area."""

    async def ojt_of(
        self, of: Literal["province", "kabkota", "training"], key: Any, f: TrainingFilter, role: str | None
    ) -> Sequence[Row]:
        """kelurahan_code, ojt_assigned, ojt_completed, completed_training."""

    async def training(self, training_id: uuid.UUID) -> Row | None:
        """The training and its stats (see ``repositories/reads.py`` TRAINING), with ``known``."""

    async def sessions_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        """session_id, session_date, kind, module_code, recorded, present, late, excused, absent."""

    async def reasons_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        """reason, participants: unmet requirements of those who did not complete."""

    async def areas_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        """province_code, kabkota_code, role, enrolled, withdrawn, completed, not_completed,
        certified, ojt_completed."""

    async def facilitator(self, facilitator_id: uuid.UUID) -> Row | None:
        """The columns of :class:`FacilitatorInfo`."""

    async def assignments(self, facilitator_id: uuid.UUID) -> Sequence[Row]:
        """The columns of :class:`AssignmentRow`, oldest first."""

    async def history(self, facilitator_id: uuid.UUID) -> Sequence[Row]:
        """The columns of :class:`HistoryRow`, with ``unmet`` as a JSON array text."""

    async def names(self, codes: Sequence[str]) -> dict[str, str]:
        """Published names of org units, by code (codes without one are left out)."""
