"""Topic retention per class on the real broker: topics are created with the retention of their
class, and existing topics (made with the broker's default, or kept forever by an older manifest)
are brought to the policy without losing their other settings."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.kernel.topics import DAY_MS, RetentionPolicy, TopicClass, all_topics, topic_class
from shared.tools.kafka_admin import (
    DYNAMIC_TOPIC_CONFIG,
    delete_topics,
    describe_topic_configs,
    ensure_topics,
    reconcile_topics,
)
from tests.integration.conftest import BOOTSTRAP

pytestmark = pytest.mark.real

REGION = "oc02"
POLICY = RetentionPolicy(intake_ms=2 * DAY_MS, rejections_ms=45 * DAY_MS)
EXPECTED = {TopicClass.CANONICAL: "-1", TopicClass.INTAKE: "172800000", TopicClass.REJECTIONS: "3888000000"}


@pytest.fixture
async def topics() -> AsyncIterator[list[str]]:
    """The topics of one region under a prefix of its own, deleted afterwards."""
    names = all_topics([REGION], f"ret{uuid.uuid4().hex[:10]}.")
    try:
        yield names
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(BOOTSTRAP, names)


async def topic_configs(names: list[str]) -> dict[str, dict[str, tuple[str, int]]]:
    """Each topic's settings as (value, source)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        found = await describe_topic_configs(admin, names)
        return {topic: {e[0]: (e[1], e[3]) for e in entries} for topic, entries in found.items()}
    finally:
        await admin.close()


async def create_plain(names: list[str], configs: dict[str, str]) -> None:
    """Topics made the way the stack made them before: without a retention of their own."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(t, 1, 1, topic_configs=configs) for t in names])
        assert all(code == 0 for _t, code, *_ in response.topic_errors), response
    finally:
        await admin.close()


async def test_created_topics_get_the_retention_of_their_class(topics: list[str]) -> None:
    created = await ensure_topics(BOOTSTRAP, topics, partitions=1, policy=POLICY)
    assert sorted(created) == sorted(topics)
    configs = await topic_configs(topics)
    classes = set()
    for topic in topics:
        kind = topic_class(topic)
        assert kind is not None
        classes.add(kind)
        # set on the topic itself, so a change of the broker's default does not touch it
        assert configs[topic]["retention.ms"] == (EXPECTED[kind], DYNAMIC_TOPIC_CONFIG), topic
    assert classes == set(TopicClass)
    again = await reconcile_topics(BOOTSTRAP, topics, partitions=1, policy=POLICY)
    assert again.created == []
    assert again.altered == []


async def test_the_default_policy_comes_from_the_environment(
    topics: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOTAKU_INTAKE_RETENTION_DAYS", "3")
    monkeypatch.delenv("KOTAKU_REJECTIONS_RETENTION_DAYS", raising=False)
    await ensure_topics(BOOTSTRAP, topics, partitions=1)
    configs = await topic_configs(topics)
    by_class = {topic_class(t): configs[t]["retention.ms"][0] for t in topics}
    assert by_class == {
        TopicClass.CANONICAL: "-1",
        TopicClass.INTAKE: str(3 * DAY_MS),
        TopicClass.REJECTIONS: str(30 * DAY_MS),
    }


async def test_existing_topics_are_brought_to_the_policy_and_keep_their_other_settings(
    topics: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    intake = [t for t in topics if topic_class(t) is TopicClass.INTAKE]
    others = [t for t in topics if t not in intake]
    # the broker's default retention (7 days) and a setting of the topic's own, as before
    await create_plain(others, {"min.insync.replicas": "1", "max.message.bytes": "2000000"})
    # intake kept forever, as the Kubernetes manifests had it
    await create_plain(intake, {"retention.ms": "-1"})
    before = await topic_configs(topics)
    assert before[others[0]]["retention.ms"][1] != DYNAMIC_TOPIC_CONFIG

    with caplog.at_level(logging.INFO, logger="shared.tools.kafka_admin"):
        changes = await reconcile_topics(BOOTSTRAP, topics, partitions=1, policy=POLICY)

    assert changes.created == []
    assert sorted(c.topic for c in changes.altered) == sorted(topics)
    after = await topic_configs(topics)
    for topic in topics:
        kind = topic_class(topic)
        assert kind is not None
        assert after[topic]["retention.ms"] == (EXPECTED[kind], DYNAMIC_TOPIC_CONFIG), topic
    for topic in others:
        assert after[topic]["max.message.bytes"] == ("2000000", DYNAMIC_TOPIC_CONFIG), topic
        assert after[topic]["min.insync.replicas"] == ("1", DYNAMIC_TOPIC_CONFIG), topic
    change = next(c for c in changes.altered if c.topic == others[0])
    assert change.before.startswith("broker default (")
    assert next(c for c in changes.altered if c.topic == intake[0]).before == "-1"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"topic {intake[0]} (intake): retention.ms -1 -> {2 * DAY_MS}" in logged

    # idempotent: a second run changes nothing
    again = await reconcile_topics(BOOTSTRAP, topics, partitions=1, policy=POLICY)
    assert (again.created, again.altered) == ([], [])


async def test_a_topic_that_is_not_ours_is_created_but_never_altered() -> None:
    name = f"ret{uuid.uuid4().hex[:10]}.scratch"
    try:
        assert await ensure_topics(BOOTSTRAP, [name], partitions=1, policy=POLICY) == [name]
        assert (await topic_configs([name]))[name]["retention.ms"][1] != DYNAMIC_TOPIC_CONFIG
        assert (await reconcile_topics(BOOTSTRAP, [name], policy=POLICY)).altered == []
    finally:
        await delete_topics(BOOTSTRAP, [name])
