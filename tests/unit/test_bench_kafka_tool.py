"""How the benchmark reads Kafka's own consumer tool (bench/kafka_tool.py); the tools themselves
run in the benchmark's integration test, on the real broker."""

from __future__ import annotations

from pathlib import Path

from bench.kafka_tool import consumer_performance, parse, payload_file

# what ConsumerPerformance (Kafka 4.1) prints with --hide-header, after a log line of its consumer
OUTPUT = """[2026-12-07 23:10:59,001] WARN something the consumer logs
2026-12-07 23:11:00:101, 2026-12-07 23:11:00:900, 45.7764, 57.2205, 100000, 125000.0000, 412, 387, 118.2853, 258397.9328
"""


def test_the_figures_line_is_read_by_column() -> None:
    figures = parse(OUTPUT)
    assert figures["data.consumed.in.nMsg"] == 100000
    assert figures["fetch.time.ms"] == 387
    assert figures["fetch.nMsg.sec"] == 258397.9328
    assert figures["rebalance.time.ms"] == 412


def test_output_without_figures_reads_as_none() -> None:
    assert parse("Exception in thread main: org.apache.kafka.common.errors.TimeoutException\n") == {}
    assert parse("a, b, c, d, e, f, g, h, i, j\n") == {}  # ten cells, not numbers


def test_the_payload_file_holds_one_value_per_line(tmp_path: Path) -> None:
    path = payload_file([b'{"a":1}', b"", b'{"b":\n2}', b'{"c":3}'], tmp_path / "p")
    assert path is not None
    assert path.read_bytes() == b'{"a":1}\n{"c":3}\n'  # empty values and values with a newline left out
    assert payload_file([b""], tmp_path / "q") is None


async def test_without_the_jars_it_says_why_and_touches_no_broker(tmp_path: Path) -> None:
    result = await consumer_performance(
        "127.0.0.1:1", "t", 10, [b"{}"], partitions=1, group="g", jars=tmp_path / "no-jars-here"
    )
    assert "kafka-tools jar" in result["skipped"]
