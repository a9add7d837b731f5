"""Composition of the registration service."""

from pathlib import Path

from services.registration import api, consumers, intake
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="registration",
    title="KOTAKU Ops: registration",
    description=(
        "Org-unit reference data, facilitators of the regional Oversight Consultants, and their "
        "enrollments into trainings."
    ),
    default_port=8001,
    migrations=Path(__file__).parent / "migrations",
    routers=(api.router,),
    consumers=(intake.INTAKE, consumers.TRAININGS),
)
