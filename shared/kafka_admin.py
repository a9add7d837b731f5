"""Topic administration: create the topics of the configured regions (idempotent)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap: str,
    topics: Sequence[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="kotaku-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            config = {"min.insync.replicas": str(min_insync_replicas)}
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                await admin.create_topics(
                    [NewTopic(t, partitions, replication_factor, topic_configs=config) for t in missing]
                )
        return missing
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="kotaku-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in topics if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
