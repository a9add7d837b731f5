"""The whole country's reference data on a running stack: the OC regions file applied with
``regions plan|apply``, every unit loaded with ``load-country`` and kept by training and reporting
(how long that takes is printed, never asserted), and OJT recorded in kelurahan of other provinces
afterwards, one of them in a province formed in 2022."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import REGION, Stack
from tests.integration.test_registration_support import API, registration_cli
from tests.integration.test_training_helpers import enroll, training_body, wait_enrolled

pytestmark = pytest.mark.real

UNITS = 97_384  # the 2019 edition (91,219) and the four provinces formed in 2022 (6,165)
KELURAHAN = 88_979
PROVINCES_2016 = [
    "11",
    "12",
    "13",
    "14",
    "15",
    "17",
    "18",
    "19",
    "21",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "51",
    "52",
    "53",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "72",
    "73",
    "74",
    "75",
    "76",
    "81",
    "82",
    "91",
    "92",
]  # fmt: skip; Sumatera Selatan (16) stays in oc02
GAMBIR = "31.71.01.1001"  # Kel. Gambir, Kota Adm. Jakarta Pusat
SAMKAI = "93.01.01.1002"  # Samkai, Merauke, Papua Selatan (91.01.01.1002 until 2022-07-25)


def regions_file(path: Path, other: str) -> Path:
    """Every province but Sumatera Selatan in ``other``, each from its first day."""
    entries = [{"province_code": p, "effective_from": "2016-01-01"} for p in PROVINCES_2016]
    entries += [{"province_code": p, "effective_from": "2022-07-25"} for p in ("93", "94", "95")]
    entries += [{"province_code": "96", "effective_from": "2022-12-08"}]
    body = {"regions": {REGION: [{"province_code": "16", "effective_from": "2016-01-01"}], other: entries}}
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


async def wait_count(conn: asyncpg.Connection, sql: str, expected: int, since: float, within: float) -> float:
    """Seconds from ``since`` (a perf_counter reading) until ``sql`` counts ``expected`` rows."""
    count = 0
    while time.perf_counter() - since < within:
        count = await conn.fetchval(sql)
        if count >= expected:
            return time.perf_counter() - since
        await asyncio.sleep(0.25)
    raise AssertionError(f"{sql}: {count} of {expected} after {within}s")


async def test_the_whole_country_is_loaded_kept_by_the_consumers_and_usable_for_ojt(
    stack: Stack,
    other_region: str,
    service_db: dict[str, asyncpg.Connection],
    producer: AIOKafkaProducer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    served = f"{REGION},{other_region}"
    reg = stack.start("registration", regions=served).url
    training = stack.start("training", regions=served).url
    stack.start("reporting", regions=served)

    # The OC regions file: plan shows the corrections, apply publishes them, then nothing is left.
    grouping = regions_file(tmp_path / "oc_regions.json", other_region)
    plan = registration_cli(stack, "regions", "plan", "--file", str(grouping))
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert f"~ 31 DKI Jakarta: oc06 -> {other_region} from 2016-01-01" in plan.stdout
    assert "35 change(s) to make, 0 kept" in plan.stdout  # 18 and 19 are in oc05 already
    applied = registration_cli(stack, "regions", "apply", "--file", str(grouping))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "applied 35 change(s)" in applied.stdout
    again = registration_cli(stack, "regions", "plan", "--file", str(grouping))
    assert (again.returncode, again.stdout.splitlines()[-1]) == (0, "0 change(s) to make, 0 kept")
    broken = json.loads(grouping.read_text())
    broken["regions"][other_region] = [e for e in broken["regions"][other_region] if e["province_code"] != "93"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    refused = registration_cli(stack, "regions", "plan", "--file", str(tmp_path / "broken.json"))
    assert refused.returncode == 2
    assert "province 93 Papua Selatan has no OC region" in refused.stdout

    # The whole country, timed: the load, then until training and reporting have every unit.
    started = time.perf_counter()
    loaded = registration_cli(stack, "load-country")
    load_seconds = time.perf_counter() - started
    assert loaded.returncode == 0, loaded.stderr
    assert "97204 unit(s) added" in loaded.stdout  # the 180 of the committed file were there
    assert "publishing [##############################] 97204/97204 units" in loaded.stderr
    training_db, reporting_db = service_db["training"], service_db["reporting"]
    done = time.perf_counter()
    known = await wait_count(training_db, "SELECT count(*) FROM known_kelurahan", KELURAHAN, done, 240)
    kept = await wait_count(reporting_db, "SELECT count(*) FROM org_units", UNITS, done, 240)
    with capsys.disabled():
        print(
            f"\nwhole country: {loaded.stdout.strip()}\n"
            f"  load-country took {load_seconds:.1f} s (the process); after it ended, training had all {KELURAHAN} "
            f"kelurahan in {known:.1f} s and reporting all {UNITS} units in {kept:.1f} s"
        )
    again_loaded = registration_cli(stack, "load-country")
    assert "0 unit(s) added" in again_loaded.stdout
    assert "0 event(s) published" in again_loaded.stdout
    rows = await reporting_db.fetch("SELECT province_code, region FROM province_regions")
    regions = {r["province_code"]: r["region"] for r in rows}
    assert (regions["16"], regions["31"], regions["93"]) == (REGION, other_region, other_region)

    async with httpx.AsyncClient(timeout=10, headers=stack.auth("national")) as http:
        gambir = (await http.get(f"{reg}{API}/orgunits/{GAMBIR}")).json()
        assert (gambir["name"], gambir["region"]) == ("Gambir", other_region)
        old_merauke = (await http.get(f"{reg}{API}/orgunits/91.01")).json()
        assert (old_merauke["name"], old_merauke["effective_to"]) == ("Kab. Merauke", "2022-07-25")
        papua: dict[str, str | int] = {"parent": "91", "limit": 1000}
        in_2016 = (await http.get(f"{reg}{API}/orgunits", params={**papua, "as_of": "2016-06-01"})).json()
        today = (await http.get(f"{reg}{API}/orgunits", params=papua)).json()
        assert (in_2016["total"], today["total"]) == (29, 9)  # 20 of Papua's 29 left for the new provinces
        provinces_2016: dict[str, str | int] = {"level": "province", "limit": 100, "as_of": "2016-06-01"}
        assert (await http.get(f"{reg}{API}/orgunits", params=provinces_2016)).json()["total"] == 34

    # OJT in kelurahan of other provinces, through training's API.
    async with httpx.AsyncClient(base_url=training, timeout=10, headers=stack.auth()) as http:
        r = await http.post("/api/v1/trainings", json=training_body())
        assert r.status_code == 201, r.text
        tid = uuid.UUID(r.json()["training_id"])
        people = await enroll(producer, stack, tid, 2)
        await wait_enrolled(http, training, tid, 2)
        known = (await http.get("/api/v1/reference/kelurahan", params={"code_prefix": "31.71.01."})).json()
        assert {k["code"]: k["name"] for k in known}[GAMBIR] == "Gambir"
        ojt = {"mentor": "Tim Korkot", "task": "Pemetaan swadaya", "occurred_at": "2016-07-31T10:00:00+07:00"}
        for code, person in ((GAMBIR, people[0]), (SAMKAI, people[1])):
            r = await http.post(
                f"/api/v1/trainings/{tid}/ojt-assignments",
                json={**ojt, "kelurahan_code": code, "facilitator_ids": [str(person)]},
            )
            assert (r.status_code, r.json()["recorded"]) == (200, 1), r.text
        r = await http.post(
            f"/api/v1/trainings/{tid}/ojt-assignments",
            json={**ojt, "kelurahan_code": "31.71.01.1999", "facilitator_ids": [str(people[0])]},
        )
        assert (r.status_code, r.json()["error"]["code"]) == (422, "unknown_kelurahan")
