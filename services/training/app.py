"""Composition of the training service."""

from pathlib import Path

from services.training.entrypoints import certificates, consumers, http, intake
from services.training.entrypoints.errors import ERRORS
from shared.kernel.runtime import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="training",
    title="KOTAKU Ops: training delivery",
    description="Trainings, their rosters, attendance, assessments, On-the-Job Training, completion and certificates.",
    default_port=8002,
    migrations=Path(__file__).parent / "migrations",
    routers=(http.router, certificates.router, certificates.pages),
    consumers=(consumers.ROSTER, consumers.NAMES, consumers.KELURAHAN, intake.INTAKE),
    errors=ERRORS,
)
