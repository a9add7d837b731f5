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
ProvinceCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
KabkotaCode = Annotated[str, StringConstraints(pattern=r"^\d{2}\.\d{2}$")]
RegionCode = Annotated[str, StringConstraints(pattern=r"^oc\d{2}$")]
