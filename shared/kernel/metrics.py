"""Prometheus metrics of one service process: one registry, shared with FastStream's middleware.

Label values are bounded: service, consumer, region, event type, outcome and reason codes come
from code or configuration, never from message contents. Every series has `service` as its first
label; the labels given below follow it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        self.events_consumed = self._counter(
            "kotaku_events_consumed_total",
            "Events taken from Kafka by a consumer, by outcome (applied, duplicate, ignored, dead_lettered)",
            ("consumer", "region", "event_type", "outcome"),
        )
        self.dead_letters = self._counter(
            "kotaku_dead_letters_total",
            "Messages sent to a dead-letter topic, by reason code",
            ("consumer", "region", "reason"),
        )
        self.consumer_retries = self._counter(
            "kotaku_consumer_retries_total",
            "Failed attempts to apply events that were retried",
            ("consumer", "region"),
        )
        self.consumer_waiting = self._gauge(
            "kotaku_consumer_waiting_for_database",
            "1 while a consumer holds its partitions because the database is unavailable (nothing is "
            "dead-lettered meanwhile), else 0",
            ("consumer", "region"),
        )
        self.consumer_database_waits = self._counter(
            "kotaku_consumer_database_waits_total",
            "Batches rewound and retried later because the database was unavailable",
            ("consumer", "region"),
        )
        self.batch_duration = self._histogram(
            "kotaku_consumer_batch_duration_seconds",
            "Time to decode, apply and commit one batch of events",
            ("consumer",),
        )
        self.pipeline_latency = self._histogram(
            "kotaku_event_pipeline_latency_seconds",
            "From recorded_at (the producing service's commit) to applied by this consumer",
            ("consumer", "event_type"),
        )
        self.intake_messages = self._counter(
            "kotaku_intake_messages_total",
            "Intake messages from regional systems by outcome (accepted, rejected) and rejection reason",
            ("region", "outcome", "reason"),
        )
        self.events_emitted = self._counter(
            "kotaku_events_emitted_total",
            "Events written to the outbox together with their state change",
            ("event_type", "region"),
        )
        self.outbox_published = self._counter(
            "kotaku_outbox_published_total", "Outbox rows published to Kafka and marked sent"
        )
        self.outbox_errors = self._counter(
            "kotaku_outbox_relay_errors_total",
            "Relay cycles that failed (broker or database unavailable); the rows stay unsent",
        )
        self.outbox_backlog = self._gauge("kotaku_outbox_backlog", "Outbox rows not yet published")
        self.outbox_oldest_age = self._gauge(
            "kotaku_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row (0 when empty)"
        )
        self.xapi_forwarded = self._counter(
            "kotaku_xapi_statements_forwarded_total",
            "xAPI statements the LRS accepted, by outcome (stored, or already_stored: it had the same statement)",
            ("outcome",),
        )
        self.xapi_refused = self._counter(
            "kotaku_xapi_statements_refused_total",
            "xAPI statements sent to the dead-letter topic: refused by the LRS (lrs_refused, lrs_conflict) or "
            "unreadable on the topic",
            ("reason",),
        )
        self.xapi_retries = self._counter(
            "kotaku_xapi_lrs_retries_total",
            "Posts to the LRS that failed and were retried after a pause, by cause (status code or connection)",
            ("cause",),
        )
        self.xapi_lag = self._gauge(
            "kotaku_xapi_forwarder_lag",
            "Statements on the national xAPI topic not yet forwarded (end offsets minus the forwarder's position)",
        )
        self.http_requests = self._counter(
            "kotaku_http_requests_total",
            "HTTP requests by route template and status code",
            ("method", "route", "status"),
        )
        self.http_rate_limited = self._counter(
            "kotaku_http_rate_limited_total",
            "Requests without a valid credential refused with 429 by the per-client rate limit",
        )
        self.http_duration = self._histogram(
            "kotaku_http_request_duration_seconds",
            "HTTP request duration by route template",
            ("method", "route"),
        )

    def _counter(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, documentation, ["service", *labels], registry=self.registry)

    def _gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, documentation, ["service", *labels], registry=self.registry)

    def _histogram(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Histogram:
        return Histogram(name, documentation, ["service", *labels], buckets=LATENCY_BUCKETS, registry=self.registry)
