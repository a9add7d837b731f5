"""Every query and path parameter of the reporting API and dashboard, against a running service:
a value the reports cannot use is a 422 naming the field, never a 500."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.real

# Every route that takes the period filter: the JSON API and the dashboard pages.
FILTERED = (
    "/api/v1/reports/national",
    "/api/v1/reports/regions/oc02",
    "/api/v1/reports/provinces/16",
    "/api/v1/reports/kabkota/16.71",
    "/",
    "/regions/oc02",
    "/provinces/16",
    "/kabkota/16.71",
)
# Arabic-Indic digits: a regular expression's \d matches them, a period or a code never has them.
ARABIC_2016 = "\u0662\u0660\u0661\u0666"
ARABIC_16 = "\u0661\u0666"
ARABIC_1671 = "\u0661\u0666.\u0667\u0661"
ARABIC_OC02 = "oc\u0660\u0662"
BAD_PERIODS = ("0000", "9999", "1999", "2101", "0000-01", "9999-12", "2016-13", "2016-1", ARABIC_2016, "16", "A" * 3000)
GOOD_PERIODS = ("2000", "2100-12", "2016-07")


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) <= {"code", "message", "details"}, body
    return str(body["error"]["code"])


async def test_a_period_the_reports_cannot_select_is_a_422_naming_the_field(stack: Stack) -> None:
    stack.start("reporting", KOTAKU_RATE_LIMIT_PER_SECOND="0")  # over a hundred anonymous requests at once
    async with httpx.AsyncClient(timeout=30, base_url=stack.url("reporting")) as http:
        for route in FILTERED:
            for period in BAD_PERIODS:
                r = await http.get(route, params={"period": period})
                assert r.status_code == 422, (route, period, r.text[:200])
                assert error_code(r) == "invalid_request"
                assert [d["field"] for d in r.json()["error"]["details"]] == ["query.period"]
            for period in GOOD_PERIODS:
                r = await http.get(route, params={"period": period})
                assert r.status_code == 200, (route, period, r.text[:200])
        r = await http.get("/api/v1/reports/national", params={"period": "0000"})
        assert "2000 to 2100" in r.json()["error"]["details"][0]["message"]
        spec = (await http.get("/openapi.json")).json()
        [period] = [p for p in spec["paths"]["/api/v1/reports/national"]["get"]["parameters"] if p["name"] == "period"]
        assert "from 2000 to 2100" in period["description"]


async def test_no_parameter_of_the_reporting_api_answers_a_500(stack: Stack) -> None:
    stack.start("reporting", KOTAKU_RATE_LIMIT_PER_SECOND="0")  # ~500 anonymous requests; the limit has its own test
    training = uuid.uuid4()
    odd_codes = (ARABIC_16, ARABIC_1671, ARABIC_OC02, "OC02", "oc2", "16.7", "..", "x" * 500, "16%00", "%E2%80%AE16")
    bases = (
        "/api/v1/reports/regions/",
        "/api/v1/reports/provinces/",
        "/api/v1/reports/kabkota/",
        "/api/v1/reports/trainings/",
        "/api/v1/facilitators/",
        "/regions/",
        "/provinces/",
        "/kabkota/",
        "/trainings/",
    )
    requests: list[tuple[str, dict[str, str]]] = []
    for base in bases:
        for code in odd_codes:
            for fmt in ("json", "csv", "xlsx"):
                requests.append((base + code, {"format": fmt}))
    for code in odd_codes:
        requests += [("/api/v1/reports/facilitator-counts", {"region": code})]
        requests += [("/api/v1/reports/facilitator-counts", {"province": code})]
    for route in (*FILTERED, f"/api/v1/reports/trainings/{training}", "/api/v1/reports/facilitator-counts"):
        for query in (
            {"format": "pdf"},
            {"format": "csv", "table": "nope"},
            {"format": "csv", "table": "\u202e" + "x" * 2000},
            {"format": "xlsx", "table": "é"},
            {"role": "boss"},
            {"training_type": "x"},
            {"role": ""},
        ):
            requests.append((route, query))
    for path in ("not-a-uuid", "00000000-0000-0000-0000-00000000000g"):
        requests += [(f"/api/v1/reports/trainings/{path}", {}), (f"/api/v1/facilitators/{path}/history", {})]

    failures = []
    async with httpx.AsyncClient(timeout=30, base_url=stack.url("reporting")) as http:
        for path, params in requests:
            r = await http.get(path, params=params)
            if r.status_code >= 500 or (r.status_code >= 400 and not error_code(r)):
                failures.append((path[:60], params, r.status_code, r.text[:120]))
            elif r.status_code < 300 and "content-disposition" in r.headers:
                # an export's file name is plain ASCII whatever the request named
                disposition = r.headers["content-disposition"]
                assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+"', disposition), disposition
        assert failures == []
        # codes in other scripts' digits are refused, naming the field
        r = await http.get(f"/api/v1/reports/provinces/{ARABIC_16}", params={"format": "csv"})
        assert (r.status_code, error_code(r)) == (422, "invalid_request")
        assert [d["field"] for d in r.json()["error"]["details"]] == ["path.code"]
        r = await http.get("/api/v1/reports/facilitator-counts", params={"region": ARABIC_OC02})
        assert (r.status_code, [d["field"] for d in r.json()["error"]["details"]]) == (422, ["query.region"])
        # and the ordinary exports still are files with their names
        r = await http.get("/api/v1/reports/kabkota/16.71", params={"format": "csv", "table": "trainings"})
        assert r.status_code == 200
        assert r.headers["content-disposition"].startswith('attachment; filename="kotaku-kabkota-16.71-trainings-')
