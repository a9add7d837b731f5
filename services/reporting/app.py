"""Composition of the reporting service."""

from pathlib import Path

from services.reporting.entrypoints import dashboard, http
from services.reporting.entrypoints.consumers import CONSUMERS
from services.reporting.entrypoints.errors import ERRORS
from shared.kernel.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="reporting",
    title="KOTAKU Ops: national reporting",
    description="Read models of every OC region's events, for the national office.",
    default_port=8003,
    migrations=Path(__file__).parent / "migrations",
    routers=(http.router, dashboard.router),
    consumers=CONSUMERS,
    errors=ERRORS,
)
