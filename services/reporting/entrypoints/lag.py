"""Consumer lag of the reporting groups: end offsets minus committed offsets, per region.

Measured with an aiokafka admin client (committed offsets of ``<prefix><consumer>.<region>``) and a
group-less consumer (end offsets), cached for a few seconds. A request never waits for Kafka once
a value exists: a stale value is served while a refresh runs in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from services.reporting.entrypoints.kafka import partitions_of
from shared.kernel import kafka as kafka_clients
from shared.kernel.consumer import Consumer
from shared.kernel.kafka import Kafka

log = logging.getLogger(__name__)

SOURCE = "kafka: end offsets minus committed offsets of the reporting consumer groups, cached 5 s"


async def measure_lag(
    bootstrap: Kafka, consumers: Sequence[Consumer], regions: Sequence[str], prefix: str
) -> dict[str, int]:
    """Records not yet consumed, per region, summed over the reporting consumers' groups.
    A partition without a committed offset counts from the start of the log."""
    admin = kafka_clients.admin(bootstrap, "kotaku-reporting-lag")
    consumer = kafka_clients.consumer(
        bootstrap, client_id="kotaku-reporting-lag", group_id=None, enable_auto_commit=False
    )
    await admin.start()
    try:
        await consumer.start()
        groups = {
            (c.name, region): {s.topic(region, prefix) for s in c.streams} for c in consumers for region in regions
        }
        everything = await partitions_of(admin, sorted(set().union(*groups.values())))
        if not everything:
            return dict.fromkeys(regions, 0)
        consumer.assign(everything)  # metadata for these partitions (else end_offsets waits for it)
        consumer.pause(*everything)  # never fetch records
        ends = await consumer.end_offsets(everything)
        starts = await consumer.beginning_offsets(everything)
        keys = list(groups)
        tps_of = {key: [tp for tp in everything if tp.topic in groups[key]] for key in keys}
        committed = await asyncio.gather(
            *(
                admin.list_consumer_group_offsets(f"{prefix}{name}.{region}", partitions=tps_of[(name, region)])
                for name, region in keys
            )
        )
        lag = dict.fromkeys(regions, 0)
        for (name, region), offsets in zip(keys, committed, strict=True):
            for tp in tps_of[(name, region)]:
                meta = offsets.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
                lag[region] += max(0, ends[tp] - done)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


class LagMonitor:
    def __init__(
        self,
        bootstrap: Kafka,
        consumers: Sequence[Consumer],
        regions: Sequence[str],
        prefix: str,
        ttl: float = 5.0,
        first_wait: float = 2.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.consumers = tuple(consumers)
        self.regions = tuple(regions)
        self.prefix = prefix
        self.ttl = ttl
        self.first_wait = first_wait
        self._value: dict[str, int] | None = None
        self._at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _refresh(self) -> None:
        try:
            self._value = await measure_lag(self.bootstrap, self.consumers, self.regions, self.prefix)
            self._at = time.monotonic()
        except Exception as exc:  # Kafka unreachable: keep the last value, report it stale
            log.warning("could not measure consumer lag", extra={"error": repr(exc)})

    async def current(self) -> dict[str, int] | None:
        fresh = self._value is not None and time.monotonic() - self._at < self.ttl
        if not fresh and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._refresh(), name="reporting-lag")
        if self._value is None and self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), self.first_wait)
        return self._value
