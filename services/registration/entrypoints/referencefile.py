"""The committed org-unit reference data file (``services/registration/data/orgunits.json``) and
its shape; ``command`` turns it, with the OC regions file (``regionsfile``), into the seed use
case's command (usecases.orgunits). The file is a part of the whole country's data (``country``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.registration.domain.orgunits import CODE_PATTERN, OrgUnit, RegionAssignment, level_of, parent_of
from services.registration.usecases.orgunits import SeedOrgUnits
from shared.kernel.contracts import OrgUnitLevel

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "orgunits.json"


class ReferenceUnit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE_PATTERN)
    level: OrgUnitLevel
    name: str = Field(min_length=1, max_length=200)
    parent_code: str | None
    effective_from: date
    effective_to: date | None = None
    code_status: Literal["official", "illustrative"]
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReferenceUnit:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError(f"{self.code}: effective_to must be after effective_from")
        if self.level != level_of(self.code):
            raise ValueError(f"{self.code}: a code of this shape is a {level_of(self.code).value}, not {self.level}")
        if self.parent_code != parent_of(self.code):
            raise ValueError(f"{self.code}: its parent is {parent_of(self.code)}, not {self.parent_code}")
        return self


class ReferenceData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    edition: str
    notes: list[str]
    units: list[ReferenceUnit]

    @model_validator(mode="after")
    def _complete(self) -> ReferenceData:
        codes = [u.code for u in self.units]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"codes defined twice: {duplicates}")
        known = set(codes)
        orphans = sorted(u.code for u in self.units if u.parent_code is not None and u.parent_code not in known)
        if orphans:
            raise ValueError(f"units whose parent is not in the file: {orphans}")
        return self

    def provinces(self) -> dict[str, ReferenceUnit]:
        return {u.code: u for u in self.units if u.level is OrgUnitLevel.PROVINCE}


def load_reference_data(path: Path = DATA_FILE) -> ReferenceData:
    return ReferenceData.model_validate(json.loads(path.read_text(encoding="utf-8")))


def command(
    data: ReferenceData, assignments: list[RegionAssignment], *, update: bool = False, republish: bool = False
) -> SeedOrgUnits:
    return SeedOrgUnits(
        units=tuple(
            OrgUnit(u.code, u.level, u.name, u.parent_code, u.effective_from, u.effective_to) for u in data.units
        ),
        assignments=tuple(assignments),
        update=update,
        republish=republish,
    )
