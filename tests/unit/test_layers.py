"""The layers of each service import only what they may (see the service's README), and SQL
stays in the repositories."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"


def forbidden_per_layer(service: str, io: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """What each layer of a service may not import: the use cases no I/O (``io``) nor the outer
    layers; the domain neither, nor the use cases; the repositories no HTTP nor entrypoints."""
    no_io_nor_outer_layers = (*io, f"services.{service}.repositories", f"services.{service}.entrypoints")
    return {
        "domain": (*no_io_nor_outer_layers, f"services.{service}.usecases"),
        "usecases": no_io_nor_outer_layers,
        "repositories": (
            "fastapi",
            "shared.kernel.http",
            "shared.bootstrap.service",
            f"services.{service}.entrypoints",
        ),
    }


FORBIDDEN = {
    "registration": forbidden_per_layer(
        "registration",
        io=(
            "asyncpg",
            "fastapi",
            "faststream",
            "shared.kernel.db",
            "shared.kernel.http",
            "shared.kernel.outbox",
            "shared.bootstrap.service",
        ),
    ),
    "reporting": forbidden_per_layer(
        "reporting",
        io=(
            "asyncpg",
            "aiokafka",
            "fastapi",
            "faststream",
            "shared.kernel.db",
            "shared.kernel.http",
            "shared.kernel.runtime",
            "shared.bootstrap.service",
        ),
    ),
}

SERVICE_NAMES = ("registration", "training", "reporting")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    ("service", "layer"), [(service, layer) for service, layers in FORBIDDEN.items() for layer in sorted(layers)]
)
def test_a_layer_does_not_import_what_lies_below_it(service: str, layer: str) -> None:
    forbidden = FORBIDDEN[service][layer]
    found = []
    for path in sorted((SERVICES / service / layer).rglob("*.py")):
        for name in imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                found.append(f"{path.name}: {name}")
    assert not found


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_sql_in_the_domain_the_use_cases_or_the_entrypoints(service: str) -> None:
    paths = [*(SERVICES / service / "domain").glob("*.py"), *(SERVICES / service / "usecases").glob("*.py")]
    paths += [*(SERVICES / service / "entrypoints").glob("*.py")]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for word in ("SELECT ", "UPDATE ", "INSERT INTO", "DELETE FROM", "ALTER TABLE", "CREATE TABLE"):
            assert word not in text, path
