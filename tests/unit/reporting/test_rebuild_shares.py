"""How the rebuild shares the bulk replay among its processes (``split_shares``,
services/reporting/entrypoints/rebuild.py)."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiokafka import TopicPartition

from services.reporting.entrypoints.rebuild import _by_topic, split_shares

PREFIX = "bench-1."
STREAMS = ("registration.facilitator.v1", "training.training.v1", "training.participation.v1")


def log(regions: int, partitions: int, records: dict[str, int] | None = None) -> dict[TopicPartition, int]:
    """End offsets of every region's topics: ``records`` per region (1,000 by default), spread
    evenly over the topics' partitions."""
    out: dict[TopicPartition, int] = {}
    for r in range(1, regions + 1):
        region = f"oc{r:02d}"
        per_partition = (records or {}).get(region, 1000) // (len(STREAMS) * partitions)
        for stream in STREAMS:
            for p in range(partitions):
                out[TopicPartition(f"{PREFIX}{region}.{stream}", p)] = per_partition
    return out


def loads(shares: list[dict[TopicPartition, int]]) -> list[int]:
    return [sum(share.values()) for share in shares]


def test_three_partitions_per_topic_in_two_processes_are_shared_evenly() -> None:
    """By partition number alone, one process got two thirds of the log (partitions 0 and 2)."""
    ends = log(regions=20, partitions=3)
    shares = split_shares(ends, 2, PREFIX)
    assert len(shares) == 2
    assert loads(shares) == [sum(ends.values()) // 2] * 2


def test_every_partition_is_in_exactly_one_share_with_its_end_offset() -> None:
    ends = log(regions=7, partitions=5, records={"oc03": 40_000})
    shares = split_shares(ends, 3, PREFIX)
    seen = Counter(tp for share in shares for tp in share)
    assert set(seen) == set(ends)
    assert set(seen.values()) == {1}
    assert all(share[tp] == ends[tp] for share in shares for tp in share)


def test_a_regions_partitions_of_one_number_stay_in_one_process() -> None:
    """Its topics are keyed by aggregate id: one aggregate's events meet in one process."""
    shares = split_shares(log(regions=5, partitions=4, records={"oc02": 9_000}), 3, PREFIX)
    where = {(tp.topic.split(".")[1], tp.partition): n for n, share in enumerate(shares) for tp in share}
    for n, share in enumerate(shares):
        assert all(where[(tp.topic.split(".")[1], tp.partition)] == n for tp in share)


def test_a_busy_region_does_not_leave_one_process_working_alone() -> None:
    """oc03 holds most of the log: its partitions are spread, and the shares end within one group
    (a region's partitions of one number) of each other."""
    ends = log(regions=20, partitions=4, records={"oc03": 240_000})
    shares = split_shares(ends, 2, PREFIX)
    assert max(loads(shares)) - min(loads(shares)) <= 240_000 // 4
    assert max(loads(shares)) < 0.55 * sum(ends.values())


def test_no_more_processes_than_groups_and_empty_logs_are_spread_too() -> None:
    ends = log(regions=1, partitions=2, records={"oc01": 0})
    shares = split_shares(ends, 4, PREFIX)
    assert len(shares) == 2  # two groups: partition 0 and partition 1 of oc01
    assert [len(share) for share in shares] == [len(STREAMS)] * 2
    assert split_shares({}, 4, PREFIX) == [{}]


async def test_offsets_are_looked_up_per_topic_at_once_and_merged() -> None:
    """One lookup over 100 topics the consumer did not know yet took 10 s (one topic learnt per
    retry); one lookup per topic, all at once, lets them share the metadata updates."""
    ends = log(regions=4, partitions=3)
    calls: list[list[TopicPartition]] = []
    running = 0
    most = 0

    async def lookup(tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        nonlocal running, most
        calls.append(tps)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1
        return {tp: ends[tp] for tp in tps}

    assert await _by_topic(lookup, list(ends)) == ends
    assert sorted(len({tp.topic for tp in tps}) for tps in calls) == [1] * len(calls)
    assert len(calls) == len({tp.topic for tp in ends})
    assert most == len(calls)  # all at once, not one after another
    assert await _by_topic(lookup, []) == {}
