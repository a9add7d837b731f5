"""Composition of the reporting service."""

from pathlib import Path

from services.reporting import api, dashboard, projections
from shared.kernel.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="reporting",
    title="KOTAKU Ops: national reporting",
    description="Read models of every OC region's events, for the national office.",
    default_port=8003,
    migrations=Path(__file__).parent / "migrations",
    routers=(api.router, dashboard.router),
    consumers=projections.CONSUMERS,
)
