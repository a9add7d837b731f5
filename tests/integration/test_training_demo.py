"""The South Sumatra 2016 demo training end to end, on a small scale, with its acceptance checks."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from demo.training import OJT_KELURAHAN, run_demo_training, schedule_demo_training
from demo.verification import walk_the_chain
from shared.kernel.topics import PARTICIPATION
from tests.integration.conftest import BOOTSTRAP, REGION, Stack, read_topic
from tests.integration.test_training_helpers import define_kelurahan, enroll, events_of

pytestmark = pytest.mark.real

PARTICIPANTS = 30


async def test_the_south_sumatra_training_runs_through_the_public_interfaces(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    stack.start("training")
    base, token = stack.url("training"), stack.tokens["oc02"]
    training_id = await schedule_demo_training(base, token, participants=PARTICIPANTS)
    assert await schedule_demo_training(base, token, participants=PARTICIPANTS) == training_id  # idempotent
    # the registration service's part: enrollments and the reference data, as events
    people = await enroll(producer, stack, training_id, PARTICIPANTS)
    await define_kelurahan(producer, stack)

    summary = await run_demo_training(
        base, token, people, training_id=training_id, kafka_bootstrap=BOOTSTRAP, topic_prefix=stack.prefix
    )

    assert summary.enrolled == PARTICIPANTS
    assert summary.completed + summary.not_completed == summary.enrolled
    assert 0 < summary.not_completed < PARTICIPANTS // 4
    assert summary.ojt_kelurahan == len(OJT_KELURAHAN) == 8
    assert summary.certificates == summary.completed == len(set(summary.certificate_codes))
    assert set(summary.not_completed_reasons) <= {"attendance_below_minimum", "post_test_missing", "ojt_not_completed"}
    assert len(summary.not_completed_reasons) >= 2

    # the sheets and the close walk the verification chain, as make run's demo does
    levels = await walk_the_chain(base, str(training_id), token, stack.tokens["national"])
    assert (levels["returned"], levels["submitted"], levels["verified"]) == (1, 1, 0)
    assert levels["accepted"] >= 5  # the other sheets and the close
    assert await walk_the_chain(base, str(training_id), token, stack.tokens["national"]) == levels  # idempotent

    async with httpx.AsyncClient(base_url=base, timeout=10) as public:
        for code in summary.certificate_codes:
            r = await public.get(f"/api/v1/certificates/{code}")
            assert r.status_code == 200, r.text
            cert = r.json()
            assert cert["venue"] == "Asrama Haji Palembang"
            assert cert["organiser"] == "OC 02 Sumatera Selatan"
            assert (cert["start_date"], cert["end_date"]) == ("2016-07-31", "2016-08-07")
            assert uuid.UUID(cert["facilitator_id"]) in people
        for fake in ("KTKU-2016-PLBG-0001", "AAAA-BBBB-CCCC-DDDD", summary.certificate_codes[0][::-1]):
            assert (await public.get(f"/api/v1/certificates/{fake}")).status_code == 404
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=stack.auth("national")) as http:
        body = (await http.get(f"/api/v1/trainings/{training_id}/participants")).json()
        training = (await http.get(f"/api/v1/trainings/{training_id}")).json()
    parts = body["participants"]
    assert {len([p for p in parts if p["class_id"] == c["class_id"]]) for c in training["classes"]} == {15}
    assert all(len(c["trainers"]) == 2 for c in training["classes"])
    assert all(p["pre_test"] for p in parts)
    assert sum(p["gain"] is not None and p["gain"] > 0 for p in parts) >= PARTICIPANTS * 0.9
    assert Counter(p["decision"]["outcome"] for p in parts) == {
        "completed": summary.completed,
        "not_completed": summary.not_completed,
    }

    # the same run again changes nothing (the training is closed; the demo just reports)
    again = await run_demo_training(
        base, token, people, training_id=training_id, kafka_bootstrap=BOOTSTRAP, topic_prefix=stack.prefix
    )
    assert (again.completed, again.not_completed, again.certificates) == (
        summary.completed,
        summary.not_completed,
        summary.certificates,
    )

    records = await read_topic(stack.topic(PARTICIPATION.topic(REGION)), expect=PARTICIPANTS * 16)
    decisions = Counter(
        json.loads(r.value)["payload"]["facilitator_id"]
        for r in records
        if json.loads(r.value)["event_type"] in ("TrainingCompleted", "TrainingNotCompleted")
    )
    assert decisions == {str(p): 1 for p in people}  # exactly once per participant
    assert len(events_of(records, "CertificateIssued")) == summary.completed
    ojt = events_of(records, "OJTCompleted")
    assert len({e["payload"]["kelurahan_code"] for e in ojt}) == 8
    assert len(ojt) == len({e["payload"]["facilitator_id"] for e in ojt})  # the resent sync was deduplicated
