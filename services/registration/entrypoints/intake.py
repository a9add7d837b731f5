"""Kafka intake of the registration service (``<region>.registration.intake.v1``): the same use
cases as the HTTP API, for regional systems that publish instead of calling. See shared.kernel.intake
and docs/intake.md; the JSON Schemas in docs/intake/ are generated from the models used here
(``python -m services.registration intake-schemas``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.registration.entrypoints.commands import new_facilitator, reassignment
from services.registration.entrypoints.schemas import (
    DeactivateFacilitator,
    EnrollFacilitator,
    ReassignFacilitator,
    RegisterFacilitator,
    UpdateFacilitator,
    WithdrawEnrollment,
)
from services.registration.entrypoints.wiring import Wiring
from services.registration.repositories.unit_of_work import PgUnitOfWork
from services.registration.usecases import enrollments, facilitators
from shared.kernel import outbox
from shared.kernel.contracts import IntakeRejected
from shared.kernel.envelope import Envelope
from shared.kernel.intake import IntakeCommand, IntakeEnvelope, IntakeMessage, intake_consumer
from shared.kernel.runtime import Runtime
from shared.kernel.topics import REGISTRATION_INTAKE

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "intake"

# Each handler runs in the unit of work the intake consumer opened for the message (its dedupe
# row, the effect and the events commit together); a DomainError becomes an IntakeRejected with
# the error's code. The message may act only on its topic's region (``message.authorize``).


async def register_facilitator(
    runtime: Runtime, transaction: outbox.UnitOfWork, body: RegisterFacilitator, message: IntakeMessage
) -> None:
    wiring = Wiring.of(runtime)
    cmd = new_facilitator(body, body.region, message.occurred_at.date())
    await facilitators.register_facilitator(
        PgUnitOfWork(transaction), cmd, served=wiring.served, key=wiring.key, authorize=message.authorize
    )


async def update_facilitator(
    runtime: Runtime, transaction: outbox.UnitOfWork, body: UpdateFacilitator, message: IntakeMessage
) -> None:
    wiring = Wiring.of(runtime)
    cmd = facilitators.ChangeDetails(body.facilitator_id, full_name=body.full_name)
    await facilitators.update_facilitator(
        PgUnitOfWork(transaction), cmd, served=wiring.served, key=wiring.key, authorize=message.authorize
    )


async def reassign_facilitator(
    runtime: Runtime, transaction: outbox.UnitOfWork, body: ReassignFacilitator, message: IntakeMessage
) -> None:
    cmd = reassignment(body.facilitator_id, body)
    await facilitators.reassign_facilitator(
        PgUnitOfWork(transaction), cmd, served=Wiring.of(runtime).served, authorize=message.authorize
    )


async def deactivate_facilitator(
    runtime: Runtime, transaction: outbox.UnitOfWork, body: DeactivateFacilitator, message: IntakeMessage
) -> None:
    cmd = facilitators.Deactivate(body.facilitator_id, body.reason, body.effective_from or message.occurred_at.date())
    await facilitators.deactivate_facilitator(
        PgUnitOfWork(transaction), cmd, served=Wiring.of(runtime).served, authorize=message.authorize
    )


async def enroll_facilitator(
    runtime: Runtime, transaction: outbox.UnitOfWork, body: EnrollFacilitator, message: IntakeMessage
) -> None:
    cmd = enrollments.Enroll(body.training_id, body.facilitator_id)
    await enrollments.enroll_facilitator(
        PgUnitOfWork(transaction), cmd, served=Wiring.of(runtime).served, authorize=message.authorize
    )


async def withdraw_enrollment(
    runtime: Runtime, transaction: outbox.UnitOfWork, body: WithdrawEnrollment, message: IntakeMessage
) -> None:
    cmd = enrollments.Withdraw(body.training_id, body.facilitator_id, body.reason)
    await enrollments.withdraw_enrollment(
        PgUnitOfWork(transaction), cmd, served=Wiring.of(runtime).served, authorize=message.authorize
    )


COMMANDS: dict[str, IntakeCommand] = {
    "RegisterFacilitator": IntakeCommand(RegisterFacilitator, register_facilitator),
    "UpdateFacilitator": IntakeCommand(UpdateFacilitator, update_facilitator),
    "ReassignFacilitator": IntakeCommand(ReassignFacilitator, reassign_facilitator),
    "DeactivateFacilitator": IntakeCommand(DeactivateFacilitator, deactivate_facilitator),
    "EnrollFacilitator": IntakeCommand(EnrollFacilitator, enroll_facilitator),
    "WithdrawEnrollment": IntakeCommand(WithdrawEnrollment, withdraw_enrollment),
}

INTAKE = intake_consumer("registration.intake", REGISTRATION_INTAKE, COMMANDS)


# -- documentation: JSON Schemas of what a regional system sends and reads back --------------------


def _schema(model: type[BaseModel], title: str, description: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": title,
        "description": description,
    }


def intake_json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every message of the registration intake (docs/intake/)."""
    envelope = _schema(
        IntakeEnvelope,
        "envelope",
        "Every intake message. 'payload' is validated against the schema of 'type' (the other files).",
    )
    # The decoder answers only messages whose message_id has 1 to 100 characters (others are
    # dead-lettered as no_message_id), which the model's annotation alone does not show.
    envelope["properties"]["message_id"].update(
        maxLength=100, description="the sender's unique id of this message; the rejection is keyed by it"
    )
    schemas = {
        "envelope.json": envelope,
        "IntakeRejected.json": _schema(
            IntakeRejected,
            "IntakeRejected",
            "The payload of the rejection event on <region>.rejections.v1, keyed by the sender's message_id.",
        ),
        "event-envelope.json": _schema(
            Envelope,
            "event-envelope",
            "The envelope around every event the services publish, IntakeRejected included.",
        ),
    }
    for name, command in COMMANDS.items():
        doc = (command.payload.__doc__ or name).strip().splitlines()[0]
        schemas[f"{name}.json"] = _schema(command.payload, name, doc)
    return schemas


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_intake_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in intake_json_schemas().items():
        path = directory / name
        path.write_text(render_schema(schema), encoding="utf-8")
        written.append(path)
    return written


def stale_intake_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of committed schema files that differ from the code (or are missing or extra)."""
    expected = {name: render_schema(schema) for name, schema in intake_json_schemas().items()}
    present = {p.name for p in directory.glob("*.json")} if directory.exists() else set()
    stale = sorted(name for name in present - expected.keys())
    for name, text in expected.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return sorted(stale)
