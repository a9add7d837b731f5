"""Prometheus metrics of one service process: one registry, shared with FastStream's middleware.

Label values are bounded: service, consumer, region, event type, outcome and reason codes come
from code or configuration, never from message contents.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_consumed = Counter(
            "kotaku_events_consumed_total",
            "Events taken from Kafka by a consumer, by outcome (applied, duplicate, ignored, dead_lettered)",
            ["service", "consumer", "region", "event_type", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "kotaku_dead_letters_total",
            "Messages sent to a dead-letter topic, by reason code",
            ["service", "consumer", "region", "reason"],
            registry=r,
        )
        self.consumer_retries = Counter(
            "kotaku_consumer_retries_total",
            "Failed attempts to apply events that were retried",
            ["service", "consumer", "region"],
            registry=r,
        )
        self.consumer_waiting = Gauge(
            "kotaku_consumer_waiting_for_database",
            "1 while a consumer holds its partitions because the database is unavailable (nothing is "
            "dead-lettered meanwhile), else 0",
            ["service", "consumer", "region"],
            registry=r,
        )
        self.consumer_database_waits = Counter(
            "kotaku_consumer_database_waits_total",
            "Batches rewound and retried later because the database was unavailable",
            ["service", "consumer", "region"],
            registry=r,
        )
        self.batch_duration = Histogram(
            "kotaku_consumer_batch_duration_seconds",
            "Time to decode, apply and commit one batch of events",
            ["service", "consumer"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pipeline_latency = Histogram(
            "kotaku_event_pipeline_latency_seconds",
            "From recorded_at (the producing service's commit) to applied by this consumer",
            ["service", "consumer", "event_type"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.intake_messages = Counter(
            "kotaku_intake_messages_total",
            "Intake messages from regional systems by outcome (accepted, rejected) and rejection reason",
            ["service", "region", "outcome", "reason"],
            registry=r,
        )
        self.events_emitted = Counter(
            "kotaku_events_emitted_total",
            "Events written to the outbox together with their state change",
            ["service", "event_type", "region"],
            registry=r,
        )
        self.outbox_published = Counter(
            "kotaku_outbox_published_total",
            "Outbox rows published to Kafka and marked sent",
            ["service"],
            registry=r,
        )
        self.outbox_errors = Counter(
            "kotaku_outbox_relay_errors_total",
            "Relay cycles that failed (broker or database unavailable); the rows stay unsent",
            ["service"],
            registry=r,
        )
        self.outbox_backlog = Gauge("kotaku_outbox_backlog", "Outbox rows not yet published", ["service"], registry=r)
        self.outbox_oldest_age = Gauge(
            "kotaku_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unpublished outbox row (0 when empty)",
            ["service"],
            registry=r,
        )
        self.http_requests = Counter(
            "kotaku_http_requests_total",
            "HTTP requests by route template and status code",
            ["service", "method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "kotaku_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["service", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
