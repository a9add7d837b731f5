"""Crash points for failure tests.

A test arms a point through the ``KOTAKU_FAULT_POINTS`` setting; when the running service reaches
it, the process kills itself with SIGKILL, exactly as a power cut or an OOM kill would, so the
tests can prove what survives a crash between two steps (for example after a database commit and
before the Kafka offset commit). Unarmed points cost one set lookup.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

_armed: frozenset[str] = frozenset()

CONSUMER_AFTER_COMMIT = "consumer.after_db_commit"
RELAY_AFTER_PUBLISH = "relay.after_publish"
KNOWN_POINTS = frozenset({CONSUMER_AFTER_COMMIT, RELAY_AFTER_PUBLISH})


def arm(points: list[str]) -> None:
    global _armed
    unknown = set(points) - KNOWN_POINTS
    if unknown:
        raise ValueError(f"unknown fault points: {sorted(unknown)}")
    _armed = frozenset(points)
    if _armed:
        log.warning("fault points armed: %s", sorted(_armed))


def hit(point: str) -> None:
    if point in _armed:
        log.warning("fault point %s reached: killing the process", point)
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
