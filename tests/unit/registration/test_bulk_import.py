"""The bulk import on in-memory repositories: one unit of work per row, duplicates, problems,
and a file refused as a whole only once the caller may write the region."""

from __future__ import annotations

from datetime import date

import pytest

from services.registration.entrypoints.csvfile import import_command
from services.registration.usecases import bulk
from services.registration.usecases.bulk import ImportFacilitators, ImportReport
from shared.kernel.errors import Invalid
from tests.unit.registration.conftest import KEY, SERVED, Refused, allow, only, refuse, register_in_oc01
from tests.unit.registration.fakes import MemoryStore

HEADER = "nik,full_name,role,speciality,province_code,kabkota_code,effective_from\n"
GOOD = "1671010101900001,Siti Aminah,fasilitator,sosial,16,16.71,2016-07-01\n"


async def run(store: MemoryStore, cmd: ImportFacilitators, authorize: object = allow) -> ImportReport:
    return await bulk.import_facilitators(
        store.unit_of_work,
        cmd,
        served=SERVED,
        key=KEY,
        authorize=authorize,  # type: ignore[arg-type]
    )


def csv(*rows: str) -> bytes:
    return (HEADER + "".join(rows)).encode()


async def test_each_row_is_accepted_duplicate_or_rejected_on_its_own(store: MemoryStore) -> None:
    data = csv(
        GOOD,
        GOOD,  # the same NIK again
        "1671010101900002,Budi Santoso,korkot,teknik,16,16.71,\n",  # korkot has no speciality
        "1671010101900003,Rahmat Hidayat,fasilitator,,16,16.71\n",  # a field short
        "1671010101900004,Dewi Lestari,askot,,16,16.10,\n",  # no date: the default
        "12345,X,fasilitator,,16,16.71,\n",
    )
    report = await run(store, import_command(data, "oc02", date(2016, 8, 1)))

    assert [r.status for r in report.results] == [
        "accepted",
        "duplicate",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert report.results[1].facilitator_id == report.results[0].facilitator_id
    assert report.results[2].problems[0].reason == "speciality_not_allowed"
    assert report.results[2].problems[0].column == "speciality"
    assert report.results[3].problems[0].reason == "wrong_column_count"
    assert {p.reason for p in report.results[5].problems} == {"invalid_value"}
    assert (report.count("accepted"), report.count("duplicate"), report.count("rejected")) == (2, 1, 3)
    dewi = store.state.facilitators[report.results[4].facilitator_id]  # type: ignore[index]
    assert dewi.effective_from == date(2016, 8, 1)
    assert len(store.events) == 2
    assert store.commits == 2


async def test_uploading_the_same_file_twice_changes_nothing(store: MemoryStore) -> None:
    cmd = import_command(csv(GOOD), "oc02", date(2016, 8, 1))
    await run(store, cmd)
    second = await run(store, cmd)
    assert [r.status for r in second.results] == ["duplicate"]
    assert len(store.state.facilitators) == 1
    assert len(store.events) == 1


async def test_an_unreadable_file_is_refused_as_a_whole_after_the_access_check(store: MemoryStore) -> None:
    cmd = import_command(b"nik;nama\n1;2\n", "oc02", date(2016, 8, 1))
    with pytest.raises(Invalid) as refused:
        await run(store, cmd)
    assert (refused.value.code, refused.value.details) == ("unknown_column", {"line": 1})
    with pytest.raises(Refused):
        await run(store, cmd, authorize=refuse)


async def test_a_region_not_served_is_refused_before_any_row(store: MemoryStore) -> None:
    with pytest.raises(Invalid) as refused:
        await run(store, import_command(csv(GOOD), "oc05", date(2016, 8, 1)))
    assert refused.value.code == "region_not_served"
    assert store.state.facilitators == {}


async def test_a_nik_held_in_a_region_the_caller_may_not_act_on_is_rejected_without_the_holder(
    store: MemoryStore,
) -> None:
    await register_in_oc01(store)  # the NIK of GOOD
    report = await run(store, import_command(csv(GOOD), "oc02", date(2016, 8, 1)), authorize=only("oc02"))
    [result] = report.results
    assert (result.status, result.facilitator_id) == ("rejected", None)
    assert [(p.reason, p.column) for p in result.problems] == [("facilitator_exists_elsewhere", "nik")]
    # a caller who may act on oc01 as well learns the holder, as a duplicate
    again = await run(store, import_command(csv(GOOD), "oc02", date(2016, 8, 1)))
    assert [r.status for r in again.results] == ["duplicate"]
