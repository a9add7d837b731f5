"""The hostile corpus through every door: every string of every write endpoint's body and of every
intake message type (and every CSV column) replaced, one at a time, by hostile text; every number
by text and every time by a number. Every attempt is refused (4xx or an IntakeRejected naming the
field), none is a 500, nothing is written, and no report changes."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.topics import REGISTRATION_INTAKE, REJECTIONS, TRAINING_INTAKE
from tests.integration.conftest import REGION, Stack, eventually, read_topic
from tests.integration.test_registration_support import API, person
from tests.integration.test_training_helpers import define_kelurahan, enroll, training_body, wait_enrolled

pytestmark = pytest.mark.real

# Invalid for every kind of string field (identifier, name, label, note, code, enumeration, id).
CORPUS = (
    "Budi\x00Santoso",
    "Budi\u202eSantoso",
    "Bu\u200bdi",
    "Siti\x1b[31mAminah",
    "Hard Rock Hotel & Casino http://casino.example",
    "<script>alert(1)</script>",
    "'; DROP TABLE trainings; --",
    "x" * 100_000,
)
FIRST_DAY = "2016-07-31T09:00:00+07:00"
SINCE = "2016-01-01"


def mutations(body: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(field path, value to put there) for every leaf of ``body``: hostile text for strings,
    text for numbers and booleans, a number for ISO dates and times."""
    if isinstance(body, dict):
        for key, value in body.items():
            yield from mutations(value, (*path, key))
    elif isinstance(body, list):
        for i, value in enumerate(body):
            yield from mutations(value, (*path, i))
    elif isinstance(body, bool):
        yield ".".join(map(str, path)), "true"
    elif isinstance(body, int | float):
        yield ".".join(map(str, path)), str(body)
    elif isinstance(body, str):
        for text in CORPUS:
            yield ".".join(map(str, path)), text
        if body[:4].isdigit() and body[4:5] == "-":  # an ISO date or time
            yield ".".join(map(str, path)), 1_470_000_000


def replaced(body: Any, dotted: str, value: Any) -> Any:
    out = copy.deepcopy(body)
    parts: list[Any] = [int(p) if p.isdigit() else p for p in dotted.split(".")]
    target = out
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return out


def variants(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for dotted, value in mutations(body):
        yield dotted, replaced(body, dotted, value)


async def snapshot(http: httpx.AsyncClient, rep: str, training_id: uuid.UUID) -> dict[str, Any]:
    """The reports a national or regional reader sees, without the parts that move with time."""

    def steady(value: Any) -> Any:
        if isinstance(value, dict):
            moving = ("fresh", "lag", "generated", "as_of", "age", "updated", "today")
            return {k: steady(v) for k, v in value.items() if not any(m in k for m in moving)}
        if isinstance(value, list):
            return [steady(v) for v in value]
        return value

    paths = (
        "/reports/national",
        f"/reports/regions/{REGION}",
        "/reports/provinces/16",
        "/reports/kabkota/16.71",
        f"/reports/trainings/{training_id}",
        "/reports/facilitator-counts",
    )
    out = {}
    for path in paths:
        r = await http.get(f"{rep}{API}{path}")
        assert r.status_code == 200, (path, r.text[:300])
        out[path] = steady(r.json())
    return out


async def outbox_rows(service_db: dict[str, asyncpg.Connection]) -> dict[str, int]:
    return {
        name: int(await service_db[name].fetchval("SELECT count(*) FROM outbox WHERE event_type <> 'IntakeRejected'"))
        for name in ("registration", "training")
    }


@pytest.mark.timeout(600)
async def test_the_hostile_corpus_is_refused_at_every_door_and_changes_nothing(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    reg = stack.start("registration").url
    train = stack.start("training").url
    rep = stack.start("reporting").url
    admin = stack.auth("admin")
    async with httpx.AsyncClient(timeout=30, headers=stack.auth()) as http:
        # a little real data for the reports to show
        schedule = training_body()
        r = await http.post(f"{train}{API}/trainings", json=schedule)
        assert r.status_code == 201, r.text
        tid = uuid.UUID(r.json()["training_id"])
        people = await enroll(producer, stack, tid, 2)
        await define_kelurahan(producer, stack)
        await wait_enrolled(http, train, tid, 2)
        r = await http.post(f"{reg}{API}/facilitators", json=person("1671010101900001", "Budi Santoso"))
        assert r.status_code == 201, r.text
        fid = r.json()["facilitator_id"]

        async def settled() -> dict[str, Any] | None:
            """The reports once reporting has applied everything (the same twice, 2 s apart)."""
            now = await snapshot(http, rep, tid)
            await asyncio.sleep(2.0)
            return now if now == await snapshot(http, rep, tid) else None

        before = await eventually(settled, within=30)
        assert schedule["title"] in json.dumps(before)  # the reports show the real data
        outbox_before = await outbox_rows(service_db)

        p = str(people[0])
        registration_doors: list[tuple[str, str, dict[str, Any], dict[str, str] | None]] = [
            ("POST", f"{reg}{API}/facilitators", person("1671010101900002", phone="0812 3456 7890"), None),
            ("PATCH", f"{reg}{API}/facilitators/{fid}", {"full_name": "Rina Anggraini", "phone": "081234567890"}, None),
            (
                "POST",
                f"{reg}{API}/facilitators/{fid}/reassignments",
                {"role": "askot", "speciality": "teknik", "province_code": "16", "kabkota_code": "16.71"}
                | {"effective_from": "2016-09-01"},
                None,
            ),
            ("POST", f"{reg}{API}/facilitators/{fid}/deactivation", {"reason": "resigned"}, None),
            ("POST", f"{reg}{API}/trainings/{tid}/enrollments", {"facilitator_id": fid}, None),
            (
                "POST",
                f"{reg}{API}/orgunits",
                {"code": "16.71.01.1099", "name": "Kelurahan Uji", "effective_from": "2016-01-01"},
                admin,
            ),
            (
                "PUT",
                f"{reg}{API}/orgunits/16.71.01.1099",
                {"name": "Kelurahan Uji", "effective_from": "2016-01-01"},
                admin,
            ),
            (
                "POST",
                f"{reg}{API}/orgunits/16/region-assignments",
                {"region": "oc02", "effective_from": "2016-01-01"},
                admin,
            ),
        ]
        details = {k: v for k, v in schedule.items() if k not in {"region", "training_type"}}
        url = f"{train}{API}/trainings/{tid}"
        training_doors: list[tuple[str, str, dict[str, Any], dict[str, str] | None]] = [
            ("POST", f"{train}{API}/trainings", schedule, None),
            ("PUT", url, details, None),
            ("POST", f"{url}/cancel", {"reason": "Ditunda karena banjir"}, None),
            ("POST", f"{url}/class-assignments", {"assignments": [{"facilitator_id": p, "class_id": "A"}]}, None),
            (
                "POST",
                f"{url}/attendance",
                {"session_id": "s1", "occurred_at": FIRST_DAY, "sheet_id": "sheet-1"}
                | {"records": [{"facilitator_id": p, "status": "excused", "note": "Izin sakit", "fact_id": "a-1"}]},
                None,
            ),
            (
                "POST",
                f"{url}/assessments",
                {"kind": "pre", "max_score": 100, "occurred_at": FIRST_DAY}
                | {"scores": [{"facilitator_id": p, "score": 70, "fact_id": "pre-1"}]},
                None,
            ),
            (
                "POST",
                f"{url}/ojt-assignments",
                {"kelurahan_code": "16.71.01.1001", "mentor": "Tim Korkot", "task": "Pemetaan swadaya"}
                | {"facilitator_ids": [p], "occurred_at": FIRST_DAY},
                None,
            ),
            (
                "POST",
                f"{url}/ojt-completions",
                {"facilitator_id": p, "kelurahan_code": "16.71.01.1001", "report": "Selesai", "rating": 4}
                | {"occurred_at": FIRST_DAY, "fact_id": "ojt-1"},
                None,
            ),
            (
                "POST",
                f"{url}/sync",
                {
                    "device_id": "tablet-7",
                    "facts": [
                        {"kind": "attendance", "fact_id": "f-1", "occurred_at": FIRST_DAY, "facilitator_id": p}
                        | {"session_id": "s1", "status": "present", "note": ""},
                        {"kind": "assessment", "fact_id": "f-2", "occurred_at": FIRST_DAY, "facilitator_id": p}
                        | {"assessment": "post", "score": 80, "max_score": 100},
                    ],
                },
                None,
            ),
        ]
        answers: dict[int, int] = {}
        tried = 0
        for method, target, body, headers in registration_doors + training_doors:
            for dotted, variant in variants(body):
                r = await http.request(method, target, json=variant, headers=headers)
                tried += 1
                answers[r.status_code] = answers.get(r.status_code, 0) + 1
                assert 400 <= r.status_code < 500, (method, target, dotted, r.status_code, r.text[:300])
                if r.status_code == 422 and dotted:
                    fields = [d["field"] for d in r.json()["error"].get("details", [])]
                    assert any(f.startswith("body." + dotted.split(".")[0]) for f in fields), (target, dotted, fields)
        print(f"HTTP: {tried} hostile requests, answers {answers}")

        # the CSV import: every column of a row, one at a time
        header = "nik,full_name,role,speciality,province_code,kabkota_code,effective_from,phone"
        good = ["1671010101900003", "Siti Aminah", "fasilitator", "sosial", "16", "16.71", "2016-08-01", "0812345678"]
        rows = []
        for column in range(len(good)):
            for text in CORPUS:
                row = list(good)
                row[column] = '"' + text.replace('"', '""') + '"'
                rows.append(",".join(row))
        r = await http.post(
            f"{reg}{API}/facilitators/import",
            params={"region": REGION},
            content=(header + "\n" + "\n".join(rows) + "\n").encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert r.status_code in (200, 413, 422), r.text[:300]
        if r.status_code == 200:
            assert (r.json()["rows"], r.json()["rejected"]) == (len(rows), len(rows)), r.text[:500]

    # every intake message type, through Kafka
    registration_types = {
        "RegisterFacilitator": person("1671010101900004"),
        "UpdateFacilitator": {"facilitator_id": fid, "full_name": "Rina Anggraini"},
        "ReassignFacilitator": {"facilitator_id": fid, "role": "askot", "speciality": "teknik"}
        | {"province_code": "16", "kabkota_code": "16.71", "effective_from": "2016-09-01"},
        "DeactivateFacilitator": {"facilitator_id": fid, "reason": "resigned", "effective_from": "2016-09-01"},
        "EnrollFacilitator": {"training_id": str(tid), "facilitator_id": fid},
        "WithdrawEnrollment": {"training_id": str(tid), "facilitator_id": fid, "reason": "other"},
    }
    t = str(tid)
    training_types = {
        "ScheduleTraining": training_body(training_id=str(uuid.uuid4())),
        "RecordAttendance": {"training_id": t, "session_id": "s1", "occurred_at": FIRST_DAY}
        | {"records": [{"facilitator_id": p, "status": "present"}]},
        "ScoreAssessments": {"training_id": t, "kind": "pre", "max_score": 100}
        | {"scores": [{"facilitator_id": p, "score": 70}]},
        "AssignOJT": {"training_id": t, "kelurahan_code": "16.71.01.1001", "mentor": "Tim Korkot"}
        | {"facilitator_ids": [p]},
        "CompleteOJT": {"training_id": t, "facilitator_id": p, "kelurahan_code": "16.71.01.1001", "rating": 4},
        "SyncFacts": {"training_id": t, "facilitator_id": p}
        | {
            "facts": [
                {"kind": "attendance", "fact_id": "k-1", "occurred_at": FIRST_DAY, "facilitator_id": p}
                | {"session_id": "s1", "status": "present"}
            ]
        },
        "CloseTraining": {"training_id": t},
    }
    training_types["SyncFacts"].pop("facilitator_id")
    sent: dict[str, str] = {}
    for stream, types in ((REGISTRATION_INTAKE, registration_types), (TRAINING_INTAKE, training_types)):
        topic = stack.topic(stream.topic(REGION))
        for kind, payload in types.items():
            messages = [("payload." + dotted, variant) for dotted, variant in variants(payload)]
            messages.append(("sent_at", payload))
            for n, (dotted, variant) in enumerate(messages):
                message_id = f"hostile-{kind}-{n}"
                envelope: dict[str, Any] = {
                    "message_id": message_id,
                    "type": kind,
                    "region": REGION,
                    "payload": variant,
                }
                if dotted == "sent_at":
                    envelope["sent_at"] = 1_470_000_000
                sent[message_id] = dotted
                await producer.send(topic, json.dumps(envelope).encode(), key=message_id.encode())
    await producer.flush()
    print(f"intake: {len(sent)} hostile messages")
    records = await read_topic(stack.topic(REJECTIONS.topic(REGION)), expect=len(sent), within=120)
    rejected = {}
    for record in records:
        payload = json.loads(record.value)["payload"]
        rejected[payload["message_id"]] = payload
    missing = sorted(set(sent) - set(rejected))
    assert not missing, f"{len(missing)} hostile intake messages not rejected, e.g. {missing[:5]}"
    for message_id, dotted in sent.items():
        rejection = rejected[message_id]
        assert rejection["reason"] in {"invalid_payload", "invalid_message"}, (message_id, rejection)
        fields = [e["field"] for e in rejection["errors"]]
        assert any(f.split(".")[:2] == dotted.split(".")[:2] for f in fields), (message_id, dotted, fields)
        assert all(e["code"] for e in rejection["errors"]), rejection

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.sleep(2.0)
        assert await snapshot(http, rep, tid) == before
    # nothing but the rejections went out
    assert await outbox_rows(service_db) == outbox_before
