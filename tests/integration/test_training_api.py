"""The training service over HTTP on the real broker and database: schedules, attendance,
assessments, OJT, completion, certificates, and every refusal with its reason."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.topics import PARTICIPATION, TRAINING
from tests.integration.conftest import REGION, Stack, assert_documented, read_topic
from tests.integration.test_training_helpers import (
    PALEMBANG_OJT,
    define_kelurahan,
    enroll,
    events_of,
    training_body,
    wait_enrolled,
    wait_kelurahan,
)

pytestmark = pytest.mark.real

KEL = PALEMBANG_OJT[0][0]


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def test_schedule_update_cancel_and_who_may_do_it(stack: Stack) -> None:
    base = stack.start("training").url
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=stack.auth()) as http:
        r = await http.post("/api/v1/trainings", json=training_body())
        assert r.status_code == 201, r.text
        training = r.json()
        tid = training["training_id"]
        assert (training["status"], training["version"], training["enrolled"]) == ("scheduled", 1, 0)
        assert training["classes"][0]["trainers"] == ["Hasan Basri", "Lina Marlina"]

        again = await http.post("/api/v1/trainings", json=training_body(training_id=tid))
        assert error(again) == (409, "training_exists")
        bad = training_body(
            sessions=[{"session_id": "x", "date": "2016-09-01", "kind": "classroom", "module_code": "NOPE"}]
        )
        r = await http.post("/api/v1/trainings", json=bad)
        assert error(r) == (422, "invalid_schedule")
        assert len(r.json()["error"]["details"]["problems"]) == 2
        r = await http.post("/api/v1/trainings", json=training_body(training_type="casino"))
        assert error(r) == (422, "invalid_request")
        r = await http.post("/api/v1/trainings", json=training_body(region="oc05"), headers=stack.auth("admin"))
        assert error(r) == (422, "region_not_served")
        for who in ("oc05", "national"):
            r = await http.post("/api/v1/trainings", json=training_body(), headers=stack.auth(who))
            assert error(r) == (403, "region_forbidden"), who
        async with httpx.AsyncClient(base_url=base, timeout=10) as anonymous:
            assert error(await anonymous.post("/api/v1/trainings", json=training_body())) == (
                401,
                "credential_required",
            )
            assert error(await anonymous.get(f"/api/v1/trainings/{tid}")) == (401, "credential_required")
        for who, status in {"national": 200, "admin": 200, "oc02": 200, "oc05": 403}.items():
            assert (await http.get(f"/api/v1/trainings/{tid}", headers=stack.auth(who))).status_code == status
        assert error(await http.get(f"/api/v1/trainings/{uuid.uuid4()}")) == (404, "training_not_found")

        changes = {k: v for k, v in training_body().items() if k not in ("region", "training_type", "training_id")}
        changes["venue"] = "Hotel Swarna Dwipa Palembang"
        changes["sessions"] = [*changes["sessions"], {"session_id": "s5", "date": "2016-08-01", "kind": "classroom"}]
        r = await http.put(f"/api/v1/trainings/{tid}", json=changes)
        assert r.status_code == 200, r.text
        assert (r.json()["venue"], r.json()["version"], len(r.json()["sessions"])) == (changes["venue"], 2, 5)

        other = (await http.post("/api/v1/trainings", json=training_body(title="Pelatihan Penyegaran"))).json()
        r = await http.post(f"/api/v1/trainings/{other['training_id']}/cancel", json={"reason": "venue unavailable"})
        assert (r.status_code, r.json()["status"], r.json()["status_reason"]) == (200, "cancelled", "venue unavailable")
        r = await http.post(f"/api/v1/trainings/{other['training_id']}/cancel", json={})
        assert error(r) == (409, "training_cancelled")
        r = await http.post(
            f"/api/v1/trainings/{other['training_id']}/attendance",
            json={"session_id": "s1", "records": [{"facilitator_id": str(uuid.uuid4()), "status": "present"}]},
        )
        assert error(r) == (409, "training_cancelled")

        await assert_documented(
            http,
            [
                "/api/v1/trainings",
                "/api/v1/trainings/{training_id}",
                "/api/v1/trainings/{training_id}/attendance",
                "/api/v1/trainings/{training_id}/assessments",
                "/api/v1/trainings/{training_id}/ojt-assignments",
                "/api/v1/trainings/{training_id}/ojt-completions",
                "/api/v1/trainings/{training_id}/close",
                "/api/v1/trainings/{training_id}/cancel",
                "/api/v1/trainings/{training_id}/sync",
                "/api/v1/trainings/{training_id}/roster",
                "/api/v1/certificates/{code}",
            ],
        )

    records = await read_topic(stack.topic(TRAINING.topic(REGION)), expect=4)
    types = Counter(json.loads(r.value)["event_type"] for r in records)
    assert types == {"TrainingScheduled": 2, "TrainingUpdated": 1, "TrainingCancelled": 1}
    updated = events_of(records, "TrainingUpdated")[0]["payload"]
    assert updated["venue"] == "Hotel Swarna Dwipa Palembang"
    assert updated["organiser"] == "OC 02 Sumatera Selatan"
    assert updated["completion_rule"]["min_attendance_ratio"] == 0.75
    assert all(r.key.decode() == json.loads(r.value)["payload"]["training_id"] for r in records)


async def test_participation_refusals_corrections_completion_and_certificates(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    base = stack.start("training").url
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=stack.auth()) as http:
        tid = uuid.UUID((await http.post("/api/v1/trainings", json=training_body())).json()["training_id"])
        future = training_body(
            start_date=(date.today() + timedelta(days=30)).isoformat(),
            end_date=(date.today() + timedelta(days=31)).isoformat(),
            sessions=[{"session_id": "f1", "date": (date.today() + timedelta(days=30)).isoformat(), "kind": "ojt"}],
        )
        future_id = uuid.UUID((await http.post("/api/v1/trainings", json=future)).json()["training_id"])
        people = await enroll(producer, stack, tid, 6)
        [later] = await enroll(producer, stack, future_id, 1)
        await define_kelurahan(producer, stack)
        await wait_enrolled(http, base, tid, 6)
        await wait_enrolled(http, base, future_id, 1)
        await wait_kelurahan(http, base)
        a, b = people[:3], people[3:]
        url = f"/api/v1/trainings/{tid}"

        assignments = [{"facilitator_id": str(p), "class_id": "A"} for p in a]
        assignments += [{"facilitator_id": str(p), "class_id": "B"} for p in b]
        assert (await http.post(f"{url}/class-assignments", json={"assignments": assignments})).json() == {
            "assigned": 6
        }
        r = await http.post(
            f"{url}/class-assignments", json={"assignments": [{"facilitator_id": str(a[0]), "class_id": "Z"}]}
        )
        assert error(r) == (422, "unknown_class")

        day1 = "2016-07-31T09:00:00+07:00"
        stranger = uuid.uuid4()
        refusals = [
            (
                {
                    "session_id": "s1",
                    "occurred_at": day1,
                    "records": [{"facilitator_id": str(stranger), "status": "present"}],
                },
                "not_enrolled",
            ),
            (
                {
                    "session_id": "s9",
                    "occurred_at": day1,
                    "records": [{"facilitator_id": str(a[0]), "status": "present"}],
                },
                "unknown_session",
            ),
            # s3 is on 1 August: attendance taken on 31 July is for a session that has not happened yet
            (
                {
                    "session_id": "s3",
                    "occurred_at": day1,
                    "records": [{"facilitator_id": str(a[0]), "status": "present"}],
                },
                "session_not_yet_held",
            ),
            (
                {
                    "session_id": "s1",
                    "occurred_at": "2099-01-01T09:00:00+07:00",
                    "records": [{"facilitator_id": str(a[0]), "status": "present"}],
                },
                "occurred_in_future",
            ),
            (
                {"session_id": "s1", "class_id": "A", "records": [{"facilitator_id": str(b[0]), "status": "present"}]},
                "not_in_class",
            ),
        ]
        for body, code in refusals:
            r = await http.post(f"{url}/attendance", json=body)
            assert error(r) == (422, code), r.text
            assert r.json()["error"]["message"]
        # a session in the future, with attendance taken now
        r = await http.post(
            f"/api/v1/trainings/{future_id}/attendance",
            json={"session_id": "f1", "records": [{"facilitator_id": str(later), "status": "present"}]},
        )
        assert error(r) == (422, "session_not_yet_held")
        # one refused record refuses the whole sheet: nothing was written
        mixed = {
            "session_id": "s1",
            "occurred_at": day1,
            "records": [
                {"facilitator_id": str(a[0]), "status": "present"},
                {"facilitator_id": str(stranger), "status": "present"},
            ],
        }
        r = await http.post(f"{url}/attendance", json=mixed)
        assert error(r) == (422, "not_enrolled")
        assert [d["facilitator_id"] for d in r.json()["error"]["details"]["refused"]] == [str(stranger)]
        assert error(await http.post(f"{url}/attendance", json=mixed, headers=stack.auth("oc05"))) == (
            403,
            "region_forbidden",
        )

        # class sheets: everyone present but the exceptions; a resent sheet is a duplicate
        for sid, occurred in (("s1", day1), ("s2", "2016-07-31T14:00:00+07:00"), ("s3", "2016-08-01T09:00:00+07:00")):
            for cls, members in (("A", a), ("B", b)):
                exceptions = [{"facilitator_id": str(b[2]), "status": "absent"}] if cls == "B" and sid != "s1" else []
                sheet = {
                    "session_id": sid,
                    "class_id": cls,
                    "default_status": "present",
                    "sheet_id": f"{sid}-{cls}",
                    "occurred_at": occurred,
                    "records": exceptions,
                }
                r = await http.post(f"{url}/attendance", json=sheet)
                assert (r.status_code, r.json()["recorded"]) == (200, len(members)), r.text
        r = await http.post(f"{url}/attendance", json={**sheet})
        assert (r.json()["recorded"], r.json()["duplicates"]) == (0, 3)

        # corrections: the latest occurred_at wins, whatever the arrival order; history is kept
        late_fix = {"session_id": "s2", "occurred_at": "2016-07-31T16:00:00+07:00"}
        r = await http.post(
            f"{url}/attendance", json={**late_fix, "records": [{"facilitator_id": str(b[2]), "status": "late"}]}
        )
        assert r.status_code == 200, r.text
        stale = {"session_id": "s2", "occurred_at": "2016-07-31T15:00:00+07:00"}
        r = await http.post(
            f"{url}/attendance", json={**stale, "records": [{"facilitator_id": str(b[2]), "status": "excused"}]}
        )
        assert r.json()["recorded"] == 1
        history = (await http.get(f"{url}/participants/{b[2]}/history")).json()
        s2 = [h for h in history if h["subject"] == "s2"]
        assert [(h["data"]["status"], h["current"]) for h in s2] == [
            ("absent", False),
            ("excused", False),
            ("late", True),
        ]

        # assessments and gain
        pre = {
            "kind": "pre",
            "max_score": 50,
            "occurred_at": day1,
            "scores": [{"facilitator_id": str(p), "score": 20} for p in people],
        }
        assert (await http.post(f"{url}/assessments", json=pre)).json()["recorded"] == 6
        r = await http.post(f"{url}/assessments", json={**pre, "scores": [{"facilitator_id": str(a[0]), "score": 51}]})
        assert error(r) == (422, "invalid_request")

        # OJT: unknown kelurahan refused; a whole class assigned at once
        ojt = {"mentor": "Tim Korkot Kota Palembang", "task": "Pemetaan swadaya", "occurred_at": day1}
        r = await http.post(f"{url}/ojt-assignments", json={**ojt, "kelurahan_code": "16.71.99.9999", "class_id": "A"})
        assert error(r) == (422, "unknown_kelurahan")
        r = await http.post(f"{url}/ojt-assignments", json={**ojt, "kelurahan_code": KEL, "class_id": "A"})
        assert r.json()["recorded"] == 3
        r = await http.post(
            f"{url}/ojt-assignments",
            json={**ojt, "kelurahan_code": PALEMBANG_OJT[5][0], "facilitator_ids": [str(p) for p in b]},
        )
        assert r.json()["recorded"] == 3
        done_at = "2016-08-01T15:00:00+07:00"
        for p in people[:5]:  # b[2] never completes OJT
            done: dict[str, Any] = {
                "facilitator_id": str(p),
                "kelurahan_code": KEL if p in a else PALEMBANG_OJT[5][0],
                "rating": 4,
                "report": "Rembug warga terlaksana",
                "occurred_at": done_at,
            }
            assert (await http.post(f"{url}/ojt-completions", json=done)).status_code == 200
        r = await http.post(f"{url}/ojt-completions", json={**done, "kelurahan_code": "16.71.99.9999"})
        assert error(r) == (422, "unknown_kelurahan")

        # s4 (OJT day): everyone present except a[2]; then the post-test arrives last: completion at once
        r = await http.post(
            f"{url}/sync",
            json={
                "facts": [
                    {
                        "kind": "attendance",
                        "fact_id": f"s4-{p}",
                        "occurred_at": done_at,
                        "facilitator_id": str(p),
                        "session_id": "s4",
                        "status": "absent" if p == a[2] else "present",
                    }
                    for p in people
                ]
            },
        )
        assert r.json()["recorded"] == 6
        post = {
            "kind": "post",
            "max_score": 100,
            "occurred_at": "2016-08-01T16:00:00+07:00",
            "scores": [{"facilitator_id": str(p), "score": 70} for p in people[:5]],
        }
        assert (await http.post(f"{url}/assessments", json=post)).json()["recorded"] == 5
        body = (await http.get(f"{url}/participants")).json()
        by_id = {uuid.UUID(p["facilitator_id"]): p for p in body["participants"]}
        assert by_id[a[0]]["gain"] == 0.3  # 70/100 - 20/50
        # provisional until the close: what the facts say so far, nothing decided, no certificate
        assert (by_id[a[0]]["provisional"], by_id[a[0]]["outcome_now"], by_id[a[0]]["decision"]) == (
            True,
            "completed",
            None,
        )
        assert by_id[a[0]]["certificate_code"] is None
        assert by_id[a[2]]["outcome_now"] == "completed"  # 3 of 4 sessions: 75% is enough
        assert by_id[b[2]]["outcome_now"] == "not_completed"  # OJT and post-test missing
        assert by_id[b[2]]["attendance"] == {"s1": "present", "s2": "late", "s3": "absent", "s4": "present"}
        assert by_id[b[2]]["unmet_now"] == ["post_test_missing", "ojt_not_completed"]
        assert by_id[b[0]]["kabkota_code"] == "16.71"
        assert by_id[b[0]]["ojt_completion"]["kelurahan_code"] == PALEMBANG_OJT[5][0]

        r = await http.post(f"{url}/close")
        assert r.status_code == 200, r.text
        closed = r.json()
        assert (closed["status"], closed["completed"], closed["not_completed"], closed["certificates"]) == (
            "closed",
            5,
            1,
            5,
        )
        assert error(await http.post(f"{url}/close")) == (409, "training_closed")
        assert error(await http.post(f"/api/v1/trainings/{future_id}/close")) == (409, "training_not_over")
        body = (await http.get(f"{url}/participants")).json()
        by_id = {uuid.UUID(p["facilitator_id"]): p for p in body["participants"]}
        assert by_id[b[2]]["decision"]["unmet"] == ["post_test_missing", "ojt_not_completed"]
        assert by_id[b[2]]["decision"]["decided_by"] == "training_closed"

        assert by_id[a[0]]["decision"]["decided_by"] == "training_closed"
        codes = [p["certificate_code"] for p in body["participants"] if p["certificate_code"]]
        assert len(set(codes)) == 5

        # a correction after the close is recorded; the decision stands and a review opens
        fix = {
            "session_id": "s2",
            "occurred_at": "2016-08-02T09:00:00+07:00",
            "records": [{"facilitator_id": str(a[2]), "status": "absent"}],
        }
        assert (await http.post(f"{url}/attendance", json=fix)).json()["recorded"] == 1
        after = {
            uuid.UUID(p["facilitator_id"]): p for p in (await http.get(f"{url}/participants")).json()["participants"]
        }
        assert after[a[2]]["decision"]["outcome"] == "completed"
        assert after[a[2]]["decision"]["outdated"] is True
        assert after[a[2]]["unmet_now"] == ["attendance_below_minimum"]
        assert (after[a[2]]["review"]["status"], after[a[2]]["review"]["outcome_now"]) == ("open", "not_completed")
        [review] = (await http.get(f"{url}/reviews")).json()
        assert (review["facilitator_id"], review["decided_outcome"]) == (str(a[2]), "completed")
        revoked_code = after[a[2]]["certificate_code"]

        # the region's training officer re-decides with a reason: the certificate is revoked
        decide_url = f"{url}/participants/{a[2]}/decision"
        r = await http.post(decide_url, json={"outcome": "not_completed", "reason": ""})
        assert r.status_code == 422, r.text
        r = await http.post(decide_url, json={"outcome": "not_completed", "reason": "Absen hari kedua (koreksi)"})
        assert r.status_code == 200, r.text
        assert r.json() == {
            "previous_outcome": "completed",
            "outcome": "not_completed",
            "certificate_revoked": revoked_code,
            "certificate_issued": None,
        }
        assert error(await http.post(decide_url, json={"outcome": "not_completed", "reason": "lagi"})) == (
            409,
            "nothing_to_review",
        )
        history = (await http.get(f"{url}/participants/{a[2]}/decisions")).json()
        assert [(h["outcome"], h["decided_by"], h["reason"]) for h in history] == [
            ("completed", "training_closed", None),
            ("not_completed", "officer", "Absen hari kedua (koreksi)"),
        ]
        assert [r["status"] for r in (await http.get(f"{url}/reviews")).json()] == ["resolved"]
        summary = (await http.get(url)).json()
        assert (summary["completed"], summary["not_completed"], summary["certificates"]) == (4, 2, 4)
    async with httpx.AsyncClient(base_url=base, timeout=10) as public:
        for code in codes:
            r = await public.get(f"/api/v1/certificates/{code}")
            assert r.status_code == 200, r.text
            cert = r.json()
            assert cert["training_title"] == "Pelatihan Dasar Fasilitator"
            assert cert["start_date"] == "2016-07-31"
            assert uuid.UUID(cert["facilitator_id"]) in people
            assert cert["valid"] is (code != revoked_code)
        cert = (await public.get(f"/api/v1/certificates/{revoked_code}")).json()
        assert (cert["revoke_reason"], cert["revoked_at"] is not None) == ("Absen hari kedua (koreksi)", True)
        assert (await public.get(f"/api/v1/certificates/{codes[0].lower()}")).status_code == 200
        fakes = {"ABCD-EFGH-JKMN-PQRS", "2222-2222-2222-2222", "x", "%00", codes[0][:-1] + "Z"} - set(codes)
        for fake in fakes:
            r = await public.get(f"/api/v1/certificates/{fake}")
            assert error(r) == (404, "certificate_not_found"), fake

    records = await read_topic(stack.topic(PARTICIPATION.topic(REGION)), expect=40)
    decisions = Counter(
        json.loads(r.value)["payload"]["facilitator_id"]
        for r in records
        if json.loads(r.value)["event_type"] in ("TrainingCompleted", "TrainingNotCompleted")
    )
    assert decisions == {str(p): 1 for p in people}
    [corrected_outcome] = events_of(records, "TrainingOutcomeCorrected")
    assert (corrected_outcome["payload"]["facilitator_id"], corrected_outcome["payload"]["outcome"]) == (
        str(a[2]),
        "not_completed",
    )
    assert [e["payload"]["certificate_code"] for e in events_of(records, "CertificateRevoked")] == [revoked_code]
    assert [e["payload"]["status"] for e in events_of(records, "OutcomeReviewChanged")] == ["open", "resolved"]
    issued = events_of(records, "CertificateIssued")
    assert sorted(e["payload"]["certificate_code"] for e in issued) == sorted(codes)
    not_completed = events_of(records, "TrainingNotCompleted")
    assert [e["payload"]["unmet"] for e in not_completed] == [["post_test_missing", "ojt_not_completed"]]
    completed = {e["payload"]["facilitator_id"]: e["payload"] for e in events_of(records, "TrainingCompleted")}
    assert completed[str(a[0])]["ojt_kelurahan_code"] == KEL
    assert completed[str(a[0])]["post_score"] == 70
    attendance = events_of(records, "AttendanceRecorded")
    assert all(e["payload"]["fact_id"] for e in attendance)
    corrected = [
        e for e in attendance if e["payload"]["facilitator_id"] == str(b[2]) and e["payload"]["session_id"] == "s2"
    ]
    assert sorted(datetime.fromisoformat(e["occurred_at"]) for e in corrected) == [
        datetime(2016, 7, 31, h, tzinfo=UTC) for h in (7, 8, 9)
    ]
    closed_events = events_of(await read_topic(stack.topic(TRAINING.topic(REGION)), expect=3), "TrainingClosed")
    assert [(e["payload"]["completed"], e["payload"]["not_completed"]) for e in closed_events] == [(5, 1)]
