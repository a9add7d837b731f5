"""Input shapes shared by HTTP, intake and CSV; the committed intake JSON Schemas match the code."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.registration.domain.facilitators import SPECIALITIES, check_speciality, nik_hash
from services.registration.entrypoints.errors import ERRORS
from services.registration.entrypoints.intake import COMMANDS, SCHEMA_DIR, intake_json_schemas, stale_intake_schemas
from services.registration.entrypoints.schemas import (
    DeactivateFacilitator,
    FacilitatorIn,
    FacilitatorPatch,
    OrgUnitIn,
    ReassignmentIn,
    RegisterFacilitator,
)
from shared.kernel.contracts import FacilitatorRegistered, Role, Speciality
from shared.kernel.errors import DomainError
from shared.kernel.text import normalise_phone


def body(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "nik": "1671010101900001",
        "full_name": "Siti Aminah",
        "role": "fasilitator",
        "region": "oc02",
        "province_code": "16",
        "kabkota_code": "16.71",
    }
    return {**base, **changes}


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


def test_committed_intake_schemas_match_the_code() -> None:
    assert stale_intake_schemas() == [], "run: python -m services.registration intake-schemas"
    assert {p.name for p in SCHEMA_DIR.glob("*.json")} == set(intake_json_schemas())


def test_every_intake_command_has_a_schema_without_personal_fields_beyond_the_nik() -> None:
    schemas = intake_json_schemas()
    for name in COMMANDS:
        properties = schemas[f"{name}.json"]["properties"]
        assert "phone" not in properties
        assert ("nik" in properties) == (name == "RegisterFacilitator")
        assert schemas[f"{name}.json"]["additionalProperties"] is False
    rejected = schemas["IntakeRejected.json"]["properties"]
    assert {"message_id", "reason", "detail", "errors"} <= set(rejected)
    json.dumps(schemas)  # serialisable


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("0812-3456-7890", "+6281234567890"), ("+62 812 3456 7890", "+6281234567890"), ("(0711) 356 789", "+62711356789")],
)
def test_phone_numbers_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised


@pytest.mark.parametrize("raw", ["+1 555 0100", "0812", "0812abc4567", "٠٨١٢٣٤٥٦٧٨٩٠", "08" + "1" * 20])
def test_phone_numbers_that_are_not_indonesian_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        normalise_phone(raw)


def test_the_http_body_takes_a_phone_the_intake_does_not() -> None:
    assert FacilitatorIn.model_validate(body(phone="0812 3456 7890")).phone == "+6281234567890"
    with pytest.raises(ValidationError):
        RegisterFacilitator.model_validate(body(phone="0812 3456 7890"))


def test_effective_dates_are_bounded() -> None:
    with pytest.raises(ValidationError):
        RegisterFacilitator.model_validate(body(effective_from="1999-12-31"))
    with pytest.raises(ValidationError):
        ReassignmentIn.model_validate(
            {"role": "fasilitator", "province_code": "16", "kabkota_code": "16.71", "effective_from": "2101-01-01"}
        )


def test_a_patch_must_change_something_and_cannot_remove_the_name() -> None:
    with pytest.raises(ValidationError):
        FacilitatorPatch.model_validate({})
    with pytest.raises(ValidationError):
        FacilitatorPatch.model_validate({"full_name": None})
    assert FacilitatorPatch.model_validate({"phone": None}).model_fields_set == {"phone"}


def test_deactivation_reasons_are_codes_not_free_text() -> None:
    with pytest.raises(ValidationError):
        DeactivateFacilitator.model_validate(
            {"facilitator_id": "0b6f7d1e-8a39-4c52-9e5b-6f0e7d1a2b3c", "reason": "he owes me money"}
        )


def test_an_org_unit_level_must_match_its_code() -> None:
    assert OrgUnitIn.model_validate({"code": "16.71.01.1001", "name": "29 Ilir", "effective_from": "2016-01-01"})
    with pytest.raises(ValidationError, match="kabkota code"):
        OrgUnitIn.model_validate({"code": "16.71", "level": "province", "name": "X", "effective_from": "2016-01-01"})
    with pytest.raises(ValidationError):
        OrgUnitIn.model_validate({"code": "16.7", "name": "X", "effective_from": "2016-01-01"})
    with pytest.raises(ValidationError):
        OrgUnitIn.model_validate({"code": "16.72", "name": "Kota <b>", "effective_from": "2016-01-01"})


def test_speciality_rules_per_role() -> None:
    check_speciality(Role.ASKOT, Speciality.MONITORING_EVALUASI)
    check_speciality(Role.FASILITATOR, Speciality.EKONOMI)
    check_speciality(Role.KORKOT, None)
    for role, speciality in [(Role.KORKOT, Speciality.TEKNIK), (Role.FASILITATOR, Speciality.MANAJEMEN_KEUANGAN)]:
        with pytest.raises(DomainError) as info:
            check_speciality(role, speciality)
        assert (ERRORS.status(info.value), info.value.code) == (422, "speciality_not_allowed")
    assert SPECIALITIES[Role.SENIOR_FASILITATOR] == frozenset()


def test_the_registered_event_has_no_field_for_personal_identifiers() -> None:
    assert not {"nik", "phone", "nik_hash", "phone_hash"} & set(FacilitatorRegistered.model_fields)
