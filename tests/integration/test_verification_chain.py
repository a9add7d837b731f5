"""The verification chain on the real stack: attendance sheets and the close are submitted by what
trainers record, verified by the OC region (HTTP or the region's intake), accepted by the national
office, returned with a reason, reopened by a correction; reporting shows completions by level and
what waits where."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.topics import REJECTIONS, TRAINING_INTAKE
from tests.integration.conftest import REGION, Stack, by_message_id, eventually, read_topic
from tests.integration.test_training_helpers import define_kelurahan, enroll, training_body, wait_enrolled
from tests.integration.test_training_sync import intake_message

pytestmark = pytest.mark.real

DAY1 = "2016-07-31T09:00:00+07:00"
DAY2 = "2016-08-01T09:00:00+07:00"


def code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def test_sheets_and_the_close_move_up_the_chain_and_reports_show_each_level(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    base = stack.start("training").url
    rep = stack.start("reporting").url
    rule = {"min_attendance_ratio": 0.5, "require_post_test": False, "require_ojt": False}
    async with (
        httpx.AsyncClient(base_url=base, timeout=10, headers=stack.auth("oc02")) as region,
        httpx.AsyncClient(base_url=base, timeout=10, headers=stack.auth("national")) as national,
        httpx.AsyncClient(base_url=base, timeout=10, headers=stack.auth("oc05")) as stranger,
    ):
        r = await region.post("/api/v1/trainings", json=training_body(completion_rule=rule))
        tid = r.json()["training_id"]
        url = f"/api/v1/trainings/{tid}"
        people = await enroll(producer, stack, uuid.UUID(tid), 3)
        await define_kelurahan(producer, stack)
        await wait_enrolled(region, base, uuid.UUID(tid), 3)

        async def statuses() -> dict[str, str]:
            return {s["submission_id"]: s["status"] for s in (await region.get(f"{url}/submissions")).json()}

        sheet = {
            "session_id": "s1",
            "occurred_at": DAY1,
            "records": [{"facilitator_id": str(p), "status": "present"} for p in people],
        }
        assert (await region.post(f"{url}/attendance", json=sheet)).status_code == 200
        assert await statuses() == {"attendance:s1": "submitted"}
        step = f"{url}/submissions/attendance:s1"
        assert code(await national.post(f"{step}/verify", json={})) == (403, "wrong_level")
        assert code(await stranger.post(f"{step}/verify", json={})) == (403, "region_forbidden")
        assert code(await national.post(f"{step}/accept", json={})) == (409, "wrong_status")
        assert code(await region.post(f"{step}/return", json={})) == (422, "reason_required")
        r = await region.post(f"{step}/verify", json={})
        assert (r.status_code, r.json()["status"], r.json()["by"]) == (200, "verified", "test oc02")
        assert code(await region.post(f"{step}/accept", json={})) == (403, "wrong_level")
        assert (await national.post(f"{step}/accept", json={})).json()["status"] == "accepted"

        # the second day's sheet arrives over the region's intake; the region returns it there too
        intake = stack.topic(TRAINING_INTAKE.topic(REGION))
        records = [{"facilitator_id": str(p), "status": "present"} for p in people[:2]]
        sent = {
            "s2": (
                "RecordAttendance",
                {"training_id": tid, "session_id": "s2", "occurred_at": DAY2, "records": records},
            ),
            "s2-return": (
                "ReturnSubmission",
                {"training_id": tid, "submission_id": "attendance:s2", "reason": "Paraf pemandu kurang"},
            ),
            "s2-accept": ("AcceptSubmission", {"training_id": tid, "submission_id": "attendance:s2"}),
        }
        for message_id, (kind, payload) in sent.items():
            await producer.send_and_wait(intake, intake_message(message_id, kind, payload), key=tid.encode())

        async def returned() -> dict[str, str] | None:
            now = await statuses()
            return now if now.get("attendance:s2") == "returned" else None

        await eventually(returned, within=30)
        rejected = by_message_id(await read_topic(stack.topic(REJECTIONS.topic(REGION)), expect=1))
        assert {m: p["reason"] for m, p in rejected.items()} == {"s2-accept": "wrong_level"}

        # a correction of the accepted sheet reopens it, and says so
        fix = {
            "session_id": "s1",
            "occurred_at": "2016-07-31T15:00:00+07:00",
            "records": [{"facilitator_id": str(people[2]), "status": "absent"}],
        }
        assert (await region.post(f"{url}/attendance", json=fix)).json()["recorded"] == 1
        [s1] = [s for s in (await region.get(f"{url}/submissions")).json() if s["submission_id"] == "attendance:s1"]
        assert (s1["status"], s1["reopened"]) == ("submitted", 1)

        assert (await region.post(f"{url}/close")).status_code == 200
        assert (await statuses())["close"] == "submitted"
        assert (await region.post(f"{url}/submissions/close/verify", json={})).json()["status"] == "verified"

    async with httpx.AsyncClient(base_url=rep, timeout=10) as http:

        async def levels() -> dict[str, Any] | None:
            r = await http.get(f"/api/v1/reports/regions/{REGION}")
            if r.status_code != 200:
                return None
            report = r.json()
            return report if report["verification"]["completed_verified"] > 0 else None

        report = await eventually(levels, within=30)
        # the two who attended s1 and s2 complete (2 of 4 sessions meets 0.5); the third, corrected
        # to absent at s1, does not
        assert report["verification"] == {"completed_recorded": 2, "completed_verified": 2, "completed_accepted": 0}
        [row] = [t for t in report["trainings"] if t["training_id"] == tid]
        assert (row["close_status"], row["sheets_verified"], row["sheets_accepted"]) == ("verified", 0, 0)
        waiting = {(w["submission_id"], w["status"], w["waiting_for"]) for w in report["waiting_verification"]}
        assert waiting == {
            ("attendance:s1", "submitted", "region"),
            ("attendance:s2", "returned", "trainers"),
            ("close", "verified", "national"),
        }
        assert all(w["days_waiting"] is not None and w["days_waiting"] >= 0 for w in report["waiting_verification"])
        training = (await http.get(f"/api/v1/reports/trainings/{tid}")).json()
        assert {w["submission_id"] for w in training["verification"]} == {"attendance:s1", "attendance:s2", "close"}
