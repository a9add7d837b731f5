"""Facilitator use cases on in-memory repositories: results, state, events and refusals."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest

from services.registration.domain.facilitators import Facilitator, nik_hash, phone_hash
from services.registration.domain.reasons import WITHDRAWN_BY_DEACTIVATION, DeactivationReason
from services.registration.usecases import enrollments, facilitators
from services.registration.usecases.facilitators import ChangeDetails, Deactivate, Reassign
from services.registration.usecases.ports import FacilitatorFilter
from shared.kernel.contracts import (
    EnrollmentWithdrawn,
    FacilitatorDeactivated,
    FacilitatorReassigned,
    FacilitatorRegistered,
    FacilitatorUpdated,
    Role,
    Speciality,
)
from shared.kernel.errors import Conflict, DomainError, Invalid, NotFound
from tests.unit.registration.conftest import (
    KEY,
    SERVED,
    Refused,
    allow,
    only,
    person,
    refuse,
    register,
    register_in_oc01,
    training,
)
from tests.unit.registration.fakes import MemoryStore

# -- register -----------------------------------------------------------------------------------


async def test_registering_stores_the_facilitator_and_emits_one_event(store: MemoryStore) -> None:
    created = await register(store, phone="+6281234567890")

    assert created.status == "active"
    assert (created.region, created.province_code, created.kabkota_code) == ("oc02", "16", "16.71")
    assert store.state.facilitators[created.facilitator_id] == created
    assert store.state.nik_hashes == {nik_hash(KEY, "1671010101900001"): created.facilitator_id}
    assert store.state.phone_hashes[created.facilitator_id] == phone_hash(KEY, "+6281234567890")
    assert [r.effective_from for r in store.state.history[created.facilitator_id]] == [date(2016, 7, 1)]
    [event] = store.events
    assert isinstance(event.payload, FacilitatorRegistered)
    assert event.payload.facilitator_id == created.facilitator_id
    assert (event.envelope.region, event.envelope.source, event.key) == (
        "oc02",
        "kotaku.registration",
        str(created.facilitator_id),
    )
    assert "1671010101900001" not in event.to_bytes().decode()


async def test_a_nik_registered_before_is_a_conflict_naming_the_existing_facilitator(store: MemoryStore) -> None:
    first = await register(store)
    with pytest.raises(Conflict) as refused:
        await register(store, full_name="Someone Else")
    assert refused.value.code == "facilitator_exists"
    assert refused.value.details == {"facilitator_id": str(first.facilitator_id)}
    assert len(store.state.facilitators) == 1
    assert len(store.events) == 1


async def test_a_nik_registered_concurrently_is_the_same_conflict_and_writes_nothing(store: MemoryStore) -> None:
    winner = uuid.uuid4()
    async with store.unit_of_work() as uow:
        uow.facilitators.concurrent_nik = (nik_hash(KEY, "1671010101900001"), winner)
        with pytest.raises(Conflict) as refused:
            await facilitators.register_facilitator(uow, person(), served=SERVED, key=KEY, authorize=allow)
    assert refused.value.details == {"facilitator_id": str(winner)}
    assert store.state.facilitators == {}
    assert store.events == []


async def test_a_nik_held_in_a_region_the_caller_may_not_act_on_is_refused_without_naming_the_holder(
    store: MemoryStore,
) -> None:
    holder = await register_in_oc01(store)
    async with store.unit_of_work() as uow:
        with pytest.raises(Conflict) as refused:
            await facilitators.register_facilitator(uow, person(), served=SERVED, key=KEY, authorize=only("oc02"))
    assert (refused.value.code, refused.value.details) == ("facilitator_exists_elsewhere", {"field": "nik"})
    assert str(holder.facilitator_id) not in refused.value.message
    assert "oc01" not in refused.value.message
    assert "national office" in refused.value.message
    assert len(store.state.facilitators) == 1
    assert len(store.events) == 1


async def test_a_caller_who_may_act_on_the_holders_region_is_told_the_holder(store: MemoryStore) -> None:
    holder = await register_in_oc01(store)
    for authorize in (allow, only("oc01", "oc02")):  # an admin; a credential of both regions
        async with store.unit_of_work() as uow:
            with pytest.raises(Conflict) as refused:
                await facilitators.register_facilitator(uow, person(), served=SERVED, key=KEY, authorize=authorize)
        assert refused.value.code == "facilitator_exists"
        assert refused.value.details == {"facilitator_id": str(holder.facilitator_id)}


async def test_a_nik_registered_concurrently_in_another_region_is_refused_without_naming_the_holder(
    store: MemoryStore,
) -> None:
    async with store.unit_of_work() as uow:
        uow.facilitators.concurrent_nik = (nik_hash(KEY, "1671010101900001"), uuid.uuid4())
        uow.facilitators.concurrent_region = "oc05"
        with pytest.raises(Conflict) as refused:
            await facilitators.register_facilitator(uow, person(), served=SERVED, key=KEY, authorize=only("oc02"))
    assert (refused.value.code, refused.value.details) == ("facilitator_exists_elsewhere", {"field": "nik"})
    assert store.state.facilitators == {}


@pytest.mark.parametrize(
    ("changes", "code", "kind"),
    [
        ({"region": "oc05"}, "region_not_served", Invalid),
        ({"role": Role.KORKOT, "speciality": Speciality.TEKNIK}, "speciality_not_allowed", Invalid),
        ({"province_code": "17", "kabkota_code": "17.71"}, "unknown_orgunit", Invalid),
        ({"kabkota_code": "16.99"}, "unknown_orgunit", Invalid),
        ({"province_code": "15", "kabkota_code": "16.71"}, "orgunit_not_in_province", Invalid),
        ({"province_code": "15", "kabkota_code": "15.71"}, "orgunit_not_in_region", Invalid),
        ({"effective_from": date(2015, 12, 31)}, "orgunit_not_in_region", Invalid),
    ],
)
async def test_registration_refusals_have_their_codes_and_write_nothing(
    store: MemoryStore, changes: dict[str, object], code: str, kind: type[DomainError]
) -> None:
    with pytest.raises(kind) as refused:
        await register(store, **changes)
    assert refused.value.code == code
    assert store.state.facilitators == {}
    assert store.events == []


async def test_the_caller_is_asked_about_the_region_before_anything_else(store: MemoryStore) -> None:
    async with store.unit_of_work() as uow:
        with pytest.raises(Refused, match="oc05"):
            await facilitators.register_facilitator(
                uow, person(region="oc05", kabkota_code="16.99"), served=SERVED, key=KEY, authorize=refuse
            )


async def test_without_a_hash_key_nothing_is_registered(store: MemoryStore) -> None:
    async with store.unit_of_work() as uow:
        with pytest.raises(RuntimeError, match="KOTAKU_NIK_HASH_KEY"):
            await facilitators.register_facilitator(uow, person(), served=SERVED, key=b"", authorize=allow)


# -- update -------------------------------------------------------------------------------------


async def test_a_new_name_is_published_and_a_repeated_one_is_not(store: MemoryStore) -> None:
    created = await register(store)
    for _ in range(2):
        async with store.unit_of_work() as uow:
            changed = await facilitators.update_facilitator(
                uow,
                ChangeDetails(created.facilitator_id, full_name="Siti Aminah Lubis"),
                served=SERVED,
                key=KEY,
                authorize=allow,
            )
    assert changed.full_name == "Siti Aminah Lubis"
    updates = store.payloads("FacilitatorUpdated")
    assert len(updates) == 1
    assert isinstance(updates[0], FacilitatorUpdated)
    assert updates[0].full_name == "Siti Aminah Lubis"


async def test_the_phone_is_changed_or_removed_without_an_event(store: MemoryStore) -> None:
    created = await register(store)
    fid = created.facilitator_id
    async with store.unit_of_work() as uow:
        await facilitators.update_facilitator(
            uow, ChangeDetails(fid, phone="+62711356789", phone_set=True), served=SERVED, key=KEY, authorize=allow
        )
    assert store.state.phone_hashes[fid] == phone_hash(KEY, "+62711356789")
    async with store.unit_of_work() as uow:
        await facilitators.update_facilitator(
            uow, ChangeDetails(fid, phone=None, phone_set=True), served=SERVED, key=KEY, authorize=allow
        )
    assert store.state.phone_hashes[fid] is None
    assert len(store.events) == 1  # the registration only


async def test_updating_an_unknown_facilitator_is_not_found(store: MemoryStore) -> None:
    async with store.unit_of_work() as uow:
        with pytest.raises(NotFound) as refused:
            await facilitators.update_facilitator(
                uow, ChangeDetails(uuid.uuid4(), full_name="X Y"), served=SERVED, key=KEY, authorize=allow
            )
    assert refused.value.code == "facilitator_not_found"


# -- reassign -----------------------------------------------------------------------------------


def reassignment(fid: uuid.UUID, **changes: object) -> Reassign:
    values: dict[str, object] = {
        "facilitator_id": fid,
        "role": Role.ASKOT,
        "speciality": Speciality.TEKNIK,
        "province_code": "16",
        "kabkota_code": "16.10",
        "effective_from": date(2016, 9, 1),
    }
    values.update(changes)
    return Reassign(**values)  # type: ignore[arg-type]


async def reassign(store: MemoryStore, cmd: Reassign) -> Facilitator:
    async with store.unit_of_work() as uow:
        return await facilitators.reassign_facilitator(uow, cmd, served=SERVED, authorize=allow)


async def test_a_reassignment_changes_role_and_area_and_keeps_the_history(store: MemoryStore) -> None:
    created = await register(store)
    changed = await reassign(store, reassignment(created.facilitator_id))

    assert (changed.role, changed.speciality, changed.kabkota_code) == (Role.ASKOT, Speciality.TEKNIK, "16.10")
    assert changed.effective_from == date(2016, 9, 1)
    history = store.state.history[created.facilitator_id]
    assert [(r.role, r.kabkota_code) for r in history] == [(Role.FASILITATOR, "16.71"), (Role.ASKOT, "16.10")]
    event = store.payloads("FacilitatorReassigned")[0]
    assert isinstance(event, FacilitatorReassigned)
    assert (event.previous_role, event.previous_kabkota_code, event.kabkota_code) == (
        Role.FASILITATOR,
        "16.71",
        "16.10",
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"effective_from": date(2016, 6, 30)}, "effective_date_too_early"),
        (
            {"role": Role.FASILITATOR, "speciality": Speciality.SOSIAL, "kabkota_code": "16.71"},
            "assignment_unchanged",
        ),
        ({"role": Role.FASILITATOR, "speciality": Speciality.MANAJEMEN_KEUANGAN}, "speciality_not_allowed"),
        ({"province_code": "15", "kabkota_code": "15.71"}, "orgunit_not_in_region"),
    ],
)
async def test_reassignment_refusals(store: MemoryStore, changes: dict[str, object], code: str) -> None:
    created = await register(store)
    with pytest.raises(DomainError) as refused:
        await reassign(store, reassignment(created.facilitator_id, **changes))
    assert refused.value.code == code
    assert store.state.facilitators[created.facilitator_id] == created
    assert len(store.events) == 1


async def test_a_reassignment_out_of_the_region_says_it_stays_within_the_region(store: MemoryStore) -> None:
    created = await register(store)
    with pytest.raises(Invalid) as refused:
        await reassign(store, reassignment(created.facilitator_id, province_code="15", kabkota_code="15.71"))
    assert refused.value.message.endswith("; a facilitator is reassigned within their OC region only")
    assert refused.value.details == {"field": "province_code", "code": "15", "region": "oc01", "on": "2016-09-01"}


# -- deactivate ---------------------------------------------------------------------------------


async def test_deactivation_withdraws_open_enrollments_but_not_those_of_closed_trainings(store: MemoryStore) -> None:
    created = await register(store)
    fid = created.facilitator_id
    open_training, closed_training = training(store), training(store)
    for tid in (open_training, closed_training):
        async with store.unit_of_work() as uow:
            await enrollments.enroll_facilitator(uow, enrollments.Enroll(tid, fid), served=SERVED, authorize=allow)
    store.state.trainings[closed_training] = replace(store.state.trainings[closed_training], status="closed")

    async with store.unit_of_work() as uow:
        done = await facilitators.deactivate_facilitator(
            uow, Deactivate(fid, DeactivationReason.RESIGNED, date(2016, 10, 1)), served=SERVED, authorize=allow
        )

    assert (done.status, done.deactivated_on) == ("inactive", date(2016, 10, 1))
    assert store.state.deactivation_reasons[fid] == "resigned"
    assert store.state.enrollments[(open_training, fid)].status == "withdrawn"
    assert store.state.enrollments[(closed_training, fid)].status == "enrolled"
    deactivated, withdrawn = store.events[-2:]
    assert isinstance(deactivated.payload, FacilitatorDeactivated)
    assert isinstance(withdrawn.payload, EnrollmentWithdrawn)
    assert (withdrawn.payload.training_id, withdrawn.payload.reason) == (open_training, WITHDRAWN_BY_DEACTIVATION)


async def test_a_deactivated_facilitator_cannot_be_deactivated_or_reassigned_again(store: MemoryStore) -> None:
    created = await register(store)
    cmd = Deactivate(created.facilitator_id, DeactivationReason.OTHER, date(2016, 10, 1))
    async with store.unit_of_work() as uow:
        await facilitators.deactivate_facilitator(uow, cmd, served=SERVED, authorize=allow)
    with pytest.raises(Conflict) as again:
        async with store.unit_of_work() as uow:
            await facilitators.deactivate_facilitator(uow, cmd, served=SERVED, authorize=allow)
    assert again.value.code == "facilitator_inactive"
    with pytest.raises(Conflict) as moved:
        await reassign(store, reassignment(created.facilitator_id))
    assert moved.value.code == "facilitator_inactive"


async def test_deactivation_before_the_current_assignment_is_refused(store: MemoryStore) -> None:
    created = await register(store)
    cmd = Deactivate(created.facilitator_id, DeactivationReason.OTHER, date(2016, 6, 1))
    with pytest.raises(Invalid) as refused:
        async with store.unit_of_work() as uow:
            await facilitators.deactivate_facilitator(uow, cmd, served=SERVED, authorize=allow)
    assert refused.value.code == "effective_date_too_early"
    assert store.state.facilitators[created.facilitator_id].status == "active"


# -- reads --------------------------------------------------------------------------------------


async def test_reads_check_the_region_and_filter(store: MemoryStore) -> None:
    created = await register(store)
    await register(store, nik="1671010101900002", role=Role.KORKOT, speciality=None)
    repos = store.reading()

    found, history = await facilitators.facilitator_history(repos, created.facilitator_id, allow)
    assert found == created
    assert len(history) == 1
    with pytest.raises(Refused):
        await facilitators.get_facilitator(repos, created.facilitator_id, refuse)
    with pytest.raises(NotFound):
        await facilitators.get_facilitator(repos, uuid.uuid4(), allow)

    page = await facilitators.list_facilitators(repos, FacilitatorFilter(["oc02"], role=Role.KORKOT), 10, 0, allow)
    assert page.total == 1
    assert page.items[0].role is Role.KORKOT
    with pytest.raises(Refused):
        await facilitators.list_facilitators(repos, FacilitatorFilter(["oc02"]), 10, 0, refuse)
