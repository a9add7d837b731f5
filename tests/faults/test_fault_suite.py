"""The short fault suite inside ``make test``: one fault of each kind (a SIGKILL of each service, a
Kafka broker kill, PostgreSQL crashed (immediate stop) for about 20 s, a second reporting instance joining and leaving
the consumer groups) under a small ledgered workload; nothing may be lost, doubled or misplaced.
The full suite is ``make faults`` (docs/faults.md)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.real, pytest.mark.timeout(480)]

REPO = Path(__file__).resolve().parents[2]


def test_short_fault_suite_loses_doubles_and_misplaces_nothing() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.faults", "--short"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        # SIGINT lets the suite restart what it stopped (PostgreSQL, the broker) and clean up
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        pytest.fail(f"the short fault suite took more than 7 minutes:\n{out[-6000:]}")
    print(out)
    assert proc.returncode == 0, f"the fault suite failed (exit {proc.returncode}):\n{out[-6000:]}"
