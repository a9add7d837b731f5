"""The committed org-unit reference data."""

from __future__ import annotations

from collections import Counter

from services.registration.entrypoints.referencefile import load_reference_data
from shared.kernel.contracts import OrgUnitLevel

PROVINCES_2016 = {
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36", "51",
    "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82", "91", "94",
}  # fmt: skip
SOUTH_SUMATRA = {f"16.{n:02d}" for n in range(1, 14)} | {"16.71", "16.72", "16.73", "16.74"}
DEMO_KELURAHAN = {"35 Ilir", "36 Ilir", "29 Ilir", "30 Ilir", "32 Ilir", "Karang Jaya", "Silaberanti", "Tuan Kentang"}


def test_the_34_provinces_of_2016_and_the_17_kota_kabupaten_of_south_sumatra() -> None:
    data = load_reference_data()
    by_level = Counter(u.level for u in data.units)
    assert {u.code for u in data.units if u.level is OrgUnitLevel.PROVINCE} == PROVINCES_2016
    assert {u.code for u in data.units if u.level is OrgUnitLevel.KABKOTA} == SOUTH_SUMATRA
    assert by_level[OrgUnitLevel.KELURAHAN] == 8
    names = {u.code: u.name for u in data.units}
    assert (names["16"], names["16.71"], names["16.74"]) == ("Sumatera Selatan", "Kota Palembang", "Kota Lubuklinggau")
    assert {u.name for u in data.units if u.level is OrgUnitLevel.KELURAHAN} == DEMO_KELURAHAN
    assert all(
        u.parent_code and u.parent_code.startswith("16.71") for u in data.units if u.level is OrgUnitLevel.KELURAHAN
    )


def test_codes_not_verified_are_marked_illustrative() -> None:
    data = load_reference_data()
    for unit in data.units:
        expected = "official" if unit.level in (OrgUnitLevel.PROVINCE, OrgUnitLevel.KABKOTA) else "illustrative"
        assert unit.code_status == expected, unit.code


def test_south_sumatra_is_oc02_from_2016_and_every_other_assignment_is_marked_illustrative() -> None:
    data = load_reference_data()
    assert {a.province_code for a in data.regions} == PROVINCES_2016
    [sumsel] = [a for a in data.regions if a.province_code == "16"]
    assert (sumsel.region, sumsel.effective_from.isoformat(), sumsel.illustrative) == ("oc02", "2016-01-01", False)
    assert all(a.illustrative for a in data.regions if a.province_code != "16")
    assert [a.province_code for a in data.regions if a.region == "oc02"] == ["16"]
    per_region = Counter(a.region for a in data.regions)
    assert max(per_region.values()) <= 3  # each OC covers one to three provinces
