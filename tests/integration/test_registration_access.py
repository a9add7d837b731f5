"""The access matrix, for every registration endpoint and every kind of caller: 401 without (or
with an unknown) credential, 403 for another region or a national reader writing, admin only for
reference data. Every allowed call really succeeds; every refused one writes nothing."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import REGION, Stack
from tests.integration.test_registration_support import API, person, schedule_training

pytestmark = pytest.mark.real

CALLERS = ("none", "unknown", "oc02", "oc05", "national", "admin")
WRITE = {"none": 401, "unknown": 401, "oc02": 200, "oc05": 403, "national": 403, "admin": 200}
READ = {"none": 401, "unknown": 401, "oc02": 200, "oc05": 403, "national": 200, "admin": 200}
REFERENCE_READ = {"none": 401, "unknown": 401, "oc02": 200, "oc05": 200, "national": 200, "admin": 200}
REFERENCE_WRITE = {"none": 401, "unknown": 401, "oc02": 403, "oc05": 403, "national": 403, "admin": 200}
CODES = {401: {"credential_required", "invalid_credential"}, 403: {"region_forbidden", "admin_required"}}

Request = tuple[str, str, dict[str, Any]]


async def test_every_endpoint_enforces_the_access_matrix(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    niks = (f"16710101{n:08d}" for n in itertools.count(1))
    codes = (f"16.71.01.{n}" for n in itertools.count(1100))
    days = (f"2030-01-{n:02d}" for n in itertools.count(1))
    training = uuid.uuid4()
    admin = httpx.AsyncClient(timeout=10, headers=stack.auth("admin"))

    async def new_facilitator() -> str:
        r = await admin.post(f"{reg}{API}/facilitators", json=person(next(niks), "Dewi Lestari"))
        assert r.status_code == 201, r.text
        return str(r.json()["facilitator_id"])

    async def enrolled_facilitator() -> str:
        fid = await new_facilitator()
        r = await admin.post(f"{reg}{API}/trainings/{training}/enrollments", json={"facilitator_id": fid})
        assert r.status_code == 201, r.text
        return fid

    await schedule_training(producer, stack, admin, training, capacity=100)
    known = await new_facilitator()
    csv_header = "nik,full_name,role,province_code,kabkota_code\n"

    async def register() -> Request:
        return "POST", "/facilitators", {"json": person(next(niks), "Agus Salim")}

    async def read_one() -> Request:
        return "GET", f"/facilitators/{known}", {}

    async def list_region() -> Request:
        return "GET", "/facilitators", {"params": {"region": REGION}}

    async def rename() -> Request:
        return "PATCH", f"/facilitators/{known}", {"json": {"full_name": "Dewi Lestari Putri"}}

    async def reassign() -> Request:
        move = {"role": "fasilitator", "province_code": "16", "kabkota_code": "16.72", "effective_from": "2030-01-01"}
        return "POST", f"/facilitators/{await new_facilitator()}/reassignments", {"json": move}

    async def deactivate() -> Request:
        return "POST", f"/facilitators/{await new_facilitator()}/deactivation", {"json": {"reason": "resigned"}}

    async def bulk() -> Request:
        body = (csv_header + f"{next(niks)},Rina Anggraini,fasilitator,16,16.71\n").encode()
        return (
            "POST",
            "/facilitators/import",
            {"params": {"region": REGION}, "content": body, "headers": {"Content-Type": "text/csv"}},
        )

    async def read_training() -> Request:
        return "GET", f"/trainings/{training}", {}

    async def enroll() -> Request:
        return "POST", f"/trainings/{training}/enrollments", {"json": {"facilitator_id": await new_facilitator()}}

    async def withdraw() -> Request:
        return "DELETE", f"/trainings/{training}/enrollments/{await enrolled_facilitator()}", {}

    async def list_units() -> Request:
        return "GET", "/orgunits", {"params": {"parent": "16"}}

    async def read_unit() -> Request:
        return "GET", "/orgunits/16.71", {}

    async def define_unit() -> Request:
        return (
            "POST",
            "/orgunits",
            {"json": {"code": next(codes), "name": "Kelurahan Uji", "effective_from": "2016-01-01"}},
        )

    async def put_unit() -> Request:
        return "PUT", f"/orgunits/{next(codes)}", {"json": {"name": "Kelurahan Uji", "effective_from": "2016-01-01"}}

    async def assign() -> Request:
        return "POST", "/orgunits/94/region-assignments", {"json": {"region": "oc19", "effective_from": next(days)}}

    matrix: list[tuple[str, str, Callable[[], Awaitable[Request]], dict[str, int]]] = [
        ("POST", "/api/v1/facilitators", register, WRITE),
        ("GET", "/api/v1/facilitators/{facilitator_id}", read_one, READ),
        ("GET", "/api/v1/facilitators", list_region, READ),
        ("PATCH", "/api/v1/facilitators/{facilitator_id}", rename, WRITE),
        ("POST", "/api/v1/facilitators/{facilitator_id}/reassignments", reassign, WRITE),
        ("POST", "/api/v1/facilitators/{facilitator_id}/deactivation", deactivate, WRITE),
        ("POST", "/api/v1/facilitators/import", bulk, WRITE),
        ("GET", "/api/v1/trainings/{training_id}", read_training, READ),
        ("POST", "/api/v1/trainings/{training_id}/enrollments", enroll, WRITE),
        ("DELETE", "/api/v1/trainings/{training_id}/enrollments/{facilitator_id}", withdraw, WRITE),
        ("GET", "/api/v1/orgunits", list_units, REFERENCE_READ),
        ("GET", "/api/v1/orgunits/{code}", read_unit, REFERENCE_READ),
        ("POST", "/api/v1/orgunits", define_unit, REFERENCE_WRITE),
        ("PUT", "/api/v1/orgunits/{code}", put_unit, REFERENCE_WRITE),
        ("POST", "/api/v1/orgunits/{code}/region-assignments", assign, REFERENCE_WRITE),
    ]

    # the matrix covers every route the service offers under /api/v1
    openapi = (await admin.get(f"{reg}/openapi.json")).json()
    offered = {(m.upper(), p) for p, ops in openapi["paths"].items() if p.startswith("/api/v1") for m in ops}
    assert offered == {(m, p) for m, p, _, _ in matrix}

    db = service_db["registration"]
    headers = {
        "none": {},
        "unknown": {"Authorization": "Bearer kt_000000000000_not-a-real-secret"},
        **{who: stack.auth(who) for who in ("oc02", "oc05", "national", "admin")},
    }
    failures = []
    checked = 0
    async with httpx.AsyncClient(timeout=10) as http:
        for method, template, build, expected in matrix:
            for who in CALLERS:
                verb, path, kwargs = await build()
                before = await db.fetchval("SELECT count(*) FROM outbox")
                extra_headers = {**kwargs.pop("headers", {}), **headers[who]}
                r = await http.request(verb, f"{reg}{API}{path}", headers=extra_headers, **kwargs)
                want = expected[who]
                ok = 200 <= r.status_code < 300 if want == 200 else r.status_code == want
                if ok and want in CODES:
                    ok = r.json()["error"]["code"] in CODES[want]
                    ok = ok and await db.fetchval("SELECT count(*) FROM outbox") == before  # refused: nothing written
                checked += 1
                if not ok:
                    failures.append((method, template, who, want, r.status_code, r.text[:200]))
    await admin.aclose()
    assert failures == []
    assert checked == len(matrix) * len(CALLERS) == 90
