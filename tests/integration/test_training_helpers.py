"""Helpers for the training service's tests: they play the registration service by publishing
its events (enrollments, reference data) with a plain Kafka client. No tests here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import FacilitatorEnrolled, OrgUnitDefined, OrgUnitLevel, Role
from shared.kernel.envelope import Event, EventPayload, new_event
from tests.integration.conftest import REGION, Stack, eventually

# The 8 OJT kelurahan of the demo with their Kemendagri codes (Permendagri 72/2019).
PALEMBANG_OJT = (
    ("16.71.01.1001", "35 Ilir", "16.71.01"),
    ("16.71.12.1003", "36 Ilir", "16.71.12"),
    ("16.71.01.1004", "29 Ilir", "16.71.01"),
    ("16.71.01.1003", "30 Ilir", "16.71.01"),
    ("16.71.01.1002", "32 Ilir", "16.71.01"),
    ("16.71.12.1004", "Karang Jaya", "16.71.12"),
    ("16.71.17.1004", "Silaberanti", "16.71.17"),
    ("16.71.17.1005", "Tuan Kentang", "16.71.17"),
)


async def publish(
    producer: AIOKafkaProducer,
    stack: Stack,
    payload: EventPayload,
    *,
    region: str = REGION,
    occurred_at: datetime | None = None,
) -> Event[EventPayload]:
    event = new_event(payload, region=region, source="kotaku.registration", occurred_at=occurred_at)
    await producer.send_and_wait(
        stack.topic(payload.stream.topic(region)),
        event.to_bytes(),
        key=event.key.encode(),
        headers=[(k, v.encode()) for k, v in event.headers().items()],
    )
    return event


def enrollment(
    training_id: uuid.UUID, facilitator_id: uuid.UUID, *, role: Role = Role.FASILITATOR, kabkota: str = "16.71"
) -> FacilitatorEnrolled:
    """What registration announces when ``facilitator_id`` is enrolled into ``training_id``."""
    return FacilitatorEnrolled(
        enrollment_id=uuid.uuid4(),
        training_id=training_id,
        facilitator_id=facilitator_id,
        role=role,
        province_code=kabkota[:2],
        kabkota_code=kabkota,
    )


async def enroll(
    producer: AIOKafkaProducer, stack: Stack, training_id: uuid.UUID, count: int, *, kabkota: str = "16.71"
) -> list[uuid.UUID]:
    """Enroll ``count`` new facilitators, as the registration service would announce it."""
    ids = [uuid.uuid4() for _ in range(count)]
    for i, fid in enumerate(ids):
        role = Role.SENIOR_FASILITATOR if i % 6 == 2 else Role.FASILITATOR
        await publish(producer, stack, enrollment(training_id, fid, role=role, kabkota=kabkota))
    return ids


async def define_kelurahan(
    producer: AIOKafkaProducer, stack: Stack, units: Sequence[tuple[str, str, str]] = PALEMBANG_OJT
) -> None:
    for code, name, parent in units:
        await publish(
            producer,
            stack,
            OrgUnitDefined(
                code=code, level=OrgUnitLevel.KELURAHAN, name=name, parent_code=parent, effective_from=date(2015, 1, 1)
            ),
        )


def training_body(**changes: Any) -> dict[str, Any]:
    """A small basic training in July 2016: 4 classroom sessions on 2 days, 2 classes."""
    body: dict[str, Any] = {
        "region": REGION,
        "training_type": "basic",
        "title": "Pelatihan Dasar Fasilitator",
        "organiser": "OC 02 Sumatera Selatan",
        "venue": "Asrama Haji Palembang",
        "start_date": "2016-07-31",
        "end_date": "2016-08-01",
        "capacity": 60,
        "eligible_roles": ["askot", "senior_fasilitator", "fasilitator"],
        "modules": [{"code": "DPK", "title": "Dasar Program KOTAKU"}],
        "classes": [
            {"class_id": "A", "name": "Kelas A", "trainers": ["Hasan Basri", "Lina Marlina"]},
            {"class_id": "B", "name": "Kelas B", "trainers": ["Rudi Hartono", "Mega Safitri"]},
        ],
        "sessions": [
            {"session_id": "s1", "date": "2016-07-31", "kind": "classroom", "module_code": "DPK"},
            {"session_id": "s2", "date": "2016-07-31", "kind": "classroom", "module_code": "DPK"},
            {"session_id": "s3", "date": "2016-08-01", "kind": "classroom", "module_code": "DPK"},
            {"session_id": "s4", "date": "2016-08-01", "kind": "ojt"},
        ],
        "completion_rule": {"min_attendance_ratio": 0.75, "require_post_test": True, "require_ojt": True},
    }
    body.update(changes)
    return body


async def wait_enrolled(http: httpx.AsyncClient, base: str, training_id: uuid.UUID, count: int) -> None:
    async def enrolled() -> bool:
        body = (await http.get(f"{base}/api/v1/trainings/{training_id}/roster")).json()
        return bool(body["enrolled"] >= count)

    await eventually(enrolled, within=30)


async def wait_kelurahan(http: httpx.AsyncClient, base: str, count: int = len(PALEMBANG_OJT)) -> None:
    async def known() -> bool:
        r = await http.get(f"{base}/api/v1/reference/kelurahan", params={"code_prefix": "16.71."})
        return len(r.json()) >= count

    await eventually(known, within=30)


def events_of(records: Sequence[Any], event_type: str) -> list[dict[str, Any]]:
    out = []
    for r in records:
        envelope = json.loads(r.value)
        if envelope["event_type"] == event_type:
            out.append(envelope)
    return out
