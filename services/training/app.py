"""Composition of the training service."""

from pathlib import Path

from services.training import api, consumers
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="training",
    title="KOTAKU Ops: training delivery",
    description="Trainings, their rosters, attendance, assessments and On-the-Job Training.",
    default_port=8002,
    migrations=Path(__file__).parent / "migrations",
    routers=(api.router,),
    consumers=(consumers.ROSTER,),
)
