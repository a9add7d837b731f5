"""The committed org-unit reference data and OC regions files, against the whole country's data."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from services.registration.entrypoints.country import load_country
from services.registration.entrypoints.referencefile import load_reference_data
from services.registration.entrypoints.regionsfile import Province, check_provinces, load_regions_file
from shared.kernel.contracts import OrgUnitLevel

PROVINCES_2016 = {
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36", "51",
    "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82", "91", "92",
}  # fmt: skip
PAPUA_2022 = {"93": date(2022, 7, 25), "94": date(2022, 7, 25), "95": date(2022, 7, 25), "96": date(2022, 12, 8)}
SOUTH_SUMATRA = {f"16.{n:02d}" for n in range(1, 14)} | {"16.71", "16.72", "16.73", "16.74"}
# The 8 OJT kelurahan of the demo with their Kemendagri codes (found in the 2019 edition).
DEMO_KELURAHAN = {
    "16.71.01.1001": "35 Ilir",
    "16.71.01.1002": "32 Ilir",
    "16.71.01.1003": "30 Ilir",
    "16.71.01.1004": "29 Ilir",
    "16.71.12.1003": "36 Ilir",
    "16.71.12.1004": "Karang Jaya",
    "16.71.17.1004": "Silaberanti",
    "16.71.17.1005": "Tuan Kentang",
}


def test_the_provinces_south_sumatra_and_every_kelurahan_of_palembang() -> None:
    data = load_reference_data()
    by_level = Counter(u.level for u in data.units)
    provinces = {u.code: u for u in data.units if u.level is OrgUnitLevel.PROVINCE}
    assert {c for c, u in provinces.items() if u.effective_from == date(2016, 1, 1)} == PROVINCES_2016
    assert {c: provinces[c].effective_from for c in PAPUA_2022} == PAPUA_2022
    assert {u.code for u in data.units if u.level is OrgUnitLevel.KABKOTA} == SOUTH_SUMATRA
    assert (by_level[OrgUnitLevel.KECAMATAN], by_level[OrgUnitLevel.KELURAHAN]) == (18, 107)
    names = {u.code: u.name for u in data.units}
    assert [names[c] for c in ("16", "16.71", "16.74")] == ["Sumatera Selatan", "Kota Palembang", "Kota Prabumulih"]
    assert (names["16.08"], names["16.09"]) == ("Kab. Ogan Komering Ulutimur", "Kab. Ogan Komering Uluselatan")
    assert {c: names[c] for c in DEMO_KELURAHAN} == DEMO_KELURAHAN
    assert all(u.code_status == "official" for u in data.units)


def test_every_unit_of_the_committed_file_is_the_same_in_the_whole_country() -> None:
    country = {u.code: u for u in load_country().units}
    for u in load_reference_data().units:
        c = country[u.code]
        assert (c.name, c.level, c.parent_code, c.effective_from, c.effective_to) == (
            u.name,
            u.level,
            u.parent_code,
            u.effective_from,
            u.effective_to,
        ), u.code


def test_the_oc_regions_file_gives_every_province_a_region_from_its_first_day() -> None:
    regions = load_regions_file()
    data = load_reference_data()
    provinces = {c: Province(u.name, u.effective_from, u.effective_to) for c, u in data.provinces().items()}
    assignments = regions.assignments()
    assert check_provinces(assignments, provinces) == []
    assert {a.province_code for a in assignments} == PROVINCES_2016 | set(PAPUA_2022)
    [sumsel] = [a for a in assignments if a.province_code == "16"]
    assert (sumsel.region, sumsel.effective_from) == ("oc02", date(2016, 1, 1))
    entries = [(region, e) for region, es in regions.regions.items() for e in es]
    assert all(e.illustrative for region, e in entries if e.province_code != "16")
    assert [e.province_code for region, e in entries if region == "oc02"] == ["16"]
    assert max(Counter(region for region, _ in entries).values()) <= 6


@pytest.mark.parametrize("code", sorted(PAPUA_2022))
def test_the_provinces_formed_in_2022_join_their_region_on_their_day(code: str) -> None:
    [a] = [a for a in load_regions_file().assignments() if a.province_code == code]
    assert a.effective_from == PAPUA_2022[code]
