"""The committed event contract documentation (docs/contracts, docs/asyncapi) against the code,
and the rules that tell a breaking change (needs a v2) from a compatible one (re-run the export)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, create_model

from shared.kernel.envelope import CONTRACTS
from shared.tools import contracts as export
from tests.ops.conftest import REPO, run, tool

SERVICES = ("registration", "training", "reporting")
DEFINITIONS = [f"services.{name}.app:DEFINITION" for name in SERVICES]


def test_committed_contract_schemas_match_the_code() -> None:
    found = export.drift(export.committed_schemas(), export.contract_schemas())
    assert not found.breaking, found.report()
    assert not found.compatible, found.report()
    assert {f"{t}.v{v}.json" for t, v in CONTRACTS} | {"Envelope.json"} == set(export.committed_schemas())


def test_committed_asyncapi_documents_match_the_services() -> None:
    for name in SERVICES:
        committed = json.loads((export.ASYNCAPI_DIR / f"{name}.json").read_text())
        current = json.loads(
            export.dumps(export.asyncapi_document(export.service_definition(f"services.{name}.app:DEFINITION")))
        )
        assert committed == current, f"docs/asyncapi/{name}.json is out of date: run make contracts"
        assert committed["asyncapi"] == "3.0.0"


def test_asyncapi_documents_show_what_each_service_reads_and_writes() -> None:
    docs = {name: json.loads((export.ASYNCAPI_DIR / f"{name}.json").read_text()) for name in SERVICES}

    def addresses(name: str, action: str) -> set[str]:
        doc = docs[name]
        return {
            doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]["address"]
            for op in doc["operations"].values()
            if op["action"] == action
        }

    assert "oc02.registration.facilitator.v1" in addresses("registration", "send")
    assert "oc02.registration.enrollment.v1" in addresses("training", "receive")
    assert "oc02.registration.facilitator.v1" in addresses("reporting", "receive")
    sent = {a for a in addresses("reporting", "send") if not a.endswith(".dlq")}
    assert sent == {"national.xapi.statements.v1"}, "reporting publishes only the national xAPI statements"
    schemas = docs["reporting"]["components"]["schemas"]
    assert "FacilitatorRegistered" in json.dumps(schemas)


def test_the_export_command_is_up_to_date() -> None:
    done = run(tool("python"), "-m", "shared.tools.contracts", "--check", *DEFINITIONS)
    assert done.returncode == 0, done.stderr


class Role(StrEnum):
    A = "a"
    B = "b"


class Narrow(StrEnum):
    A = "a"


class V1(BaseModel):
    facilitator_id: uuid.UUID
    full_name: str = Field(max_length=200)
    role: Role
    effective_from: date
    note: str | None = None


def schema(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "facilitator_id": (uuid.UUID, ...),
        "full_name": (str, Field(max_length=200)),
        "role": (Role, ...),
        "effective_from": (date, ...),
        "note": (str | None, None),
    }
    fields.update(changes)
    model: type[BaseModel] = create_model("V1", **{k: v for k, v in fields.items() if v is not None})
    return model.model_json_schema()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"note": None}, "$.note: field removed"),
        ({"effective_from": (str, ...)}, "$.effective_from: format changed"),
        ({"facilitator_id": (int, ...)}, "$.facilitator_id: type changed"),
        ({"region": (str, ...)}, "$.region: new required field"),
        ({"note": (str, ...)}, "$.note: type changed"),
        ({"role": (Narrow, ...)}, "$.role: allowed values changed"),
        ({"full_name": (str, Field(max_length=100))}, "$.full_name: maxLength narrowed"),
    ],
)
def test_breaking_changes_are_recognised(changes: dict[str, Any], reason: str) -> None:
    old = V1.model_json_schema()
    assert export.breaking_changes(old, old) == []
    found = export.breaking_changes(old, schema(**changes))
    assert any(r.startswith(reason) for r in found), found


def test_a_new_optional_field_is_compatible() -> None:
    old = V1.model_json_schema()
    new = schema(phone_verified=(bool | None, None), full_name=(str, Field(max_length=300, description="more")))
    assert new != old
    assert export.breaking_changes(old, new) == []
    found = export.drift({"X.v1.json": old}, {"X.v1.json": new})
    assert found.compatible == ["X.v1.json"]
    assert not found.breaking
    assert "run make contracts" in found.report()


def test_export_refuses_to_overwrite_a_breaking_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A committed schema with a field the code no longer has: the check names it and asks for a
    v2, and the export leaves the committed file alone."""
    contracts, asyncapi = tmp_path / "contracts", tmp_path / "asyncapi"
    contracts.mkdir()
    for name, text in export.committed_schemas().items():
        (contracts / name).write_text(export.dumps(text))
    committed = json.loads((contracts / "FacilitatorRegistered.v1.json").read_text())
    committed["properties"]["nik_last4"] = {"type": "string"}
    (contracts / "FacilitatorRegistered.v1.json").write_text(export.dumps(committed))
    monkeypatch.setattr(export, "CONTRACTS_DIR", contracts)
    monkeypatch.setattr(export, "ASYNCAPI_DIR", asyncapi)
    found = export.drift(export.committed_schemas(contracts), export.contract_schemas())
    assert found.breaking == {"FacilitatorRegistered.v1.json": ["$.nik_last4: field removed"]}
    assert "schema_version = 2" in found.report()
    assert export.main(DEFINITIONS) == 1
    assert "nik_last4" in (contracts / "FacilitatorRegistered.v1.json").read_text()
    assert export.main(["--accept-breaking", *DEFINITIONS]) == 0
    assert "nik_last4" not in (contracts / "FacilitatorRegistered.v1.json").read_text()
    assert (asyncapi / "reporting.json").exists()
    assert REPO not in contracts.parents
