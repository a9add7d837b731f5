"""Hostile input gets a clear 4xx through every door, never a 500 and never a partial write."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.topics import REGISTRATION_INTAKE, REJECTIONS
from tests.integration.conftest import REGION, Stack, metric_value
from tests.integration.test_registration_support import API, events, person
from tests.unit.test_names import OTHER_JUNK, SEED_SPAM

pytestmark = pytest.mark.real


async def test_spam_as_a_name_is_refused_through_http_csv_and_intake_and_nothing_is_written(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    db = service_db["registration"]
    corpus = SEED_SPAM + OTHER_JUNK
    async with httpx.AsyncClient(timeout=30, headers=stack.auth("oc02")) as http:
        for i, line in enumerate(corpus):
            r = await http.post(f"{reg}{API}/facilitators", json=person(f"16710101019800{i:02d}", line))
            assert r.status_code == 422, (line, r.text)
            body = r.json()["error"]
            assert body["code"] == "invalid_request"
            assert [d["field"] for d in body["details"]] == ["body.full_name"], line
        # one real person so that the PATCH door can be tried too
        r = await http.post(f"{reg}{API}/facilitators", json=person("1671010101980099", "Budi Santoso"))
        fid = r.json()["facilitator_id"]
        for line in corpus:
            r = await http.patch(f"{reg}{API}/facilitators/{fid}", json={"full_name": line})
            assert r.status_code == 422, line

        in_csv = (*corpus, "x" * 100_000, "Siti\x1bAminah", "Budi\u202eSantoso")
        rows = "".join(
            f'16710101019801{i:02d},"{line.replace(chr(34), chr(34) * 2)}",fasilitator,16,16.71\n'
            for i, line in enumerate(in_csv)
        )
        r = await http.post(
            f"{reg}{API}/facilitators/import",
            params={"region": REGION},
            content=("nik,full_name,role,province_code,kabkota_code\n" + rows).encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["rows"], report["rejected"]) == (len(in_csv), len(in_csv))
        assert {(row["reason"], row["column"]) for row in report["results"]} == {("invalid_value", "full_name")}

    intake = stack.topic(REGISTRATION_INTAKE.topic(REGION))
    for i, line in enumerate(SEED_SPAM):
        message = {
            "message_id": f"spam-{i}",
            "type": "RegisterFacilitator",
            "region": REGION,
            "payload": person(f"16710101019802{i:02d}", line),
        }
        await producer.send_and_wait(intake, json.dumps(message).encode(), key=b"spammer")
    rejected = await events(stack.topic(REJECTIONS.topic(REGION)), expect=len(SEED_SPAM))
    assert {e["payload"]["message_id"] for e in rejected} == {f"spam-{i}" for i in range(len(SEED_SPAM))}
    assert all(e["payload"]["reason"] == "invalid_payload" for e in rejected)
    assert all(err["field"] == "payload.full_name" for e in rejected for err in e["payload"]["errors"])

    assert await db.fetchval("SELECT count(*) FROM facilitators") == 1
    assert await db.fetchval("SELECT full_name FROM facilitators") == "Budi Santoso"
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE event_type LIKE 'Facilitator%'") == 1


async def test_oversized_malformed_and_mistyped_input_is_a_4xx_never_a_500(
    stack: Stack, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    fid, tid = uuid.uuid4(), uuid.uuid4()
    cases: list[tuple[str, str, dict[str, object]]] = [
        ("POST", "/facilitators", {"json": person("1671010101990001", "x" * 100_000)}),
        ("POST", "/facilitators", {"json": person("1671010101990001", "Siti\x00Aminah")}),
        ("POST", "/facilitators", {"json": person("1671010101990001", "Siti\x1b[31mAminah")}),
        ("POST", "/facilitators", {"json": {**person("1671010101990001"), "nik": 1671010101990001}}),
        ("POST", "/facilitators", {"json": {**person("1671010101990001"), "role": ["fasilitator"]}}),
        ("POST", "/facilitators", {"json": {**person("1671010101990001"), "effective_from": "31/07/2016"}}),
        ("POST", "/facilitators", {"json": {**person("1671010101990001"), "effective_from": "9999-12-31"}}),
        ("POST", "/facilitators", {"json": {**person("1671010101990001"), "phone": "0812" * 100}}),
        ("POST", "/facilitators", {"json": {**person("1671010101990001"), "speciality": "casino"}}),
        ("POST", "/facilitators", {"json": [person("1671010101990001")]}),
        ("POST", "/facilitators", {"json": "Hard Rock Hotel & Casino"}),
        ("POST", "/facilitators", {"content": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/facilitators", {"content": b"{" * 100_000, "headers": {"Content-Type": "application/json"}}),
        (
            "POST",
            "/facilitators",
            {"content": b"x" * (2 * 1024 * 1024), "headers": {"Content-Type": "application/json"}},
        ),
        ("PATCH", f"/facilitators/{fid}", {"json": {"full_name": None}}),
        ("PATCH", "/facilitators/not-a-uuid", {"json": {"full_name": "Budi Santoso"}}),
        ("POST", f"/facilitators/{fid}/reassignments", {"json": {"role": "fasilitator"}}),
        ("POST", f"/facilitators/{fid}/deactivation", {"json": {"reason": "resigned", "effective_from": 20160701}}),
        ("POST", f"/trainings/{tid}/enrollments", {"json": {"facilitator_id": "'; DROP TABLE facilitators; --"}}),
        ("DELETE", f"/trainings/{tid}/enrollments/{fid}", {"params": {"reason": "x" * 10_000}}),
        ("GET", "/facilitators", {"params": {"kabkota": "16.71'; --", "offset": -1}}),
        ("GET", "/orgunits", {"params": {"parent": "\x00", "level": "planet"}}),
        (
            "POST",
            "/facilitators/import",
            {"params": {"region": "oc02"}, "content": "\x00" * 1000, "headers": {"Content-Type": "text/csv"}},
        ),
    ]
    async with httpx.AsyncClient(timeout=30, headers=stack.auth("oc02")) as http:
        for method, path, kwargs in cases:
            r = await http.request(method, f"{reg}{API}{path}", **kwargs)  # type: ignore[arg-type]
            assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text[:300])
            assert r.json()["error"]["code"], (method, path)
        metrics = (await http.get(f"{reg}/metrics")).text
    assert metric_value(metrics, "kotaku_http_requests_total", status="500") == 0
    db = service_db["registration"]
    assert await db.fetchval("SELECT count(*) FROM facilitators") == 0
    assert await db.fetchval("SELECT count(*) FROM enrollments") == 0
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type NOT IN ('OrgUnitDefined', 'ProvinceAssignedToRegion')"
        )
        == 0
    )
