"""Composition of the registration service: its HTTP router, its Kafka consumers (the intake
and the trainings it learns), its migrations and the HTTP status of its domain errors."""

from pathlib import Path

from services.registration.entrypoints import consumers, http, intake
from services.registration.entrypoints.errors import ERRORS
from shared.kernel.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="registration",
    title="KOTAKU Ops: registration",
    description=(
        "Org-unit reference data, facilitators of the regional Oversight Consultants, and their "
        "enrollments into trainings."
    ),
    default_port=8001,
    migrations=Path(__file__).parent / "migrations",
    routers=(http.router,),
    consumers=(intake.INTAKE, consumers.TRAININGS),
    errors=ERRORS,
)
