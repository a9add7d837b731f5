"""An in-memory read port for the reporting use cases (services/reporting/usecases/ports.py).

:class:`FakeReads` answers each query with the rows a test gave it (plain dicts, as the read
models would hold them after the SQL's grouping) and records every call with its arguments, so a
test checks both what a use case builds from the rows and what it asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.reporting.domain.periods import TrainingFilter
from services.reporting.usecases.ports import Level, Row


@dataclass
class FakeReads:
    as_of: dict[str, Any] | None = None
    fresh: list[dict[str, Any]] = field(default_factory=list)
    counts: list[dict[str, Any]] = field(default_factory=list)
    by_region: list[dict[str, Any]] = field(default_factory=list)
    facilitators: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by level
    regions: list[str] = field(default_factory=list)
    province_regions: dict[str, str] = field(default_factory=dict)
    completions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by level
    months: list[dict[str, Any]] = field(default_factory=list)
    completeness: list[dict[str, Any]] = field(default_factory=list)
    unreported: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    trainings: list[dict[str, Any]] = field(default_factory=list)
    ojt: list[dict[str, Any]] = field(default_factory=list)
    training_rows: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    areas: list[dict[str, Any]] = field(default_factory=list)
    facilitator_rows: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    assignment_rows: list[dict[str, Any]] = field(default_factory=list)
    history_rows: list[dict[str, Any]] = field(default_factory=list)
    org_units: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def asked(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.calls if n == name]

    async def data_as_of(self) -> Row | None:
        self._call("data_as_of")
        return self.as_of

    async def freshness(self, region: str | None) -> Sequence[Row]:
        self._call("freshness", region)
        return [r for r in self.fresh if region is None or r["region"] == region]

    async def facilitator_counts(self, region: str | None, province: str | None, role: str | None) -> Sequence[Row]:
        self._call("facilitator_counts", region, province, role)
        return self.counts

    async def facilitators_by_region(self, role: str | None) -> Sequence[Row]:
        self._call("facilitators_by_region", role)
        return self.by_region

    async def facilitators_of(self, level: Level, code: str, role: str | None) -> Sequence[Row]:
        self._call("facilitators_of", level, code, role)
        return self.facilitators.get(level, [])

    async def regions_of_area(self, province: str, kabkota: str | None) -> Sequence[str]:
        self._call("regions_of_area", province, kabkota)
        return self.regions

    async def region_of_province(self, province: str) -> str | None:
        self._call("region_of_province", province)
        return self.province_regions.get(province)

    async def completion(self, level: Level, code: str | None, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        self._call("completion", level, code, f, role)
        return self.completions.get(level, [])

    async def totals_by_month(self, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        self._call("totals_by_month", f, role)
        return self.months

    async def completeness_by_region(self, f: TrainingFilter, today: date) -> Sequence[Row]:
        self._call("completeness_by_region", f, today)
        return self.completeness

    async def unreported_sessions(self, of: Any, key: Any, f: TrainingFilter, today: date) -> Sequence[Row]:
        self._call("unreported_sessions", of, key, f, today)
        return self.unreported

    async def ojt_coverage(self, level: Level, code: str) -> Sequence[Row]:
        self._call("ojt_coverage", level, code)
        return self.coverage

    async def waiting_submissions(self, of: Any, key: Any) -> Sequence[Row]:
        self._call("waiting_submissions", of, key)
        return self.waiting

    async def trainings_of(self, level: Level, code: str, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        self._call("trainings_of", level, code, f, role)
        return self.trainings

    async def ojt_of(self, of: Any, key: Any, f: TrainingFilter, role: str | None) -> Sequence[Row]:
        self._call("ojt_of", of, key, f, role)
        return self.ojt

    async def training(self, training_id: uuid.UUID) -> Row | None:
        self._call("training", training_id)
        return self.training_rows.get(training_id)

    async def sessions_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        self._call("sessions_of_training", training_id)
        return self.sessions

    async def reasons_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        self._call("reasons_of_training", training_id)
        return self.reasons

    async def areas_of_training(self, training_id: uuid.UUID) -> Sequence[Row]:
        self._call("areas_of_training", training_id)
        return self.areas

    async def facilitator(self, facilitator_id: uuid.UUID) -> Row | None:
        self._call("facilitator", facilitator_id)
        return self.facilitator_rows.get(facilitator_id)

    async def assignments(self, facilitator_id: uuid.UUID) -> Sequence[Row]:
        self._call("assignments", facilitator_id)
        return self.assignment_rows

    async def history(self, facilitator_id: uuid.UUID) -> Sequence[Row]:
        self._call("history", facilitator_id)
        return self.history_rows

    async def names(self, codes: Sequence[str]) -> dict[str, str]:
        self._call("names", tuple(codes))
        return {c: self.org_units[c] for c in codes if c in self.org_units}
