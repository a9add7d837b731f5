"""Reporting follows the decisions made after a training's close: an open review is counted in the
training's and the region's reports, and an officer's re-decision (TrainingOutcomeCorrected with
CertificateRevoked) moves the counts, whatever order the events arrive in."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import (
    CertificateIssued,
    CertificateRevoked,
    OJTCompleted,
    OutcomeReviewChanged,
    ReviewStatus,
    Role,
    Session,
    SessionKind,
    TrainingCompleted,
    TrainingOutcomeCorrected,
    TrainingScheduled,
    TrainingType,
)
from shared.kernel.envelope import Event, EventPayload, new_event
from tests.integration.conftest import REGION, Stack, eventually, publish
from tests.integration.test_training_helpers import enrollment

pytestmark = pytest.mark.real

CLOSE = datetime(2016, 8, 8, 10, tzinfo=UTC)


def at(payload: EventPayload, when: datetime) -> Event[Any]:
    return new_event(payload, region=REGION, source="kotaku.training", occurred_at=when)


async def test_reviews_and_re_decisions_move_the_reported_counts(stack: Stack, producer: AIOKafkaProducer) -> None:
    rep = stack.start("reporting").url
    tid, p1, p2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    day = date(2016, 7, 31)
    setup: list[Event[Any]] = [
        at(
            TrainingScheduled(
                training_id=tid,
                training_type=TrainingType.BASIC,
                title="Pelatihan Dasar Fasilitator",
                organiser="OC 02",
                venue="Palembang",
                start_date=day,
                end_date=day,
                capacity=10,
                eligible_roles=[Role.FASILITATOR],
                sessions=[Session(session_id="s1", date=day, kind=SessionKind.CLASSROOM)],
            ),
            CLOSE - timedelta(days=20),
        )
    ]
    for fid in (p1, p2):
        setup += [
            at(
                enrollment(tid, fid),
                CLOSE - timedelta(days=10),
            ),
            at(TrainingCompleted(training_id=tid, facilitator_id=fid, attendance_ratio=1.0), CLOSE),
            at(CertificateIssued(training_id=tid, facilitator_id=fid, certificate_code=f"KTK-{fid.hex[:8]}"), CLOSE),
        ]
    review = uuid.uuid4()
    opened = at(
        OutcomeReviewChanged(
            training_id=tid,
            facilitator_id=p1,
            review_id=review,
            status=ReviewStatus.OPEN,
            decided_outcome="completed",
            outcome_now="not_completed",
            unmet_now=["attendance_below_minimum"],
        ),
        CLOSE + timedelta(days=2),
    )
    redecided_at = CLOSE + timedelta(days=3)
    redecision = [
        at(
            TrainingOutcomeCorrected(
                training_id=tid,
                facilitator_id=p1,
                previous_outcome="completed",
                outcome="not_completed",
                unmet=["attendance_below_minimum"],
                attendance_ratio=0.0,
                reason="Absen, dikoreksi",
                corrected_by="officer oc02",
            ),
            redecided_at,
        ),
        at(
            CertificateRevoked(
                training_id=tid, facilitator_id=p1, certificate_code=f"KTK-{p1.hex[:8]}", reason="Absen, dikoreksi"
            ),
            redecided_at,
        ),
        at(
            OutcomeReviewChanged(
                training_id=tid,
                facilitator_id=p1,
                review_id=review,
                status=ReviewStatus.RESOLVED,
                decided_outcome="completed",
                outcome_now="not_completed",
            ),
            redecided_at,
        ),
    ]

    async with httpx.AsyncClient(base_url=rep, timeout=10) as http:

        async def counts(expected: tuple[int, int, int, int]) -> dict[str, Any] | None:
            r = await http.get(f"/api/v1/reports/trainings/{tid}")
            if r.status_code != 200:
                return None
            t = r.json()["training"]
            now = (t["completed"], t["not_completed"], t["certified"], t["reviews_open"])
            return t if now == expected else None

        await publish(producer, stack, setup)
        await eventually(lambda: counts((2, 0, 2, 0)), within=30)
        await publish(producer, stack, [opened])
        await eventually(lambda: counts((2, 0, 2, 1)), within=30)
        region = (await http.get(f"/api/v1/reports/regions/{REGION}")).json()
        [row] = [t for t in region["trainings"] if t["training_id"] == str(tid)]
        assert row["reviews_open"] == 1
        # the re-decision's events, in reverse order: versions, not arrival, decide
        await publish(producer, stack, list(reversed(redecision)))
        await eventually(lambda: counts((1, 1, 1, 0)), within=30)
        region = (await http.get(f"/api/v1/reports/regions/{REGION}")).json()
        [row] = [t for t in region["trainings"] if t["training_id"] == str(tid)]
        assert (row["completed"], row["not_completed"], row["certified"], row["reviews_open"]) == (1, 1, 1, 0)
        # a stale "open" (dated before the resolution) arriving late does not reopen the review;
        # an OJT completion sent after it on the same partition shows it was applied
        stale = at(opened.payload, CLOSE + timedelta(days=2, hours=1))
        marker = at(OJTCompleted(training_id=tid, facilitator_id=p2, kelurahan_code="16.71.01.1001", rating=4), CLOSE)
        await publish(producer, stack, [stale, marker])

        async def marked() -> dict[str, Any] | None:
            t = (await http.get(f"/api/v1/reports/trainings/{tid}")).json()["training"]
            return t if t["ojt_completed"] == 1 else None

        t = await eventually(marked, within=30)
        assert (t["completed"], t["not_completed"], t["certified"], t["reviews_open"]) == (1, 1, 1, 0)
