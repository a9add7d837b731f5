"""Each clone has its own broker: when 9092 is held by another clone's broker (or anything else),
deploy/local/kafka.sh starts this clone's broker on a free port pair of its own, keeps the pair
with the clone and writes the address to .local/kafka.env, where every tool and test reads it.
Starts a real single-node broker in a temporary local directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.tools import localenv
from tests.ops.conftest import REPO, run

SCRIPT = REPO / "deploy" / "local" / "kafka.sh"
JARS = REPO / ".local" / "kafka" / "libs"


@contextmanager
def port_held(port: int) -> Iterator[None]:
    """Keeps ``port`` taken for the duration: by whatever holds it already, else by a listener."""
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        probe.close()
        yield
        return
    probe.listen()
    try:
        yield
    finally:
        probe.close()


def script(local: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"KAFKA_PORT", "KAFKA_CONTROLLER_PORT"}}
    env |= {"KOTAKU_LOCAL_DIR": str(local), "KAFKA_HEAP": "256M", "PYTHON": sys.executable}
    return run("bash", SCRIPT, *args, env=env, timeout=300)


def test_a_second_clone_starts_its_own_broker_when_9092_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if (JARS / ".complete").exists():  # the jars this clone resolved; else the script resolves them
        (tmp_path / "kafka").mkdir()
        (tmp_path / "kafka" / "libs").symlink_to(JARS)
    with port_held(9092):
        try:
            started = script(tmp_path, "start")
            assert started.returncode == 0, started.stdout + started.stderr
            assert "choosing this clone's own ports" in started.stdout
            port, cport = (int(p) for p in (tmp_path / "kafka" / "ports").read_text().split())
            assert port not in (9092, 9093)
            assert cport == port + 1
            assert (tmp_path / "kafka.env").read_text() == f"KOTAKU_KAFKA_BOOTSTRAP=127.0.0.1:{port}\n"
            ready = run(sys.executable, REPO / "deploy" / "local" / "kafka_ready.py", "127.0.0.1", str(port))
            assert ready.returncode == 0, ready.stdout + ready.stderr

            monkeypatch.delenv("KOTAKU_KAFKA_BOOTSTRAP", raising=False)
            monkeypatch.setenv("KOTAKU_LOCAL_DIR", str(tmp_path))
            assert localenv.kafka_bootstrap() == f"127.0.0.1:{port}"

            again = script(tmp_path, "start")
            assert again.returncode == 0, again.stdout + again.stderr
            assert "already running (pid " in again.stdout
            assert f"127.0.0.1:{port}" in again.stdout
            status = script(tmp_path, "status")
            assert status.returncode == 0
            assert f"127.0.0.1:{port}" in status.stdout
        finally:
            stopped = script(tmp_path, "stop")
    assert "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    # stopped, the same clone starts again on the ports it keeps
    try:
        restarted = script(tmp_path, "start")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert f"starting broker on 127.0.0.1:{port}" in restarted.stdout
    finally:
        script(tmp_path, "stop")


def test_the_environment_names_the_broker_before_the_clone_s_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOTAKU_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("KOTAKU_KAFKA_BOOTSTRAP", raising=False)
    assert localenv.kafka_bootstrap() == "127.0.0.1:9092"  # no broker started here yet
    (tmp_path / "kafka.env").write_text("KOTAKU_KAFKA_BOOTSTRAP=127.0.0.1:24000\n")
    assert localenv.kafka_bootstrap() == "127.0.0.1:24000"
    monkeypatch.setenv("KOTAKU_KAFKA_BOOTSTRAP", "10.0.0.1:9092")
    assert localenv.kafka_bootstrap() == "10.0.0.1:9092"
