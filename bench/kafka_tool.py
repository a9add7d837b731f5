"""Kafka's own clients on the benchmark's broker: the ceiling of reading a log of this size,
printed beside the raw aiokafka loop (a).

``org.apache.kafka.tools.ConsumerPerformance`` (in the broker's jars) reads one topic, and the
benchmark's log is a hundred small ones. So Kafka's ``ProducerPerformance`` first writes as many
records as the log holds into one topic of the benchmark's namespace (as many partitions as the
log's topics), each record's value drawn from a sample of the log's own values, and
ConsumerPerformance then reads them all from the beginning in a consumer group of its own. Its
rate is ``fetch.nMsg.sec``: records over the time spent fetching, without the group's join. The
topic is deleted afterwards. A machine without ``java`` or the jars, or a broker the tools cannot
reach in plaintext, gives no figure and says why; the benchmark goes on.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.tools.kafka_admin import delete_topics, ensure_topics
from shared.tools.localenv import local_dir

PRODUCER = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER = "org.apache.kafka.tools.ConsumerPerformance"
COLUMNS = (
    "start.time",
    "end.time",
    "data.consumed.in.MB",
    "MB.sec",
    "data.consumed.in.nMsg",
    "nMsg.sec",
    "rebalance.time.ms",
    "fetch.time.ms",
    "fetch.MB.sec",
    "fetch.nMsg.sec",
)
TIMEOUT_SECONDS = 900


def parse(output: str) -> dict[str, float]:
    """ConsumerPerformance's line of figures (``--hide-header``), by column; empty if absent."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) == len(COLUMNS):
            try:
                values = [float(cell) for cell in cells[2:]]
            except ValueError:
                continue
            return dict(zip(COLUMNS[2:], values, strict=True))
    return {}


def payload_file(values: Sequence[bytes], path: Path) -> Path | None:
    """The sample of the log's values, one per line, as ProducerPerformance reads them (the values
    are JSON on one line); None if there is none."""
    lines = [v for v in values if v and b"\n" not in v]
    if not lines:
        return None
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


async def _java(java: str, jars: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        java,
        "-Xmx512m",
        "-cp",
        f"{jars}/*",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=TIMEOUT_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, "", f"{args[0]} did not finish in {TIMEOUT_SECONDS} s"
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def _last_line(text: str, code: int) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else f"exit {code}")[:200]


async def consumer_performance(
    bootstrap: str,
    topic: str,
    records: int,
    sample: Sequence[bytes],
    *,
    partitions: int,
    group: str,
    jars: Path | None = None,
) -> dict[str, Any]:
    """Writes ``records`` values drawn from ``sample`` into ``topic`` with ProducerPerformance, reads
    them back with ConsumerPerformance; ``{"skipped": reason}`` when it cannot."""
    jars = jars or local_dir() / "kafka" / "libs"
    java = shutil.which("java")
    if java is None or not any(jars.glob("kafka-tools-*.jar")):
        return {"skipped": f"no java, or no kafka-tools jar in {jars}"}
    if records <= 0:
        return {"skipped": "no records"}
    await ensure_topics(bootstrap, [topic], partitions=partitions)
    try:
        with tempfile.TemporaryDirectory(prefix="kotaku-bench-kafka-") as tmp:
            payloads = payload_file(sample, Path(tmp) / "payloads")
            if payloads is None:
                return {"skipped": "no sample of the log's values"}
            code, out, err = await _java(
                java,
                jars,
                PRODUCER,
                "--topic",
                topic,
                "--num-records",
                str(records),
                "--throughput",
                "-1",
                "--payload-file",
                str(payloads),
                "--producer-props",
                f"bootstrap.servers={bootstrap}",
            )
            if code != 0:
                return {"skipped": f"ProducerPerformance failed: {_last_line(err or out, code)}"}
        code, out, err = await _java(
            java,
            jars,
            CONSUMER,
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--messages",
            str(records),
            "--group",
            group,
            "--timeout",
            "30000",
            "--hide-header",
        )
        figures = parse(out)
        if code != 0 or not figures:
            return {"skipped": f"ConsumerPerformance failed: {_last_line(err or out, code)}"}
        return {
            "records": int(figures["data.consumed.in.nMsg"]),
            "fetch_seconds": round(figures["fetch.time.ms"] / 1000, 2),
            "records_per_second": round(figures["fetch.nMsg.sec"]),
            "mb_per_second": round(figures["fetch.MB.sec"], 1),
        }
    finally:
        await delete_topics(bootstrap, [topic])
