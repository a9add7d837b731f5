"""HTTP entrypoints of the reporting service (``/api/v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from shared.service import Runtime, runtime_of
from shared.validation import ProvinceCode, RegionCode

router = APIRouter(prefix="/api/v1", tags=["reports"])
RuntimeDep = Annotated[Runtime, Depends(runtime_of)]

COUNTS_BY_AREA = """
SELECT region, province_code, sum(registered)::bigint AS facilitators
FROM facilitator_totals
WHERE ($1::text IS NULL OR region = $1) AND ($2::text IS NULL OR province_code = $2)
GROUP BY region, province_code
ORDER BY region, province_code
"""
FRESHNESS = "SELECT max(last_event_at) AS last_event_at, max(last_applied_at) AS last_applied_at FROM region_freshness"


class AreaCount(BaseModel):
    region: str
    province_code: str
    facilitators: int


class FacilitatorCounts(BaseModel):
    total: int
    rows: list[AreaCount]
    data_as_of: datetime | None
    last_event_at: datetime | None


@router.get(
    "/reports/facilitator-counts",
    response_model=FacilitatorCounts,
    summary="Registered facilitators per region and province",
)
async def facilitator_counts(
    runtime: RuntimeDep,
    region: Annotated[RegionCode | None, Query()] = None,
    province: Annotated[ProvinceCode | None, Query()] = None,
) -> FacilitatorCounts:
    rows = [AreaCount.model_validate(dict(r)) for r in await runtime.pool.fetch(COUNTS_BY_AREA, region, province)]
    fresh = await runtime.pool.fetchrow(FRESHNESS)
    return FacilitatorCounts(
        total=sum(r.facilitators for r in rows),
        rows=rows,
        data_as_of=fresh["last_applied_at"] if fresh else None,
        last_event_at=fresh["last_event_at"] if fresh else None,
    )
