"""A small world for the registration use cases: Sumatera Selatan (16) in oc02 with Kota
Palembang (16.71) and Kabupaten Ogan Ilir (16.10), Jambi (15) in oc01, and scheduled trainings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from services.registration.domain.enrollments import KnownTraining
from services.registration.domain.facilitators import Facilitator
from services.registration.domain.orgunits import OrgUnit, level_of, parent_of
from services.registration.usecases import facilitators
from services.registration.usecases.facilitators import NewFacilitator
from shared.kernel.contracts import Role, Speciality
from shared.kernel.errors import Forbidden
from tests.unit.registration.fakes import MemoryStore

KEY = b"test-key"
SERVED = ["oc02"]
START = date(2016, 1, 1)


def allow(_: str) -> None:
    """An authorization check that lets everything through."""


def allow_admin() -> None:
    """An admin check that lets everything through."""


class Refused(Exception):
    """What the test authorization checks raise (an HTTP credential check raises its own error)."""


def refuse(region: str) -> None:
    raise Refused(region)


def unit(code: str, name: str, effective_from: date = START) -> OrgUnit:
    return OrgUnit(code, level_of(code), name, parent_of(code), effective_from)


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    for u in (
        unit("16", "Sumatera Selatan"),
        unit("16.71", "Kota Palembang"),
        unit("16.10", "Kabupaten Ogan Ilir"),
        unit("16.71.01", "Ilir Barat II"),
        unit("15", "Jambi"),
        unit("15.71", "Kota Jambi"),
    ):
        store.state.units[u.code] = u
    store.state.assignments[("16", START)] = "oc02"
    store.state.assignments[("15", START)] = "oc01"
    return store


def person(**changes: object) -> NewFacilitator:
    values: dict[str, object] = {
        "nik": "1671010101900001",
        "full_name": "Siti Aminah",
        "role": Role.FASILITATOR,
        "region": "oc02",
        "province_code": "16",
        "kabkota_code": "16.71",
        "effective_from": date(2016, 7, 1),
        "speciality": Speciality.SOSIAL,
    }
    values.update(changes)
    return NewFacilitator(**values)  # type: ignore[arg-type]


async def register(store: MemoryStore, **changes: object) -> Facilitator:
    async with store.unit_of_work() as uow:
        return await facilitators.register_facilitator(uow, person(**changes), served=SERVED, key=KEY, authorize=allow)


def only(*regions: str) -> Callable[[str], None]:
    """The write check of a credential of ``regions`` (as shared.kernel.auth.ensure_may_write)."""

    def check(region: str) -> None:
        if region not in regions:
            raise Forbidden("region_forbidden", f"may not write {region}")

    return check


async def register_in_oc01(store: MemoryStore) -> Facilitator:
    """The NIK of :func:`person`, registered in oc01 (Jambi) by a deployment that serves oc01 too."""
    async with store.unit_of_work() as uow:
        return await facilitators.register_facilitator(
            uow,
            person(region="oc01", province_code="15", kabkota_code="15.71", speciality=None),
            served=["oc01", "oc02"],
            key=KEY,
            authorize=allow,
        )


def training(
    store: MemoryStore,
    *,
    region: str = "oc02",
    capacity: int = 30,
    status: str = "scheduled",
    roles: tuple[str, ...] = ("fasilitator", "askot"),
) -> uuid.UUID:
    training_id = uuid.uuid4()
    store.state.trainings[training_id] = KnownTraining(
        training_id=training_id,
        region=region,
        status=status,  # type: ignore[arg-type]
        training_type="pelatihan_dasar",
        title="Pelatihan Dasar",
        start_date=date(2016, 8, 1),
        end_date=date(2016, 8, 5),
        capacity=capacity,
        eligible_roles=roles,
    )
    store.state.details_as_of[training_id] = datetime(2016, 7, 1, tzinfo=UTC)
    return training_id
