"""Org-unit reference data: loaded at migrate time and by the CLI, changed by admins over the API,
published as events, and used to validate every facilitator's area."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from shared.kernel.topics import FACILITATOR, ORGUNIT
from tests.integration.conftest import REGION, Stack, read_topic
from tests.integration.test_registration_support import API, events, of_type, person, registration_cli

pytestmark = pytest.mark.real

SOUTH_SUMATRA_UNITS = 1 + 17 + 18 + 107  # province, kota/kabupaten, Palembang's kecamatan and kelurahan
PROVINCES = 38  # the 34 of 2016 and the four formed out of Papua in 2022


async def test_reference_data_is_loaded_published_and_queryable(
    stack: Stack, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    db = service_db["registration"]
    assert await db.fetchval("SELECT count(*) FROM org_units WHERE level = 'province'") == PROVINCES
    assert await db.fetchval("SELECT count(*) FROM region_assignments") == PROVINCES

    # Only the served region's units are published (the other regions' topics are not ours).
    published = await events(stack.topic(ORGUNIT.topic(REGION)), expect=SOUTH_SUMATRA_UNITS + 1)
    defined = of_type(published, "OrgUnitDefined")
    assert len(defined) == SOUTH_SUMATRA_UNITS
    assert {e["payload"]["code"] for e in defined} >= {"16", "16.71", "16.01", "16.13", "16.74"}
    assert all(e["payload"]["code"].startswith("16") and e["_key"] == e["payload"]["code"] for e in defined)
    [assigned] = of_type(published, "ProvinceAssignedToRegion")
    assert assigned["payload"] == {
        "province_code": "16",
        "province_name": "Sumatera Selatan",
        "effective_from": "2016-01-01",
    }
    assert assigned["region"] == REGION

    async with httpx.AsyncClient(timeout=10, headers=stack.auth("oc05")) as http:  # any credential reads
        provinces = (await http.get(f"{reg}{API}/orgunits", params={"level": "province", "limit": 1000})).json()
        assert provinces["total"] == PROVINCES
        in_2016: dict[str, str | int] = {"level": "province", "limit": 1000, "as_of": "2016-06-01"}
        assert (await http.get(f"{reg}{API}/orgunits", params=in_2016)).json()["total"] == 34
        assert {p["code"]: p["region"] for p in provinces["items"]}["16"] == "oc02"
        kabkota = (await http.get(f"{reg}{API}/orgunits", params={"parent": "16"})).json()
        assert kabkota["total"] == 17
        assert [u["code"] for u in kabkota["items"]][:2] == ["16.01", "16.02"]
        kelurahan = (
            await http.get(f"{reg}{API}/orgunits", params={"level": "kelurahan", "region": "oc02", "limit": 1000})
        ).json()
        assert kelurahan["total"] == 107
        names = {u["code"]: u["name"] for u in kelurahan["items"]}
        assert {c: names[c] for c in ("16.71.01.1001", "16.71.12.1003", "16.71.17.1004")} == {
            "16.71.01.1001": "35 Ilir",
            "16.71.12.1003": "36 Ilir",
            "16.71.17.1004": "Silaberanti",
        }
        in_oc02 = (await http.get(f"{reg}{API}/orgunits", params={"level": "province", "region": "oc02"})).json()
        assert [p["code"] for p in in_oc02["items"]] == ["16"]
        palembang = (await http.get(f"{reg}{API}/orgunits/16.71")).json()
        assert palembang["name"] == "Kota Palembang"
        assert palembang["region_history"] == [{"region": "oc02", "effective_from": "2016-01-01"}]
        r = await http.get(f"{reg}{API}/orgunits/16.99")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "orgunit_not_found")

    # Seeding again adds and publishes nothing.
    outbox_rows = await db.fetchval("SELECT count(*) FROM outbox")
    again = registration_cli(stack, "seed-orgunits")
    assert again.returncode == 0, again.stderr
    assert "0 unit(s) added" in again.stdout
    assert "0 event(s) published" in again.stdout
    assert await db.fetchval("SELECT count(*) FROM outbox") == outbox_rows


async def test_admins_change_reference_data_over_time_and_registration_follows_it(
    stack: Stack, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    db = service_db["registration"]
    async with httpx.AsyncClient(timeout=10, headers=stack.auth("admin")) as admin:
        unit = {"code": "16.71.01.1008", "name": "Kelurahan Uji", "effective_from": "2016-01-01"}
        r = await admin.post(f"{reg}{API}/orgunits", json=unit)
        assert r.status_code == 201, r.text
        assert (r.json()["level"], r.json()["parent_code"], r.json()["region"]) == ("kelurahan", "16.71.01", "oc02")
        assert r.json()["published_events"] == 1
        r = await admin.post(f"{reg}{API}/orgunits", json=unit)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "orgunit_exists")
        renamed = {"name": "Kelurahan Uji Baru", "effective_from": "2016-01-01"}
        r = await admin.put(f"{reg}{API}/orgunits/16.71.01.1008", json=renamed)
        assert (r.status_code, r.json()["name"], r.json()["published_events"]) == (200, "Kelurahan Uji Baru", 1)
        r = await admin.put(f"{reg}{API}/orgunits/16.71.01.1008", json=renamed)
        assert (r.status_code, r.json()["published_events"]) == (200, 0)  # unchanged: nothing published
        r = await admin.post(
            f"{reg}{API}/orgunits", json={"code": "16.75.01", "name": "Nowhere", "effective_from": "2016-01-01"}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (422, "unknown_orgunit")
        r = await admin.post(
            f"{reg}{API}/orgunits",
            json={"code": "16.75", "level": "province", "name": "X", "effective_from": "2016-01-01"},
        )
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")

        # Bangka Belitung (19) joins oc02 from 2017: its units are published on oc02 from then on.
        r = await admin.put(
            f"{reg}{API}/orgunits/19.71", json={"name": "Kota Pangkalpinang", "effective_from": "2016-01-01"}
        )
        assert (r.status_code, r.json()["region"], r.json()["published_events"]) == (201, "oc05", 0)
        assert r.json()["not_published_for_regions"] == ["oc05"]
        move = {"region": "oc02", "effective_from": "2017-01-01"}
        r = await admin.post(f"{reg}{API}/orgunits/19/region-assignments", json=move)
        assert r.status_code == 201, r.text
        assert r.json()["published_events"] == 3  # the assignment, the province and Kota Pangkalpinang
        r = await admin.post(f"{reg}{API}/orgunits/19/region-assignments", json=move)
        assert (r.status_code, r.json()["changed"]) == (200, False)
        r = await admin.post(f"{reg}{API}/orgunits/19/region-assignments", json={**move, "region": "oc03"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "assignment_conflict")
        history = (await admin.get(f"{reg}{API}/orgunits/19")).json()["region_history"]
        assert history == [
            {"region": "oc05", "effective_from": "2016-01-01"},
            {"region": "oc02", "effective_from": "2017-01-01"},
        ]

    async with httpx.AsyncClient(timeout=10, headers=stack.auth("oc02")) as http:
        r = await http.post(
            f"{reg}{API}/facilitators", json=person("1971010101900001", kabkota="19.71", effective_from="2017-02-01")
        )
        assert r.status_code == 201, r.text
        refusals = [
            (person("1971010101900002", kabkota="19.71", effective_from="2016-06-01"), "orgunit_not_in_region"),
            (person("9901010101900003", kabkota="99.01"), "unknown_orgunit"),
            (person("1675010101900004", kabkota="16.75"), "unknown_orgunit"),
            (person("1307010101900005", kabkota="13.07"), "unknown_orgunit"),
            (person("1871010101900006", kabkota="18.71"), "unknown_orgunit"),
        ]
        for body, code in refusals:
            r = await http.post(f"{reg}{API}/facilitators", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (422, code), (body, r.text)
        # a province of another region, with a kota that exists: refused with the region it is in
        async with httpx.AsyncClient(timeout=10, headers=stack.auth("admin")) as admin:
            await admin.put(f"{reg}{API}/orgunits/13.07", json={"name": "Kab. Agam", "effective_from": "2016-01-01"})
        r = await http.post(f"{reg}{API}/facilitators", json=person("1307010101900007", kabkota="13.07"))
        assert (r.status_code, r.json()["error"]["code"]) == (422, "orgunit_not_in_region")
        assert r.json()["error"]["details"]["region"] == "oc03"
        # writing reference data needs an admin credential
        r = await http.put(f"{reg}{API}/orgunits/16.71", json={"name": "Palembang", "effective_from": "2016-01-01"})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "admin_required")

    assert await db.fetchval("SELECT count(*) FROM facilitators") == 1
    assert await db.fetchval("SELECT name FROM org_units WHERE code = '16.71'") == "Kota Palembang"
    registered = await read_topic(stack.topic(FACILITATOR.topic(REGION)), expect=1)
    assert len(registered) == 1
    orgunit_events = await events(stack.topic(ORGUNIT.topic(REGION)), expect=SOUTH_SUMATRA_UNITS + 1 + 2 + 3)
    later = sorted(
        (e["event_type"], e["payload"].get("code") or e["payload"]["province_code"], e["payload"].get("name", ""))
        for e in orgunit_events
        if e["payload"].get("code", "").startswith(("19", "16.71.01.1008")) or e["payload"].get("province_code") == "19"
    )
    assert later == [
        ("OrgUnitDefined", "16.71.01.1008", "Kelurahan Uji"),
        ("OrgUnitDefined", "16.71.01.1008", "Kelurahan Uji Baru"),
        ("OrgUnitDefined", "19", "Kepulauan Bangka Belitung"),
        ("OrgUnitDefined", "19.71", "Kota Pangkalpinang"),
        ("ProvinceAssignedToRegion", "19", ""),
    ]
    assert len(orgunit_events) == SOUTH_SUMATRA_UNITS + 1 + 5
