"""Composition of the registration service."""

from pathlib import Path

from services.registration import api, intake
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="registration",
    title="KOTAKU Ops: registration",
    description="Facilitators of the regional Oversight Consultants and their enrollments into trainings.",
    default_port=8001,
    migrations=Path(__file__).parent / "migrations",
    routers=(api.router,),
    consumers=(intake.INTAKE,),
)
