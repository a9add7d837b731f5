from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import load_settings
from shared.topics import ENROLLMENT, FACILITATOR, all_topics, dlq_topic, region_of


def test_regions_come_from_a_comma_separated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_DATABASE_URL", "postgresql://x@localhost/db")
    monkeypatch.setenv("KOTAKU_REGIONS", "oc02, oc05")
    assert load_settings().regions == ["oc02", "oc05"]


@pytest.mark.parametrize("bad", ["", "OC02", "oc2", "oc02,south"])
def test_malformed_region_codes_are_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("KOTAKU_DATABASE_URL", "postgresql://x@localhost/db")
    monkeypatch.setenv("KOTAKU_REGIONS", bad)
    with pytest.raises(ValidationError):
        load_settings()


def test_the_database_url_is_kept_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_DATABASE_URL", "postgresql://u:hunter2@localhost/db")
    assert "hunter2" not in repr(load_settings())


def test_topics_are_scoped_per_region_and_versioned() -> None:
    assert FACILITATOR.topic("oc02") == "oc02.registration.facilitator.v1"
    assert ENROLLMENT.topic("oc05", "staging.") == "staging.oc05.registration.enrollment.v1"
    assert dlq_topic("oc02.registration.facilitator.v1") == "oc02.registration.facilitator.v1.dlq"
    assert region_of("staging.oc05.registration.enrollment.v1", "staging.") == "oc05"


def test_every_regional_topic_has_a_dead_letter_topic() -> None:
    topics = all_topics(["oc02", "oc03"])
    regular = [t for t in topics if not t.endswith(".dlq")]
    assert len(regular) == 16
    assert {dlq_topic(t) for t in regular} == set(topics) - set(regular)
