"""Topic administration: create the topics of the configured regions and keep their retention to
the policy of their class (``shared.kernel.topics.RetentionPolicy``). Idempotent; safe to run at every
start.

    python -m shared.tools.kafka_admin [--regions oc02,oc05] [--prefix P] [--partitions N] ...

creates the topics of ``KOTAKU_REGIONS`` and the national ones (dead-letter twins included) on
``KOTAKU_KAFKA_BOOTSTRAP`` and brings the retention of existing ones to the policy (``KOTAKU_INTAKE_RETENTION_DAYS``,
``KOTAKU_REJECTIONS_RETENTION_DAYS``). Used by Docker Compose's topic job.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code

from shared.kernel import kafka as kafka_clients
from shared.kernel.kafka import Kafka
from shared.kernel.settings import load_retention_policy
from shared.kernel.topics import RetentionPolicy, all_topics, national_topics, topic_class
from shared.tools.localenv import kafka_bootstrap

log = logging.getLogger(__name__)

RETENTION = "retention.ms"
# DescribeConfigs' config_source of a value set on the topic itself (not inherited from the broker).
DYNAMIC_TOPIC_CONFIG = 1


@dataclass(frozen=True)
class RetentionChange:
    topic: str
    before: str  # the topic's own value, or "broker default (<value>)"
    after: int


@dataclass
class TopicChanges:
    """What :func:`reconcile_topics` did: topics created, and existing topics whose retention changed."""

    created: list[str] = field(default_factory=list)
    altered: list[RetentionChange] = field(default_factory=list)


async def reconcile_topics(
    bootstrap: Kafka,
    topics: Sequence[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    policy: RetentionPolicy | None = None,
) -> TopicChanges:
    """Create the topics that do not exist yet, with the ``retention.ms`` of their class, and set
    the retention of those that exist to the policy when it differs or is only the broker's
    default. Other settings of existing topics are kept. Topics that are not ours (no class in
    ``shared.kernel.topics``) are created without a retention and never altered. ``policy`` defaults to
    the environment's (:func:`shared.kernel.settings.load_retention_policy`)."""
    policy = policy or load_retention_policy()
    wanted = {t: policy.for_topic(t) for t in topics}
    changes = TopicChanges()
    admin = kafka_clients.admin(bootstrap, "kotaku-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            changes.created = await _create(admin, missing, partitions, replication_factor, min_insync_replicas, wanted)
            await describe_partitions(admin, changes.created)  # created means every broker asked knows it
        present = {t: ms for t, ms in wanted.items() if ms is not None and t not in changes.created}
        if present:
            changes.altered = await _apply_retention(admin, present)
    finally:
        await admin.close()
    for change in changes.altered:
        log.info(
            "topic %s (%s): retention.ms %s -> %s",
            change.topic,
            topic_class(change.topic),
            change.before,
            change.after,
        )
    return changes


async def ensure_topics(
    bootstrap: Kafka,
    topics: Sequence[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    policy: RetentionPolicy | None = None,
) -> list[str]:
    """:func:`reconcile_topics`; returns the names created."""
    changes = await reconcile_topics(
        bootstrap,
        topics,
        partitions=partitions,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
        policy=policy,
    )
    return changes.created


async def _create(
    admin: Any,
    topics: list[str],
    partitions: int,
    replication_factor: int,
    min_insync_replicas: int,
    wanted: Mapping[str, int | None],
) -> list[str]:
    new = []
    for topic in topics:
        config = {"min.insync.replicas": str(min_insync_replicas)}
        if (retention := wanted[topic]) is not None:
            config[RETENTION] = str(retention)
        new.append(NewTopic(topic, partitions, replication_factor, topic_configs=config))
    response = await admin.create_topics(new)
    created = []
    for topic, code, message, *_ in response.topic_errors:
        if code == 0:
            created.append(topic)
        elif code != TopicAlreadyExistsError.errno:  # another process created it first: reconciled below
            raise for_code(code)(f"could not create topic {topic}: {message}")
    return created


async def _apply_retention(admin: Any, wanted: Mapping[str, int]) -> list[RetentionChange]:
    """Set ``retention.ms`` on the topics where it is not the wanted value set on the topic itself.
    AlterConfigs replaces all of a topic's own settings, so the others are sent back unchanged."""
    alterations: list[ConfigResource] = []
    changes: list[RetentionChange] = []
    for topic, entries in (await describe_topic_configs(admin, list(wanted))).items():
        own: dict[str, str] = {}
        current = "none"
        for name, value, _read_only, source, sensitive, *_ in entries:
            if name == RETENTION:
                current = value if source == DYNAMIC_TOPIC_CONFIG else f"broker default ({value})"
            if source == DYNAMIC_TOPIC_CONFIG:
                if sensitive or value is None:
                    raise RuntimeError(f"topic {topic}: cannot keep the hidden setting {name} while altering")
                own[name] = value
        if own.get(RETENTION) == str(wanted[topic]):
            continue
        own[RETENTION] = str(wanted[topic])
        alterations.append(ConfigResource(ConfigResourceType.TOPIC, topic, own))
        changes.append(RetentionChange(topic, current, wanted[topic]))
    if alterations:
        for response in await admin.alter_configs(alterations):
            for code, message, _type, topic in response.resources:
                if code:
                    raise for_code(code)(f"could not set the retention of topic {topic}: {message}")
    return changes


async def describe_topic_configs(admin: Any, topics: list[str], *, within: float = 10.0) -> dict[str, list[Any]]:
    """Every setting of each topic, as DescribeConfigs entries ``(name, value, read_only, source,
    sensitive, synonyms)``. A topic created a moment ago may not be known to the broker that answers
    yet (UNKNOWN_TOPIC_OR_PARTITION): asked again until ``within`` seconds have passed."""
    found: dict[str, list[Any]] = {}
    deadline = asyncio.get_running_loop().time() + within
    pending = list(topics)
    while pending:
        unknown = []
        for response in await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in pending]):
            for code, message, _type, topic, entries in response.resources:
                if code == UnknownTopicOrPartitionError.errno and asyncio.get_running_loop().time() < deadline:
                    unknown.append(topic)
                elif code:
                    raise for_code(code)(f"could not describe the configuration of topic {topic}: {message}")
                else:
                    found[topic] = entries
        pending = unknown
        if pending:
            await asyncio.sleep(0.2)
    return found


async def describe_partitions(admin: Any, topics: list[str], *, within: float = 30.0) -> dict[str, list[Any]]:
    """The partitions of each topic (DescribeTopics entries with ``replicas`` and ``isr``). A topic
    created a moment ago may not be in the metadata of the broker that answers yet (an error code,
    or no partitions): asked again until ``within`` seconds have passed, then the error is raised."""
    deadline = asyncio.get_running_loop().time() + within
    found: dict[str, list[Any]] = {}
    pending = list(topics)
    while pending:
        unknown = []
        for described in await admin.describe_topics(pending):
            topic, code, parts = described["topic"], described["error_code"], described["partitions"]
            if code == 0 and parts:
                found[topic] = parts
            elif asyncio.get_running_loop().time() < deadline:
                unknown.append(topic)
            else:
                raise for_code(code or UnknownTopicOrPartitionError.errno)(f"topic {topic} has no partitions yet")
        pending = unknown
        if pending:
            await asyncio.sleep(0.2)
    return found


async def delete_topics(bootstrap: Kafka, topics: Sequence[str]) -> None:
    admin = kafka_clients.admin(bootstrap, "kotaku-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in topics if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def describe(changes: TopicChanges) -> str:
    """One line per change, for the command line."""
    lines = [f"topics: {len(changes.created)} created, retention set on {len(changes.altered)} existing"]
    lines += [f"  {c.topic}: retention.ms {c.before} -> {c.after}" for c in changes.altered]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.tools.kafka_admin", description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", default=kafka_bootstrap())
    parser.add_argument("--regions", default=os.environ.get("KOTAKU_REGIONS", "oc02"))
    parser.add_argument("--prefix", default=os.environ.get("KOTAKU_TOPIC_PREFIX", ""))
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--replication-factor", type=int, default=1)
    parser.add_argument("--min-insync-replicas", type=int, default=1)
    args = parser.parse_args(argv)
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    changes = asyncio.run(
        reconcile_topics(
            args.bootstrap,
            all_topics(regions, args.prefix) + national_topics(args.prefix),
            partitions=args.partitions,
            replication_factor=args.replication_factor,
            min_insync_replicas=args.min_insync_replicas,
        )
    )
    print(describe(changes))


if __name__ == "__main__":
    main()
