"""Offline sync and the Kafka intake of the training service, on the real broker and database."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import FacilitatorEnrolled, Role
from shared.kernel.topics import PARTICIPATION, REJECTIONS, TRAINING, TRAINING_INTAKE, dlq_topic
from tests.integration.conftest import REGION, Stack, by_message_id, eventually, read_topic
from tests.integration.test_training_helpers import (
    PALEMBANG_OJT,
    define_kelurahan,
    enroll,
    events_of,
    publish,
    training_body,
    wait_enrolled,
    wait_kelurahan,
)

pytestmark = pytest.mark.real

WIB = timezone(timedelta(hours=7))
SESSION_TIMES = {
    "s1": datetime(2016, 7, 31, 9, tzinfo=WIB),
    "s2": datetime(2016, 7, 31, 14, tzinfo=WIB),
    "s3": datetime(2016, 8, 1, 9, tzinfo=WIB),
    "s4": datetime(2016, 8, 1, 14, tzinfo=WIB),
}


def offline_facts(people: list[uuid.UUID], rng: random.Random) -> list[dict[str, Any]]:
    """What the field devices recorded over the two days, corrections included."""
    facts: list[dict[str, Any]] = []

    def add(kind: str, when: datetime, person: uuid.UUID, **fields: Any) -> None:
        facts.append(
            {
                "kind": kind,
                "fact_id": f"f{len(facts):03d}",
                "occurred_at": when.isoformat(),
                "facilitator_id": str(person),
                **fields,
            }
        )

    for i, p in enumerate(people):
        add(
            "assessment",
            SESSION_TIMES["s1"] - timedelta(hours=1),
            p,
            assessment="pre",
            score=rng.randint(5, 30),
            max_score=50,
        )
        add(
            "ojt_assignment",
            SESSION_TIMES["s2"] + timedelta(hours=3),
            p,
            kelurahan_code=PALEMBANG_OJT[i % 8][0],
            mentor="Tim Korkot",
        )
        for sid, when in SESSION_TIMES.items():
            status = rng.choice(["present", "present", "present", "late", "absent", "excused"])
            add("attendance", when, p, session_id=sid, status=status)
            if rng.random() < 0.3:  # corrected later the same day
                add(
                    "attendance", when + timedelta(hours=2), p, session_id=sid, status=rng.choice(["present", "absent"])
                )
        if i != 0:
            add(
                "ojt_completion",
                SESSION_TIMES["s4"] + timedelta(hours=1),
                p,
                kelurahan_code=PALEMBANG_OJT[i % 8][0],
                rating=rng.randint(1, 5),
                report="Rembug warga",
            )
        if i != 1:
            add(
                "assessment",
                SESSION_TIMES["s4"] + timedelta(hours=2),
                p,
                assessment="post",
                score=rng.randint(20, 50),
                max_score=50,
            )
        if i == 2:  # a correction arriving after everything was met: it does not undo the completion
            for sid in ("s1", "s2", "s3"):
                add("attendance", SESSION_TIMES["s4"] + timedelta(hours=5), p, session_id=sid, status="absent")
    return facts


def comparable(participants: list[dict[str, Any]]) -> dict[str, Any]:
    keep = ("attendance", "attended", "attendance_ratio", "pre_test", "post_test", "gain", "unmet_now")
    out = {}
    for p in participants:
        d = p["decision"]
        out[p["facilitator_id"]] = (
            {k: p[k] for k in keep},
            p["ojt_assignment"],
            p["ojt_completion"],
            (d["outcome"], d["unmet"], d["outdated"]) if d else None,
            p["certificate_code"] is not None,
        )
    return out


def intake_message(message_id: str, type_: str, payload: dict[str, Any], **changes: Any) -> bytes:
    body: dict[str, Any] = {
        "message_id": message_id,
        "type": type_,
        "region": REGION,
        "sent_at": "2016-08-01T20:00:00+07:00",
        "payload": payload,
    }
    body.update(changes)
    return json.dumps(body).encode()


async def test_shuffled_and_duplicated_offline_batches_give_the_in_order_result(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    base = stack.start("training").url
    intake = stack.topic(TRAINING_INTAKE.topic(REGION))
    async with httpx.AsyncClient(base_url=base, timeout=20, headers=stack.auth()) as http:
        ids = [
            uuid.UUID((await http.post("/api/v1/trainings", json=training_body())).json()["training_id"])
            for _ in range(3)
        ]
        in_order, shuffled, daily = ids
        people = await enroll(producer, stack, in_order, 8)
        for other in (shuffled, daily):
            for p in people:
                enrolled = FacilitatorEnrolled(
                    enrollment_id=uuid.uuid4(), training_id=other, facilitator_id=p, role=Role.FASILITATOR
                )
                await publish(producer, stack, enrolled)
        await define_kelurahan(producer, stack)
        for tid in ids:
            await wait_enrolled(http, base, tid, 8)
        await wait_kelurahan(http, base)
        facts = offline_facts(people, random.Random(11))

        # 1. in-order delivery, one fact per request
        for fact in sorted(facts, key=lambda f: (datetime.fromisoformat(f["occurred_at"]), f["fact_id"])):
            r = await http.post(f"/api/v1/trainings/{in_order}/sync", json={"facts": [fact]})
            assert r.json()["recorded"] == 1, r.text

        # 2. one batch, shuffled, a quarter of it repeated, with a fact about a stranger; then the
        #    same batch again through the intake topic, and a part of it a third time
        rng = random.Random(5)
        stranger = {**facts[0], "fact_id": "stranger", "facilitator_id": str(uuid.uuid4())}
        batch = facts + rng.sample(facts, len(facts) // 4) + [stranger]
        rng.shuffle(batch)
        r = await http.post(f"/api/v1/trainings/{shuffled}/sync", json={"device_id": "tablet-7", "facts": batch})
        body = r.json()
        assert (body["recorded"], body["duplicates"], body["refused"]) == (len(facts), len(facts) // 4, 1)
        [refused] = [x for x in body["results"] if x["outcome"] == "refused"]
        assert (refused["fact_id"], refused["code"]) == ("stranger", "not_enrolled")
        payload = {"training_id": str(shuffled), "facts": batch}
        await producer.send_and_wait(intake, intake_message("tablet-7-resend", "SyncFacts", payload), key=b"tablet-7")
        r = await http.post(f"/api/v1/trainings/{shuffled}/sync", json={"facts": batch[:20]})
        assert r.json()["recorded"] == 0

        # 3. a device syncing every evening through the intake topic: each day's facts shuffled
        for day in ("2016-07-31", "2016-08-01"):
            todays = [f for f in facts if f["occurred_at"].startswith(day)]
            todays += todays[:5]
            rng.shuffle(todays)
            payload = {"training_id": str(daily), "facts": todays}
            await producer.send_and_wait(intake, intake_message(f"evening-{day}", "SyncFacts", payload), key=b"tab")

        async def state(tid: uuid.UUID) -> dict[str, Any]:
            return comparable((await http.get(f"/api/v1/trainings/{tid}/participants")).json()["participants"])

        expected = await state(in_order)

        async def synced(tid: uuid.UUID) -> dict[str, Any] | None:
            now = await state(tid)
            return now if now == expected else None

        await eventually(lambda: synced(daily), within=30)
        await eventually(lambda: synced(shuffled), within=30)
        assert all(v[3] is None for v in expected.values())  # provisional: decided at the close only
        assert all(v[0]["attendance"] for v in expected.values())

        for tid in ids:
            r = await http.post(f"/api/v1/trainings/{tid}/close")
            assert r.status_code == 200, r.text
        after = {tid: await state(tid) for tid in ids}
        assert after[shuffled] == after[in_order] == after[daily]
        outcomes = [v[3][0] for v in after[in_order].values()]
        assert "not_completed" in outcomes
        assert "completed" in outcomes

    replies = await read_topic(stack.topic(REJECTIONS.topic(REGION)), expect=4)
    by_id = by_message_id(replies)
    assert by_id["tablet-7-resend"]["reason"] == "facts_refused"
    assert [(e["field"], e["code"]) for e in by_id["tablet-7-resend"]["errors"]] == [
        ("facts[stranger]", "not_enrolled")
    ]
    assert "not_enrolled" in by_id["tablet-7-resend"]["errors"][0]["message"]
    assert set(by_id) == {"tablet-7-resend"}
    # each intake batch also gets a receipt: one answer per fact, what the device may delete
    receipts = {
        e["payload"]["message_id"]: e["payload"]
        for e in map(lambda r: json.loads(r.value), replies)
        if e["event_type"] == "IntakeAccepted"
    }
    assert set(receipts) == {"tablet-7-resend", "evening-2016-07-31", "evening-2016-08-01"}
    resend = Counter((r["outcome"], r["code"]) for r in receipts["tablet-7-resend"]["results"])
    assert resend == {("duplicate", ""): len(batch) - 1, ("refused", "not_enrolled"): 1}
    evenings = [r for m in ("evening-2016-07-31", "evening-2016-08-01") for r in receipts[m]["results"]]
    assert {r["outcome"] for r in evenings} <= {"recorded", "duplicate"}
    assert sum(r["outcome"] == "recorded" for r in evenings) == len(facts)
    events = await read_topic(stack.topic(PARTICIPATION.topic(REGION)), expect=3 * len(facts))
    for tid in ids:
        mine = [e for e in events_of(events, "AttendanceRecorded") if e["payload"]["training_id"] == str(tid)]
        assert len(mine) == sum(f["kind"] == "attendance" for f in facts)  # each fact published once


async def test_intake_messages_are_accepted_rejected_with_a_reason_or_dead_lettered(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    base = stack.start("training").url
    intake = stack.topic(TRAINING_INTAKE.topic(REGION))
    tid = uuid.uuid4()
    schedule = {**training_body(), "training_id": str(tid)}
    sent = {
        "schedule": intake_message("schedule", "ScheduleTraining", schedule),
        "schedule-again": intake_message("schedule", "ScheduleTraining", schedule),  # a retry: same message_id
        "schedule-dup": intake_message("schedule-dup", "ScheduleTraining", schedule),
        "stranger": intake_message(
            "stranger",
            "RecordAttendance",
            {
                "training_id": str(tid),
                "session_id": "s1",
                "records": [{"facilitator_id": str(uuid.uuid4()), "status": "present"}],
            },
        ),
        "no-session": intake_message(
            "no-session",
            "CompleteOJT",
            {
                "training_id": str(tid),
                "facilitator_id": str(uuid.uuid4()),
                "kelurahan_code": "16.71.99.9999",
                "rating": 9,
            },
        ),
        "forged": intake_message("forged", "CloseTraining", {"training_id": str(tid)}, region="oc05"),
        "unknown": intake_message("unknown", "DeleteTraining", {"training_id": str(tid)}),
        "spam": intake_message("spam", "SyncFacts", {"text": "Hard Rock Hotel & Casino Hollywood 출장마사지"}),
        "not-found": intake_message("not-found", "CloseTraining", {"training_id": str(uuid.uuid4())}),
        "close": intake_message("close", "CloseTraining", {"training_id": str(tid)}),
    }
    for value in sent.values():
        await producer.send_and_wait(intake, value, key=b"oc02-mis")
    await producer.send_and_wait(intake, b"\x89PNG not json at all", key=b"oc02-mis")
    await producer.send_and_wait(intake, json.dumps({"type": "SyncFacts"}).encode(), key=b"oc02-mis")

    rejections = await read_topic(stack.topic(REJECTIONS.topic(REGION)), expect=7)
    by_id = by_message_id(rejections)
    assert {k: v["reason"] for k, v in by_id.items()} == {
        "schedule-dup": "training_exists",
        "stranger": "not_enrolled",
        "no-session": "invalid_payload",
        "forged": "region_mismatch",
        "unknown": "unknown_type",
        "spam": "invalid_payload",
        "not-found": "training_not_found",
    }
    assert {e["field"] for e in by_id["no-session"]["errors"]} == {"payload.rating"}
    assert by_id["stranger"]["detail"]
    lifecycle = await read_topic(stack.topic(TRAINING.topic(REGION)), expect=3)
    assert [json.loads(r.value)["event_type"] for r in lifecycle] == [
        "TrainingScheduled",
        "TrainingClosed",
        "SubmissionSubmitted",  # the close, for the region to verify
    ]
    dead = await read_topic(dlq_topic(intake), expect=2)
    assert [dict(d.headers)["x-dlq-reason"] for d in dead] == [b"not_json", b"no_message_id"]
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=stack.auth("national")) as http:
        r = await http.get(f"/api/v1/trainings/{tid}")
        assert r.status_code == 200
        assert r.json()["status"] == "closed"  # 2016 is long over: the close was accepted
