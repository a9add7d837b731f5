"""Composition of the reporting service."""

from pathlib import Path

from services.reporting.entrypoints import dashboard, http
from services.reporting.entrypoints.consumers import CONSUMERS
from services.reporting.entrypoints.errors import ERRORS
from services.reporting.entrypoints.xapi import xapi_consumer
from services.reporting.repositories import xapi
from shared.kernel.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="reporting",
    title="KOTAKU Ops: national reporting",
    description="Read models of every OC region's events, for the national office.",
    default_port=8003,
    migrations=Path(__file__).parent / "migrations",
    routers=(http.router, dashboard.router),
    # reporting.xapi is not a read model: it is neither rebuilt nor counted in the report lag
    consumers=(*CONSUMERS, xapi_consumer),
    errors=ERRORS,
    # Only the xAPI statements go through the outbox: the read models' processes relay nothing, so
    # publishing statements never holds the event loop the read models' freshness depends on.
    outbox_writers=frozenset({xapi.NAME}),
)
