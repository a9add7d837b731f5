"""The layers of services/registration import only what they may (see its README)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "services" / "registration"

# What the use cases may not import; the domain may not import it either, nor the use cases.
NO_IO_NOR_OUTER_LAYERS = (
    "asyncpg",
    "fastapi",
    "faststream",
    "shared.kernel.db",
    "shared.kernel.http",
    "shared.kernel.outbox",
    "shared.bootstrap.service",
    "services.registration.repositories",
    "services.registration.entrypoints",
)

FORBIDDEN = {
    "domain": (*NO_IO_NOR_OUTER_LAYERS, "services.registration.usecases"),
    "usecases": NO_IO_NOR_OUTER_LAYERS,
    "repositories": ("fastapi", "shared.kernel.http", "shared.bootstrap.service", "services.registration.entrypoints"),
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_does_not_import_what_lies_below_it(layer: str) -> None:
    found = []
    for path in sorted((PACKAGE / layer).glob("*.py")):
        for name in imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                found.append(f"{path.name}: {name}")
    assert not found


def test_no_sql_outside_the_repositories() -> None:
    for layer in ("domain", "usecases", "entrypoints"):
        for path in (PACKAGE / layer).glob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "SELECT " not in text, path
            assert "UPDATE " not in text, path
            assert "INSERT INTO" not in text, path
