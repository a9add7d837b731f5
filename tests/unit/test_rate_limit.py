"""The per-client rate limit of anonymous requests (shared/kernel/ratelimit.py): the token bucket
on a fake clock, the cost of exports, and the middleware's answers."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Scope

from services.reporting.app import DEFINITION as REPORTING
from shared.bootstrap.service import create_app
from shared.kernel.http import install_error_handlers
from shared.kernel.ratelimit import RateLimitMiddleware, TokenBuckets, client_of, export_cost
from shared.kernel.settings import load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_through_then_refills_at_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 0.5  # one token comes in half a second
    assert buckets.take("a") == 0.5  # a refused request takes nothing
    clock.now += 0.25
    assert buckets.take("a") == 0.25
    clock.now += 0.25
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == 0.5
    clock.now += 3600  # a long pause refills to the burst, not beyond
    assert [buckets.take("a") for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_each_client_has_its_own_bucket_and_a_cost_above_the_burst_costs_the_burst() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1, burst=3, clock=clock)
    assert buckets.take("a", 3) == 0.0
    assert buckets.take("a") == 1.0
    assert buckets.take("b", 2) == 0.0
    assert buckets.take("b", 2) == 1.0  # one token left, two wanted
    assert buckets.take("c", 50) == 0.0  # never unpayable: it costs the whole burst
    assert buckets.take("c", 50) == 3.0


def test_the_buckets_kept_are_bounded_and_the_least_recently_used_goes_first() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1, burst=1, max_clients=2, clock=clock)
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")  # refused, but used: b is now the oldest
    buckets.take("c")
    assert len(buckets) == 2
    assert buckets.take("a") > 0  # still limited: its bucket was kept
    assert buckets.take("b") == 0.0  # forgotten, so a full bucket again


def test_a_rate_of_zero_is_no_bucket() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBuckets(rate=0, burst=10)


@pytest.mark.parametrize(
    ("query", "cost"),
    [(b"", 1.0), (b"format=json", 1.0), (b"format=csv&table=x", 5.0), (b"period=2016&format=XLSX", 5.0)],
)
def test_an_export_costs_more_than_a_json_answer(query: bytes, cost: float) -> None:
    scope: Scope = {"type": "http", "query_string": query}
    assert export_cost(5)(scope) == cost


def test_the_client_is_the_connection_peer() -> None:
    assert client_of({"type": "http", "client": ("10.0.0.7", 51234)}) == "10.0.0.7"
    assert client_of({"type": "http", "client": None}) == "unknown"


def limited_app(refusals: list[int]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/report")
    async def report() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(
        RateLimitMiddleware,
        buckets=TokenBuckets(rate=0.5, burst=2, clock=Clock()),  # time stands still
        authenticated=lambda scope: (b"authorization", b"Bearer good") in scope["headers"],
        cost=export_cost(2),
        refused=lambda: refusals.append(1),
    )
    return app


async def test_the_middleware_answers_429_with_retry_after_and_the_error_body() -> None:
    refusals: list[int] = []
    transport = httpx.ASGITransport(app=limited_app(refusals))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert [(await http.get("/report")).status_code for _ in range(2)] == [200, 200]
        refused = await http.get("/report")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "2"  # one token at 0.5 a second
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert refused.json()["error"]["details"] == {"retry_after_seconds": 2}
        # a valid credential is not limited, nor are the operations routes
        assert (await http.get("/report", headers={"Authorization": "Bearer good"})).status_code == 200
        assert (await http.get("/health")).status_code == 200
        # an invalid credential is anonymous
        assert (await http.get("/report", headers={"Authorization": "Bearer bad"})).status_code == 429
    assert len(refusals) == 2


def test_every_service_installs_the_limit_unless_its_rate_is_zero() -> None:
    def middleware(**settings: object) -> list[str]:
        app = create_app(REPORTING, load_settings(database_url="postgresql://nobody@127.0.0.1:1/x", **settings))
        return [m.cls.__name__ for m in app.user_middleware]  # type: ignore[attr-defined]

    assert middleware()[0] == "RateLimitMiddleware"  # outermost: a refusal costs next to nothing
    assert "RateLimitMiddleware" not in middleware(rate_limit_per_second=0)
    defaults = load_settings(database_url="postgresql://nobody@127.0.0.1:1/x")
    assert (defaults.rate_limit_per_second, defaults.rate_limit_burst, defaults.rate_limit_export_cost) == (20, 100, 5)
