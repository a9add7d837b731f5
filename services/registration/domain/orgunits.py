"""Org units (provinces, kota/kabupaten, kecamatan, kelurahan/desa) and the OC region each
province belongs to over time. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.registration.domain import errors
from shared.kernel.contracts import OrgUnitLevel

CODE_PATTERN = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"
LEVELS: tuple[OrgUnitLevel, ...] = (
    OrgUnitLevel.PROVINCE,
    OrgUnitLevel.KABKOTA,
    OrgUnitLevel.KECAMATAN,
    OrgUnitLevel.KELURAHAN,
)


def level_of(code: str) -> OrgUnitLevel:
    return LEVELS[code.count(".")]


def parent_of(code: str) -> str | None:
    return code.rsplit(".", 1)[0] if "." in code else None


def province_of(code: str) -> str:
    return code[:2]


@dataclass(frozen=True)
class OrgUnit:
    code: str
    level: OrgUnitLevel
    name: str
    parent_code: str | None
    effective_from: date
    effective_to: date | None = None  # the unit ends on this day (e.g. moved to a new province)

    def same_as(self, name: str, effective_from: date) -> bool:
        return (self.name, self.effective_from) == (name, effective_from)

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


@dataclass(frozen=True)
class RegionAssignment:
    """The province belongs to ``region`` from ``effective_from`` on."""

    province_code: str
    region: str
    effective_from: date


def check_area(
    region: str,
    province_code: str,
    kabkota_code: str,
    on: date,
    *,
    province: OrgUnit | None,
    kabkota: OrgUnit | None,
    region_then: str | None,
    within_region: bool = False,
) -> None:
    """Refuse a province/kota pair that is not in the reference data, or whose province is not in
    ``region`` on ``on`` (``region_then``). ``within_region`` words the refusal for a reassignment."""
    if province is None or province.level != OrgUnitLevel.PROVINCE:
        raise errors.unknown_orgunit(
            f"province {province_code} is not in the reference data", "province_code", province_code
        )
    if kabkota is None or kabkota.level != OrgUnitLevel.KABKOTA:
        raise errors.unknown_orgunit(
            f"kota/kabupaten {kabkota_code} is not in the reference data", "kabkota_code", kabkota_code
        )
    if kabkota.parent_code != province_code:
        raise errors.orgunit_not_in_province(kabkota_code, kabkota.parent_code, province_code)
    if region_then != region:
        raise errors.orgunit_not_in_region(
            province_code, province.name, region_then, region, on, within_region=within_region
        )
