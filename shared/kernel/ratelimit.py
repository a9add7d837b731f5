"""A rate limit of unauthenticated HTTP requests: one token bucket per client address.

Reports, dashboard pages and exports can be read without a credential, and a service answers them
on the same event loop as its consumers and its outbox relay; so anonymous traffic gets a budget
per client. Each client address has a bucket of ``burst`` tokens, refilled at ``rate`` tokens a
second; a request takes one token (an export, ``format=csv`` or ``format=xlsx``, takes
``export_cost``), and a request the bucket cannot pay for is answered at once with 429
``too_many_requests`` and ``Retry-After`` (seconds until it could be paid), before any work.

Not limited: requests that carry a valid credential (they are accountable, and the services' own
clients send one), and the operations routes ``/health``, ``/ready`` and ``/metrics``. A request
with an invalid credential counts as anonymous. The client address is the connection's peer as
the server sees it (behind a proxy, the proxy's, unless the server is told to trust its
``X-Forwarded-For``: uvicorn's ``FORWARDED_ALLOW_IPS``). Installed by shared.bootstrap.service for
every service; settings ``KOTAKU_RATE_LIMIT_PER_SECOND`` (0 turns it off), ``KOTAKU_RATE_LIMIT_BURST``
and ``KOTAKU_RATE_LIMIT_EXPORT_COST``.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.kernel.http import error_body, send_json

EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
EXPORT_FORMATS = frozenset({"csv", "xlsx"})
MAX_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One token bucket per client: ``burst`` tokens at most, refilled at ``rate`` a second. At
    most ``max_clients`` buckets are kept; the one used longest ago goes first (it is the fullest
    anyway, and a client seen again starts with a full bucket)."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens from ``client``'s bucket: 0.0 when they were there, else the
        seconds until they will be (and nothing is taken). A cost above the burst costs the burst."""
        now = self.clock()
        cost = min(cost, self.burst)
        bucket = self._buckets.pop(client, None)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        self._buckets[client] = bucket  # most recently used last
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate


def export_cost(cost: float) -> Callable[[Scope], float]:
    """What a request costs: ``cost`` for an export (``format=csv`` or ``format=xlsx`` in the
    query), 1 for anything else."""

    def price(scope: Scope) -> float:
        query = scope.get("query_string", b"").decode("latin-1")
        formats = {value.lower() for key, value in parse_qsl(query) if key == "format"}
        return cost if formats & EXPORT_FORMATS else 1.0

    return price


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """ASGI middleware: the rate limit of anonymous requests (see the module's docstring).
    ``authenticated`` tells whether a request carries a valid credential; ``refused`` is called
    for every 429 (a metric)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: TokenBuckets,
        authenticated: Callable[[Scope], bool],
        cost: Callable[[Scope], float] = lambda _: 1.0,
        refused: Callable[[], None] = lambda: None,
        exempt: frozenset[str] = EXEMPT_PATHS,
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.authenticated = authenticated
        self.cost = cost
        self.refused = refused
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt or self.authenticated(scope):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_of(scope), self.cost(scope))
        if not wait:
            await self.app(scope, receive, send)
            return
        self.refused()
        retry_after = max(1, math.ceil(wait))
        body = error_body(
            "too_many_requests",
            f"too many requests without a credential from this address; retry in {retry_after} s, or send a credential",
            {"retry_after_seconds": retry_after},
        )
        await send_json(send, 429, body, headers={"Retry-After": str(retry_after)})
