"""The OC regions file (``services/registration/data/oc_regions.json``): which provinces each OC
region holds, each from a date. It is the one place an administrator changes the grouping:

    python -m services.registration regions plan  [--file F]   what would change, nothing written
    python -m services.registration regions apply [--file F]   record and publish it

``plan`` compares the file with the assignments the service holds. An entry the service does not
have is added (a province joins a region, or moves to another one from that date); an entry whose
date the service has with another region is a correction of that assignment. Assignments the
service holds and the file does not are reported and kept: they are history, never deleted.
``apply`` runs the ``assign_province`` use case for each change, which publishes
``ProvinceAssignedToRegion`` and the province's units on the region's topic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.registration.domain.orgunits import RegionAssignment

REGIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "oc_regions.json"


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    province_code: str = Field(pattern=r"^[0-9]{2}$")
    effective_from: date
    illustrative: bool = False


class RegionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    notes: list[str] = []
    regions: dict[str, list[Entry]]

    @model_validator(mode="after")
    def _consistent(self) -> RegionsFile:
        bad = sorted(r for r in self.regions if not (len(r) == 4 and r.startswith("oc") and r[2:].isdigit()))
        if bad:
            raise ValueError(f"region codes are oc01, oc02, ...: {bad}")
        seen: dict[tuple[str, date], str] = {}
        for region, entries in sorted(self.regions.items()):
            for e in entries:
                key = (e.province_code, e.effective_from)
                if key in seen:
                    raise ValueError(
                        f"province {e.province_code} is given to {seen[key]} and {region} "
                        f"from the same day {e.effective_from.isoformat()}"
                    )
                seen[key] = region
        return self

    def assignments(self) -> list[RegionAssignment]:
        found = [
            RegionAssignment(e.province_code, region, e.effective_from)
            for region, entries in self.regions.items()
            for e in entries
        ]
        return sorted(found, key=lambda a: (a.effective_from, a.province_code))


@dataclass(frozen=True)
class Province:
    name: str
    effective_from: date
    effective_to: date | None = None


def check_provinces(assignments: list[RegionAssignment], provinces: Mapping[str, Province]) -> list[str]:
    """What is wrong with the grouping for these provinces (the reference data's): an unknown
    province, an assignment before the province exists, a province in force without a region."""
    problems = []
    first: dict[str, date] = {}
    for a in assignments:
        province = provinces.get(a.province_code)
        if province is None:
            problems.append(f"province {a.province_code} ({a.region}) is not in the reference data")
            continue
        if a.effective_from < province.effective_from:
            problems.append(
                f"province {a.province_code} {province.name} joins {a.region} on {a.effective_from.isoformat()}, "
                f"before it exists ({province.effective_from.isoformat()})"
            )
        first[a.province_code] = min(first.get(a.province_code, a.effective_from), a.effective_from)
    for code, province in sorted(provinces.items()):
        if province.effective_to is not None:
            continue
        if code not in first:
            problems.append(f"province {code} {province.name} has no OC region")
        elif first[code] > province.effective_from:
            problems.append(
                f"province {code} {province.name} has no OC region from {province.effective_from.isoformat()} "
                f"to {first[code].isoformat()}"
            )
    return problems


@dataclass(frozen=True)
class Change:
    kind: Literal["join", "move", "correct", "kept"]
    assignment: RegionAssignment
    before: str | None  # the region before (move), the region replaced (correct), or None

    def describe(self, names: Mapping[str, str]) -> str:
        a = self.assignment
        who = f"{a.province_code} {names.get(a.province_code, '')}".rstrip()
        on = a.effective_from.isoformat()
        if self.kind == "join":
            return f"+ {who}: joins {a.region} from {on}"
        if self.kind == "move":
            return f"> {who}: moves from {self.before} to {a.region} on {on}"
        if self.kind == "correct":
            return f"~ {who}: {self.before} -> {a.region} from {on} (the assignment of that day is corrected)"
        return f"= {who}: {a.region} from {on} is held by the service but not in the file (kept)"


def plan(wanted: list[RegionAssignment], held: list[RegionAssignment]) -> list[Change]:
    """The changes that make the service hold ``wanted`` (the file), in date order."""
    have = {(a.province_code, a.effective_from): a.region for a in held}
    after = {**have, **{(a.province_code, a.effective_from): a.region for a in wanted}}
    changes: list[Change] = []
    for a in sorted(wanted, key=lambda a: (a.effective_from, a.province_code)):
        current = have.get((a.province_code, a.effective_from))
        if current == a.region:
            continue
        if current is not None:
            changes.append(Change("correct", a, current))
            continue
        earlier = sorted((d, r) for (p, d), r in after.items() if p == a.province_code and d < a.effective_from)
        before = earlier[-1][1] if earlier else None
        changes.append(Change("move", a, before) if before not in (None, a.region) else Change("join", a, None))
    in_file = {(a.province_code, a.effective_from) for a in wanted}
    changes += [
        Change("kept", h, None)
        for h in sorted(held, key=lambda a: (a.province_code, a.effective_from))
        if (h.province_code, h.effective_from) not in in_file
    ]
    return changes


def load_regions_file(path: Path = REGIONS_FILE) -> RegionsFile:
    return RegionsFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
