"""Clients that behave like real ones under faults: an HTTP client that retries a command until it
gets an answer (remembering when an earlier attempt may have taken effect), and a Kafka producer
(acks=all, idempotent) that sends an intake message again until the broker acknowledges it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class Answer:
    """The final answer to one command: ``status`` None when no answer came before the deadline.
    ``uncertain`` says that an earlier attempt may have taken effect (the connection broke after
    the request was sent, or the service answered 5xx)."""

    status: int | None
    body: Any
    attempts: int
    uncertain: bool

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code = self.body["error"].get("code")
            return str(code) if code is not None else None
        return None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Http:
    """Retries connection errors and 429/5xx with backoff (and ``Retry-After``); also retries the
    4xx codes a caller names ("send again later", e.g. ``training_unknown``) until the deadline."""

    def __init__(self, deadline: float, concurrency: int = 12) -> None:
        self.deadline = deadline
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
        self.limit = asyncio.Semaphore(concurrency)
        self.seen: Counter[str] = Counter()  # what the clients met: "503", "connection error", ...

    async def close(self) -> None:
        await self.client.aclose()

    async def call(
        self,
        method: str,
        url: str,
        token: str | None,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        retry_codes: frozenset[str] = frozenset(),
        deadline: float | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        stop = time.monotonic() + (deadline if deadline is not None else self.deadline)
        attempts, uncertain, delay = 0, False, 0.2
        while True:
            attempts += 1
            wait = delay
            try:
                async with self.limit:
                    r = await self.client.request(method, url, json=json, params=params, headers=headers)
            except httpx.ConnectError:
                self.seen["connection refused"] += 1  # nothing was sent
            except httpx.TransportError:
                self.seen["connection lost or timed out"] += 1
                uncertain = True
            else:
                body: Any = None
                with contextlib.suppress(ValueError):
                    body = r.json()
                answer = Answer(r.status_code, body, attempts, uncertain)
                if r.status_code in RETRY_STATUSES:
                    self.seen[str(r.status_code)] += 1
                    uncertain = uncertain or r.status_code != 429
                    with contextlib.suppress(ValueError):
                        wait = max(wait, min(float(r.headers.get("retry-after", 0)), 5.0))
                elif answer.code in retry_codes:
                    self.seen[f"{answer.code} (retried)"] += 1
                else:
                    return answer
            if time.monotonic() + wait > stop:
                return Answer(None, None, attempts, uncertain)
            await asyncio.sleep(wait)
            delay = min(delay * 1.6, 2.0)

    async def get_json(self, url: str, token: str | None = None, params: dict[str, str] | None = None) -> Any:
        """One attempt of a read; None when it fails (the caller polls)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            r = await self.client.get(url, params=params, headers=headers, timeout=20.0)
        except httpx.HTTPError:
            return None
        if r.status_code != 200:
            return None
        try:
            return r.json()
        except ValueError:
            return None


class Producer:
    """One idempotent acks=all producer shared by the workload. A send that fails (e.g. while the
    broker is down) is repeated with the same bytes until acknowledged or the deadline passes; the
    producer is rebuilt after a failure, so a repeat may put a second copy on the topic, which is
    what a real sender does and what message_id deduplication is for."""

    def __init__(self, bootstrap: str, deadline: float) -> None:
        self.bootstrap = bootstrap
        self.deadline = deadline
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.repeats = 0

    async def _get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    request_timeout_ms=15000,
                    max_request_size=1_048_576,
                )
                try:
                    await producer.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def _drop(self, producer: Any) -> None:
        async with self._lock:
            current = self._producer is producer
            if current:
                self._producer = None
        if current:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def send(self, topic: str, value: bytes, key: bytes) -> bool:
        stop = time.monotonic() + self.deadline
        tried = False
        while True:
            producer: AIOKafkaProducer | None = None
            try:
                producer = await self._get()
                self.repeats += tried
                tried = True
                await producer.send_and_wait(topic, value, key=key)
                return True
            except (TimeoutError, KafkaError, OSError):
                if producer is not None:
                    await self._drop(producer)
            if time.monotonic() > stop:
                return False
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
