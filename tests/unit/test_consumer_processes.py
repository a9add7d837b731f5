"""How reporting's regions are split over consumer processes (local stack, benchmark), and how much of
the time a consumer with a backlog may take."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.kernel.consumer import backlog_pause
from shared.tools.devstack import consumer_groups, region_groups

REGIONS = [f"oc{n:02d}" for n in range(1, 21)]


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=-2, max_value=40))
def test_groups_cover_every_region_once_in_order_and_evenly(count: int, groups: int) -> None:
    regions = REGIONS[:count] if count <= 20 else [f"oc{n:02d}" for n in range(1, count + 1)]
    out = region_groups(regions, groups)
    assert [r for group in out for r in group] == regions
    assert all(out)
    assert len(out) == max(1, min(groups, len(regions)))
    assert max(map(len, out)) - min(map(len, out)) <= 1


def test_twenty_regions_in_four_groups() -> None:
    assert region_groups(REGIONS, 4) == [REGIONS[0:5], REGIONS[5:10], REGIONS[10:15], REGIONS[15:20]]


@pytest.mark.parametrize(
    ("regions", "setting", "sizes"),
    [
        (["oc02"], "", [1]),
        (["oc02", "oc05"], "", [2]),
        (REGIONS, "", [20]),
        (REGIONS, "4", [5] * 4),
        (REGIONS, "20", [1] * 20),
    ],
)
def test_consumer_groups_default_and_setting(
    monkeypatch: pytest.MonkeyPatch, regions: list[str], setting: str, sizes: list[int]
) -> None:
    monkeypatch.setenv("KOTAKU_REPORTING_CONSUMER_GROUPS", setting)
    assert [len(g) for g in consumer_groups(regions)] == sizes


@pytest.mark.parametrize(
    ("busy", "records", "duty", "pause"),
    [
        (0.2, 500, 1.0, 0.0),  # no limit: never pauses
        (0.2, 499, 0.5, 0.0),  # not a full batch: no backlog, no pause
        (0.2, 500, 0.5, 0.2),  # half the time working, half pausing
        (0.1, 500, 0.25, 0.3),  # a quarter of the time working
    ],
)
def test_a_consumer_with_a_backlog_pauses_in_proportion_to_its_work(
    busy: float, records: int, duty: float, pause: float
) -> None:
    assert backlog_pause(busy, records, 500, duty) == pytest.approx(pause)
