"""A facilitator's life: registered with a speciality (and an optional phone that is only hashed),
renamed, reassigned with history, listed, deactivated."""

from __future__ import annotations

import hashlib
import hmac

import asyncpg
import httpx
import pytest

from shared.kernel.topics import FACILITATOR
from shared.tools.devstack import local_secrets
from tests.integration.conftest import REGION, Stack
from tests.integration.test_registration_support import API, events, of_type, person, register

pytestmark = pytest.mark.real

NIK = "1671010101910001"
PHONE = "0812-3456-7890"


async def test_register_update_reassign_deactivate_keeps_history_and_publishes_each_change(
    stack: Stack, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    db = service_db["registration"]
    async with httpx.AsyncClient(timeout=10, headers=stack.auth("oc02")) as http:
        r = await http.post(
            f"{reg}{API}/facilitators",
            json=person(
                NIK,
                "Siti Rahmawati",
                role="askot",
                speciality="manajemen_keuangan",
                phone=PHONE,
                effective_from="2016-07-01",
            ),
        )
        assert r.status_code == 201, r.text
        created = r.json()
        fid = created["facilitator_id"]
        assert created["speciality"] == "manajemen_keuangan"
        assert not {"nik", "phone"} & set(created)
        assert not [s for s in (NIK, "3456") if s in r.text]

        for body, code in [
            (person("1671010101910002", role="korkot", speciality="teknik"), "speciality_not_allowed"),
            (person("1671010101910003", role="fasilitator", speciality="manajemen_keuangan"), "speciality_not_allowed"),
        ]:
            r = await http.post(f"{reg}{API}/facilitators", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (422, code)
        r = await http.post(f"{reg}{API}/facilitators", json=person("1671010101910004", phone="+1 555 0100"))
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")

        # update: a new name is published; the same name again and a phone change are not
        r = await http.patch(f"{reg}{API}/facilitators/{fid}", json={"full_name": "Siti Rahmawati Putri"})
        assert (r.status_code, r.json()["full_name"]) == (200, "Siti Rahmawati Putri")
        r = await http.patch(f"{reg}{API}/facilitators/{fid}", json={"full_name": "Siti Rahmawati Putri"})
        assert r.status_code == 200
        r = await http.patch(f"{reg}{API}/facilitators/{fid}", json={"phone": "+62 813 0000 1111"})
        assert r.status_code == 200
        assert "phone" not in r.json()
        r = await http.patch(f"{reg}{API}/facilitators/{fid}", json={})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")

        # reassignment: new role and area from a date on; the history keeps both
        move: dict[str, object] = {
            "role": "fasilitator",
            "speciality": "sosial",
            "province_code": "16",
            "kabkota_code": "16.72",
            "effective_from": "2017-01-01",
        }
        r = await http.post(f"{reg}{API}/facilitators/{fid}/reassignments", json=move)
        assert r.status_code == 201, r.text
        assert (r.json()["role"], r.json()["kabkota_code"], r.json()["effective_from"]) == (
            "fasilitator",
            "16.72",
            "2017-01-01",
        )
        for body, status, code in [
            (move, 409, "assignment_unchanged"),
            ({**move, "kabkota_code": "16.73", "effective_from": "2016-12-31"}, 422, "effective_date_too_early"),
            ({**move, "province_code": "18", "kabkota_code": "18.71"}, 422, "unknown_orgunit"),
            ({**move, "kabkota_code": "16.99"}, 422, "unknown_orgunit"),
            ({**move, "role": "korkot"}, 422, "speciality_not_allowed"),
            ({**move, "province_code": "16", "kabkota_code": "17.71"}, 422, "invalid_request"),
        ]:
            r = await http.post(f"{reg}{API}/facilitators/{fid}/reassignments", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
        detail = (await http.get(f"{reg}{API}/facilitators/{fid}")).json()
        assert [(a["role"], a["kabkota_code"], a["effective_from"]) for a in detail["assignments"]] == [
            ("askot", "16.71", "2016-07-01"),
            ("fasilitator", "16.72", "2017-01-01"),
        ]

        # deactivation ends it; nothing else may change afterwards
        r = await http.post(
            f"{reg}{API}/facilitators/{fid}/deactivation", json={"reason": "resigned", "effective_from": "2017-06-30"}
        )
        assert (r.status_code, r.json()["status"], r.json()["deactivated_on"]) == (200, "inactive", "2017-06-30")
        r = await http.post(f"{reg}{API}/facilitators/{fid}/deactivation", json={"reason": "resigned"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "facilitator_inactive")
        r = await http.post(f"{reg}{API}/facilitators/{fid}/reassignments", json={**move, "kabkota_code": "16.73"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "facilitator_inactive")
        r = await http.post(f"{reg}{API}/facilitators/{fid}/deactivation", json={"reason": "because I said so"})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")

    # the phone is stored only as a keyed hash of its normalised form
    key = local_secrets()["KOTAKU_NIK_HASH_KEY"].encode()
    stored = await db.fetchrow("SELECT * FROM facilitators WHERE facilitator_id = $1", fid)
    assert stored is not None
    assert stored["phone_hash"] == hmac.new(key, b"phone:+6281300001111", hashlib.sha256).digest()
    assert not [s for s in ("1111", NIK) if s in repr(dict(stored))]
    assert await db.fetchval("SELECT count(*) FROM facilitators") == 1
    assert await db.fetchval("SELECT count(*) FROM facilitator_assignments WHERE facilitator_id = $1", fid) == 2

    published = await events(stack.topic(FACILITATOR.topic(REGION)), expect=4)
    assert [e["event_type"] for e in published] == [
        "FacilitatorRegistered",
        "FacilitatorUpdated",
        "FacilitatorReassigned",
        "FacilitatorDeactivated",
    ]  # one key, one partition: in order
    assert of_type(published, "FacilitatorRegistered")[0]["payload"]["speciality"] == "manajemen_keuangan"
    assert of_type(published, "FacilitatorUpdated")[0]["payload"] == {
        "facilitator_id": fid,
        "full_name": "Siti Rahmawati Putri",
    }
    reassigned = of_type(published, "FacilitatorReassigned")[0]["payload"]
    assert (reassigned["previous_role"], reassigned["previous_kabkota_code"], reassigned["kabkota_code"]) == (
        "askot",
        "16.71",
        "16.72",
    )
    assert of_type(published, "FacilitatorDeactivated")[0]["payload"]["reason"] == "resigned"
    raw = str(published)
    assert not [s for s in (NIK, "3456", "1111", "phone", "nik") if s in raw]


async def test_list_is_paged_filtered_and_limited_to_what_the_credential_may_read(stack: Stack, reg: str) -> None:
    async with httpx.AsyncClient(timeout=10, headers=stack.auth("oc02")) as http:
        people = [
            person("1671010101920001", "Ahmad Saputra", kabkota="16.71", role="askot", speciality="teknik"),
            person("1671010101920002", "Budi Wijaya", kabkota="16.71"),
            person("1672010101920003", "Dewi Pratama", kabkota="16.72"),
            person("1602010101920004", "Fitri Hidayat", kabkota="16.02", role="senior_fasilitator"),
            person("1602010101920005", "Hendra Lubis", kabkota="16.02"),
        ]
        ids = [await register(http, reg, body) for body in people]
        page = (await http.get(f"{reg}{API}/facilitators", params={"limit": 2})).json()
        assert (page["total"], [f["facilitator_id"] for f in page["items"]]) == (5, ids[:2])
        page = (await http.get(f"{reg}{API}/facilitators", params={"limit": 2, "offset": 4})).json()
        assert [f["facilitator_id"] for f in page["items"]] == ids[4:]
        only = (await http.get(f"{reg}{API}/facilitators", params={"kabkota": "16.02", "role": "fasilitator"})).json()
        assert [f["full_name"] for f in only["items"]] == ["Hendra Lubis"]
        assert (await http.get(f"{reg}{API}/facilitators", params={"province": "16", "region": "oc02"})).json()[
            "total"
        ] == 5
        r = await http.get(f"{reg}{API}/facilitators", params={"limit": 100000})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")
        r = await http.get(f"{reg}{API}/facilitators", params={"region": "oc05"})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "region_forbidden")
        r = await http.post(f"{reg}{API}/facilitators/{ids[1]}/deactivation", json={"reason": "contract_ended"})
        assert r.status_code == 200
        active = (await http.get(f"{reg}{API}/facilitators", params={"status": "active"})).json()
        assert active["total"] == 4
        oc05 = (await http.get(f"{reg}{API}/facilitators", headers=stack.auth("oc05"))).json()
        national = (await http.get(f"{reg}{API}/facilitators", headers=stack.auth("national"))).json()
    assert oc05["total"] == 0  # its own regions only
    assert national["total"] == 5
    assert all("nik" not in f and "phone" not in f for f in national["items"])
