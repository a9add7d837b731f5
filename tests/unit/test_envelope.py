from __future__ import annotations

import json
import uuid
from datetime import date

import pytest

from shared.kernel.contracts import FacilitatorEnrolled, FacilitatorRegistered, Role
from shared.kernel.envelope import CONTRACTS, MAX_EVENT_BYTES, RejectedMessage, decode_event, new_event


def registered() -> FacilitatorRegistered:
    return FacilitatorRegistered(
        facilitator_id=uuid.uuid4(),
        full_name="Siti Aminah",
        role=Role.FASILITATOR,
        province_code="16",
        kabkota_code="16.71",
        effective_from=date(2016, 7, 1),
    )


def test_an_event_survives_the_wire_unchanged() -> None:
    event = new_event(registered(), region="oc02", source="kotaku.registration")
    decoded = decode_event(event.to_bytes(), topic_region="oc02")
    assert decoded.envelope == event.envelope
    assert decoded.payload == event.payload
    assert decoded.key == str(event.payload.facilitator_id)


def test_headers_mirror_the_event_id_and_type() -> None:
    event = new_event(registered(), region="oc02", source="kotaku.registration")
    headers = event.headers()
    assert headers["ce_id"] == str(event.envelope.event_id)
    assert headers["ce_type"] == "FacilitatorRegistered"
    assert headers["kotaku_region"] == "oc02"


def test_enrollment_events_are_keyed_by_training() -> None:
    training_id = uuid.uuid4()
    payload = FacilitatorEnrolled(
        enrollment_id=uuid.uuid4(), training_id=training_id, facilitator_id=uuid.uuid4(), role=Role.ASKOT
    )
    assert payload.key() == str(training_id)


def _mutated(**changes: object) -> bytes:
    body = json.loads(new_event(registered(), region="oc02", source="t").to_bytes())
    body.update(changes)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty_body"),
        (b"\x00\xff not json", "not_json"),
        (b"[1, 2", "not_json"),
        (b'{"event_type": "FacilitatorRegistered"}', "invalid_envelope"),
        (b"x" * (MAX_EVENT_BYTES + 1), "too_large"),
    ],
)
def test_undecodable_messages_are_rejected_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode_event(raw)
    assert caught.value.reason == reason


def test_unknown_types_and_versions_are_rejected() -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode_event(_mutated(event_type="SomethingElse"))
    assert caught.value.reason == "unknown_event_type"
    with pytest.raises(RejectedMessage) as caught:
        decode_event(_mutated(schema_version=9))
    assert caught.value.reason == "unknown_event_type"


def test_an_event_on_another_regions_topic_is_rejected_as_forged() -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode_event(_mutated(region="oc05"), topic_region="oc02")
    assert caught.value.reason == "region_mismatch"


def test_a_payload_that_breaks_its_contract_is_rejected() -> None:
    body = json.loads(_mutated())
    body["payload"]["role"] = "boss"
    with pytest.raises(RejectedMessage) as caught:
        decode_event(json.dumps(body).encode())
    assert caught.value.reason == "invalid_payload"
    assert "role" in caught.value.detail


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode_event(_mutated(occurred_at="2016-07-31T08:00:00"))
    assert caught.value.reason == "invalid_envelope"


def test_no_contract_carries_personal_identifiers() -> None:
    assert CONTRACTS, "contracts are registered on import"
    for contract in CONTRACTS.values():
        fields = {name.lower() for name in contract.model_fields}
        assert not fields & {"nik", "nik_hash", "phone", "phone_number", "email"}, contract.__name__


def test_contracts_are_frozen() -> None:
    payload = registered()
    with pytest.raises(Exception, match="frozen"):
        payload.full_name = "changed"  # type: ignore[misc]


def test_fields_added_by_a_newer_producer_are_ignored_by_older_consumers() -> None:
    body = json.loads(_mutated(traceparent="00-abc"))
    body["payload"]["added_later"] = {"optional": True}
    decoded = decode_event(json.dumps(body).encode())
    assert decoded.payload.model_dump().keys() == registered().model_dump().keys()
