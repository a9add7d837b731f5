"""Composition of the registration service: its HTTP router, its Kafka consumers (the intake
and the trainings it learns), its migrations, the HTTP status of its domain errors, and what it
needs of its settings (a NIK hash key of at least 32 characters: it refuses to start without)."""

from pathlib import Path

from services.registration.entrypoints import consumers, http, intake
from services.registration.entrypoints.errors import ERRORS
from services.registration.entrypoints.wiring import nik_hash_key_problem
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
    requires=(nik_hash_key_problem,),
)
