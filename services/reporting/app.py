"""Composition of the reporting service."""

from pathlib import Path

from services.reporting import api, projections
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="reporting",
    title="KOTAKU Ops: national reporting",
    description="Read models of every OC region's events, for the national office.",
    default_port=8003,
    migrations=Path(__file__).parent / "migrations",
    routers=(api.router,),
    consumers=(projections.FACILITATORS,),
)
