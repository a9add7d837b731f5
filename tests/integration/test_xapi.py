"""xAPI statements for a real Learning Record Store: reporting's consumer reporting.xapi turns a
training's canonical events into statements on national.xapi.statements.v1, and the forwarder
(``python -m services.reporting xapi-forward``) posts them to Ralph (file-system backend, started
by shared/tools/lrs.py). The LRS is then asked for each verb and holds every statement exactly
once: after the first replay, and after the forwarder was SIGKILLed while posting a second one and
started again. A statement the LRS refuses lands in the dead-letter topic with the LRS's answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.reporting.domain import xapi
from shared.kernel.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    AttendanceStatus,
    CertificateIssued,
    CertificateRevoked,
    Module,
    OJTCompleted,
    Role,
    Session,
    SessionKind,
    TrainingCompleted,
    TrainingNotCompleted,
    TrainingScheduled,
    TrainingType,
    XapiStatementRecorded,
)
from shared.kernel.envelope import Event, EventPayload, new_event
from shared.kernel.topics import NATIONAL, XAPI_STATEMENTS, dlq_topic, national_topics
from shared.tools.devstack import ServiceProcess, free_port, service_process
from shared.tools.kafka_admin import delete_topics, ensure_topics
from shared.tools.lrs import LocalLrs
from tests.integration.conftest import BOOTSTRAP, REGION, Stack, eventually, metric_value, publish, read_topic
from tests.integration.test_training_helpers import enrollment

pytestmark = pytest.mark.real

DAY = date(2016, 7, 31)
START = datetime(2016, 7, 31, 8, tzinfo=UTC)
NIK = "1671010101900001"
FULL_NAME = "Siti Rahmawati"


def at(payload: EventPayload, when: datetime) -> Event[Any]:
    return new_event(payload, region=REGION, source="kotaku.training", occurred_at=when)


def training_events(participants: int) -> tuple[list[Event[Any]], Counter[str]]:
    """A small training: schedule, enrollments, two sessions, tests, OJT, outcomes, certificates and
    one revocation; with the statements (by verb) it must give."""
    tid = uuid.uuid4()
    sessions = [
        Session(session_id="s1", date=DAY, kind=SessionKind.CLASSROOM, module_code="M1"),
        Session(session_id="s2", date=DAY + timedelta(days=1), kind=SessionKind.CLASSROOM),
    ]
    events: list[Event[Any]] = [
        at(
            TrainingScheduled(
                training_id=tid,
                training_type=TrainingType.BASIC,
                title="Pelatihan Dasar Fasilitator",
                organiser="OC 02",
                venue="Palembang",
                start_date=DAY,
                end_date=DAY + timedelta(days=7),
                capacity=30,
                eligible_roles=[Role.FASILITATOR],
                modules=[Module(code="M1", title="Dasar Program KOTAKU")],
                sessions=sessions,
            ),
            START - timedelta(days=10),
        )
    ]
    expected: Counter[str] = Counter()
    first_issued: str | None = None
    for n in range(participants):
        fid = uuid.uuid4()
        events.append(
            at(
                enrollment(tid, fid),
                START - timedelta(days=5),
            )
        )
        for i, session in enumerate(sessions):
            status = AttendanceStatus.ABSENT if (n == 0 and i == 1) else AttendanceStatus.PRESENT
            events.append(
                at(
                    AttendanceRecorded(
                        training_id=tid, session_id=session.session_id, facilitator_id=fid, status=status
                    ),
                    START + timedelta(days=i),
                )
            )
            expected[xapi.ATTENDED.iri] += status is AttendanceStatus.PRESENT
        for kind, score in ((AssessmentKind.PRE, 40.0 + n), (AssessmentKind.POST, 70.0 + n)):
            events.append(
                at(
                    AssessmentScored(training_id=tid, facilitator_id=fid, kind=kind, score=score, max_score=100),
                    START + timedelta(days=2),
                )
            )
            expected[xapi.SCORED.iri] += 1
        close = START + timedelta(days=8)
        if n == 0:
            events.append(
                at(
                    TrainingNotCompleted(
                        training_id=tid, facilitator_id=fid, attendance_ratio=0.5, unmet=["attendance_below_minimum"]
                    ),
                    close,
                )
            )
            expected[xapi.FAILED.iri] += 1
            continue
        events += [
            at(
                OJTCompleted(
                    training_id=tid,
                    facilitator_id=fid,
                    kelurahan_code="16.71.01.1001",
                    report="laporan OJT 7731",
                    rating=4,
                ),
                START + timedelta(days=6),
            ),
            at(TrainingCompleted(training_id=tid, facilitator_id=fid, attendance_ratio=1.0), close),
            at(CertificateIssued(training_id=tid, facilitator_id=fid, certificate_code=f"KTK-{fid.hex[:10]}"), close),
        ]
        expected[xapi.COMPLETED.iri] += 2
        expected[xapi.EARNED.iri] += 1
        if first_issued is None:
            first_issued = f"KTK-{fid.hex[:10]}"
            events.append(
                at(
                    CertificateRevoked(
                        training_id=tid, facilitator_id=fid, certificate_code=first_issued, reason="dikoreksi"
                    ),
                    close + timedelta(days=2),
                )
            )
            expected[xapi.VOIDED.iri] += 1
    return events, expected


def expected_ids(events: list[Event[Any]]) -> set[str]:
    stated = {
        "AssessmentScored",
        "OJTCompleted",
        "TrainingCompleted",
        "TrainingNotCompleted",
        "CertificateIssued",
        "CertificateRevoked",
    }
    return {
        str(xapi.statement_id(e.envelope.event_id))
        for e in events
        if e.envelope.event_type in stated
        or (e.envelope.event_type == "AttendanceRecorded" and e.payload.status is AttendanceStatus.PRESENT)
    }


@pytest.fixture
async def lrs(tmp_path: Path) -> AsyncIterator[LocalLrs]:
    server = LocalLrs(tmp_path / "lrs", free_port())
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture
async def national(stack: Stack) -> AsyncIterator[list[str]]:
    topics = national_topics(stack.prefix)
    await ensure_topics(BOOTSTRAP, topics, partitions=3)
    try:
        yield topics
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(BOOTSTRAP, topics)


def start_forwarder(stack: Stack, lrs: LocalLrs, port: int | None = None, **env: str) -> ServiceProcess:
    proc = service_process(
        "reporting",
        process="reporting-xapi-forward",
        port=port or free_port(),
        database=stack.database,
        topic_prefix=stack.prefix,
        log_dir=stack.log_dir,
        extra_env={**lrs.settings(), "KOTAKU_RETRY_BACKOFF_SECONDS": "0.2", **env},
    )
    proc.command = ("xapi-forward",)
    proc.start()
    stack.services[proc.name] = proc
    proc.wait_ready()
    return proc


def metrics_of(proc: ServiceProcess) -> str:
    return httpx.get(f"{proc.url}/metrics", timeout=5).text


async def statements_by_verb(lrs: LocalLrs, verb: str) -> list[dict[str, Any]]:
    """Every statement the LRS holds for ``verb``, following its ``more`` links."""
    username, password = lrs.credentials()
    found: list[dict[str, Any]] = []
    async with httpx.AsyncClient(
        base_url=lrs.url, auth=(username, password), headers={"X-Experience-API-Version": "1.0.3"}, timeout=10
    ) as http:
        response = await http.get("/xAPI/statements", params={"verb": verb, "limit": 25})
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            found += body["statements"]
            if not body.get("more"):
                return found
            response = await http.get(body["more"])


async def held(lrs: LocalLrs, verbs: list[str]) -> dict[str, list[dict[str, Any]]]:
    return {verb: await statements_by_verb(lrs, verb) for verb in verbs}


def ids_of(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [s["id"] for statements in found.values() for s in statements]


async def test_a_training_reaches_the_lrs_once_also_after_the_forwarder_is_killed(
    stack: Stack,
    producer: AIOKafkaProducer,
    lrs: LocalLrs,
    national: list[str],
    service_db: dict[str, asyncpg.Connection],
) -> None:
    stack.start("reporting")
    # One statement per POST: the second training then takes dozens of requests, so the kill below
    # lands while it is being posted (with ten per POST, it was once posted in full before the kill).
    forwarder = start_forwarder(stack, lrs, KOTAKU_XAPI_BATCH_SIZE="1")
    verbs = [v.iri for v in xapi.VERBS]

    first, expected = training_events(participants=4)
    # Enrollments travel on a topic of their own: let them be learned first, so that every
    # statement of this training knows the participant's province (an unknown one is left out).
    learned = [e for e in first if e.envelope.event_type in ("TrainingScheduled", "FacilitatorEnrolled")]
    await publish(producer, stack, learned)

    async def placements_known() -> bool:
        return bool(await service_db["reporting"].fetchval("SELECT count(*) FROM xapi_placements") == 4)

    await eventually(placements_known, within=30)
    await publish(producer, stack, [e for e in first if e not in learned])
    wanted = expected_ids(first)

    async def all_there() -> dict[str, list[dict[str, Any]]] | None:
        found = await held(lrs, verbs)
        return found if wanted <= set(ids_of(found)) else None

    found = await eventually(all_there, within=60)
    ids = ids_of(found)
    assert sorted(ids) == sorted(wanted)  # each exactly once, nothing else
    assert {verb: len(found[verb]) for verb in verbs} == {verb: expected[verb] for verb in verbs}

    # What a statement says: pseudonymous actor, names in two languages, score, region and province.
    scored = next(s for s in found[xapi.SCORED.iri] if s["object"]["id"].endswith("/assessment/post"))
    assert scored["actor"]["account"]["homePage"] == "https://kotaku.pu.go.id"
    uuid.UUID(scored["actor"]["account"]["name"])
    assert 0.7 <= scored["result"]["score"]["scaled"] <= 0.74
    assert scored["object"]["definition"]["name"]["id-ID"] == "Tes akhir: Pelatihan Dasar Fasilitator"
    assert "en-US" in scored["object"]["definition"]["name"]
    assert scored["context"]["extensions"][xapi.REGION] == REGION
    assert scored["context"]["extensions"][xapi.PROVINCE] == "16"
    assert scored["context"]["contextActivities"]["parent"][0]["id"].startswith(f"{xapi.ACTIVITIES}/training/")
    attended = found[xapi.ATTENDED.iri][0]
    assert "sesi" in attended["object"]["definition"]["name"]["id-ID"]
    voided = found[xapi.VOIDED.iri][0]
    assert voided["object"]["objectType"] == "StatementRef"
    assert voided["object"]["id"] in {s["id"] for s in found[xapi.EARNED.iri]}
    everything = json.dumps(found)
    assert NIK not in everything
    assert FULL_NAME not in everything
    assert "laporan OJT 7731" not in everything

    # A second training; the forwarder is SIGKILLed while it posts it (one statement per POST), then
    # started again with batches of ten.
    second, _ = training_events(participants=12)
    await publish(producer, stack, second)
    wanted |= expected_ids(second)

    def posting_second() -> bool:
        return metric_value(metrics_of(forwarder), "kotaku_xapi_statements_forwarded_total") > len(expected_ids(first))

    await eventually(posting_second, within=60, interval=0.05)
    forwarder.kill()
    stored_before_restart = len(ids_of(await held(lrs, verbs)))
    assert stored_before_restart < len(wanted)  # killed mid-way
    forwarder = start_forwarder(stack, lrs, port=forwarder.port, KOTAKU_XAPI_BATCH_SIZE="10")
    found = await eventually(all_there, within=60)
    assert sorted(ids_of(found)) == sorted(wanted)

    def caught_up() -> bool:
        return metric_value(metrics_of(forwarder), "kotaku_xapi_forwarder_lag") == 0

    await eventually(caught_up, within=20)


async def test_a_statement_the_lrs_refuses_goes_to_the_dead_letter_topic_with_its_reason(
    stack: Stack, producer: AIOKafkaProducer, lrs: LocalLrs, national: list[str]
) -> None:
    forwarder = start_forwarder(stack, lrs)
    topic = XAPI_STATEMENTS.topic(NATIONAL, stack.prefix)

    def statement_event(statement: dict[str, Any]) -> Event[Any]:
        payload = XapiStatementRecorded(
            statement_id=uuid.UUID(statement["id"]), source_event_type="AttendanceRecorded", statement=statement
        )
        return new_event(payload, region=REGION, source="kotaku.reporting", occurred_at=START)

    def statement(sid: uuid.UUID, account_name: Any, title: str = "Pelatihan") -> dict[str, Any]:
        return {
            "id": str(sid),
            "actor": {"objectType": "Agent", "account": {"homePage": xapi.HOME_PAGE, "name": account_name}},
            "verb": xapi.ATTENDED.as_json(),
            "object": {
                "objectType": "Activity",
                "id": f"{xapi.ACTIVITIES}/training/{sid}",
                "definition": {"name": {"id-ID": title}},
            },
            "timestamp": START.isoformat(),
        }

    good, invalid, conflicting = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        statement_event(statement(good, "a")),
        statement_event(statement(invalid, ["not", "a", "name"])),  # the LRS refuses the agent: 422
        statement_event(statement(conflicting, "b", "Pertama")),
    ]
    for event in events:
        await producer.send_and_wait(topic, event.to_bytes(), key=event.key.encode())
    # the same id again, with other content: the LRS holds a different statement under it (409)
    clash = statement_event(statement(conflicting, "b", "Kedua"))

    def first_stored() -> bool:
        return metric_value(metrics_of(forwarder), "kotaku_xapi_statements_forwarded_total") >= 2

    await eventually(first_stored, within=30)
    await producer.send_and_wait(topic, clash.to_bytes(), key=clash.key.encode())
    await producer.send_and_wait(topic, b"{not json", key=b"x")

    dead = await read_topic(dlq_topic(topic), expect=3, within=30)
    by_reason = {dict(r.headers)["x-dlq-reason"].decode(): r for r in dead}
    assert set(by_reason) == {"lrs_refused", "lrs_conflict", "not_json"}
    refused = by_reason["lrs_refused"]
    headers = dict(refused.headers)
    assert json.loads(refused.value)["payload"]["statement_id"] == str(invalid)
    assert headers["x-dlq-detail"].decode().startswith("HTTP 422")
    assert "account" in headers["x-dlq-detail"].decode()
    assert headers["x-dlq-consumer"] == b"reporting.xapi-forward"
    assert headers["x-dlq-original-topic"].decode() == topic
    conflict = dict(by_reason["lrs_conflict"].headers)
    assert conflict["x-dlq-detail"].decode().startswith("HTTP 409")
    assert str(conflicting) in conflict["x-dlq-detail"].decode()

    held_ids = ids_of(await held(lrs, [xapi.ATTENDED.iri]))
    assert sorted(held_ids) == sorted([str(good), str(conflicting)])
    metrics = await asyncio.to_thread(metrics_of, forwarder)
    assert metric_value(metrics, "kotaku_xapi_statements_refused_total", reason="lrs_refused") == 1
    assert metric_value(metrics, "kotaku_xapi_statements_refused_total", reason="lrs_conflict") == 1
