"""Names of the series that the services expose, from the metric definitions themselves."""

from __future__ import annotations

import re

from shared.kernel.metrics import Metrics

SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}

# Series from elsewhere that the rules and panels may use: Prometheus itself and the Kafka exporter.
EXTERNAL = {"up", "kafka_consumergroup_lag", "kafka_consumergroup_lag_sum", "kafka_topic_partition_current_offset"}


def kotaku_series() -> set[str]:
    names: set[str] = set()
    for family in Metrics("any").registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def series_in(expr: str) -> set[str]:
    """Metric names referenced by a PromQL expression (identifiers that are not functions or keywords)."""
    return set(re.findall(r"\b(kotaku_[a-z_]+|kafka_[a-z_]+|up)\b(?!\s*\()", expr))
