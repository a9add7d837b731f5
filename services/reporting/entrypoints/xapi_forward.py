"""The xAPI forwarder: ``python -m services.reporting xapi-forward`` posts the statements of the
national topic ``national.xapi.statements.v1`` to a Learning Record Store (docs/xapi.md).

It reads the topic in the consumer group ``<prefix>reporting.xapi-forward`` and, per batch, POSTs
the statements as one JSON array to ``<KOTAKU_XAPI_LRS_URL>/statements`` (Basic auth,
``X-Experience-API-Version: 1.0.3``). Offsets are committed only once every statement of the batch
was stored by the LRS or dead-lettered: at least once. A statement sent twice is harmless, its id
being derived from the fact: the LRS answers that it has it already (xAPI: same id, same content).

- 200/204: delivered (200 lists the ids stored now; the others were stored before).
- 400, 409, 413, 422: the LRS refuses something in the batch; the batch is split in halves until
  the refused statements stand alone, and each goes to ``national.xapi.statements.v1.dlq`` with
  the LRS's status and answer in ``x-dlq-reason`` (``lrs_refused``, or ``lrs_conflict`` for a 409:
  the LRS holds a different statement under that id) and ``x-dlq-detail``.
- anything else (5xx, 429, 401/403/404, timeouts, connection errors): the same batch is posted
  again after a pause that doubles up to ``KOTAKU_XAPI_MAX_BACKOFF_SECONDS``, for as long as it
  takes; nothing is committed meanwhile.

A record that is not a readable statement event is dead-lettered with the reason of the shared
decoder. The process answers ``/health``, ``/ready`` and ``/metrics`` (forwarded, refused, retries,
lag) on ``KOTAKU_HTTP_PORT`` (default 8004).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.kernel import kafka as kafka_clients
from shared.kernel.consumer import KafkaDeadLetters, dead_letter_headers, next_offsets
from shared.kernel.envelope import RejectedMessage, decode_event
from shared.kernel.logs import configure_logging
from shared.kernel.metrics import Metrics
from shared.kernel.settings import Settings, load_settings
from shared.kernel.topics import NATIONAL, XAPI_STATEMENTS

log = logging.getLogger(__name__)

NAME = "reporting.xapi-forward"
DEFAULT_PORT = 8004
XAPI_VERSION = "1.0.3"
REFUSED = frozenset({400, 409, 413, 422})
Record: TypeAlias = ConsumerRecord[bytes, bytes]


class LrsUnavailable(Exception):
    """The LRS did not take the batch for a reason that is not the batch's: try it again later."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(f"{cause}: {detail}")
        self.cause = cause
        self.detail = detail


@dataclass(frozen=True)
class Refusal:
    record: Record
    reason: str
    detail: str


@dataclass
class Delivery:
    """What became of a batch: how many statements the LRS stored now or had already, and the refusals."""

    stored: int = 0
    already_stored: int = 0
    refused: list[Refusal] = field(default_factory=list)


class Lrs:
    """The statements resource of one LRS."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = settings.xapi_lrs_url.rstrip("/") + "/statements"
        self.client = httpx.AsyncClient(
            auth=httpx.BasicAuth(settings.xapi_lrs_username, settings.xapi_lrs_password.get_secret_value()),
            headers={"X-Experience-API-Version": XAPI_VERSION},
            timeout=settings.xapi_timeout_seconds,
            transport=transport,
        )

    async def post(self, statements: Sequence[dict[str, Any]]) -> httpx.Response:
        try:
            return await self.client.post(self.url, json=list(statements))
        except httpx.HTTPError as exc:
            raise LrsUnavailable("connection", repr(exc)[:500]) from exc

    async def close(self) -> None:
        await self.client.aclose()


def _answer(response: httpx.Response) -> str:
    """The LRS's reason, as it gave it (JSON ``detail`` when there is one)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:1900]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return text[:1900]


async def deliver(lrs: Lrs, items: Sequence[tuple[Record, dict[str, Any]]]) -> Delivery:
    """Post ``items`` (distinct statement ids); split a refused batch to find what the LRS refuses.
    Raises :class:`LrsUnavailable` when the LRS cannot take them now."""
    out = Delivery()
    if not items:
        return out
    response = await lrs.post([statement for _, statement in items])
    status = response.status_code
    if status in (200, 204):
        stored = len(response.json()) if status == 200 and response.content else 0
        out.stored += stored
        out.already_stored += len(items) - stored
        return out
    if status in REFUSED:
        if len(items) == 1:
            reason = "lrs_conflict" if status == 409 else "lrs_refused"
            out.refused.append(Refusal(items[0][0], reason, f"HTTP {status}: {_answer(response)}"))
            return out
        half = len(items) // 2
        for part in (items[:half], items[half:]):
            found = await deliver(lrs, part)
            out.stored += found.stored
            out.already_stored += found.already_stored
            out.refused += found.refused
        return out
    raise LrsUnavailable(str(status), _answer(response))


def read_batch(records: Sequence[Record]) -> tuple[list[tuple[Record, dict[str, Any]]], list[Refusal]]:
    """The statements of ``records`` (the first of each id; a repeat is the same statement) and
    the records that are not statement events."""
    statements: dict[str, tuple[Record, dict[str, Any]]] = {}
    unreadable: list[Refusal] = []
    for record in records:
        try:
            event = decode_event(record.value)
        except RejectedMessage as exc:
            unreadable.append(Refusal(record, exc.reason, exc.detail))
            continue
        statement = event.envelope.payload.get("statement")
        if event.envelope.event_type != "XapiStatementRecorded" or not isinstance(statement, dict):
            unreadable.append(Refusal(record, "not_a_statement", f"{event.envelope.event_type} carries no statement"))
            continue
        statements.setdefault(str(statement["id"]), (record, statement))
    return list(statements.values()), unreadable


class Forwarder:
    def __init__(self, settings: Settings, metrics: Metrics, lrs: Lrs) -> None:
        self.settings = settings
        self.metrics = metrics
        self.lrs = lrs
        self.topic = XAPI_STATEMENTS.topic(NATIONAL, settings.topic_prefix)
        self.group = f"{settings.topic_prefix}{NAME}"
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.dead_letters: KafkaDeadLetters | None = None
        self.started = False
        self._lag_at = 0.0

    async def start(self) -> None:
        """Connect (inside the event loop: aiokafka clients belong to the loop they are made in)."""
        self.producer = kafka_clients.reliable_producer(self.settings, "kotaku-xapi-forward-dlq")
        self.consumer = kafka_clients.consumer(
            self.settings,
            self.topic,
            client_id="kotaku-xapi-forward",
            group_id=self.group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_poll_records=self.settings.xapi_batch_size,
        )
        self.dead_letters = KafkaDeadLetters(self.producer)
        await self.producer.start()
        await self.consumer.start()
        self.started = True
        log.info("xAPI forwarder started", extra={"topic": self.topic, "group": self.group, "lrs": self.lrs.url})

    async def stop(self) -> None:
        self.started = False
        for client in (self.consumer, self.producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        await self.lrs.close()

    async def run(self) -> None:
        assert self.consumer is not None, "start() first"
        while True:
            batches = await self.consumer.getmany(timeout_ms=500, max_records=self.settings.xapi_batch_size)
            records = [r for part in batches.values() for r in part]
            if records:
                await self.forward(records)
            await self._measure_lag()

    async def forward(self, records: Sequence[Record]) -> None:
        """Deliver or dead-letter every record, then commit past them."""
        assert self.consumer is not None, "start() first"
        assert self.dead_letters is not None, "start() first"
        items, refused = read_batch(records)
        backoff = self.settings.retry_backoff_seconds
        while True:
            try:
                delivery = await deliver(self.lrs, items)
                break
            except LrsUnavailable as exc:
                self.metrics.xapi_retries.labels(self.metrics.service, exc.cause).inc()
                log.warning(
                    "the LRS did not take a batch; posting it again later",
                    extra={"cause": exc.cause, "detail": exc.detail[:300], "statements": len(items), "pause": backoff},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.xapi_max_backoff_seconds)
        for refusal in [*refused, *delivery.refused]:
            await self.dead_letters.send(
                refusal.record, dead_letter_headers(refusal.record, refusal.reason, refusal.detail, NAME)
            )
            self.metrics.xapi_refused.labels(self.metrics.service, refusal.reason).inc()
            log.warning(
                "statement dead-lettered",
                extra={"reason": refusal.reason, "detail": refusal.detail[:300], "offset": refusal.record.offset},
            )
        self.metrics.xapi_forwarded.labels(self.metrics.service, "stored").inc(delivery.stored)
        self.metrics.xapi_forwarded.labels(self.metrics.service, "already_stored").inc(delivery.already_stored)
        try:
            await self.consumer.commit(next_offsets(records))
        except Exception as exc:
            # Delivered all the same: the records come again and the LRS has them already.
            log.warning("offset commit failed; the batch will be posted again", extra={"error": repr(exc)})

    async def _measure_lag(self, every: float = 5.0) -> None:
        if self.consumer is None or time.monotonic() - self._lag_at < every:
            return
        self._lag_at = time.monotonic()
        assigned = list(self.consumer.assignment())
        if not assigned:
            return
        try:
            ends = await self.consumer.end_offsets(assigned)
            lag = 0
            for tp in assigned:
                lag += max(0, ends[tp] - await self.consumer.position(tp))
        except Exception as exc:
            log.info("could not measure the forwarder's lag", extra={"error": repr(exc)})
            return
        self.metrics.xapi_lag.labels(self.metrics.service).set(lag)


def create_app(settings: Settings, lrs: Lrs | None = None) -> FastAPI:
    metrics = Metrics("reporting")
    forwarder = Forwarder(settings, metrics, lrs or Lrs(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await forwarder.start()
        task = asyncio.create_task(forwarder.run(), name="xapi-forward")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await forwarder.stop()

    app = FastAPI(title="KOTAKU Ops: xAPI forwarder", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        ok = forwarder.started
        return JSONResponse({"status": "ready" if ok else "not_ready"}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.reporting xapi-forward",
        description="Post the statements of the national xAPI topic to the LRS of KOTAKU_XAPI_LRS_URL.",
    )
    parser.parse_args(argv)
    settings = load_settings()
    configure_logging("reporting", settings.log_level)
    if not settings.xapi_lrs_url:
        print("reporting xapi-forward cannot start: KOTAKU_XAPI_LRS_URL is not set", file=sys.stderr)
        sys.exit(2)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port or DEFAULT_PORT,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
