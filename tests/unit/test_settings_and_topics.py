from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.kernel.settings import load_retention_policy, load_settings
from shared.kernel.topics import (
    ALL_STREAMS,
    DAY_MS,
    ENROLLMENT,
    FACILITATOR,
    FOREVER,
    REGISTRATION_INTAKE,
    REJECTIONS,
    TRAINING_INTAKE,
    RetentionPolicy,
    TopicClass,
    all_topics,
    dlq_topic,
    region_of,
    stream_of,
    topic_class,
)


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


def test_every_topic_has_a_class_and_its_dead_letter_twin_shares_it() -> None:
    intake = {REGISTRATION_INTAKE, TRAINING_INTAKE}
    for stream in ALL_STREAMS:
        expected = (
            TopicClass.INTAKE
            if stream in intake
            else TopicClass.REJECTIONS
            if stream is REJECTIONS
            else TopicClass.CANONICAL
        )
        assert stream.topic_class is expected, stream
    for topic in all_topics(["oc02", "oc05"], "t1234.") + all_topics(["oc09"]):
        found = stream_of(topic)
        assert found is not None, topic
        assert topic.removesuffix(".dlq").endswith(f".{found.name}.v{found.version}")
        assert topic_class(dlq_topic(topic.removesuffix(".dlq"))) is topic_class(topic)
    assert topic_class("oc02.registration.facilitator.v1.dlq") is TopicClass.CANONICAL
    assert topic_class("oc02.training.intake.v1.dlq") is TopicClass.INTAKE
    assert topic_class("oc02.training.training.v1") is TopicClass.CANONICAL
    assert topic_class("__consumer_offsets") is None
    assert topic_class("oc02.registration.facilitator.v2") is None


def test_retention_policy_keeps_canonical_forever_and_the_rest_for_days() -> None:
    policy = RetentionPolicy()
    assert policy.for_topic("oc02.registration.enrollment.v1") == FOREVER == -1
    assert policy.for_topic("oc02.registration.enrollment.v1.dlq") == -1
    assert policy.for_topic("oc02.registration.intake.v1") == 7 * DAY_MS == 604_800_000
    assert policy.for_topic("oc02.registration.intake.v1.dlq") == 7 * DAY_MS
    assert policy.for_topic("oc02.rejections.v1") == 30 * DAY_MS
    assert policy.for_topic("something.else") is None
    short = RetentionPolicy(intake_ms=60_000, rejections_ms=120_000)
    assert short.for_topic("oc02.training.intake.v1") == 60_000
    assert short.for_topic("oc02.rejections.v1.dlq") == 120_000
    assert short.for_topic("oc02.training.participation.v1") == -1
    with pytest.raises(ValueError, match="intake_ms"):
        RetentionPolicy(intake_ms=-1)


def test_retention_of_the_short_lived_classes_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOTAKU_INTAKE_RETENTION_DAYS", raising=False)
    monkeypatch.delenv("KOTAKU_REJECTIONS_RETENTION_DAYS", raising=False)
    assert load_retention_policy() == RetentionPolicy()
    monkeypatch.setenv("KOTAKU_INTAKE_RETENTION_DAYS", "3")
    monkeypatch.setenv("KOTAKU_REJECTIONS_RETENTION_DAYS", "60")
    policy = load_retention_policy()
    assert policy == RetentionPolicy(intake_ms=3 * DAY_MS, rejections_ms=60 * DAY_MS)
    assert policy.for_topic("oc02.training.training.v1") == -1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KOTAKU_INTAKE_RETENTION_DAYS", "0"),
        ("KOTAKU_INTAKE_RETENTION_DAYS", "-1"),  # "forever" is refused for topics carrying raw NIKs
        ("KOTAKU_INTAKE_RETENTION_DAYS", "91"),
        ("KOTAKU_INTAKE_RETENTION_DAYS", "a week"),
        ("KOTAKU_REJECTIONS_RETENTION_DAYS", "0"),
    ],
)
def test_unreasonable_retention_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        load_retention_policy()
