"""Periods and the arithmetic of the reports: which trainings a filter selects, yearly totals
from monthly ones, rates."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.reporting.domain.errors import invalid_period
from services.reporting.domain.models import Filters, PeriodTotal

# A period names a year the program can have trainings in: the same range as the effective dates
# registration accepts. Anything outside is refused (422), never turned into a date.
FIRST_YEAR = 2000
LAST_YEAR = 2100
# ASCII digits only: a regular expression's \d also matches the digits of other scripts.
PERIOD_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2]))?$"
_PERIOD_RE = re.compile(PERIOD_PATTERN)

PERIOD_SUMS = ("trainings", "enrolled", "withdrawn", "completed", "not_completed", "certified")


def period_problem(period: str) -> str | None:
    """Why ``period`` is not a period a report can select (None if it is one)."""
    if not _PERIOD_RE.match(period):
        return "a period is YYYY or YYYY-MM"
    if not FIRST_YEAR <= int(period[:4]) <= LAST_YEAR:
        return f"the year of a period is {FIRST_YEAR} to {LAST_YEAR}"
    return None


def period_range(period: str | None) -> tuple[date | None, date | None]:
    """``YYYY`` or ``YYYY-MM`` -> [first day, first day after); ``invalid_period`` for anything
    else, a year outside FIRST_YEAR..LAST_YEAR included."""
    if not period:
        return None, None
    if (problem := period_problem(period)) is not None:
        raise invalid_period(period, problem)
    if len(period) == 4:
        year = int(period)
        return date(year, 1, 1), date(year + 1, 1, 1)
    year, month = int(period[:4]), int(period[5:7])
    start = date(year, month, 1)
    return start, date(year + (month == 12), month % 12 + 1, 1)


@dataclass(frozen=True)
class TrainingFilter:
    """The trainings a report counts: started in [start, before) and of a type (None: any)."""

    start: date | None = None
    before: date | None = None
    training_type: str | None = None

    @classmethod
    def of(cls, filters: Filters) -> TrainingFilter:
        start, before = period_range(filters.period)
        return cls(start, before, filters.training_type)


ALL_TRAININGS = TrainingFilter()


def by_year(months: Sequence[PeriodTotal]) -> list[PeriodTotal]:
    """Monthly totals summed per year and training type (a training is in exactly one month)."""
    years: dict[tuple[str, str], PeriodTotal] = {}
    for m in months:
        key = (m.period[:4], m.training_type)
        y = years.get(key)
        if y is None:
            years[key] = m.model_copy(update={"period": key[0]})
        else:
            years[key] = y.model_copy(
                update={f: getattr(y, f) + getattr(m, f) for f in PERIOD_SUMS},
            )
    return [years[k] for k in sorted(years)]


def rate(num: int | Decimal | None, den: int | Decimal | None) -> float | None:
    if not den or num is None:
        return None
    return round(float(num) / float(den), 4)


def num(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)
