"""Who reads which report when aggregates are not public (entrypoints/http.py ``Reader``): a
region credential its own regions' data only, a national or admin credential everything, and
everybody everything while aggregates are public."""

from __future__ import annotations

import uuid

import pytest

from services.reporting.domain.models import AreaReport, Filters, TrainingInfo, TrainingReport
from services.reporting.entrypoints.errors import ERRORS
from services.reporting.entrypoints.http import Reader, area_check, training_check
from shared.kernel.auth import Principal, Role
from shared.kernel.errors import Forbidden

OC02 = Principal("k1", Role.REGION, frozenset({"oc02"}), "OC 02")
NATIONAL = Principal("k2", Role.NATIONAL, frozenset(), "national office")


def area(code: str, region: str | None) -> AreaReport:
    counts = dict.fromkeys(
        ("facilitators_active", "facilitators_total", "enrolled", "completed", "not_completed", "certified"), 0
    )
    return AreaReport(
        filters=Filters(),
        data_as_of=None,
        level="province" if len(code) == 2 else "kabkota",
        code=code,
        name=code,
        region=region,
        regions=[],
        **counts,
        facilitators_by_area=[],
        completion_by_area=[],
        trainings=[],
        ojt_kelurahan=[],
    )


def training(region: str | None) -> TrainingReport:
    info: dict[str, object] = {name: None for name, f in TrainingInfo.model_fields.items() if f.annotation is not int}
    counts = {name: 0 for name, f in TrainingInfo.model_fields.items() if f.annotation is int}
    info.update(training_id=uuid.uuid4(), region=region, status="scheduled")
    return TrainingReport(
        filters=Filters(),
        data_as_of=None,
        training=TrainingInfo.model_validate({**info, **counts}),
        attendance_by_session=[],
        attendance_by_day=[],
        not_completed_reasons=[],
        ojt_kelurahan=[],
        by_area=[],
        unreported_sessions=[],
    )


def refusal(check: object, *args: object) -> Forbidden:
    with pytest.raises(Forbidden) as refused:
        check(*args)  # type: ignore[operator]
    assert ERRORS.status(refused.value) == 403
    return refused.value


def test_a_region_credential_reads_its_own_region_only() -> None:
    reader = Reader(OC02, OC02.regions)
    reader.ensure_region("oc02", "region oc02")
    assert refusal(reader.ensure_region, "oc05", "region oc05").code == "region_forbidden"
    assert refusal(reader.ensure_region, None, "training t").details == {"regions": ["oc02"]}
    error = refusal(reader.ensure_national)
    assert (error.code, error.details) == ("national_reader_required", {"regions": ["oc02"]})
    assert "/api/v1/reports/regions/oc02" in error.message


def test_areas_and_trainings_belong_to_the_region_of_their_province_and_schedule() -> None:
    reader = Reader(OC02, OC02.regions)
    area_check(reader)(area("16", "oc02"))
    area_check(reader)(area("16.71", "oc02"))
    assert "province 18" in refusal(area_check(reader), area("18.71", "oc05")).message
    refusal(area_check(reader), area("13", None))  # no assignment applied yet: nobody's region
    training_check(reader)(training("oc02"))
    refusal(training_check(reader), training("oc05"))
    refusal(training_check(reader), training(None))


@pytest.mark.parametrize("reader", [Reader(NATIONAL), Reader(None), Reader(OC02)], ids=["national", "public", "open"])
def test_a_reader_of_every_region_reads_everything(reader: Reader) -> None:
    """A national credential, or anyone while aggregates are public (with or without a credential)."""
    reader.ensure_national()
    for region in ("oc02", "oc05", None):
        reader.ensure_region(region, "anything")
    area_check(reader)(area("13", None))
    training_check(reader)(training("oc05"))
