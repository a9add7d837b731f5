"""The commands of ``python -m services.reporting`` besides the service's own (serve, migrate, ...):
``rebuild`` replays the log into fresh read-model tables and swaps them in (``rebuild.py``)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from services.reporting.entrypoints.rebuild import MAX_PROCESSES, RebuildAborted, previous_schema, rebuild
from shared.kernel.logs import configure_logging
from shared.kernel.settings import load_settings

T = TypeVar("T")


class Terminated(Exception):
    """The command was asked to stop (SIGTERM) and has cleaned up."""


async def _stopped_by_sigterm(work: Awaitable[T]) -> T:
    """``work``, cancelled on SIGTERM as asyncio.run cancels it on SIGINT: its ``finally`` blocks
    run (the replay processes stopped, the shadow tables dropped) instead of the process ending
    where it stands, which is what an orchestrator's stop (SIGTERM) does by default."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    asked = False

    def stop() -> None:
        nonlocal asked
        asked = True
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        return await task
    except asyncio.CancelledError:
        if asked:
            raise Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def rebuild_command(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.reporting rebuild",
        description="Replay every configured region's topics into fresh read-model tables and swap them in.",
    )
    parser.add_argument("--batch-size", type=int, default=5000, help="records per fetch and transaction")
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help=f"processes sharing the replay (default: one per CPU, at most {MAX_PROCESSES})",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--drop-previous", action="store_true", help=f"drop the replaced tables (kept in {previous_schema()} otherwise)"
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging("reporting", settings.log_level)
    try:
        report = asyncio.run(
            _stopped_by_sigterm(
                rebuild(
                    settings,
                    batch_size=args.batch_size,
                    progress=not args.no_progress,
                    drop_previous=args.drop_previous,
                    processes=args.processes,
                )
            )
        )
    except RebuildAborted as exc:
        reason = " ".join(str(exc).split())
        print(f"rebuild refused to swap, the live read model is untouched: {reason}", file=sys.stderr)
        sys.exit(2)
    except Terminated:
        print(
            "rebuild stopped by SIGTERM: its replay processes are stopped and its shadow tables dropped; "
            "the live read model changes only in the swap's one transaction",
            file=sys.stderr,
        )
        sys.exit(128 + signal.SIGTERM)
    if args.json:
        print(json.dumps(dataclasses.asdict(report)))
        return
    print(
        f"rebuild: {report.records:,} records from {report.partitions} partitions, {report.applied:,} events applied, "
        f"{report.duplicates:,} duplicates, {report.ignored:,} ignored, {report.rejected:,} rejected, "
        f"{report.failed:,} failed; bulk {report.bulk_rate:,.0f} records/s; swapped in {report.swap_seconds:.2f}s "
        f"(total {report.seconds:.1f}s); replay time: Kafka {report.fetch_seconds:.1f}s, decode "
        f"{report.decode_seconds:.1f}s, waiting for writers {report.queue_wait_seconds:.1f}s, writers busy "
        f"{report.write_seconds:.1f}s (summed); {report.processes} replay process(es), "
        f"peak memory {report.peak_rss_mb:.0f} MB (summed)"
    )
