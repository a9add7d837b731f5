"""OJT coverage on the real stack: per kota/kabupaten, which kelurahan of the reference data had
OJT and which never did, in the province and kota/kabupaten reports, their CSV and the page."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import OJTAssigned, OJTCompleted, OrgUnitDefined, OrgUnitLevel
from shared.kernel.envelope import Event, EventPayload, new_event
from tests.integration.conftest import REGION, Stack, eventually, publish
from tests.integration.test_training_helpers import enrollment

pytestmark = pytest.mark.real

KELURAHAN = {"16.71.01.1001": "35 Ilir", "16.71.01.1002": "32 Ilir", "16.71.01.1003": "30 Ilir"}
ELSEWHERE = "16.72.01.1001"  # a kelurahan of another kota (Prabumulih)


def ev(payload: EventPayload) -> Event[Any]:
    return new_event(payload, region=REGION, source="test", occurred_at=datetime(2016, 8, 5, tzinfo=UTC))


async def test_the_coverage_names_the_kelurahan_that_had_ojt_and_those_that_never_did(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    rep = stack.start("reporting").url
    units = [
        ev(
            OrgUnitDefined(
                code=code,
                level=OrgUnitLevel.KELURAHAN,
                name=name,
                parent_code=code[:8],
                effective_from=date(2015, 1, 1),
            )
        )
        for code, name in {**KELURAHAN, ELSEWHERE: "Gunung Ibul"}.items()
    ]
    tid, p1, p2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    facts: list[Event[Any]] = []
    for fid in (p1, p2):
        facts.append(ev(enrollment(tid, fid)))
    facts += [
        ev(OJTAssigned(training_id=tid, facilitator_id=p1, kelurahan_code="16.71.01.1001", mentor="Tim Korkot")),
        ev(OJTCompleted(training_id=tid, facilitator_id=p1, kelurahan_code="16.71.01.1001", rating=4)),
        ev(OJTAssigned(training_id=tid, facilitator_id=p2, kelurahan_code=ELSEWHERE, mentor="Tim Korkot")),
    ]
    await publish(producer, stack, units + facts)

    async with httpx.AsyncClient(base_url=rep, timeout=10) as http:

        async def kabkota() -> dict[str, Any] | None:
            r = await http.get("/api/v1/reports/kabkota/16.71")
            body = r.json() if r.status_code == 200 else None
            return body if body and body["kelurahan_total"] == 3 and body["kelurahan_with_ojt"] == 1 else None

        report = await eventually(kabkota, within=30)
        rows = {c["code"]: c for c in report["ojt_coverage"]}
        assert set(rows) == set(KELURAHAN)
        assert (rows["16.71.01.1001"]["with_ojt"], rows["16.71.01.1001"]["ojt_completed"]) == (1, 1)
        assert [c["name"] for c in report["ojt_coverage"] if c["never"] == 1] == ["32 Ilir", "30 Ilir"]

        province = (await http.get("/api/v1/reports/provinces/16")).json()
        by_kabkota = {c["code"]: (c["kelurahan"], c["with_ojt"], c["never"]) for c in province["ojt_coverage"]}
        assert by_kabkota == {"16.71": (3, 1, 2), "16.72": (1, 1, 0)}
        assert (province["kelurahan_total"], province["kelurahan_with_ojt"]) == (4, 2)

        r = await http.get(
            "/api/v1/reports/kabkota/16.71",
            params={"format": "csv", "table": "ojt_coverage", "lang": "en"},
        )
        assert r.status_code == 200, r.text
        table = list(csv.reader(io.StringIO(r.text)))
        assert table[0][:4] == ["Code", "Name", "Kelurahan", "With OJT"]
        assert len(table) == 1 + 3
        page = await http.get("/kabkota/16.71", headers={"Accept-Language": "id"})
        assert page.status_code == 200
        assert "Cakupan OJT per kelurahan: 1 dari 3" in page.text
        assert "chart-coverage" in page.text
