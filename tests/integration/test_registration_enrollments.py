"""Enrollments are validated against the trainings registration learned from the training
service's events; withdrawals and deactivations are published."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import Role
from shared.kernel.topics import ENROLLMENT, all_topics
from shared.tools.kafka_admin import delete_topics, ensure_topics
from tests.integration.conftest import BOOTSTRAP, REGION, Stack, eventually
from tests.integration.test_registration_support import (
    API,
    cancelled,
    closed,
    events,
    person,
    publish_training_event,
    register,
    schedule_training,
    scheduled,
    updated,
)

pytestmark = pytest.mark.real


async def test_enrollment_rules_each_refusal_has_a_stable_code_and_nothing_is_written(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    db = service_db["registration"]
    training, small = uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient(timeout=10, headers=stack.auth("oc02")) as http:
        fas = [await register(http, reg, person(f"16710101019300{i:02d}", f"Peserta {chr(65 + i)}")) for i in range(6)]
        senior = await register(http, reg, person("1671010101930099", "Joko Susanto", role="senior_fasilitator"))

        def enroll(tid: uuid.UUID, fid: str) -> asyncio.Future[httpx.Response]:
            return asyncio.ensure_future(
                http.post(f"{reg}{API}/trainings/{tid}/enrollments", json={"facilitator_id": fid})
            )

        r = await enroll(training, fas[0])
        assert (r.status_code, r.json()["error"]["code"]) == (404, "training_unknown")
        assert "may arrive" in r.json()["error"]["message"]

        known = await schedule_training(producer, stack, http, training, capacity=3, eligible=(Role.FASILITATOR,))
        assert (known["capacity"], known["eligible_roles"], known["enrolled"]) == (3, ["fasilitator"], 0)
        first = await enroll(training, fas[0])
        assert first.status_code == 201, first.text
        r = await enroll(training, fas[0])
        assert (r.status_code, r.json()["error"]["code"]) == (409, "already_enrolled")
        r = await enroll(training, senior)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "role_not_eligible")
        r = await http.post(f"{reg}{API}/facilitators/{fas[5]}/deactivation", json={"reason": "resigned"})
        assert r.status_code == 200
        r = await enroll(training, fas[5])
        assert (r.status_code, r.json()["error"]["code"]) == (409, "facilitator_inactive")
        r = await enroll(training, str(uuid.uuid4()))
        assert (r.status_code, r.json()["error"]["code"]) == (404, "facilitator_not_found")

        # capacity under concurrency: 4 requests for the 2 places left
        racing = await asyncio.gather(*(enroll(training, fid) for fid in fas[1:5]))
        assert Counter(r.status_code for r in racing) == {201: 2, 409: 2}
        assert {r.json()["error"]["code"] for r in racing if r.status_code == 409} == {"training_full"}
        assert await db.fetchval("SELECT count(*) FROM enrollments WHERE training_id = $1", training) == 3

        # withdraw frees a place; the same facilitator may enroll again
        r = await http.delete(f"{reg}{API}/trainings/{training}/enrollments/{fas[0]}", params={"reason": "replaced"})
        assert (r.status_code, r.json()["status"]) == (200, "withdrawn")
        r = await http.delete(f"{reg}{API}/trainings/{training}/enrollments/{fas[0]}")
        assert (r.status_code, r.json()["error"]["code"]) == (409, "already_withdrawn")
        r = await http.delete(f"{reg}{API}/trainings/{training}/enrollments/{senior}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "enrollment_not_found")
        again = await enroll(training, fas[0])
        assert again.status_code == 201
        assert again.json()["enrollment_id"] != first.json()["enrollment_id"]

        # a TrainingUpdated with more places and another role opens the training to them
        await publish_training_event(
            producer, stack, updated(training, capacity=5, eligible=(Role.FASILITATOR, Role.SENIOR_FASILITATOR))
        )

        async def opened() -> bool:
            body = (await http.get(f"{reg}{API}/trainings/{training}")).json()
            return bool(body["capacity"] == 5)

        await eventually(opened)
        assert (await enroll(training, senior)).status_code == 201

        # cancelled and closed trainings refuse enrollments; a closed one also refuses withdrawals
        await schedule_training(producer, stack, http, small, capacity=10)
        assert (await enroll(small, fas[0])).status_code == 201
        await publish_training_event(producer, stack, cancelled(small))
        await publish_training_event(producer, stack, closed(training))

        async def final_states() -> bool:
            a = (await http.get(f"{reg}{API}/trainings/{small}")).json()["status"]
            b = (await http.get(f"{reg}{API}/trainings/{training}")).json()["status"]
            return (a, b) == ("cancelled", "closed")

        await eventually(final_states)
        r = await enroll(small, fas[2])
        assert (r.status_code, r.json()["error"]["code"]) == (409, "training_cancelled")
        r = await enroll(training, fas[4])
        assert (r.status_code, r.json()["error"]["code"]) == (409, "training_closed")
        r = await http.delete(f"{reg}{API}/trainings/{training}/enrollments/{fas[0]}")
        assert (r.status_code, r.json()["error"]["code"]) == (409, "training_closed")

        # a cancellation that arrives before the schedule is kept: the training never opens
        late = uuid.uuid4()
        await publish_training_event(producer, stack, cancelled(late))
        await publish_training_event(producer, stack, scheduled(late, capacity=7))

        async def late_known() -> dict[str, object] | None:
            body = (await http.get(f"{reg}{API}/trainings/{late}")).json()
            return body if body.get("capacity") == 7 else None

        assert (await eventually(late_known))["status"] == "cancelled"
        r = await enroll(late, fas[2])
        assert (r.status_code, r.json()["error"]["code"]) == (409, "training_cancelled")

        # deactivation withdraws open enrollments (the cancelled training's), not closed ones
        r = await http.post(f"{reg}{API}/facilitators/{fas[0]}/deactivation", json={"reason": "dismissed"})
        assert r.status_code == 200
    rows = await db.fetch(
        "SELECT training_id, status, withdrawal_reason FROM enrollments WHERE facilitator_id = $1", uuid.UUID(fas[0])
    )
    assert {(r["training_id"], r["status"], r["withdrawal_reason"]) for r in rows} == {
        (training, "enrolled", None),
        (small, "withdrawn", "facilitator_deactivated"),
    }

    published = await events(stack.topic(ENROLLMENT.topic(REGION)), expect=8)
    kinds = Counter((e["event_type"], e["payload"].get("reason")) for e in published)
    assert kinds == {
        ("FacilitatorEnrolled", None): 6,  # fas0, two racers, fas0 again, senior, fas0 in the small one
        ("EnrollmentWithdrawn", "replaced"): 1,
        ("EnrollmentWithdrawn", "facilitator_deactivated"): 1,
    }
    assert all(e["_key"] == e["payload"]["training_id"] for e in published)


async def test_a_facilitator_enrolls_only_in_trainings_of_their_own_region(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    oc05_topics = all_topics(["oc05"], stack.prefix)
    await ensure_topics(BOOTSTRAP, oc05_topics, partitions=1)
    try:
        stack.start("registration", KOTAKU_REGIONS="oc02,oc05")
        reg = stack.url("registration")
        training = uuid.uuid4()
        async with httpx.AsyncClient(timeout=10, headers=stack.auth("admin")) as admin:
            r = await admin.put(
                f"{reg}{API}/orgunits/18.71", json={"name": "Kota Bandar Lampung", "effective_from": "2016-01-01"}
            )
            assert r.status_code == 201
            await schedule_training(producer, stack, admin, training, region="oc05")
            oc05_person = await register(
                admin, reg, person("1871010101940001", "Yusuf Harahap", kabkota="18.71", region="oc05")
            )
            oc02_person = await register(admin, reg, person("1671010101940002", "Maya Kusuma"))
            r = await admin.post(f"{reg}{API}/trainings/{training}/enrollments", json={"facilitator_id": oc02_person})
            assert (r.status_code, r.json()["error"]["code"]) == (422, "training_region_mismatch")
            r = await admin.post(f"{reg}{API}/trainings/{training}/enrollments", json={"facilitator_id": oc05_person})
            assert r.status_code == 201
        async with httpx.AsyncClient(timeout=10, headers=stack.auth("oc02")) as http:
            r = await http.get(f"{reg}{API}/trainings/{training}")
            assert (r.status_code, r.json()["error"]["code"]) == (403, "region_forbidden")
            r = await http.delete(f"{reg}{API}/trainings/{training}/enrollments/{oc05_person}")
            assert (r.status_code, r.json()["error"]["code"]) == (403, "region_forbidden")
        enrolled = await events(stack.topic(ENROLLMENT.topic("oc05")), expect=1)
        assert [e["payload"]["facilitator_id"] for e in enrolled] == [oc05_person]
    finally:
        stack.stop_all()
        with contextlib.suppress(Exception):
            await delete_topics(BOOTSTRAP, oc05_topics)
