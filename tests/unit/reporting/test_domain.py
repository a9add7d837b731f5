"""Pure parts of the reporting domain: periods, rates, refusals and their HTTP statuses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.reporting.domain.errors import INVALID_PERIOD, UNKNOWN_TABLE, unknown_table
from services.reporting.domain.models import Filters
from services.reporting.domain.periods import (
    FIRST_YEAR,
    LAST_YEAR,
    TrainingFilter,
    num,
    period_problem,
    period_range,
    rate,
)
from services.reporting.entrypoints.errors import ERRORS
from shared.kernel.errors import Invalid


def test_a_filter_selects_trainings_by_start_month_or_year_and_type() -> None:
    assert TrainingFilter.of(Filters()) == TrainingFilter(None, None, None)
    assert TrainingFilter.of(Filters(period="2016-12", training_type="ojt")) == TrainingFilter(
        date(2016, 12, 1), date(2017, 1, 1), "ojt"
    )
    assert TrainingFilter.of(Filters(period="2017")) == TrainingFilter(date(2017, 1, 1), date(2018, 1, 1), None)


def test_rates_are_rounded_and_undefined_without_a_denominator() -> None:
    assert rate(1, 3) == 0.3333
    assert rate(Decimal(2), Decimal(4)) == 0.5
    assert rate(1, 0) is None
    assert rate(None, 3) is None
    assert num(Decimal("1.5")) == 1.5
    assert num(None) is None


def test_an_unknown_table_is_refused_with_the_tables_there_are() -> None:
    error = unknown_table("nope", {"a": 1, "b": 2})
    assert (error.code, error.details) == (UNKNOWN_TABLE, {"tables": ["a", "b"]})
    assert error.message == "this report has no table 'nope'"
    assert ERRORS.status(error) == 422


@pytest.mark.parametrize("period", ["0000", "9999", "1999", "2101", "0000-01", "9999-12", "2016-13", "٢٠١٦", "16", ""])
def test_a_period_outside_the_years_a_report_knows_is_refused_not_turned_into_a_date(period: str) -> None:
    if period:
        assert period_problem(period) is not None
    with pytest.raises(Invalid) as refused:
        TrainingFilter.of(Filters(period=period or "x"))
    assert (refused.value.code, refused.value.details) == (INVALID_PERIOD, {"field": "period"})
    assert ERRORS.status(refused.value) == 422


def test_the_first_and_the_last_year_are_periods() -> None:
    assert (FIRST_YEAR, LAST_YEAR) == (2000, 2100)
    assert period_range("2000") == (date(2000, 1, 1), date(2001, 1, 1))
    assert period_range("2100-12") == (date(2100, 12, 1), date(2101, 1, 1))
    assert period_problem("2100") is None
    assert period_range(None) == period_range("") == (None, None)
