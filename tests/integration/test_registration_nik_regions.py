"""A NIK registered in one region, registered again from another, over every door (HTTP, the Kafka
intake, the CSV import) on the real stack: the other region learns only that the NIK cannot be
registered there, never the holder's id or region; a caller who may act on the holder's region
(that region's own credential, an admin) is told the holder, as before."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.topics import REGISTRATION_INTAKE, REJECTIONS
from tests.integration.conftest import REGION, Stack, by_message_id, read_topic
from tests.integration.test_registration_support import API, person, registration_message

pytestmark = pytest.mark.real

NIK = "1871010101900001"
ELSEWHERE = "facilitator_exists_elsewhere"


def lampung(region: str) -> dict[str, Any]:
    """The area of a facilitator of Kota Bandar Lampung (province 18, which is oc05's)."""
    return {"region": region, "province_code": "18", "kabkota_code": "18.71"}


async def test_a_nik_held_by_another_region_is_refused_without_naming_the_holder_over_every_door(
    stack: Stack, other_region: str, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    reg = stack.start("registration", regions=f"{REGION},{other_region}").url
    async with httpx.AsyncClient(timeout=30, base_url=f"{reg}{API}") as http:
        kota = {"code": "18.71", "name": "Kota Bandar Lampung", "effective_from": "2016-01-01"}
        r = await http.post("/orgunits", json=kota, headers=stack.auth("admin"))
        assert r.status_code == 201, r.text
        r = await http.post("/facilitators", json={**person(NIK), **lampung(other_region)}, headers=stack.auth("oc05"))
        assert r.status_code == 201, r.text
        holder = str(r.json()["facilitator_id"])

        def hides_the_holder(text: str) -> bool:
            return holder not in text and other_region not in text

        # -- HTTP: oc02 learns only that the NIK cannot be registered there -------------------
        r = await http.post("/facilitators", json=person(NIK, "Someone Else"), headers=stack.auth("oc02"))
        assert r.status_code == 409
        assert r.json()["error"]["code"] == ELSEWHERE
        assert r.json()["error"]["details"] == {"field": "nik"}
        assert "national office" in r.json()["error"]["message"]
        assert hides_the_holder(r.text)
        # oc05 itself (a retry) and an admin are told the holder
        r = await http.post("/facilitators", json={**person(NIK), **lampung(other_region)}, headers=stack.auth("oc05"))
        assert (r.status_code, r.json()["error"]["code"]) == (409, "facilitator_exists")
        assert r.json()["error"]["details"] == {"facilitator_id": holder}
        r = await http.post("/facilitators", json=person(NIK), headers=stack.auth("admin"))
        assert (r.json()["error"]["code"], r.json()["error"]["details"]) == (
            "facilitator_exists",
            {"facilitator_id": holder},
        )

        # -- CSV import: the row is rejected, with no id ------------------------------------------
        body = f"nik,full_name,role,province_code,kabkota_code\n{NIK},Someone Else,fasilitator,16,16.71\n"
        r = await http.post(
            "/facilitators/import",
            params={"region": REGION},
            content=body.encode(),
            headers={"Content-Type": "text/csv", **stack.auth("oc02")},
        )
        assert r.status_code == 200, r.text
        [row] = r.json()["results"]
        assert (row["status"], row["reason"], row["column"], row["facilitator_id"]) == (
            "rejected",
            ELSEWHERE,
            "nik",
            None,
        )
        assert hides_the_holder(r.text)

    # -- Kafka intake: the rejection's detail names no holder on oc02's topic --------------------
    await producer.send_and_wait(
        stack.topic(REGISTRATION_INTAKE.topic(REGION)), registration_message("from-oc02", NIK), key=b"oc02-mis"
    )
    retry = json.loads(registration_message("from-oc05", NIK, region=other_region))
    retry["payload"].update(lampung(other_region))
    await producer.send_and_wait(
        stack.topic(REGISTRATION_INTAKE.topic(other_region)), json.dumps(retry).encode(), key=b"oc05-mis"
    )
    [oc02_rejection] = by_message_id(await read_topic(stack.topic(REJECTIONS.topic(REGION)), expect=1)).values()
    assert oc02_rejection["reason"] == ELSEWHERE
    assert hides_the_holder(json.dumps(oc02_rejection))
    [oc05_rejection] = by_message_id(await read_topic(stack.topic(REJECTIONS.topic(other_region)), expect=1)).values()
    assert oc05_rejection["reason"] == "facilitator_exists"
    assert holder in oc05_rejection["detail"]

    db = service_db["registration"]
    assert await db.fetchval("SELECT count(*) FROM facilitators") == 1
