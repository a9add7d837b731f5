"""Operations tests: deploy/ artefacts checked offline with the real tools (promtool, kustomize,
schema validators), plus tests that run the services (the ``stack`` fixture of the integration
tests, re-exported here) and a three-broker Kafka cluster started by deploy/local."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import stack

__all__ = ["REPO", "run", "stack", "tool"]

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"


def tool(name: str) -> str:
    """Path of a command-line tool: the project's virtualenv first, then PATH. Fails (never skips)
    with the command that installs it."""
    local = VENV_BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make infra` (deploy/local/tools.sh) or `make install`")
    return found


def run(
    *args: str | Path,
    cwd: Path = REPO,
    timeout: float = 120,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, input=stdin, env=env
    )
