"""Org-unit use cases on in-memory repositories: define, rename, assign, seed, and what is
published for which region."""

from __future__ import annotations

from datetime import date

import pytest

from services.registration.domain.orgunits import OrgUnit, RegionAssignment
from services.registration.entrypoints.referencefile import command, load_reference_data
from services.registration.entrypoints.regionsfile import load_regions_file
from services.registration.usecases import orgunits
from services.registration.usecases.orgunits import AssignProvince, DefineOrgUnit, SeedOrgUnits
from services.registration.usecases.ports import OrgUnitFilter
from shared.kernel.contracts import OrgUnitDefined, OrgUnitLevel, ProvinceAssignedToRegion
from shared.kernel.errors import Conflict, Invalid, NotFound
from tests.unit.registration.conftest import SERVED, START, Refused, allow_admin, unit
from tests.unit.registration.fakes import MemoryStore


async def define(store: MemoryStore, cmd: DefineOrgUnit) -> orgunits.UnitWritten:
    async with store.unit_of_work() as uow:
        return await orgunits.define_orgunit(uow, cmd, served=SERVED, authorize=allow_admin)


async def assign(store: MemoryStore, cmd: AssignProvince, served: list[str] = SERVED) -> orgunits.AssignmentWritten:
    async with store.unit_of_work() as uow:
        return await orgunits.assign_province(uow, cmd, served=served, authorize=allow_admin)


async def test_a_new_unit_is_stored_and_published_on_its_provinces_region(store: MemoryStore) -> None:
    written = await define(store, DefineOrgUnit("16.71.01.1001", "Kelurahan Satu", date(2016, 1, 1)))

    assert written.created
    assert written.region == "oc02"
    assert written.published.events == 1
    assert written.unit == OrgUnit("16.71.01.1001", OrgUnitLevel.KELURAHAN, "Kelurahan Satu", "16.71.01", START)
    [event] = store.events
    assert isinstance(event.payload, OrgUnitDefined)
    assert (event.payload.code, event.envelope.region) == ("16.71.01.1001", "oc02")


async def test_a_unit_of_a_region_not_served_is_stored_but_not_published(store: MemoryStore) -> None:
    written = await define(store, DefineOrgUnit("15.01", "Kabupaten Kerinci", START))
    assert written.created
    assert written.region == "oc01"
    assert (written.published.events, written.published.skipped_regions) == (0, {"oc01"})
    assert "15.01" in store.state.units
    assert store.events == []


async def test_defining_refusals(store: MemoryStore) -> None:
    with pytest.raises(Conflict) as exists:
        await define(store, DefineOrgUnit("16.71", "Kota Palembang", START))
    assert exists.value.code == "orgunit_exists"
    with pytest.raises(Invalid) as orphan:
        await define(store, DefineOrgUnit("16.72.01", "Somewhere", START))
    assert orphan.value.code == "unknown_orgunit"
    assert orphan.value.details == {"field": "parent_code", "code": "16.72"}

    async with store.unit_of_work() as uow:
        with pytest.raises(Refused):
            await orgunits.define_orgunit(
                uow, DefineOrgUnit("16.72", "X", START), served=SERVED, authorize=refuse_admin
            )


def refuse_admin() -> None:
    raise Refused("admin")


async def test_put_renames_and_a_repeated_put_changes_nothing(store: MemoryStore) -> None:
    renamed = await define(store, DefineOrgUnit("16.71", "Kota Palembang Darussalam", START, replace=True))
    assert not renamed.created
    assert renamed.published.events == 1
    assert store.state.units["16.71"].name == "Kota Palembang Darussalam"
    same = await define(store, DefineOrgUnit("16.71", "Kota Palembang Darussalam", START, replace=True))
    assert (same.created, same.published.events, same.region) == (False, 0, "oc02")
    assert len(store.events) == 1


async def test_assigning_a_province_publishes_it_and_its_whole_subtree_on_the_new_region(store: MemoryStore) -> None:
    written = await assign(store, AssignProvince("15", "oc02", date(2017, 1, 1)))
    assert written.changed
    assert store.state.assignments[("15", date(2017, 1, 1))] == "oc02"
    types = [(e.envelope.event_type, getattr(e.payload, "code", None)) for e in store.events]
    assert types == [("ProvinceAssignedToRegion", None), ("OrgUnitDefined", "15"), ("OrgUnitDefined", "15.71")]
    assert {e.envelope.region for e in store.events} == {"oc02"}
    first = store.events[0].payload
    assert isinstance(first, ProvinceAssignedToRegion)
    assert first.province_name == "Jambi"


async def test_repeating_an_assignment_changes_nothing_and_a_different_one_conflicts(store: MemoryStore) -> None:
    same = await assign(store, AssignProvince("16", "oc02", START))
    assert not same.changed
    assert store.events == []
    with pytest.raises(Conflict) as conflict:
        await assign(store, AssignProvince("16", "oc05", START))
    assert (conflict.value.code, conflict.value.details) == ("assignment_conflict", {"region": "oc02"})
    with pytest.raises(NotFound) as missing:
        await assign(store, AssignProvince("99", "oc02", START))
    assert missing.value.code == "orgunit_not_found"


async def test_an_assignment_to_a_region_not_served_is_recorded_but_not_published(store: MemoryStore) -> None:
    written = await assign(store, AssignProvince("15", "oc05", date(2017, 1, 1)))
    assert written.changed
    assert written.published.skipped_regions == {"oc05"}
    assert store.events == []


async def test_reads_group_units_by_the_region_on_a_date(store: MemoryStore) -> None:
    await assign(store, AssignProvince("15", "oc02", date(2017, 1, 1)))
    repos = store.reading()
    in_2016 = await orgunits.list_orgunits(repos, OrgUnitFilter(on=date(2016, 6, 1), region="oc02"), 100, 0)
    in_2017 = await orgunits.list_orgunits(repos, OrgUnitFilter(on=date(2017, 6, 1), region="oc02"), 100, 0)
    assert {u.unit.code[:2] for u in in_2016.items} == {"16"}
    assert {u.unit.code[:2] for u in in_2017.items} == {"15", "16"}
    detail = await orgunits.get_orgunit(repos, "15.71", date(2016, 6, 1))
    assert detail.region == "oc01"
    assert detail.region_history == [
        RegionAssignment("15", "oc01", START),
        RegionAssignment("15", "oc02", date(2017, 1, 1)),
    ]
    with pytest.raises(NotFound):
        await orgunits.get_orgunit(repos, "99", None)


# -- seed ---------------------------------------------------------------------------------------


async def seed(store: MemoryStore, cmd: SeedOrgUnits) -> orgunits.SeedReport:
    async with store.unit_of_work() as uow:
        return await orgunits.seed_orgunits(uow, cmd, served=SERVED)


async def test_seeding_the_committed_file_into_an_empty_store_then_again() -> None:
    store = MemoryStore()
    cmd = command(load_reference_data(), load_regions_file().assignments())
    first = await seed(store, cmd)
    assert first.units_added == len(cmd.units)
    assert first.assignments_added == len(cmd.assignments)
    assert store.last is not None
    assert store.last.orgunits.seed_locked
    published = [e for e in store.events if e.envelope.region == "oc02"]
    assert len(published) == len(store.events) == first.published.events
    assert published[0].envelope.event_type == "OrgUnitDefined"  # units first, then assignments
    assert published[-1].envelope.event_type == "ProvinceAssignedToRegion"
    assert "oc01" in first.published.skipped_regions

    again = await seed(store, cmd)
    assert (again.units_added, again.assignments_added, again.published.events) == (0, 0, 0)


async def test_seeding_keeps_differences_unless_asked_to_update(store: MemoryStore) -> None:
    units = (unit("16", "Sumsel"), unit("16.72", "Kota Prabumulih"))
    assignments = (RegionAssignment("15", "oc02", START),)
    kept = await seed(store, SeedOrgUnits(units, assignments))
    assert (kept.units_added, kept.units_differing, kept.assignments_differing) == (1, ["16"], ["15@2016-01-01"])
    assert store.state.units["16"].name == "Sumatera Selatan"
    assert "differ from the file and were kept" in kept.summary()

    updated = await seed(store, SeedOrgUnits(units, assignments, update=True))
    assert (updated.units_renamed, updated.assignments_changed) == (1, 1)
    assert store.state.units["16"].name == "Sumsel"
    assert store.state.assignments[("15", START)] == "oc02"


async def test_republishing_publishes_every_unit_and_assignment_served_here(store: MemoryStore) -> None:
    report = await seed(store, SeedOrgUnits((), (), republish=True))
    served_units = [c for c in store.state.units if c.startswith("16")]
    defined = [e for e in store.events if e.envelope.event_type == "OrgUnitDefined"]
    assert sorted(e.payload.code for e in defined if isinstance(e.payload, OrgUnitDefined)) == sorted(served_units)
    assert [e.envelope.event_type for e in store.events].count("ProvinceAssignedToRegion") == 1
    assert report.published.skipped_regions == {"oc01"}


# -- the whole country's load and corrections of the grouping -------------------------------------


async def load(store: MemoryStore, cmd: orgunits.LoadUnits, chunk: int = 2) -> orgunits.SeedReport:
    seen: list[tuple[int, int]] = []
    async with store.unit_of_work() as uow:
        report = await orgunits.load_units(uow, cmd, served=SERVED, progress=lambda *p: seen.append(p), chunk=chunk)
    assert seen[-1][0] == seen[-1][1]  # the bar ends full
    return report


async def test_a_load_adds_the_missing_units_publishes_them_parents_first_and_a_second_run_does_nothing(
    store: MemoryStore,
) -> None:
    moved = OrgUnit("15.71.01", OrgUnitLevel.KECAMATAN, "Kota Baru", "15.71", START, date(2022, 7, 25))
    units = [
        unit("16.71.01.1001", "35 Ilir"),
        unit("16.71", "Kota Palembang"),  # already there, the same
        unit("16.71.02", "Seberang Ulu I"),
        moved,
    ]
    first = await load(store, orgunits.LoadUnits(units))
    assert (first.units_added, first.units_renamed, first.units_differing) == (3, 0, [])
    assert [getattr(e.payload, "code", None) for e in store.events] == ["16.71.02", "16.71.01.1001"]  # oc01 not served
    assert first.published.skipped_regions == {"oc01"}
    assert store.state.units["15.71.01"].effective_to == date(2022, 7, 25)
    assert store.last is not None
    assert store.last.flushes >= 2  # written in parts

    again = await load(store, orgunits.LoadUnits(units))
    assert (again.units_added, again.published.events) == (0, 0)


async def test_a_load_keeps_what_differs_unless_asked_to_update_and_can_republish(store: MemoryStore) -> None:
    renamed = [unit("16.71.01", "Ilir Barat Dua")]
    kept = await load(store, orgunits.LoadUnits(renamed))
    assert (kept.units_differing, kept.published.events) == (["16.71.01"], 0)
    updated = await load(store, orgunits.LoadUnits(renamed, update=True))
    assert (updated.units_renamed, updated.published.events) == (1, 1)
    assert store.state.units["16.71.01"].name == "Ilir Barat Dua"
    republished = await load(store, orgunits.LoadUnits(renamed, republish=True))
    assert republished.published.events == 1


async def test_an_ended_unit_is_not_listed_on_a_later_date(store: MemoryStore) -> None:
    ended = OrgUnit("16.71.02", OrgUnitLevel.KECAMATAN, "Seberang Ulu I", "16.71", START, date(2022, 7, 25))
    await load(store, orgunits.LoadUnits([ended]))
    kecamatan = OrgUnitFilter(on=date(2016, 6, 1), level=OrgUnitLevel.KECAMATAN)
    assert "16.71.02" in [u.unit.code for u in (await orgunits.list_orgunits(store.reading(), kecamatan, 50, 0)).items]
    later = OrgUnitFilter(on=date(2023, 1, 1), level=OrgUnitLevel.KECAMATAN)
    assert "16.71.02" not in [u.unit.code for u in (await orgunits.list_orgunits(store.reading(), later, 50, 0)).items]


async def test_a_correction_replaces_the_region_of_that_day_and_publishes_the_province_there(
    store: MemoryStore,
) -> None:
    with pytest.raises(Conflict):
        await assign(store, AssignProvince("15", "oc02", START))
    written = await assign(store, AssignProvince("15", "oc02", START, correct=True))
    assert written.changed
    assert store.state.assignments[("15", START)] == "oc02"
    assert [type(e.payload).__name__ for e in store.events] == [
        "ProvinceAssignedToRegion",
        "OrgUnitDefined",
        "OrgUnitDefined",
    ]
