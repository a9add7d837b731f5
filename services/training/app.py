"""Composition of the training service."""

from pathlib import Path

from services.training import api, consumers, intake
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="training",
    title="KOTAKU Ops: training delivery",
    description="Trainings, their rosters, attendance, assessments, On-the-Job Training, completion and certificates.",
    default_port=8002,
    migrations=Path(__file__).parent / "migrations",
    routers=(api.router,),
    consumers=(consumers.ROSTER, consumers.KELURAHAN, intake.INTAKE),
)
