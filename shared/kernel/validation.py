"""Input types shared by the HTTP and intake contracts: bounded, printable text and area codes."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _printable(value: str) -> str:
    # Letters of any script are welcome (names are Indonesian, Arabic, Chinese...); control and
    # format characters (NUL, bidi overrides, zero-width tricks) are not.
    for ch in value:
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            raise ValueError(f"contains a control or invisible character (U+{ord(ch):04X})")
    return unicodedata.normalize("NFC", value)


PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_printable)
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_printable)]
Nik = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{16}$")]
# Kemendagri codes of the administrative units, one level a segment: province 16, kota/kabupaten
# 16.71, kecamatan 16.71.01, kelurahan/desa 16.71.01.1001. These patterns are the only spelling of
# the rule; contracts, HTTP schemas and reference data use them.
PROVINCE_CODE = r"^\d{2}$"
KABKOTA_CODE = r"^\d{2}\.\d{2}$"
KECAMATAN_CODE = r"^\d{2}\.\d{2}\.\d{2}$"
KELURAHAN_CODE = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
ORGUNIT_CODE = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"  # any of the four levels

ProvinceCode = Annotated[str, StringConstraints(pattern=PROVINCE_CODE)]
KabkotaCode = Annotated[str, StringConstraints(pattern=KABKOTA_CODE)]
KecamatanCode = Annotated[str, StringConstraints(pattern=KECAMATAN_CODE)]
KelurahanCode = Annotated[str, StringConstraints(pattern=KELURAHAN_CODE)]
OrgUnitCode = Annotated[str, StringConstraints(pattern=ORGUNIT_CODE)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^oc\d{2}$")]
