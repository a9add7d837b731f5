"""Input types of every door (HTTP bodies, Kafka intake messages, CSV rows): the text policy of
:mod:`shared.kernel.text` as pydantic types, strict scalars, and area codes.

Every request shape derives from :class:`Input`, which holds what applies to every field whatever
its type (``tests/unit/test_input_policy.py`` walks every shape of the three services to prove it):

- every string anywhere in the value, nested or not, is refused if it holds a control or invisible
  character (code ``control_character``) and is normalised to NFC;
- a number is a JSON number: ``"12"`` for a count or a score is refused (``number_expected``), and
  ``true`` is not 1;
- a yes/no is a JSON boolean: ``"yes"`` or ``1`` is refused (``boolean_expected``);
- a date or a time is ISO 8601 text: ``12345`` for ``occurred_at`` is refused (``text_expected``).

Each string field then has a kind: an :data:`Identifier` (or :data:`ShortId`), a
:data:`PersonName`, a :data:`PlaceName`, a :data:`Title` or :data:`Label`, a :data:`Note`, a code with a pattern, or
an enumeration. A refusal is a 422 (HTTP) or an ``IntakeRejected`` / CSV row error naming the field,
with the rule's code as the error's ``type``.
"""

from __future__ import annotations

import types
import typing
import unicodedata
from collections.abc import Callable
from datetime import date, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    FutureDate,
    NaiveDatetime,
    PastDate,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.kernel import text
from shared.kernel.text import MAX_NAME_LENGTH, TextRefused

MAX_DEPTH = 32  # nesting of a field's value (lists and objects) before it is refused


def _rule(check: Callable[[str], str]) -> AfterValidator:
    def apply(value: str) -> str:
        try:
            return check(value)
        except TextRefused as exc:
            raise PydanticCustomError(exc.code, exc.message) from None

    apply.__name__ = check.__name__
    apply.__qualname__ = f"text_policy.{check.__name__}"
    return AfterValidator(apply)


def _control(ch: str) -> PydanticCustomError:
    return PydanticCustomError(
        "control_character", "contains a control or invisible character ({char})", {"char": f"U+{ord(ch):04X}"}
    )


def _not_empty(value: str) -> str:
    if not value:
        raise PydanticCustomError("empty", "must not be empty or only spaces")
    return value


# Each kind bounds the length before any other check, so that a 100,000-character value costs nothing.
IDENTIFIER = _rule(text.check_identifier)
FREE_TEXT = _rule(text.check_free_text)
NOT_EMPTY = AfterValidator(_not_empty)

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100), IDENTIFIER]
"""An id a system chooses: ASCII letters, digits and ``. _ : -``, starting with a letter or digit."""
ShortId = Annotated[str, StringConstraints(min_length=1, max_length=40), IDENTIFIER]
"""An identifier of at most 40 characters (class, session and module ids)."""
Title = Annotated[str, StringConstraints(min_length=1, max_length=300), FREE_TEXT, NOT_EMPTY]
"""A free text people read in reports, at most 300 characters (a training's title, its venue)."""
Label = Annotated[str, StringConstraints(min_length=1, max_length=200), FREE_TEXT, NOT_EMPTY]
"""A shorter one: an organiser, a module's title, a class's name."""
Note = Annotated[str, StringConstraints(max_length=500), FREE_TEXT]
"""Free text that may be empty: a note, a task, an OJT report, a reason."""
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500), FREE_TEXT, NOT_EMPTY]
"""Free text that must be given: the reason of an officer's decision."""
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), _rule(text.check_name)]
Phone = Annotated[str, StringConstraints(min_length=1, max_length=30), _rule(text.normalise_phone)]
PlaceName = Annotated[str, StringConstraints(min_length=1, max_length=200), _rule(text.check_place_name), NOT_EMPTY]


def _printable(value: str) -> str:
    if (ch := text.refused_character(value)) is not None:
        raise PydanticCustomError(
            "control_character", "contains a control or invisible character ({char})", {"char": f"U+{ord(ch):04X}"}
        )
    return unicodedata.normalize("NFC", value)


# In event contracts: what a service published was checked at its door by the kinds above; a
# consumer reading it back checks only that it is bounded, printable text (cheap, for the rebuild).
EventName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_printable)
]
EventText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_printable)]
Nik = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{16}$")]

# Kemendagri codes of the administrative units, one level a segment: province 16, kota/kabupaten
# 16.71, kecamatan 16.71.01, kelurahan/desa 16.71.01.1001. These patterns are the only spelling of
# the rule. As published in the v1 event contracts they say ``\d`` (any script's digit: a tolerant
# reader); every input takes ASCII digits only (``ascii_digits``), so no other digit gets in.
PROVINCE_CODE = r"^\d{2}$"
KABKOTA_CODE = r"^\d{2}\.\d{2}$"
KECAMATAN_CODE = r"^\d{2}\.\d{2}\.\d{2}$"
KELURAHAN_CODE = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
ORGUNIT_CODE = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"  # any of the four levels


def ascii_digits(pattern: str) -> str:
    """``pattern`` with ``\\d`` as the ASCII digits only: a regular expression's ``\\d`` also
    matches other scripts' digits (``١٦``), which no code has."""
    return pattern.replace(r"\d", "[0-9]")


ProvinceCode = Annotated[str, StringConstraints(pattern=ascii_digits(PROVINCE_CODE))]
KabkotaCode = Annotated[str, StringConstraints(pattern=ascii_digits(KABKOTA_CODE))]
KecamatanCode = Annotated[str, StringConstraints(pattern=ascii_digits(KECAMATAN_CODE))]
KelurahanCode = Annotated[str, StringConstraints(pattern=ascii_digits(KELURAHAN_CODE))]
OrgUnitCode = Annotated[str, StringConstraints(pattern=ascii_digits(ORGUNIT_CODE))]
RegionCode = Annotated[str, StringConstraints(pattern=r"^oc[0-9]{2}$")]
# In the event contracts, as published.
EventProvinceCode = Annotated[str, StringConstraints(pattern=PROVINCE_CODE)]
EventKabkotaCode = Annotated[str, StringConstraints(pattern=KABKOTA_CODE)]


# -- what every field of every input gets --------------------------------------------------------

_TEMPORAL: tuple[Any, ...] = (AwareDatetime, NaiveDatetime, PastDate, FutureDate)


def _kinds(annotation: Any) -> set[str]:
    """The scalar kinds a field's annotation admits: number, boolean, temporal, other."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(a) for a in typing.get_args(annotation) if a is not type(None)))
    if annotation is bool:
        return {"boolean"}
    if annotation in (int, float):
        return {"number"}
    if annotation in _TEMPORAL or (isinstance(annotation, type) and issubclass(annotation, (date, time))):
        return {"temporal"}
    return {"other"}


def _items(annotation: Any) -> Any:
    """The element annotation of a list, tuple or set annotation (else None)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _items(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if (inner := _items(arg)) is not None:
                return inner
        return None
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        return args[0] if args else Any
    return None


class _Refused(Exception):
    def __init__(self, path: tuple[int | str, ...], error: PydanticCustomError) -> None:
        self.path = path
        self.error = error


def strict_value(value: Any, annotation: Any, path: tuple[int | str, ...] = ()) -> Any:
    """``value`` as the policy wants it for a field declared ``annotation`` (see the module's
    docstring); raises :class:`_Refused` with the path of the offending part inside ``value``."""
    if len(path) > MAX_DEPTH:
        raise _Refused(path, PydanticCustomError("too_deep", "nested more than {max} levels deep", {"max": MAX_DEPTH}))
    if isinstance(value, str):
        if (ch := text.refused_character(value)) is not None:
            raise _Refused(path, _control(ch))
        kinds = _kinds(annotation)
        if "number" in kinds and not kinds - {"number"}:
            raise _Refused(path, PydanticCustomError("number_expected", "must be a JSON number, not text"))
        if "boolean" in kinds and not kinds - {"boolean"}:
            raise _Refused(path, PydanticCustomError("boolean_expected", "must be true or false, not text"))
        return unicodedata.normalize("NFC", value)
    if isinstance(value, bool):
        if {"number", "temporal"} & _kinds(annotation):
            raise _Refused(path, PydanticCustomError("number_expected", "must be a JSON number, not true or false"))
        return value
    if isinstance(value, int | float):
        kinds = _kinds(annotation)
        if "temporal" in kinds:
            raise _Refused(path, PydanticCustomError("text_expected", "a date or time is ISO 8601 text, not a number"))
        if "boolean" in kinds and not kinds - {"boolean"}:
            raise _Refused(path, PydanticCustomError("boolean_expected", "must be true or false, not a number"))
        return value
    if isinstance(value, list | tuple):
        element = _items(annotation) or Any
        return [strict_value(item, element, (*path, i)) for i, item in enumerate(value)]
    if isinstance(value, dict):
        # a nested shape validates its own fields; here only its strings are checked
        return {
            strict_value(key, Any, (*path, str(key))): strict_value(item, Any, (*path, str(key)))
            for key, item in value.items()
        }
    return value


class Input(BaseModel):
    """Base of every request shape (HTTP body, intake payload, CSV row): unknown fields refused,
    and the rules that hold for every field (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _every_field(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # pydantic refuses it with its own error
        fields = cls.model_fields
        checked: dict[Any, Any] = {}
        errors: list[Any] = []
        for key, value in data.items():
            field = fields.get(key) if isinstance(key, str) else None
            try:
                checked[key] = strict_value(value, field.annotation if field else Any)
            except _Refused as refused:
                errors.append({"type": refused.error, "loc": (key, *refused.path), "input": value})
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors[:50])
        return checked
