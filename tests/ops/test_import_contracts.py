"""The import rules of the house hold, and a module that breaks one is caught by `make lint`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.conftest import REPO, run, tool


def lint_imports() -> tuple[int, str]:
    done = run(tool("lint-imports"), "--no-cache", timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_the_tree_keeps_every_import_contract() -> None:
    code, out = lint_imports()
    assert code == 0, out
    assert "0 broken" in out


@pytest.fixture
def probe() -> Iterator[Path]:
    """A module written into the tree for one test and removed afterwards, whatever happens."""
    path = REPO / "services" / "training" / "usecases" / "_import_probe.py"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("line", "contract"),
    [
        ("import services.registration.domain", "No service imports another"),
        ("import shared.tools.devstack", "Services import only the kernel"),
        ("import services.training.repositories", "Layers of a service"),
    ],
)
def test_breaking_a_contract_on_purpose_fails_the_lint(probe: Path, line: str, contract: str) -> None:
    probe.write_text(f'"""A deliberate violation."""\n\n{line}  # noqa: F401\n')
    code, out = lint_imports()
    assert code != 0
    assert f"{contract}" in out
    assert "BROKEN" in out
