"""Kafka intake of the registration service, driven by a plain Kafka client as a regional system would."""

from __future__ import annotations

import json

import pytest
from aiokafka import AIOKafkaProducer

from shared.topics import FACILITATOR, REGISTRATION_INTAKE, REJECTIONS, dlq_topic
from tests.integration.conftest import REGION, Stack, read_topic

pytestmark = pytest.mark.real


def message(message_id: str, nik: str, **changes: object) -> bytes:
    body: dict[str, object] = {
        "message_id": message_id,
        "type": "RegisterFacilitator",
        "region": REGION,
        "sent_at": "2016-07-25T09:00:00+07:00",
        "payload": {
            "nik": nik,
            "full_name": "Intan Permana",
            "role": "fasilitator",
            "region": REGION,
            "province_code": "16",
            "kabkota_code": "16.72",
        },
    }
    body.update(changes)
    return json.dumps(body).encode()


async def test_every_intake_message_is_accepted_rejected_with_a_reason_or_dead_lettered(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    stack.start("registration")
    intake = stack.topic(REGISTRATION_INTAKE.topic(REGION))
    sent = {
        "ok-1": message("ok-1", "1672010101900001"),
        "ok-1-again": message("ok-1", "1672010101900001"),  # the sender retried: same message_id
        "dup-nik": message("dup-nik", "1672010101900001"),  # a different message for the same person
        "bad-payload": message("bad-payload", "123"),
        "forged": message("forged", "1672010101900002", region="oc05"),
        "unknown": message("unknown", "1672010101900003", type="DeleteEverything"),
        "spam": message("spam", "1672010101900004", payload={"text": "Hard Rock Hotel & Casino"}),
    }
    for value in sent.values():
        await producer.send_and_wait(intake, value, key=b"oc02-mis")
    await producer.send_and_wait(intake, b"\x89PNG not json at all", key=b"oc02-mis")
    await producer.send_and_wait(intake, json.dumps({"type": "RegisterFacilitator"}).encode(), key=b"oc02-mis")

    rejections = await read_topic(stack.topic(REJECTIONS.topic(REGION)), expect=5)
    by_id = {json.loads(r.value)["payload"]["message_id"]: json.loads(r.value)["payload"] for r in rejections}
    assert {k: v["reason"] for k, v in by_id.items()} == {
        "dup-nik": "facilitator_exists",
        "bad-payload": "invalid_payload",
        "forged": "region_mismatch",
        "unknown": "unknown_type",
        "spam": "invalid_payload",
    }
    assert any(e["field"] == "payload.nik" for e in by_id["bad-payload"]["errors"])
    assert by_id["unknown"]["message_type"] == "DeleteEverything"

    accepted = await read_topic(stack.topic(FACILITATOR.topic(REGION)), expect=1)
    assert len(accepted) == 1  # ok-1 once, although it was sent twice
    assert json.loads(accepted[0].value)["payload"]["kabkota_code"] == "16.72"

    dead = await read_topic(dlq_topic(intake), expect=2)
    assert [dict(d.headers)["x-dlq-reason"] for d in dead] == [b"not_json", b"no_message_id"]
