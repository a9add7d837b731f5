from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.registration.domain.facilitators import nik_hash
from services.registration.entrypoints.schemas import FacilitatorIn


def body(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "nik": "1671010101900001",
        "full_name": "Siti Aminah",
        "role": "fasilitator",
        "region": "oc02",
        "province_code": "16",
        "kabkota_code": "16.71",
    }
    base.update(changes)
    return base


@pytest.mark.parametrize("name", ["Ni Made Ayu Sukarsih", "Dédé Suryana", "Nurul 'Aini", "Ṣāliḥ", "李华", "  Budi  "])
def test_names_in_any_script_are_kept(name: str) -> None:
    assert FacilitatorIn.model_validate(body(full_name=name)).full_name == name.strip()


@pytest.mark.parametrize("name", ["Siti\x00", "Budi\u202egnirts", "Ag\u200bus", "line\nbreak", "", " ", "x" * 201])
def test_control_invisible_and_oversized_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        FacilitatorIn.model_validate(body(full_name=name))


def test_a_kota_must_lie_in_the_given_province() -> None:
    with pytest.raises(ValidationError, match="not in province"):
        FacilitatorIn.model_validate(body(kabkota_code="17.71"))


def test_nik_hashes_match_for_equal_numbers_and_depend_on_the_key() -> None:
    assert nik_hash(b"k1", "1671010101900001") == nik_hash(b"k1", "1671010101900001")
    assert nik_hash(b"k1", "1671010101900001") != nik_hash(b"k2", "1671010101900001")
    assert b"1671010101900001" not in nik_hash(b"k1", "1671010101900001")
