"""Languages in the common library (shared/kernel/i18n.py): Accept-Language with quality values,
Indonesian and English number and date formats, and the Indonesian text of every HTTP error code
a service can answer."""

from __future__ import annotations

import ast
import gettext
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.kernel.errors import Conflict, ErrorTable
from shared.kernel.http import _STATUS_CODES, ApiError, install_error_handlers
from shared.kernel.i18n import (
    ENGLISH,
    INDONESIAN,
    Language,
    error_message,
    negotiate,
    preferences,
    requested,
    translated_codes,
)

ROOT = Path(__file__).parents[2]
WIB = timezone(timedelta(hours=7))
MOMENT = datetime(2016, 8, 7, 7, 5, 3, tzinfo=UTC)
ID = Language(INDONESIAN, gettext.NullTranslations())
EN = Language(ENGLISH, gettext.NullTranslations())


def test_accept_language_ranges_are_ordered_by_quality_then_by_position() -> None:
    assert preferences("en-US,en;q=0.9,id;q=0.8") == [("en-us", 1.0), ("en", 0.9), ("id", 0.8)]
    assert preferences("fr;q=0.5, id, en;q=0.5") == [("id", 1.0), ("fr", 0.5), ("en", 0.5)]
    assert preferences("id;q=0, en;q=oops, , *;q=0.1") == [("*", 0.1)]  # q=0 is "not this"; bad q skipped
    assert preferences(None) == preferences("") == []


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, INDONESIAN),
        ("", INDONESIAN),
        ("*", INDONESIAN),
        ("fr-FR, de", INDONESIAN),
        ("en", ENGLISH),
        ("en-GB,en;q=0.9", ENGLISH),
        ("id-ID,id;q=0.9,en-US;q=0.8", INDONESIAN),
        ("en;q=0.5, id", INDONESIAN),
        ("id;q=0.2, en;q=0.7", ENGLISH),
        ("en;q=0, fr", INDONESIAN),
        ("EN-au", ENGLISH),
    ],
)
def test_negotiation_honours_quality_values_and_defaults_to_indonesian(header: str | None, language: str) -> None:
    assert negotiate(header) == language


def test_only_a_header_that_names_a_language_requests_it() -> None:
    assert requested(None) is None
    assert requested("*") is None
    assert requested("fr, id;q=0.3") == INDONESIAN
    assert requested("en-US, id;q=0.3") == ENGLISH


def test_numbers_in_indonesian_and_english() -> None:
    assert ID.number(1234.5) == "1.234,5"
    assert EN.number(1234.5) == "1,234.5"
    assert ID.number(1234567) == "1.234.567"
    assert EN.number(1234567) == "1,234,567"
    assert ID.number(0.25, 2) == "0,25"
    assert ID.number(None) == EN.number(None) == "-"
    assert ID.percent(0.8734) == "87,3%"
    assert EN.percent(0.8734) == "87.3%"
    assert ID.percent(1.0, 0) == "100%"
    assert ID.percent(None) == "-"


def test_dates_in_indonesian_and_english() -> None:
    assert ID.long_date(date(2016, 8, 7)) == "7 Agustus 2016"
    assert EN.long_date(date(2016, 8, 7)) == "August 7, 2016"
    assert ID.long_date(date(2016, 12, 31)) == "31 Desember 2016"
    assert ID.day_month(date(2016, 8, 7)) == "7 Agu"
    assert EN.day_month(date(2016, 8, 7)) == "Aug 7"
    assert ID.month(date(2016, 7, 1)) == "Juli 2016"
    assert EN.month(date(2016, 7, 1)) == "July 2016"
    assert ID.moment(MOMENT, WIB) == "7 Agustus 2016 14.05.03"
    assert EN.moment(MOMENT, WIB) == "August 7, 2016 14:05:03"


def _app() -> TestClient:
    app = FastAPI()
    install_error_handlers(app, ErrorTable({"training_full": 422}))

    @app.get("/full")
    async def full() -> None:
        raise Conflict("training_full", "the training is full", {"capacity": 30})

    @app.get("/teapot")
    async def teapot() -> None:
        raise ApiError(409, "some_new_code", "a code nobody translated yet")

    @app.get("/number/{n}")
    async def number(n: int) -> int:
        return n

    return TestClient(app)


def test_an_error_keeps_code_and_english_message_and_adds_indonesian_when_asked() -> None:
    client = _app()
    plain = client.get("/full")
    assert plain.json() == {
        "error": {"code": "training_full", "message": "the training is full", "details": {"capacity": 30}}
    }
    assert "content-language" not in plain.headers
    for header in ("id", "id-ID,id;q=0.9,en;q=0.5", "en;q=0.1, id"):
        asked = client.get("/full", headers={"Accept-Language": header})
        assert asked.status_code == 422
        assert asked.json()["error"] == {
            "code": "training_full",
            "message": "the training is full",
            "details": {"capacity": 30},
            "localized_message": "Pelatihan sudah penuh.",
        }
        assert asked.headers["content-language"] == "id"
    for header in ("en", "en-US,en;q=0.9,id;q=0.8", "*", "fr"):
        assert "localized_message" not in client.get("/full", headers={"Accept-Language": header}).json()["error"]


def test_every_kind_of_error_gets_an_indonesian_text() -> None:
    client = _app()
    headers = {"Accept-Language": "id"}
    invalid = client.get("/number/x", headers=headers).json()["error"]
    assert invalid["code"] == "invalid_request"
    assert invalid["localized_message"].startswith("Permintaan tidak sesuai dengan skema")
    missing = client.get("/nowhere", headers=headers).json()["error"]
    assert (missing["code"], missing["localized_message"]) == ("not_found", error_message("not_found", "not_found"))
    # a code the catalogue does not know yet reads as its status's generic text, never as nothing
    new = client.get("/teapot", headers=headers).json()["error"]
    assert new["localized_message"] == error_message("conflict", "conflict")


# -- every code a service can answer has its Indonesian text --------------------------------------

ERROR_CALLS = {"NotFound", "Conflict", "Invalid", "Forbidden", "DomainError", "Refusal", "CsvFileError", "error_body"}


def _string_constants(trees: dict[Path, ast.Module]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found.setdefault(node.targets[0].id, set()).add(node.value.value)
    return found


def error_codes() -> set[str]:
    """The codes in the sources: the constants of each service's ``domain/errors.py``, the first
    argument of every domain error, refusal or CSV file error (a literal or a module constant),
    the code argument of ``ApiError`` and of the kernel's error answers, and the status codes."""
    trees = {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for top in ("shared", "services")
        for path in sorted((ROOT / top).rglob("*.py"))
    }
    constants = _string_constants(trees)
    codes = set(_STATUS_CODES.values()) | {"http_error", "internal_error", "database_unavailable"}
    for path, tree in trees.items():
        if path.name == "errors.py" and path.parent.name == "domain":
            codes |= {
                n.value.value
                for n in tree.body
                if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "__init__" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
                name = "DomainError"  # super().__init__(CODE, ...) in a DomainError subclass
            if name == "ApiError" and len(node.args) > 1:
                argument = node.args[1]
            elif name == "_error" and len(node.args) > 2:
                argument = node.args[2]
            elif name in ERROR_CALLS:
                argument = node.args[0]
            else:
                continue
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                codes.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id.isupper():
                codes |= constants.get(argument.id, set())
    return {c for c in codes if c.isidentifier() and c.islower()}


def test_every_error_code_in_the_sources_has_an_indonesian_text() -> None:
    codes = error_codes()
    assert {"training_full", "unknown_table", "region_forbidden", "invalid_request", "too_many_requests"} <= codes
    missing = sorted(codes - translated_codes())
    assert missing == [], f"add these codes to shared/kernel/locale/id/LC_MESSAGES/errors.po: {missing}"


def test_the_errors_catalogue_is_well_formed() -> None:
    from babel.messages.pofile import read_po

    with (ROOT / "shared/kernel/locale/id/LC_MESSAGES/errors.po").open("rb") as source:
        catalogue = read_po(source)
    entries = [m for m in catalogue if m.id]
    assert all(m.string and not m.fuzzy for m in entries)
    assert all(str(m.id).isidentifier() for m in entries)
    assert all(str(m.string)[:1].isupper() and str(m.string).endswith(".") for m in entries)
