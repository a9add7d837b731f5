"""The layers of services/reporting import only what they may (see its README)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "services" / "reporting"

# What the use cases may not import; the domain may not import it either, nor the use cases.
NO_IO_NOR_OUTER_LAYERS = (
    "asyncpg",
    "aiokafka",
    "fastapi",
    "faststream",
    "shared.kernel.db",
    "shared.kernel.http",
    "shared.kernel.runtime",
    "shared.bootstrap.service",
    "services.reporting.repositories",
    "services.reporting.entrypoints",
)

FORBIDDEN = {
    "domain": (*NO_IO_NOR_OUTER_LAYERS, "services.reporting.usecases"),
    "usecases": NO_IO_NOR_OUTER_LAYERS,
    "repositories": ("fastapi", "shared.kernel.http", "shared.bootstrap.service", "services.reporting.entrypoints"),
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
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                found.append(f"{path.name}: {name}")
    assert not found


def test_no_sql_in_the_domain_the_use_cases_or_the_http_doors() -> None:
    paths = [*(PACKAGE / "domain").glob("*.py"), *(PACKAGE / "usecases").glob("*.py")]
    paths += [p for p in (PACKAGE / "entrypoints").glob("*.py") if p.name != "rebuild.py"]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for word in ("SELECT ", "UPDATE ", "INSERT INTO"):
            assert word not in text, path
