"""Helpers shared by the registration tests (this module holds no tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import (
    Role,
    TrainingCancelled,
    TrainingClosed,
    TrainingScheduled,
    TrainingType,
    TrainingUpdated,
)
from shared.kernel.envelope import EventPayload, new_event
from shared.kernel.topics import TRAINING
from tests.integration.conftest import REGION, Stack, eventually, read_topic

API = "/api/v1"


def person(
    nik: str,
    name: str = "Rina Anggraini",
    *,
    role: str = "fasilitator",
    kabkota: str = "16.71",
    region: str = REGION,
    **extra: object,
) -> dict[str, object]:
    """A registration body."""
    return {
        "nik": nik,
        "full_name": name,
        "role": role,
        "region": region,
        "province_code": kabkota[:2],
        "kabkota_code": kabkota,
        **extra,
    }


async def register(http: httpx.AsyncClient, reg: str, body: dict[str, object]) -> str:
    """Register one facilitator over HTTP, which must create it without answering its NIK back: its id."""
    r = await http.post(f"{reg}{API}/facilitators", json=body)
    assert r.status_code == 201, r.text
    assert "nik" not in r.json()
    return str(r.json()["facilitator_id"])


def registration_message(message_id: str, nik: str, **changes: object) -> bytes:
    """A RegisterFacilitator intake message as a regional system sends it; ``changes`` replace
    its top-level fields."""
    body: dict[str, object] = {
        "message_id": message_id,
        "type": "RegisterFacilitator",
        "region": REGION,
        "sent_at": "2016-07-25T09:00:00+07:00",
        "payload": {
            "nik": nik,
            "full_name": "Intan Permana",
            "role": "fasilitator",
            "speciality": "ekonomi",
            "region": REGION,
            "province_code": "16",
            "kabkota_code": "16.72",
        },
    }
    body.update(changes)
    return json.dumps(body).encode()


def intake_message(message_id: str, kind: str, payload: dict[str, Any]) -> bytes:
    """An intake message of type ``kind``, sent from the region."""
    return json.dumps(
        {
            "message_id": message_id,
            "type": kind,
            "region": REGION,
            "sent_at": "2016-08-10T09:00:00+07:00",
            "payload": payload,
        }
    ).encode()


def registration_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m services.registration <args>`` with the test stack's settings."""
    proc = stack.services["registration"]
    return subprocess.run(
        [sys.executable, "-m", "services.registration", *args],
        env=proc.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def publish_training_event(
    producer: AIOKafkaProducer, stack: Stack, payload: EventPayload, *, region: str = REGION
) -> None:
    """Play the training service: publish one of its events on the region's training topic."""
    event = new_event(payload, region=region, source="kotaku.training")
    await producer.send_and_wait(
        stack.topic(TRAINING.topic(region)),
        event.to_bytes(),
        key=event.key.encode(),
        headers=[(k, v.encode()) for k, v in event.headers().items()],
    )


def _schedule(capacity: int, eligible: tuple[Role, ...]) -> dict[str, Any]:
    """What TrainingScheduled and TrainingUpdated of the test training both say."""
    return {
        "title": "Pelatihan Dasar Fasilitator KOTAKU",
        "venue": "Asrama Haji Palembang",
        "start_date": date(2016, 7, 31),
        "end_date": date(2016, 8, 7),
        "capacity": capacity,
        "eligible_roles": list(eligible),
    }


def scheduled(
    training_id: uuid.UUID, *, capacity: int = 30, eligible: tuple[Role, ...] = (Role.FASILITATOR, Role.ASKOT)
) -> TrainingScheduled:
    return TrainingScheduled(
        training_id=training_id,
        training_type=TrainingType.BASIC,
        organiser="OC 02 Sumatera Selatan",
        **_schedule(capacity, eligible),
    )


def updated(training_id: uuid.UUID, *, capacity: int, eligible: tuple[Role, ...]) -> TrainingUpdated:
    return TrainingUpdated(training_id=training_id, **_schedule(capacity, eligible))


def cancelled(training_id: uuid.UUID) -> TrainingCancelled:
    return TrainingCancelled(training_id=training_id, reason="venue unavailable")


def closed(training_id: uuid.UUID) -> TrainingClosed:
    return TrainingClosed(training_id=training_id, completed=0, not_completed=0)


async def schedule_training(
    producer: AIOKafkaProducer,
    stack: Stack,
    http: httpx.AsyncClient,
    training_id: uuid.UUID,
    *,
    capacity: int = 30,
    eligible: tuple[Role, ...] = (Role.FASILITATOR, Role.ASKOT),
    region: str = REGION,
) -> dict[str, Any]:
    """Publish TrainingScheduled and wait until registration knows the training."""
    await publish_training_event(
        producer, stack, scheduled(training_id, capacity=capacity, eligible=eligible), region=region
    )

    async def known() -> dict[str, Any] | None:
        r = await http.get(f"{stack.url('registration')}{API}/trainings/{training_id}", headers=stack.auth("admin"))
        return r.json() if r.status_code == 200 else None

    result: dict[str, Any] = await eventually(known)
    return result


async def events(topic: str, *, expect: int, within: float = 20.0) -> list[dict[str, Any]]:
    """Decoded envelopes on ``topic`` (each with its Kafka key under ``_key``)."""
    records = await read_topic(topic, expect=expect, within=within)
    out = []
    for record in records:
        envelope = json.loads(record.value)
        envelope["_key"] = record.key.decode() if record.key else None
        out.append(envelope)
    return out


def of_type(envelopes: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in envelopes if e["event_type"] == event_type]
