"""Kafka intake of the registration service, driven by a plain Kafka client as a regional system
would: every command type, each message accepted, rejected with a reason, or dead-lettered."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.topics import ENROLLMENT, FACILITATOR, REGISTRATION_INTAKE, REJECTIONS, dlq_topic
from tests.integration.conftest import REGION, Stack, by_message_id, read_topic
from tests.integration.test_registration_support import (
    events,
    intake_message,
    registration_message,
    schedule_training,
)

pytestmark = pytest.mark.real


async def test_every_intake_message_is_accepted_rejected_with_a_reason_or_dead_lettered(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    stack.start("registration")
    intake = stack.topic(REGISTRATION_INTAKE.topic(REGION))

    async def send(value: bytes) -> None:
        await producer.send_and_wait(intake, value, key=b"oc02-mis")

    sent = {
        "ok-1": registration_message("ok-1", "1672010101900001"),
        "ok-1-again": registration_message("ok-1", "1672010101900001"),  # the sender retried: same message_id
        "dup-nik": registration_message("dup-nik", "1672010101900001"),  # a different message for the same person
        "bad-payload": registration_message("bad-payload", "123"),
        "forged": registration_message("forged", "1672010101900002", region="oc05"),
        "unknown": registration_message("unknown", "1672010101900003", type="DeleteEverything"),
        "spam": registration_message("spam", "1672010101900004", payload={"text": "Hard Rock Hotel & Casino"}),
        "no-such-kota": registration_message(
            "no-such-kota",
            "1675010101900005",
            payload={**json.loads(registration_message("x", "1675010101900005"))["payload"], "kabkota_code": "16.75"},
        ),
    }
    for value in sent.values():
        await send(value)
    await send(b"\x89PNG not json at all")
    await send(json.dumps({"type": "RegisterFacilitator"}).encode())

    [registered] = await events(stack.topic(FACILITATOR.topic(REGION)), expect=1)
    fid = registered["payload"]["facilitator_id"]
    assert (registered["payload"]["kabkota_code"], registered["payload"]["effective_from"]) == ("16.72", "2016-07-25")
    assert registered["payload"]["speciality"] == "ekonomi"

    training = uuid.uuid4()
    async with httpx.AsyncClient(timeout=10) as http:
        await schedule_training(producer, stack, http, training)
    ids = {"facilitator_id": fid}
    enrollment = {"training_id": str(training), **ids}
    reassignment = {
        **ids,
        "role": "fasilitator",
        "speciality": "teknik",
        "province_code": "16",
        "kabkota_code": "16.71",
        "effective_from": "2016-08-01",
    }
    for value in [
        intake_message("rename", "UpdateFacilitator", {**ids, "full_name": "Intan Permata Sari"}),
        intake_message("rename-spam", "UpdateFacilitator", {**ids, "full_name": "Hard Rock Hotel & Casino"}),
        intake_message(
            "rename-nobody", "UpdateFacilitator", {"facilitator_id": str(uuid.uuid4()), "full_name": "Budi Santoso"}
        ),
        intake_message("move", "ReassignFacilitator", reassignment),
        intake_message("move-again", "ReassignFacilitator", reassignment),
        intake_message(
            "move-away", "ReassignFacilitator", {**reassignment, "province_code": "13", "kabkota_code": "13.07"}
        ),
        intake_message("enroll", "EnrollFacilitator", enrollment),
        intake_message("enroll-unknown", "EnrollFacilitator", {**enrollment, "training_id": str(uuid.uuid4())}),
        intake_message("withdraw", "WithdrawEnrollment", {**enrollment, "reason": "participant_cancelled"}),
        intake_message("withdraw-again", "WithdrawEnrollment", enrollment),
        intake_message("leave", "DeactivateFacilitator", {**ids, "reason": "contract_ended"}),
        intake_message("leave-again", "DeactivateFacilitator", {**ids, "reason": "contract_ended"}),
        intake_message("enroll-inactive", "EnrollFacilitator", enrollment),
    ]:
        await send(value)

    rejections = await read_topic(stack.topic(REJECTIONS.topic(REGION)), expect=14)
    by_id = by_message_id(rejections)
    assert {k: v["reason"] for k, v in by_id.items()} == {
        "dup-nik": "facilitator_exists",
        "bad-payload": "invalid_payload",
        "forged": "region_mismatch",
        "unknown": "unknown_type",
        "spam": "invalid_payload",
        "no-such-kota": "unknown_orgunit",
        "rename-spam": "invalid_payload",
        "rename-nobody": "facilitator_not_found",
        "move-again": "assignment_unchanged",
        "move-away": "unknown_orgunit",
        "enroll-unknown": "training_unknown",
        "withdraw-again": "already_withdrawn",
        "leave-again": "facilitator_inactive",
        "enroll-inactive": "facilitator_inactive",
    }
    assert any(e["field"] == "payload.nik" for e in by_id["bad-payload"]["errors"])
    assert by_id["unknown"]["message_type"] == "DeleteEverything"
    assert fid in by_id["dup-nik"]["detail"]  # the sender learns the existing id
    assert all(r.key == json.loads(r.value)["payload"]["message_id"].encode() for r in rejections)

    facilitator_events = await events(stack.topic(FACILITATOR.topic(REGION)), expect=4)
    assert [e["event_type"] for e in facilitator_events] == [
        "FacilitatorRegistered",  # ok-1 once, although it was sent twice
        "FacilitatorUpdated",
        "FacilitatorReassigned",
        "FacilitatorDeactivated",
    ]
    assert facilitator_events[1]["payload"]["full_name"] == "Intan Permata Sari"
    assert facilitator_events[3]["payload"]["effective_from"] == "2016-08-10"  # sent_at's date
    enrollment_events = await events(stack.topic(ENROLLMENT.topic(REGION)), expect=2)
    assert [(e["event_type"], e["payload"].get("reason")) for e in enrollment_events] == [
        ("FacilitatorEnrolled", None),
        ("EnrollmentWithdrawn", "participant_cancelled"),
    ]
    db = service_db["registration"]
    assert await db.fetchval("SELECT count(*) FROM facilitators") == 1
    assert await db.fetchval("SELECT count(*) FROM facilitator_assignments") == 2

    dead = await read_topic(dlq_topic(intake), expect=2)
    assert [dict(d.headers)["x-dlq-reason"] for d in dead] == [b"not_json", b"no_message_id"]
