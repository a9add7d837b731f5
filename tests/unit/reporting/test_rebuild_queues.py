"""How the rebuild's reader hands work to its writers' queues, and how it measures its memory
(services/reporting/entrypoints/rebuild.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from services.reporting.entrypoints.rebuild import RebuildAborted, Work, _put, peak_resident_mb

ROOT = Path(__file__).resolve().parents[3]


async def test_telling_the_writers_to_stop_does_not_mistake_a_stopped_one_for_a_dead_one() -> None:
    """At the end each writer gets None in turn. The first may finish while the second's queue is
    still full: that is not a writer gone missing (the bug: the rebuild refused to swap)."""
    queues: list[asyncio.Queue[Work | None]] = [asyncio.Queue(maxsize=1) for _ in range(2)]
    release = asyncio.Event()

    async def write(n: int) -> None:
        while (work := await queues[n].get()) is not None:
            if n == 1:
                await release.wait()  # the second writer is slow
            del work

    writers = [asyncio.create_task(write(0)), asyncio.create_task(write(1))]
    await _put(queues[1], Work(), writers[1], writers)
    await asyncio.sleep(0)  # writer 1 takes it and waits
    await _put(queues[1], Work(), writers[1], writers)  # its queue is full now
    await _put(queues[0], None, writers[0], writers)
    await asyncio.sleep(0.01)
    assert writers[0].done()  # finished as told
    asyncio.get_running_loop().call_later(0.05, release.set)
    await _put(queues[1], None, writers[1], writers)  # waits for room, does not refuse
    await asyncio.wait_for(writers[1], 1)


async def test_a_writer_that_died_is_reported_instead_of_waiting_forever() -> None:
    queue: asyncio.Queue[Work | None] = asyncio.Queue(maxsize=1)
    queue.put_nowait(Work())

    async def die() -> None:
        raise RuntimeError("connection lost")

    writer = asyncio.create_task(die())
    with pytest.raises(RebuildAborted, match="connection lost"):
        await asyncio.wait_for(_put(queue, Work(), writer, [writer]), 1)


def test_peak_memory_is_the_rebuilds_own_not_its_parents() -> None:
    """A rebuild started by a big process (the benchmark) reports its own peak, not the parent's."""
    ballast = b"\x01" * (300 * 1024 * 1024)  # the parent holds 300 MB (touched) when it starts the child
    code = "from services.reporting.entrypoints.rebuild import peak_resident_mb; print(peak_resident_mb())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert float(done.stdout) < 250, done.stdout
    assert len(ballast) == 300 * 1024 * 1024
    assert peak_resident_mb() >= 300
