"""The one input policy (shared.kernel.text, shared.kernel.validation) holds at every door: every
HTTP body, intake payload and CSV row of the three services is an ``Input`` whose every string has
a kind, and hostile text, loose types and invisible characters are refused with a stable code."""

from __future__ import annotations

import types
import typing
import uuid
from collections.abc import Iterator
from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from services.registration.app import DEFINITION as REGISTRATION
from services.registration.entrypoints.intake import COMMANDS as REGISTRATION_COMMANDS
from services.registration.entrypoints.schemas import FacilitatorIn, ImportRow
from services.reporting.app import DEFINITION as REPORTING
from services.training.app import DEFINITION as TRAINING
from services.training.entrypoints.intake import COMMANDS as TRAINING_COMMANDS
from services.training.entrypoints.schemas import (
    Assessments,
    AttendanceSheet,
    OJTCompletionIn,
    ScheduleTraining,
    SyncBatch,
)
from shared.kernel import text
from shared.kernel.intake import IntakeEnvelope
from tests.unit.test_names import OTHER_JUNK, SEED_SPAM

# The hostile text of the acceptance report: spam, links, markup, SQL, invisible and control
# characters, overlong and empty values.
MARKUP_AND_CODE = (
    "<script>alert(1)</script>",
    "'; DROP TABLE trainings; --",
    "1 OR 1=1",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "Pelatihan `rm -rf`",
)
LINKS = ("http://casino.example/promo", "Lihat www.mapyro.com", "promo@casino.example", "Daftar di slot88.vip")
INVISIBLE = (
    "Pelatihan\x00Dasar",
    "Pelatihan\u202eDasar",
    "Pela\u200btihan",
    "Pelatihan\x1bDasar",
    "Pelatihan\x85Dasar",
)
ADVERTISING = ("Hard Rock Hotel & Casino Hollywood - MapyRO", "Judi online terpercaya", "Slot gacor hari ini")


# -- every door is covered --------------------------------------------------------------------------


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    origin = typing.get_origin(annotation)
    if origin is not None:
        for arg in typing.get_args(annotation):
            yield from _models(arg)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation


def request_shapes() -> set[type[BaseModel]]:
    shapes: set[type[BaseModel]] = {IntakeEnvelope, ImportRow}
    for definition in (REGISTRATION, TRAINING, REPORTING):
        for router in definition.routers:
            for route in router.routes:
                if isinstance(route, APIRoute) and route.body_field is not None:
                    shapes.update(_models(route.body_field.field_info.annotation))
    shapes.update(command.payload for command in (*REGISTRATION_COMMANDS.values(), *TRAINING_COMMANDS.values()))
    # and every shape nested in them
    todo = list(shapes)
    while todo:
        for field in todo.pop().model_fields.values():
            for nested in _models(field.annotation):
                if nested not in shapes:
                    shapes.add(nested)
                    todo.append(nested)
    return shapes


def _string_kind(annotation: Any, metadata: list[Any]) -> str | None:
    """Why a string field is safe: its policy kind, a pattern, or a closed set; None if it is not."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *extra = typing.get_args(annotation)
        return _string_kind(inner, [*metadata, *extra])
    if origin in (typing.Union, types.UnionType, list, tuple, set):
        kinds = [_string_kind(arg, metadata) for arg in typing.get_args(annotation) if arg is not type(None)]
        return "missing" if "missing" in kinds else next((k for k in kinds if k), None)
    if annotation is str:
        for item in metadata:
            rule: str = getattr(getattr(item, "func", None), "__qualname__", "")
            if rule.startswith("text_policy."):
                return rule
            if getattr(item, "pattern", None):
                return "pattern"
        return "missing"
    if origin is Literal or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return "closed set"
    return None


def test_there_are_request_shapes_of_all_three_services_to_check() -> None:
    names = {shape.__name__ for shape in request_shapes()}
    assert {"FacilitatorIn", "ImportRow", "ScheduleTraining", "SyncBatch", "ClassIn", "IntakeEnvelope"} <= names
    assert len(names) > 30


SHAPES = sorted(request_shapes(), key=lambda s: s.__name__)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.__name__ for s in SHAPES])
def test_every_request_shape_is_an_input_and_every_string_has_a_kind(shape: type[BaseModel]) -> None:
    from shared.kernel.validation import Input

    assert issubclass(shape, Input), f"{shape.__name__} does not derive from shared.kernel.validation.Input"
    for name, field in shape.model_fields.items():
        kind = _string_kind(field.annotation, list(field.metadata))
        assert kind != "missing", f"{shape.__name__}.{name} is a string without a kind of the input policy"


# -- what the policy refuses ------------------------------------------------------------------------

P1 = str(uuid.uuid4())
SCHEDULE = {
    "region": "oc02",
    "training_type": "basic",
    "title": "Pelatihan Dasar Fasilitator (Tahap 1) - Sumatera Selatan",
    "organiser": "OC-2 / KMW Sumatera Selatan",
    "venue": "Hotel Aryaduta, Jl. POM IX No. 1, Palembang",
    "start_date": "2016-07-31",
    "end_date": "2016-08-07",
    "capacity": 250,
    "eligible_roles": ["fasilitator"],
    "modules": [{"code": "M1", "title": "Dasar Program KOTAKU: Tridaya & 100-0-100"}],
    "classes": [{"class_id": "A", "name": "Kelas A", "trainers": ["H. Ahmad Fauzi, S.Pd.I.", "Siti Rahmawati, S.T."]}],
    "sessions": [{"session_id": "d1", "date": "2016-07-31", "kind": "classroom", "module_code": "M1"}],
    "completion_rule": {"min_attendance_ratio": 0.9, "require_post_test": True, "require_ojt": False},
}


def errors(shape: type[BaseModel], body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        shape.model_validate(body)
    return [(".".join(str(p) for p in e["loc"]), e["type"]) for e in info.value.errors()]


def test_real_schedules_pass_unchanged() -> None:
    schedule = ScheduleTraining.model_validate(SCHEDULE).schedule()
    assert schedule.title == SCHEDULE["title"]
    assert schedule.classes[0].trainers == ["H. Ahmad Fauzi, S.Pd.I.", "Siti Rahmawati, S.T."]
    assert schedule.modules[0].title == "Dasar Program KOTAKU: Tridaya & 100-0-100"


@pytest.mark.parametrize("field", ["title", "organiser", "venue"])
@pytest.mark.parametrize(
    ("value", "code"),
    [
        *((v, "markup") for v in MARKUP_AND_CODE),
        *((v, "link_spam") for v in LINKS + ADVERTISING),
        *((v, "control_character") for v in INVISIBLE),
        ("Hard Rock 대전광역 출장마사지 Hotel", "link_spam"),
        ("Pelatihan 서울특별", "mixed_scripts"),
        ("   ", "string_too_short"),
        ("x" * 100_000, "string_too_long"),
    ],
)
def test_hostile_free_text_is_refused_with_its_code(field: str, value: str, code: str) -> None:
    assert errors(ScheduleTraining, {**SCHEDULE, field: value}) == [(field, code)]


@pytest.mark.parametrize("value", [*SEED_SPAM, *OTHER_JUNK, "Siti\x00", "", "  "])
def test_trainers_and_mentors_are_person_names(value: str) -> None:
    classes = [{"class_id": "A", "name": "Kelas A", "trainers": [value]}]
    assert [loc for loc, _ in errors(ScheduleTraining, {**SCHEDULE, "classes": classes})] == ["classes.0.trainers.0"]


@pytest.mark.parametrize("value", ["Kelas A", "kelas a", "A/B", "", "x" * 41, "A\x00", "<b>A</b>"])
def test_identifiers_are_a_safe_pattern(value: str) -> None:
    sessions = [{"session_id": value, "date": "2016-07-31", "kind": "classroom"}]
    assert [loc for loc, _ in errors(ScheduleTraining, {**SCHEDULE, "sessions": sessions})] == ["sessions.0.session_id"]


def test_numbers_times_and_booleans_are_strict() -> None:
    assert errors(ScheduleTraining, {**SCHEDULE, "capacity": "12"}) == [("capacity", "number_expected")]
    assert errors(ScheduleTraining, {**SCHEDULE, "capacity": True}) == [("capacity", "number_expected")]
    rule = {"min_attendance_ratio": "0.9", "require_post_test": "yes", "require_ojt": 1}
    assert sorted(errors(ScheduleTraining, {**SCHEDULE, "completion_rule": rule})) == [
        ("completion_rule.min_attendance_ratio", "number_expected"),
        ("completion_rule.require_ojt", "boolean_expected"),
        ("completion_rule.require_post_test", "boolean_expected"),
    ]
    assert errors(
        Assessments, {"kind": "post", "max_score": 100, "scores": [{"facilitator_id": P1, "score": "12"}]}
    ) == [("scores.0.score", "number_expected")]
    sheet = {"session_id": "d1", "occurred_at": 12345, "records": [{"facilitator_id": P1, "status": "present"}]}
    assert errors(AttendanceSheet, sheet) == [("occurred_at", "text_expected")]
    fact = {"kind": "attendance", "fact_id": "f1", "facilitator_id": P1, "session_id": "d1", "status": "present"}
    assert errors(SyncBatch, {"facts": [{**fact, "occurred_at": 1470000000}]}) == [
        ("facts.0.attendance.occurred_at", "text_expected")
    ]
    completion = {"facilitator_id": P1, "kelurahan_code": "16.71.01.1001", "rating": "5"}
    assert errors(OJTCompletionIn, completion) == [("rating", "number_expected")]


def test_a_control_character_anywhere_is_named_by_its_path() -> None:
    fact = {"kind": "attendance", "fact_id": "f1", "facilitator_id": P1, "session_id": "d1", "status": "present"}
    body = {"device_id": "tablet-7", "facts": [{**fact, "occurred_at": "2016-08-01T08:00:00+07:00", "note": "ok\x00"}]}
    assert errors(SyncBatch, body) == [("facts.0.note", "control_character")]
    clean = {"device_id": "tablet 7", "facts": [{**fact, "occurred_at": "2016-08-01T08:00:00+07:00"}]}
    assert errors(SyncBatch, clean) == [("device_id", "not_an_identifier")]


def test_text_is_normalised_to_nfc_and_spaces_collapsed() -> None:
    sheet = AttendanceSheet.model_validate(
        {"session_id": "d1", "records": [{"facilitator_id": P1, "status": "excused", "note": "Izin  De\u0301de\u0301"}]}
    )
    assert sheet.records[0].note == "Izin Dédé"


def test_registration_csv_rows_and_bodies_follow_the_same_policy() -> None:
    row = {"nik": "1671010101900001", "full_name": "Budi Santoso", "role": "askot", "province_code": "16"}
    row["kabkota_code"] = "16.71"
    assert ImportRow.model_validate(row).full_name == "Budi Santoso"
    assert errors(ImportRow, {**row, "full_name": "Budi\u202eSantoso"}) == [("full_name", "control_character")]
    body = {**row, "region": "oc02", "phone": "0812\x003456789"}
    assert errors(FacilitatorIn, body) == [("phone", "control_character")]


def test_the_intake_envelope_is_strict_too() -> None:
    envelope = {"message_id": "m-1", "type": "RegisterFacilitator", "region": "oc02", "payload": {}}
    assert IntakeEnvelope.model_validate(envelope).message_id == "m-1"
    assert errors(IntakeEnvelope, {**envelope, "sent_at": 1470000000}) == [("sent_at", "text_expected")]
    assert errors(IntakeEnvelope, {**envelope, "payload": {"full_name": "a\u200bb"}}) == [
        ("payload.full_name", "control_character")
    ]
    assert errors(IntakeEnvelope, {**envelope, "type": "Register Facilitator"}) == [("type", "not_an_identifier")]


@pytest.mark.parametrize(
    "value",
    [
        "Pelatihan Dasar Fasilitator KOTAKU 2016",
        "Rapat Koordinasi (Korkot, Askot) 08:00-12:00",
        "Izin: acara keluarga",
        "Tahap #2 - 100% hadir!",
        "Kelurahan 35 Ilir, Kec. Ilir Barat II",
        "“Pemda Sebagai Nahkoda”",
        "李华的培训",
        "",
    ],
)
def test_ordinary_text_is_kept(value: str) -> None:
    assert text.check_free_text(value) == value
