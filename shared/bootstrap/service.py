"""Composition root shared by the three services: one process runs the HTTP API, the Kafka
consumers and the outbox relay of one service, or a part of it (``KOTAKU_PROCESS_ROLE``): ``api``
serves the routes only; ``consumers`` runs the consumers of the regions in ``KOTAKU_REGIONS``, the
outbox relay and the dedupe pruning, and answers only ``/health``, ``/ready`` and ``/metrics``. So
reporting runs as one API process and consumer processes per group of regions, each on its own core
and event loop, and a backlog in one group never delays another group or the reads.

A service declares itself with a :class:`ServiceDefinition`; ``python -m services.<name>`` runs
:func:`main`, which offers ``serve`` (the default) and ``migrate`` (the prestart step).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Sequence

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers
from starlette.types import Scope

from shared.kernel import faults
from shared.kernel import kafka as kafka_clients
from shared.kernel.auth import CredentialStore, sends_valid_credential
from shared.kernel.consumer import (
    BacklogPriority,
    Consumer,
    ConsumerContext,
    Durability,
    KafkaDeadLetters,
    run_pruning,
    subscribe,
)
from shared.kernel.db import create_pool, migrate
from shared.kernel.http import BodyLimitMiddleware, install_error_handlers, install_request_metrics
from shared.kernel.logs import configure_logging
from shared.kernel.metrics import Metrics
from shared.kernel.outbox import Outbox, OutboxRelay
from shared.kernel.ratelimit import RateLimitMiddleware, TokenBuckets, export_cost
from shared.kernel.runtime import Runtime, ServiceDefinition
from shared.kernel.settings import Settings, load_settings

log = logging.getLogger(__name__)


def build_broker(settings: Settings, metrics: Metrics, client_id: str) -> KafkaBroker:
    return kafka_clients.broker(
        settings,
        client_id,
        middlewares=(KafkaPrometheusMiddleware(registry=metrics.registry, app_name=metrics.service),),
    )


class UnusableSettings(RuntimeError):
    """The settings lack something the service needs (``ServiceDefinition.requires``)."""


def check_settings(definition: ServiceDefinition, settings: Settings) -> None:
    """Refuse, in one line, settings the service cannot run with (before anything connects)."""
    problems = [problem for check in definition.requires if (problem := check(settings))]
    if problems:
        raise UnusableSettings(f"{definition.name} cannot start: {'; '.join(problems)}")


def chosen_consumers(definition: ServiceDefinition, runtime: Runtime, names: Sequence[str]) -> list[Consumer]:
    """The consumers of ``definition`` named in ``names`` (``KOTAKU_CONSUMERS``; empty: all of them).
    A name the service does not have stops the start, rather than leave some stream unconsumed."""
    built = [c if isinstance(c, Consumer) else c(runtime) for c in definition.consumers]
    unknown = sorted(set(names) - {c.name for c in built})
    if unknown:
        raise UnusableSettings(
            f"{definition.name} cannot start: KOTAKU_CONSUMERS names {unknown}; "
            f"its consumers are {[c.name for c in built]}"
        )
    return [c for c in built if not names or c.name in names]


def create_app(definition: ServiceDefinition, settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    check_settings(definition, settings)
    metrics = Metrics(definition.name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        faults.arm(settings.fault_points)
        pool = await create_pool(settings.database_url.get_secret_value(), definition.name)
        broker = build_broker(settings, metrics, f"kotaku-{definition.name}")
        dead_letter_producer = kafka_clients.reliable_producer(settings, f"kotaku-{definition.name}-dlq")
        durability = Durability(pool)
        await durability.prime()
        ctx = ConsumerContext(
            pool=pool,
            broker=broker,
            metrics=metrics,
            topic_prefix=settings.topic_prefix,
            retry_attempts=settings.retry_attempts,
            retry_backoff_seconds=settings.retry_backoff_seconds,
            poll_ms=settings.consumer_poll_ms,
            fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            dead_letters=KafkaDeadLetters(dead_letter_producer),
            backlog_duty=settings.consumer_backlog_duty,
            backlog_events=settings.consumer_backlog_events,
            backlog_priority=BacklogPriority(settings.consumer_backlog_nice),
            durability=durability,
        )
        runtime = Runtime(definition, settings, metrics, pool, broker, Outbox(pool, settings.topic_prefix, metrics))
        consuming = settings.process_role != "api"
        chosen = chosen_consumers(definition, runtime, settings.consumers) if consuming else []
        for built in chosen:
            subscribe(broker, built, settings.regions, ctx, settings.consumer_max_records)
        app.state.runtime = runtime
        app.state.credentials = CredentialStore(settings.credentials_file)
        await dead_letter_producer.start()
        await broker.start()
        if consuming:
            if definition.relays_outbox([c.name for c in chosen]):
                relay = OutboxRelay(
                    pool,
                    broker,
                    metrics,
                    settings.regions,
                    batch_size=settings.outbox_batch_size,
                    poll_seconds=settings.outbox_poll_seconds,
                )
                runtime.tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
            runtime.tasks.append(
                asyncio.create_task(run_pruning(pool, settings.dedupe_retention_days), name="dedupe-pruning")
            )
        keep_out_of_full_collections()
        log.info("service started", extra={"regions": settings.regions, "role": settings.process_role})
        try:
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            await broker.stop()
            await dead_letter_producer.stop()
            await pool.close()
            log.info("service stopped")

    app = FastAPI(title=definition.title, description=definition.description, version="1.0.0", lifespan=lifespan)
    install_error_handlers(app, definition.errors)
    install_request_metrics(app, metrics)
    app.add_middleware(BodyLimitMiddleware)
    install_rate_limit(app, settings, metrics)
    app.include_router(_operations_router(metrics))
    if settings.process_role != "consumers":
        for router in definition.routers:
            app.include_router(router)
    return app


GC_THRESHOLDS = (2_000, 20, 100)


def keep_out_of_full_collections() -> None:
    """Move everything built at start (modules, the app, clients, caches) out of the garbage
    collector's reach: it lives as long as the process. Otherwise each full collection walks all
    of it, and in a consumer process those came every two seconds and held the event loop, and so
    every consumer of the process, for 100-180 ms each (measured; docs/reporting.md "Benchmark")."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def install_rate_limit(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """The per-client rate limit of requests without a valid credential (shared.kernel.ratelimit),
    outermost, so that a refused request costs next to nothing; off when the rate is 0."""
    if not settings.rate_limit_per_second:
        return

    def authenticated(scope: Scope) -> bool:
        store: CredentialStore | None = getattr(app.state, "credentials", None)
        return sends_valid_credential(store, Headers(scope=scope))

    app.add_middleware(
        RateLimitMiddleware,
        buckets=TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst),
        authenticated=authenticated,
        cost=export_cost(settings.rate_limit_export_cost),
        refused=metrics.http_rate_limited.labels(metrics.service).inc,
    )


def _operations_router(metrics: Metrics) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready", summary="Readiness: the database and the Kafka broker are reachable")
    async def ready(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks = {"database": False, "kafka": False}
        if runtime is not None:
            with contextlib.suppress(Exception):
                checks["database"] = await asyncio.wait_for(runtime.pool.fetchval("SELECT true"), 2.0) is True
            with contextlib.suppress(Exception):
                checks["kafka"] = bool(await runtime.broker.ping(timeout=2.0))
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def main(definition: ServiceDefinition, argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{definition.name}", description=definition.title)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser(
        "serve", help="run the HTTP API, the consumers and the outbox relay (default; or a part: KOTAKU_PROCESS_ROLE)"
    )
    sub.add_parser("migrate", help="apply pending database migrations (prestart step)")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(definition.name, settings.log_level)
    if args.command == "migrate":
        applied = asyncio.run(migrate(settings.database_url.get_secret_value(), definition.name, definition.migrations))
        print(
            f"{definition.name}: {len(applied)} migration(s) applied" + (f": {', '.join(applied)}" if applied else "")
        )
        return
    try:
        check_settings(definition, settings)
    except UnusableSettings as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    uvicorn.run(
        create_app(definition, settings),
        host=settings.http_host,
        port=settings.http_port or definition.default_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
