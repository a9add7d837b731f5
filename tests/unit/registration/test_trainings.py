"""The contract of the trainings port (what registration learns from the training service), as the
in-memory repository keeps it; the SQL statements are covered by the real-stack tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from services.registration.usecases.trainings import LearnEnd, LearnSchedule, learn_end, learn_schedule
from tests.unit.registration.fakes import MemoryStore


def schedule(training_id: uuid.UUID, capacity: int, as_of: datetime, training_type: str | None) -> LearnSchedule:
    return LearnSchedule(
        training_id=training_id,
        region="oc02",
        training_type=training_type,
        title="Pelatihan Dasar",
        start_date=date(2016, 8, 1),
        end_date=date(2016, 8, 5),
        capacity=capacity,
        eligible_roles=("fasilitator",),
        as_of=as_of,
    )


async def test_a_schedule_then_an_update_then_a_closure() -> None:
    store = MemoryStore()
    repos = store.reading()
    tid = uuid.uuid4()
    t0 = datetime(2016, 7, 1, tzinfo=UTC)
    await learn_schedule(repos, schedule(tid, 30, t0, "pelatihan_dasar"))
    await learn_schedule(repos, schedule(tid, 40, t0 + timedelta(hours=1), None))
    known = store.state.trainings[tid]
    assert (known.capacity, known.training_type, known.status) == (40, "pelatihan_dasar", "scheduled")

    await learn_schedule(repos, schedule(tid, 10, t0 - timedelta(hours=1), None))  # an older schedule
    assert store.state.trainings[tid].capacity == 40

    await learn_end(repos, LearnEnd(tid, "oc02", "closed"))
    await learn_end(repos, LearnEnd(tid, "oc02", "cancelled"))
    assert store.state.trainings[tid].status == "closed"


async def test_a_cancellation_before_the_schedule_is_kept() -> None:
    store = MemoryStore()
    repos = store.reading()
    tid = uuid.uuid4()
    await learn_end(repos, LearnEnd(tid, "oc02", "cancelled"))
    await learn_schedule(repos, schedule(tid, 30, datetime(2016, 7, 1, tzinfo=UTC), "pelatihan_dasar"))
    assert (store.state.trainings[tid].status, store.state.trainings[tid].capacity) == ("cancelled", 30)
