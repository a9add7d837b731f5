"""Enrollment use cases on in-memory repositories: capacity, region, eligibility, state, locks."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest

from services.registration.domain.enrollments import Enrollment, KnownTraining
from services.registration.domain.reasons import DeactivationReason, WithdrawalReason
from services.registration.usecases import enrollments, facilitators
from services.registration.usecases.enrollments import Enroll, Withdraw
from shared.kernel.contracts import EnrollmentWithdrawn, FacilitatorEnrolled, Role
from shared.kernel.errors import Conflict, DomainError, Invalid, NotFound
from tests.unit.registration.conftest import SERVED, Refused, allow, refuse, register, training
from tests.unit.registration.fakes import MemoryStore


async def enroll(store: MemoryStore, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> Enrollment:
    async with store.unit_of_work() as uow:
        return await enrollments.enroll_facilitator(
            uow, Enroll(training_id, facilitator_id), served=SERVED, authorize=allow
        )


async def withdraw(
    store: MemoryStore, training_id: uuid.UUID, facilitator_id: uuid.UUID, reason: WithdrawalReason
) -> Enrollment:
    async with store.unit_of_work() as uow:
        return await enrollments.withdraw_enrollment(
            uow, Withdraw(training_id, facilitator_id, reason), served=SERVED, authorize=allow
        )


async def test_enrolling_records_the_enrollment_and_publishes_it_with_the_facilitators_area(
    store: MemoryStore,
) -> None:
    person = await register(store)
    tid = training(store)

    enrollment = await enroll(store, tid, person.facilitator_id)

    assert (enrollment.training_id, enrollment.facilitator_id, enrollment.status) == (
        tid,
        person.facilitator_id,
        "enrolled",
    )
    assert store.state.enrollments[(tid, person.facilitator_id)] == enrollment
    event = store.events[-1]
    assert isinstance(event.payload, FacilitatorEnrolled)
    assert event.payload.enrollment_id == enrollment.enrollment_id
    assert (event.payload.role, event.payload.kabkota_code, event.envelope.region) == (
        Role.FASILITATOR,
        "16.71",
        "oc02",
    )
    assert event.key == str(tid)


async def test_locks_are_taken_facilitator_then_training_then_enrollment(store: MemoryStore) -> None:
    person = await register(store)
    tid = training(store)
    await enroll(store, tid, person.facilitator_id)
    assert store.last is not None
    assert [kind for kind, _ in store.last.locks] == ["facilitator", "training", "enrollment"]


async def test_a_full_training_refuses_the_next_person_and_frees_a_place_on_withdrawal(store: MemoryStore) -> None:
    tid = training(store, capacity=2)
    people = [await register(store, nik=f"167101010190000{i}") for i in range(1, 4)]
    for p in people[:2]:
        await enroll(store, tid, p.facilitator_id)

    with pytest.raises(Conflict) as full:
        await enroll(store, tid, people[2].facilitator_id)
    assert full.value.code == "training_full"
    assert "2 of 2 places taken" in full.value.message

    await withdraw(store, tid, people[0].facilitator_id, WithdrawalReason.REPLACED)
    await enroll(store, tid, people[2].facilitator_id)
    assert sum(e.status == "enrolled" for e in store.state.enrollments.values()) == 2


async def test_a_training_of_another_region_is_a_mismatch(store: MemoryStore) -> None:
    person = await register(store)
    tid = training(store, region="oc01")
    with pytest.raises(Invalid) as refused:
        await enroll(store, tid, person.facilitator_id)
    assert refused.value.code == "training_region_mismatch"
    assert store.state.enrollments == {}


async def test_a_role_the_training_is_not_for_is_not_eligible(store: MemoryStore) -> None:
    person = await register(store, role=Role.KORKOT, speciality=None)
    tid = training(store, roles=("fasilitator",))
    with pytest.raises(Invalid) as refused:
        await enroll(store, tid, person.facilitator_id)
    assert refused.value.code == "role_not_eligible"
    assert refused.value.message.endswith("is for fasilitator, not korkot")


async def test_an_inactive_facilitator_cannot_be_enrolled(store: MemoryStore) -> None:
    person = await register(store)
    async with store.unit_of_work() as uow:
        await facilitators.deactivate_facilitator(
            uow,
            facilitators.Deactivate(person.facilitator_id, DeactivationReason.RESIGNED, date(2016, 10, 1)),
            served=SERVED,
            authorize=allow,
        )
    with pytest.raises(Conflict) as refused:
        await enroll(store, training(store), person.facilitator_id)
    assert (refused.value.code, refused.value.message) == (
        "facilitator_inactive",
        "an inactive facilitator cannot be enrolled",
    )


@pytest.mark.parametrize(("status", "code"), [("cancelled", "training_cancelled"), ("closed", "training_closed")])
async def test_a_training_that_is_not_open_is_refused_with_its_state(
    store: MemoryStore, status: str, code: str
) -> None:
    person = await register(store)
    with pytest.raises(Conflict) as refused:
        await enroll(store, training(store, status=status), person.facilitator_id)
    assert refused.value.code == code


async def test_a_training_known_only_from_its_cancellation_is_refused_as_cancelled(store: MemoryStore) -> None:
    person = await register(store)
    tid = uuid.uuid4()
    store.state.trainings[tid] = KnownTraining(tid, "oc02", "cancelled")
    with pytest.raises(Conflict) as refused:
        await enroll(store, tid, person.facilitator_id)
    assert refused.value.code == "training_cancelled"


async def test_unknown_training_and_unknown_facilitator_are_not_found(store: MemoryStore) -> None:
    person = await register(store)
    with pytest.raises(NotFound) as training_missing:
        await enroll(store, uuid.uuid4(), person.facilitator_id)
    assert training_missing.value.code == "training_unknown"
    with pytest.raises(NotFound) as person_missing:
        await enroll(store, training(store), uuid.uuid4())
    assert person_missing.value.code == "facilitator_not_found"


async def test_enrolling_twice_is_a_conflict_naming_the_enrollment(store: MemoryStore) -> None:
    person = await register(store)
    tid = training(store)
    first = await enroll(store, tid, person.facilitator_id)
    with pytest.raises(Conflict) as refused:
        await enroll(store, tid, person.facilitator_id)
    assert refused.value.code == "already_enrolled"
    assert refused.value.details == {"enrollment_id": str(first.enrollment_id)}


async def test_re_enrolling_after_a_withdrawal_gives_a_new_enrollment_id(store: MemoryStore) -> None:
    person = await register(store)
    tid = training(store)
    first = await enroll(store, tid, person.facilitator_id)
    await withdraw(store, tid, person.facilitator_id, WithdrawalReason.PARTICIPANT_CANCELLED)
    second = await enroll(store, tid, person.facilitator_id)
    assert second.enrollment_id != first.enrollment_id
    assert store.state.enrollments[(tid, person.facilitator_id)].status == "enrolled"
    assert [e.envelope.event_type for e in store.events[1:]] == [
        "FacilitatorEnrolled",
        "EnrollmentWithdrawn",
        "FacilitatorEnrolled",
    ]


async def test_withdrawing_publishes_the_reason_and_returns_the_withdrawn_enrollment(store: MemoryStore) -> None:
    person = await register(store)
    tid = training(store)
    enrolled = await enroll(store, tid, person.facilitator_id)
    withdrawn = await withdraw(store, tid, person.facilitator_id, WithdrawalReason.REGISTERED_IN_ERROR)
    assert (withdrawn.enrollment_id, withdrawn.status) == (enrolled.enrollment_id, "withdrawn")
    assert store.state.withdrawal_reasons[(tid, person.facilitator_id)] == "registered_in_error"
    event = store.events[-1].payload
    assert isinstance(event, EnrollmentWithdrawn)
    assert (event.enrollment_id, event.reason) == (enrolled.enrollment_id, "registered_in_error")


async def test_withdrawal_refusals(store: MemoryStore) -> None:
    person = await register(store)
    tid = training(store)
    with pytest.raises(NotFound) as missing:
        await withdraw(store, tid, person.facilitator_id, WithdrawalReason.OTHER)
    assert missing.value.code == "enrollment_not_found"

    await enroll(store, tid, person.facilitator_id)
    store.state.trainings[tid] = replace(store.state.trainings[tid], status="closed")
    with pytest.raises(Conflict) as closed:
        await withdraw(store, tid, person.facilitator_id, WithdrawalReason.OTHER)
    assert (closed.value.code, closed.value.message) == (
        "training_closed",
        f"training {tid} is closed; its results are final",
    )

    store.state.trainings[tid] = replace(store.state.trainings[tid], status="scheduled")
    await withdraw(store, tid, person.facilitator_id, WithdrawalReason.OTHER)
    with pytest.raises(Conflict) as again:
        await withdraw(store, tid, person.facilitator_id, WithdrawalReason.OTHER)
    assert again.value.code == "already_withdrawn"


async def test_the_caller_decides_about_the_facilitators_region(store: MemoryStore) -> None:
    person = await register(store)
    tid = training(store)
    async with store.unit_of_work() as uow:
        with pytest.raises(Refused, match="oc02"):
            await enrollments.enroll_facilitator(
                uow, Enroll(tid, person.facilitator_id), served=SERVED, authorize=refuse
            )
    async with store.unit_of_work() as uow:
        with pytest.raises(DomainError) as not_served:
            await enrollments.enroll_facilitator(uow, Enroll(tid, person.facilitator_id), served=[], authorize=allow)
    assert not_served.value.code == "region_not_served"


async def test_reading_a_training_counts_its_active_enrollments(store: MemoryStore) -> None:
    person = await register(store)
    tid = training(store)
    await enroll(store, tid, person.facilitator_id)
    summary = await enrollments.get_training(store.reading(), tid, allow)
    assert (summary.training.training_id, summary.enrolled) == (tid, 1)
    with pytest.raises(NotFound):
        await enrollments.get_training(store.reading(), uuid.uuid4(), allow)
    with pytest.raises(Refused):
        await enrollments.get_training(store.reading(), tid, refuse)
