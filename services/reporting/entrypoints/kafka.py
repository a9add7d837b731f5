"""Kafka look-ups shared by the rebuild and the lag measurement."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def partitions_of(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> list[TopicPartition]:
    """The partitions of those ``topics`` that exist (missing topics are left out)."""
    existing = set(await admin.list_topics())
    wanted = sorted(t for t in set(topics) if t in existing)
    if not wanted:
        return []
    described = await admin.describe_topics(wanted)
    return sorted(
        (TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]),
        key=lambda tp: (tp.topic, tp.partition),
    )
