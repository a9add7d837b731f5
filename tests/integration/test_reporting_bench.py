"""A tiny run of the whole benchmark (bench/run.py) so that its code cannot rot; the figures of a
run this small mean nothing and are not checked against the targets."""

from __future__ import annotations

import pytest

from bench.run import Options, run, table

pytestmark = pytest.mark.real


async def test_the_benchmark_runs_end_to_end_on_a_small_log() -> None:
    options = Options(
        events=2000,
        regions=3,
        rate=200,
        steady_seconds=2.0,
        warmup_seconds=1.0,
        api_rate=5.0,
        backlog=3000,
        isolation_seconds=3.0,
        traffic="even",
        write=False,
    )
    results = await run(options)
    assert results.fill["events"] == 2000
    assert results.baseline["records"] == 2000
    # Kafka's own clients wrote and read back as many records, on the same broker
    kafka_tool = results.baseline["kafka_consumer_performance"]
    assert kafka_tool["records"] == 2000, kafka_tool
    assert kafka_tool["records_per_second"] > 0
    assert results.raw_pipeline["records"] == 2000
    assert results.raw_pipeline["undecodable"] == 0
    # the raw pipeline counts each event once, however often it was delivered
    assert results.raw_pipeline["distinct_events"] == 2000 - results.fill["repeated_deliveries"]
    assert results.rebuild["records"] == 2000
    assert results.rebuild["applied"] + results.rebuild["duplicates"] == 2000
    assert results.rebuild["failed"] == results.rebuild["rejected"] == 0
    # the raw live pipeline saw the same traffic on the same broker and database, every event
    raw_live = results.raw_steady
    assert raw_live["consumers"] == 3
    assert raw_live["never_visible"] == 0
    assert raw_live["visible"] > 0
    assert raw_live["p99_ms"] is not None
    assert results.steady["sent"] >= 300
    assert results.steady["never_visible"] == 0
    assert results.steady["visible"] > 0
    assert results.steady["p99_ms"] is not None
    assert results.api["requests"] > 0
    assert results.api["errors"] == 0
    assert [t["measure"] for t in results.targets] == [
        "rebuild throughput",
        "rebuild / raw pipeline",
        "p99 produce-to-visible",
        "p99.9 produce-to-visible",
        "report API p99",
        "oc02 p99, oc03 busy/quiet",
    ]
    # reporting ran as an API process and one consumer process (--consumer-groups 1, the default)
    assert results.steady["consumer_processes"] == 1
    assert results.steady["xapi_processes"] == 1
    # isolation: oc03's backlog was worked off without errors while oc02 was watched
    iso = results.isolation
    assert iso["backlog_events"] == 3000
    assert iso["busy_catch_up_seconds"] is not None
    assert iso["busy_dead_letters"] == 0
    assert iso["never_visible"] == 0
    assert iso["watched_quiet"]["visible"] > 0
    assert iso["watched_busy"]["visible"] > 0
    assert "(b) rebuild" in table(results)
    assert "Kafka's ConsumerPerformance" in table(results)
    assert "(c') raw live pipeline" in table(results)
    assert "(e) oc02 p99" in table(results)
