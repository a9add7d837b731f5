"""The per-client rate limit of requests without a credential, against a running service
(reporting, whose reports are public): 429 with Retry-After and the error body once the budget is
spent, exports costing more, credentials and the operations routes never limited, the refusals
counted, and service again after Retry-After."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.integration.conftest import Stack, metric_value

pytestmark = pytest.mark.real

NATIONAL = "/api/v1/reports/national"


async def test_anonymous_requests_beyond_the_budget_get_429_with_retry_after(stack: Stack) -> None:
    stack.start(
        "reporting",
        KOTAKU_RATE_LIMIT_PER_SECOND="0.5",
        KOTAKU_RATE_LIMIT_BURST="4",
        KOTAKU_RATE_LIMIT_EXPORT_COST="3",
    )
    async with httpx.AsyncClient(timeout=30, base_url=stack.url("reporting")) as http:
        assert (await http.get(NATIONAL, params={"format": "xlsx"})).status_code == 200  # 3 of the 4 tokens
        assert (await http.get(NATIONAL)).status_code == 200  # the last one
        refused = await http.get(NATIONAL)
        assert refused.status_code == 429
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 2  # one token comes in 2 s at 0.5 a second
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert refused.json()["error"]["details"] == {"retry_after_seconds": retry_after}
        assert (await http.get(NATIONAL, params={"format": "csv"})).status_code == 429
        assert (await http.get("/")).status_code == 429  # the dashboard shares the budget
        bad = {"Authorization": "Bearer kt_000000000000_not-a-real-secret"}
        assert (await http.get(NATIONAL, headers=bad)).status_code == 429  # an invalid credential is anonymous

        # a valid credential is not limited
        for _ in range(6):
            assert (await http.get(NATIONAL, headers=stack.auth("oc02"))).status_code == 200
            r = await http.get(NATIONAL, params={"format": "xlsx"}, headers=stack.auth("national"))
            assert r.status_code == 200
        # the operations routes are never limited
        for path in ("/health", "/ready", "/metrics") * 3:
            assert (await http.get(path)).status_code == 200, path
        metrics = (await http.get("/metrics")).text
        assert metric_value(metrics, "kotaku_http_rate_limited_total", service="reporting") == 4

        await asyncio.sleep(retry_after + 0.1)
        assert (await http.get(NATIONAL)).status_code == 200
