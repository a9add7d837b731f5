"""The access matrix of every reporting route and dashboard page with aggregates not public
(``KOTAKU_PUBLIC_AGGREGATES=false``), on the real broker and database: 401 without (or with an
unknown) credential; a region credential reads its own region's reports, its provinces' and
kota/kabupaten's (by the read model's province -> region assignment) and its trainings, and gets
403 for another region's; only national and admin credentials read the national figures and
named people. The report cache is on, so a cached report is checked like a fresh one."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import (
    FacilitatorRegistered,
    ProvinceAssignedToRegion,
    Role,
    TrainingScheduled,
    TrainingType,
)
from shared.kernel.envelope import Event, new_event
from tests.integration.conftest import OTHER, REGION, Stack, eventually, publish

pytestmark = pytest.mark.real

CALLERS = ("none", "unknown", "oc02", "oc05", "national", "admin")
OC02_DATA = {"none": 401, "unknown": 401, "oc02": 200, "oc05": 403, "national": 200, "admin": 200}
OC05_DATA = {**OC02_DATA, "oc02": 403, "oc05": 200}
NOBODYS = {**OC02_DATA, "oc02": 403, "oc05": 403}  # a province no assignment was applied for
NATIONAL = NOBODYS
UNKNOWN = {**OC02_DATA, "oc02": 404, "oc05": 404, "national": 404, "admin": 404}
CODES = {401: {"credential_required", "invalid_credential"}, 404: {"training_not_found", "facilitator_not_found"}}


def scheduled(training_id: uuid.UUID, title: str) -> TrainingScheduled:
    return TrainingScheduled(
        training_id=training_id,
        training_type=TrainingType.BASIC,
        title=title,
        organiser="OC",
        venue="Aula",
        start_date=date(2016, 8, 1),
        end_date=date(2016, 8, 5),
        capacity=30,
        eligible_roles=[Role.FASILITATOR],
    )


def registered(province: str, kabkota: str) -> FacilitatorRegistered:
    return FacilitatorRegistered(
        facilitator_id=uuid.uuid4(),
        full_name="Rina Anggraini",
        role=Role.FASILITATOR,
        province_code=province,
        kabkota_code=kabkota,
        effective_from=date(2016, 7, 1),
    )


async def test_with_private_aggregates_each_credential_reads_its_regions_only(
    stack: Stack, other_region: str, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    stack.start(
        "reporting",
        KOTAKU_REGIONS=f"{REGION},{other_region}",
        KOTAKU_PUBLIC_AGGREGATES="false",
        KOTAKU_REPORT_CACHE_SECONDS="30",
        KOTAKU_RATE_LIMIT_PER_SECOND="0",  # a hundred anonymous requests at once; the limit has its own test
    )
    t02, t05 = uuid.uuid4(), uuid.uuid4()
    person02 = registered("16", "16.71")
    events: list[Event[Any]] = [
        new_event(
            ProvinceAssignedToRegion(
                province_code="16", province_name="Sumatera Selatan", effective_from=date(2016, 1, 1)
            ),
            region=REGION,
            source="test",
        ),
        new_event(
            ProvinceAssignedToRegion(province_code="18", province_name="Lampung", effective_from=date(2016, 1, 1)),
            region=OTHER,
            source="test",
        ),
        new_event(scheduled(t02, "Pelatihan OC 02"), region=REGION, source="test"),
        new_event(scheduled(t05, "Pelatihan OC 05"), region=OTHER, source="test"),
        new_event(person02, region=REGION, source="test"),
        new_event(registered("18", "18.71"), region=OTHER, source="test"),
    ]
    await publish(producer, stack, events)
    db = service_db["reporting"]

    async def applied() -> bool:
        counts = await db.fetchrow(
            "SELECT (SELECT count(*) FROM province_regions) AS p, (SELECT count(*) FROM trainings) AS t,"
            " (SELECT count(*) FROM facilitators) AS f"
        )
        return counts is not None and tuple(counts) == (2, 2, 2)

    await eventually(applied, within=30)

    missing = uuid.uuid4()
    matrix: list[tuple[str, dict[str, str], dict[str, int]]] = [
        ("/api/v1/reports/national", {}, NATIONAL),
        ("/api/v1/reports/national", {"format": "xlsx"}, NATIONAL),
        ("/api/v1/reports/regions/oc02", {}, OC02_DATA),
        ("/api/v1/reports/regions/oc05", {"format": "csv"}, OC05_DATA),
        ("/api/v1/reports/provinces/16", {}, OC02_DATA),
        ("/api/v1/reports/provinces/18", {"format": "csv"}, OC05_DATA),
        ("/api/v1/reports/provinces/13", {}, NOBODYS),
        ("/api/v1/reports/kabkota/16.71", {"period": "2016"}, OC02_DATA),
        ("/api/v1/reports/kabkota/18.71", {}, OC05_DATA),
        (f"/api/v1/reports/trainings/{t02}", {}, OC02_DATA),
        (f"/api/v1/reports/trainings/{t05}", {"format": "xlsx"}, OC05_DATA),
        (f"/api/v1/reports/trainings/{missing}", {}, UNKNOWN),
        ("/api/v1/reports/facilitator-counts", {"region": "oc02"}, OC02_DATA),
        ("/api/v1/reports/facilitator-counts", {"region": "oc05"}, OC05_DATA),
        (f"/api/v1/facilitators/{person02.facilitator_id}/history", {}, NATIONAL),
        ("/regions/oc02", {}, OC02_DATA),
        ("/regions/oc05", {}, OC05_DATA),
        ("/provinces/16", {}, OC02_DATA),
        ("/provinces/18", {}, OC05_DATA),
        ("/kabkota/16.71", {}, OC02_DATA),
        ("/kabkota/18.71", {}, OC05_DATA),
        (f"/trainings/{t02}", {}, OC02_DATA),
        (f"/trainings/{t05}", {}, OC05_DATA),
    ]
    headers = {
        "none": {},
        "unknown": {"Authorization": "Bearer kt_000000000000_not-a-real-secret"},
        **{who: stack.auth(who) for who in ("oc02", "oc05", "national", "admin")},
    }
    failures = []
    async with httpx.AsyncClient(timeout=30, base_url=stack.url("reporting")) as http:
        # every route of the API is in the matrix
        spec = (await http.get("/openapi.json")).json()
        documented = {p for p in spec["paths"] if p.startswith("/api/v1")}
        covered = {"/api/v1/reports/" + p for p in ("national", "facilitator-counts")} | {
            "/api/v1/reports/regions/{region}",
            "/api/v1/reports/provinces/{code}",
            "/api/v1/reports/kabkota/{code}",
            "/api/v1/reports/trainings/{training_id}",
            "/api/v1/facilitators/{facilitator_id}/history",
        }
        assert documented == covered
        for _ in range(2):  # the second round is answered from the report cache
            for path, params, expected in matrix:
                for who in CALLERS:
                    r = await http.get(path, params=params, headers=headers[who])
                    want = expected[who]
                    ok = r.status_code == want
                    if ok and want == 403:
                        ok = r.json()["error"]["code"] in {"region_forbidden", "national_reader_required"}
                    elif ok and want in CODES:
                        ok = r.json()["error"]["code"] in CODES[want]
                    if not ok:
                        failures.append((path, params, who, want, r.status_code, r.text[:160]))
        assert failures == []

        # facilitator counts without a region: a region credential sees its own rows only
        for who, regions in (("oc02", ["oc02"]), ("oc05", ["oc05"]), ("national", ["oc02", "oc05"])):
            counts = (await http.get("/api/v1/reports/facilitator-counts", headers=headers[who])).json()
            assert ([row["region"] for row in counts["rows"]], counts["total"]) == (regions, len(regions))
        # the refusals say what the credential may read instead
        r = await http.get("/api/v1/reports/national", headers=headers["oc02"])
        assert r.json()["error"]["details"] == {"regions": ["oc02"]}
        assert "/api/v1/reports/regions/oc02" in r.json()["error"]["message"]
        # the province report says which region the province is assigned to
        province = (await http.get("/api/v1/reports/provinces/16", headers=headers["oc02"])).json()
        assert province["region"] == "oc02"
        # the national overview sends a region credential on to its region's page, filters kept
        r = await http.get("/", params={"period": "2016"}, headers=headers["oc02"])
        assert (r.status_code, r.headers["location"]) == (303, "/regions/oc02?period=2016")
        for who, status in (("none", 401), ("unknown", 401), ("national", 200), ("admin", 200)):
            assert (await http.get("/", headers=headers[who])).status_code == status, who
