"""xAPI statements built from canonical events, and the forwarder's handling of the LRS's answers
(an httpx mock transport stands in for the LRS; the real one is in tests/integration/test_xapi.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord

from services.reporting.domain import xapi
from services.reporting.entrypoints.xapi import statement_event
from services.reporting.entrypoints.xapi_forward import Lrs, LrsUnavailable, deliver, read_batch
from services.reporting.repositories.xapi import newest_placements
from shared.kernel.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    AttendanceStatus,
    CertificateRevoked,
    FacilitatorEnrolled,
    Role,
    XapiStatementRecorded,
)
from shared.kernel.envelope import Event, EventPayload, decode_event, new_event
from shared.kernel.settings import load_settings
from shared.kernel.topics import NATIONAL, XAPI_STATEMENTS

WHEN = datetime(2016, 8, 1, 9, tzinfo=UTC)
TID, FID = uuid.uuid4(), uuid.uuid4()
TRAINING = xapi.TrainingInfo(
    "Pelatihan Dasar", {"s1": xapi.SessionInfo(date(2016, 8, 1), "classroom", "M1")}, {"M1": "Dasar Program"}
)


def at(payload: EventPayload) -> Event[Any]:
    return new_event(payload, region="oc02", source="kotaku.training", occurred_at=WHEN)


def test_a_score_is_scaled_with_a_pseudonymous_actor_and_the_region_and_province_in_context() -> None:
    event = at(AssessmentScored(training_id=TID, facilitator_id=FID, kind=AssessmentKind.POST, score=72, max_score=80))
    s = xapi.build_statement(event, TRAINING, xapi.Placement("16", "16.71"))
    assert s is not None
    assert s["id"] == str(xapi.statement_id(event.envelope.event_id))
    assert s["actor"] == {"objectType": "Agent", "account": {"homePage": xapi.HOME_PAGE, "name": str(FID)}}
    assert s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/scored"
    assert s["result"]["score"] == {"scaled": 0.9, "raw": 72, "min": 0, "max": 80}
    assert s["object"]["id"] == f"{xapi.ACTIVITIES}/training/{TID}/assessment/post"
    assert s["object"]["definition"]["name"] == {
        "id-ID": "Tes akhir: Pelatihan Dasar",
        "en-US": "Post-test: KOTAKU training: Pelatihan Dasar",
    }
    ext = s["context"]["extensions"]
    assert (ext[xapi.REGION], ext[xapi.PROVINCE], ext[xapi.KABKOTA]) == ("oc02", "16", "16.71")
    assert s["timestamp"] == WHEN.isoformat()


def test_the_same_event_gives_the_same_statement_and_an_unknown_training_a_generic_name() -> None:
    event = at(AttendanceRecorded(training_id=TID, session_id="s1", facilitator_id=FID, status=AttendanceStatus.LATE))
    known = xapi.build_statement(event, TRAINING, None)
    assert known == xapi.build_statement(event, TRAINING, None)
    assert known is not None
    assert known["context"]["contextActivities"]["grouping"][0]["id"].endswith("/module/M1")
    unknown = xapi.build_statement(event, None, None)
    assert unknown is not None
    assert unknown["id"] == known["id"]
    assert unknown["object"]["definition"]["name"]["id-ID"].startswith("Pelatihan KOTAKU")
    absent = at(
        AttendanceRecorded(training_id=TID, session_id="s1", facilitator_id=FID, status=AttendanceStatus.ABSENT)
    )
    assert xapi.build_statement(absent, TRAINING, None) is None


def test_a_revocation_voids_the_statement_of_the_issue() -> None:
    issued = uuid.uuid4()
    event = at(CertificateRevoked(training_id=TID, facilitator_id=FID, certificate_code="KTK-12345678", reason="x"))
    s = xapi.build_statement(event, TRAINING, None, issued)
    assert s is not None
    assert s["verb"]["id"] == xapi.VOIDED.iri
    assert s["object"] == {"objectType": "StatementRef", "id": str(issued)}


def test_the_statement_event_is_identified_by_the_statement_and_caused_by_the_fact() -> None:
    fact = at(AssessmentScored(training_id=TID, facilitator_id=FID, kind=AssessmentKind.PRE, score=1, max_score=2))
    statement = xapi.build_statement(fact, None, None)
    assert statement is not None
    event = statement_event(fact, statement)
    assert event.envelope.event_id == uuid.UUID(statement["id"])
    assert event.envelope.causation_id == fact.envelope.event_id
    assert event.key == statement["id"]
    assert event.payload.stream.topic("oc02", "t.") == "t.national.xapi.statements.v1"
    assert XAPI_STATEMENTS.topic(NATIONAL) == "national.xapi.statements.v1"
    again = decode_event(event.to_bytes())
    assert isinstance(again.payload, XapiStatementRecorded)
    assert again.payload.statement == statement


def record(offset: int, statement: dict[str, Any]) -> ConsumerRecord[bytes, bytes]:
    payload = XapiStatementRecorded(
        statement_id=uuid.UUID(statement["id"]), source_event_type="AttendanceRecorded", statement=statement
    )
    value = new_event(payload, region="oc02", source="kotaku.reporting").to_bytes()
    return ConsumerRecord("national.xapi.statements.v1", 0, offset, 0, 0, None, value, None, len(value), -1, [])


def lrs(answer: Any) -> tuple[Lrs, list[list[str]]]:
    posts: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Experience-API-Version"] == "1.0.3"
        assert request.headers["Authorization"].startswith("Basic ")
        ids = [s["id"] for s in json.loads(request.content)]
        posts.append(ids)
        status, body = answer(ids)
        return httpx.Response(status, json=body)

    settings = load_settings(database_url="postgresql://x", xapi_lrs_url="http://lrs/xAPI", xapi_lrs_username="u")
    return Lrs(settings, httpx.MockTransport(handler)), posts


async def test_a_refused_batch_is_split_until_the_refused_statement_stands_alone() -> None:
    statements = [{"id": str(uuid.uuid4()), "n": n} for n in range(5)]
    bad = statements[3]["id"]

    def answer(ids: list[str]) -> tuple[int, Any]:
        if bad in ids:
            return 422, {"detail": [{"loc": ["body", ids.index(bad), "actor"], "msg": "invalid"}]}
        return (200, ids[1:]) if statements[0]["id"] in ids else (204, None)

    client, posts = lrs(answer)
    items, unreadable = read_batch([record(n, s) for n, s in enumerate(statements)] + [record(9, statements[0])])
    assert unreadable == []
    assert len(items) == 5  # the repeat is posted once
    delivery = await deliver(client, items)
    assert [r.record.offset for r in delivery.refused] == [3]
    assert delivery.refused[0].reason == "lrs_refused"
    assert delivery.refused[0].detail.startswith("HTTP 422: [{")
    assert delivery.stored + delivery.already_stored == 4
    assert posts[0] == [s["id"] for s in statements]


async def test_an_unavailable_lrs_is_retried_not_refused() -> None:
    client, _ = lrs(lambda ids: (503, {"detail": "down"}))
    statement = {"id": str(uuid.uuid4())}
    with pytest.raises(LrsUnavailable) as raised:
        await deliver(client, [(record(0, statement), statement)])
    assert raised.value.cause == "503"


def test_a_batch_learns_each_participants_newest_place_once() -> None:
    """Placements are upserted in one statement, which may touch a row once: per (training,
    facilitator) the newest enrollment by (occurred_at, event_id) goes, whatever the batch's order."""
    other = uuid.uuid4()

    def enrolled(facilitator: uuid.UUID, kabkota: str, minutes: int) -> Event[Any]:
        payload = FacilitatorEnrolled(
            enrollment_id=uuid.uuid4(),
            training_id=TID,
            facilitator_id=facilitator,
            role=Role.ASKOT,
            province_code="16",
            kabkota_code=kabkota,
        )
        return new_event(
            payload, region="oc02", source="kotaku.registration", occurred_at=WHEN + timedelta(minutes=minutes)
        )

    batch = [
        enrolled(FID, "16.71", 5),
        enrolled(other, "16.01", 1),
        enrolled(FID, "16.02", 9),
        enrolled(FID, "16.03", 2),
    ]
    for order in (batch, batch[::-1]):
        newest = {e.payload.facilitator_id: e.payload.kabkota_code for e in newest_placements(order)}
        assert newest == {FID: "16.02", other: "16.01"}
