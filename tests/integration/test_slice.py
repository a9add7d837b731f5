"""The walking skeleton end to end: HTTP -> registration -> outbox -> Kafka -> reporting / training."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from shared.kernel.topics import FACILITATOR
from tests.integration.conftest import REGION, Stack, eventually, read_topic
from tests.integration.test_registration_support import person, register, schedule_training

pytestmark = pytest.mark.real


async def test_registered_facilitators_are_counted_by_reporting_per_region_and_province(stack: Stack) -> None:
    stack.start("registration")
    stack.start("reporting")
    reg, rep = stack.url("registration"), stack.url("reporting")
    async with httpx.AsyncClient(timeout=10, headers=stack.auth("admin")) as admin:
        # Areas are validated against reference data: put Kab. Agam (13.07) and its province in oc02.
        r = await admin.put(f"{reg}/api/v1/orgunits/13.07", json={"name": "Kab. Agam", "effective_from": "2016-01-01"})
        assert r.status_code == 201, r.text
        r = await admin.post(
            f"{reg}/api/v1/orgunits/13/region-assignments", json={"region": REGION, "effective_from": "2020-01-01"}
        )
        assert r.status_code == 201, r.text
    async with httpx.AsyncClient(timeout=10, headers=stack.auth()) as http:
        people = [
            person("1671010101900001", "Siti Rahmawati"),
            person("1671010101900002", "Ñoman Dwi Putra"),
            person("1602010101900003", "Agus Salim", kabkota="16.02", role="senior_fasilitator"),
            person("1307010101900004", "Yusuf Harahap", kabkota="13.07"),
        ]
        ids = [await register(http, reg, body) for body in people]

        async def counts() -> dict[str, object] | None:
            body = (await http.get(f"{rep}/api/v1/reports/facilitator-counts", params={"region": REGION})).json()
            return body if body["total"] == 4 else None

        body = await eventually(counts)
        assert {(r["province_code"], r["facilitators"]) for r in body["rows"]} == {("16", 3), ("13", 1)}
        only_16 = (
            await http.get(f"{rep}/api/v1/reports/facilitator-counts", params={"region": REGION, "province": "16"})
        ).json()
        assert only_16["total"] == 3
        assert body["data_as_of"] is not None

    records = await read_topic(stack.topic(FACILITATOR.topic(REGION)), expect=4)
    assert len(records) == 4
    for record in records:
        headers = dict(record.headers)
        envelope = json.loads(record.value)
        assert headers["ce_type"] == b"FacilitatorRegistered"
        assert headers["ce_id"].decode() == envelope["event_id"]
        assert record.key.decode() == envelope["payload"]["facilitator_id"]
        assert envelope["region"] == REGION
        assert envelope["source"] == "kotaku.registration"
        assert "nik" not in record.value.decode().lower()
        assert "1671010101900001" not in record.value.decode()
    assert sorted(json.loads(r.value)["payload"]["facilitator_id"] for r in records) == sorted(ids)


async def test_enrollment_reaches_the_training_roster(stack: Stack, producer: AIOKafkaProducer) -> None:
    stack.start("registration")
    stack.start("training")
    reg, trn = stack.url("registration"), stack.url("training")
    training_id = str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=10, headers=stack.auth()) as http:
        # registration enrolls only into trainings it learned from the training service's events
        await schedule_training(producer, stack, http, uuid.UUID(training_id))
        fid = (await http.post(f"{reg}/api/v1/facilitators", json=person("1671020202900001"))).json()["facilitator_id"]
        r = await http.post(f"{reg}/api/v1/trainings/{training_id}/enrollments", json={"facilitator_id": fid})
        assert r.status_code == 201, r.text
        again = await http.post(f"{reg}/api/v1/trainings/{training_id}/enrollments", json={"facilitator_id": fid})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_enrolled"

        async def roster() -> dict[str, object] | None:
            body = (await http.get(f"{trn}/api/v1/trainings/{training_id}/roster")).json()
            return body if body["enrolled"] == 1 else None

        body = await eventually(roster)
        assert body["entries"][0]["facilitator_id"] == fid
        roster_url = f"{trn}/api/v1/trainings/{training_id}/roster"
        assert (await http.get(roster_url, headers={"Authorization": ""})).status_code == 401
        assert (await http.get(roster_url, headers=stack.auth("oc05"))).status_code == 403
        assert (await http.get(roster_url, headers=stack.auth("national"))).status_code == 200
        assert body["entries"][0]["role"] == "fasilitator"


async def test_bad_requests_get_a_machine_readable_4xx_and_write_nothing(stack: Stack, reg: str) -> None:
    async with httpx.AsyncClient(timeout=10, headers=stack.auth()) as http:
        cases = [
            ({**person("1671010101900001"), "nik": "12345"}, 422, "invalid_request"),
            ({**person("1671010101900001"), "full_name": "Siti\x00"}, 422, "invalid_request"),
            ({**person("1671010101900001"), "full_name": "x" * 100_000}, 422, "invalid_request"),
            ({**person("1671010101900001"), "role": "boss"}, 422, "invalid_request"),
            ({**person("1671010101900001"), "kabkota_code": "17.71"}, 422, "invalid_request"),
            ({**person("1671010101900001"), "region": "oc07"}, 403, "region_forbidden"),
            ({**person("1671010101900001"), "unexpected": 1}, 422, "invalid_request"),
        ]
        for body, status, code in cases:
            r = await http.post(f"{reg}/api/v1/facilitators", json=body)
            assert r.status_code == status, (body, r.text)
            assert r.json()["error"]["code"] == code
        r = await http.post(
            f"{reg}/api/v1/facilitators", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        r = await http.post(
            f"{reg}/api/v1/facilitators", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "body_too_large"
        r = await http.get(f"{reg}/api/v1/facilitators/{uuid.uuid4()}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "facilitator_not_found"
        r = await http.get(f"{reg}/api/v1/facilitators/not-a-uuid")
        assert r.status_code == 422

        first = await http.post(f"{reg}/api/v1/facilitators", json=person("1671010101900001"))
        assert first.status_code == 201
        dup = await http.post(f"{reg}/api/v1/facilitators", json=person("1671010101900001", name="Other Name"))
        assert dup.status_code == 409
        assert dup.json()["error"]["details"]["facilitator_id"] == first.json()["facilitator_id"]

        ready = await http.get(f"{reg}/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": True, "kafka": True}
        metrics = (await http.get(f"{reg}/metrics")).text
    families = {f.name for f in text_string_to_metric_families(metrics)}
    assert {"kotaku_http_requests", "kotaku_outbox_backlog", "kotaku_events_emitted"} <= families
    # exactly one facilitator was written and one event emitted, whatever the refusals above
    emitted = [
        s
        for f in text_string_to_metric_families(metrics)
        if f.name == "kotaku_events_emitted"
        for s in f.samples
        if s.name.endswith("_total")
    ]
    assert sum(s.value for s in emitted) == 1


async def test_credentials_decide_who_may_write_and_read_which_region(stack: Stack, reg: str) -> None:
    body = person("1671050505900001")
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{reg}/api/v1/facilitators", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "credential_required")
        r = await http.post(f"{reg}/api/v1/facilitators", json=body, headers={"Authorization": "Bearer kt_nope_nope"})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_credential")
        for who in ("oc05", "national"):
            r = await http.post(f"{reg}/api/v1/facilitators", json=body, headers=stack.auth(who))
            assert (r.status_code, r.json()["error"]["code"]) == (403, "region_forbidden"), who
        r = await http.post(f"{reg}/api/v1/facilitators", json=body, headers={"X-API-Key": stack.tokens["oc02"]})
        assert r.status_code == 201
        fid = r.json()["facilitator_id"]
        r = await http.post(f"{reg}/api/v1/facilitators", json=person("1671050505900002"), headers=stack.auth("admin"))
        assert r.status_code == 201
        r = await http.post(
            f"{reg}/api/v1/facilitators",
            json={**person("1671050505900003"), "region": "oc05"},
            headers=stack.auth("admin"),
        )
        assert (r.status_code, r.json()["error"]["code"]) == (422, "region_not_served")
        expected_reads = {"oc02": 200, "national": 200, "admin": 200, "oc05": 403}
        for who, status in expected_reads.items():
            r = await http.get(f"{reg}/api/v1/facilitators/{fid}", headers=stack.auth(who))
            assert r.status_code == status, who
        r = await http.get(f"{reg}/api/v1/facilitators/{fid}")
        assert r.status_code == 401
