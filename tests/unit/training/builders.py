"""Commands and trainings for the unit tests: a two-class, four-session training in oc02."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

from services.training.domain import Schedule
from services.training.usecases import trainings
from services.training.usecases.facts import FactIds, FactsOutcome, Origin
from services.training.usecases.ports import Authorize, Deployment, UnitOfWork
from services.training.usecases.trainings import ScheduleTraining, TrainingSummary
from shared.kernel.contracts import CompletionRule, Module, Role, Session, SessionKind, TrainingClass, TrainingType
from tests.unit.training.fakes import DEPLOYMENT, REGION, FakeDatabase, only

WIB = timezone(timedelta(hours=7))
KEL = "16.71.02.1005"
SESSIONS = tuple(
    Session(session_id=f"d{i}", date=date(2016, 8, 1) + timedelta(days=i), kind=SessionKind.CLASSROOM) for i in range(4)
)
RULE = CompletionRule(min_attendance_ratio=0.75, require_post_test=True, require_ojt=True)


def at(day: int, hour: int = 9) -> datetime:
    """A time on the ``day``-th day of the training (day 0 is 1 August 2016), in WIB."""
    return datetime(2016, 8, 1, hour, tzinfo=WIB) + timedelta(days=day)


def schedule(**changes: object) -> Schedule:
    fields: dict[str, object] = {
        "title": "Pelatihan Dasar Fasilitator",
        "organiser": "OC 02 Sumatera Selatan",
        "venue": "Palembang",
        "start_date": date(2016, 8, 1),
        "end_date": date(2016, 8, 4),
        "capacity": 60,
        "eligible_roles": (Role.FASILITATOR, Role.SENIOR_FASILITATOR),
        "modules": (Module(code="M1", title="Siklus program"),),
        "classes": (TrainingClass(class_id="A", name="Kelas A"), TrainingClass(class_id="B", name="Kelas B")),
        "sessions": SESSIONS,
        "completion_rule": RULE,
    }
    fields.update(changes)
    return Schedule(**fields)  # type: ignore[arg-type]


async def scheduled(db: FakeDatabase, training_id: uuid.UUID | None = None, **changes: Any) -> TrainingSummary:
    cmd = ScheduleTraining(REGION, TrainingType.BASIC, schedule(**changes), training_id or uuid.uuid4())
    async with db.unit_of_work() as uow:
        return await trainings.schedule_training(cmd, uow, DEPLOYMENT, only(REGION))


async def training_with(db: FakeDatabase, people: int = 2) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A scheduled training, its OJT kelurahan (KEL) defined and ``people`` enrolled: (its id, theirs)."""
    tid = (await scheduled(db)).training.training_id
    db.define_kelurahan(KEL)
    return tid, [db.enroll(tid) for _ in range(people)]


async def close(db: FakeDatabase, training_id: uuid.UUID) -> TrainingSummary:
    async with db.unit_of_work() as uow:
        return await trainings.close_training(trainings.CloseTraining(training_id), uow, DEPLOYMENT, only(REGION))


def http(occurred_at: datetime | None = None) -> Origin:
    return Origin("http", occurred_at or at(0), FactIds())


Command = TypeVar("Command")


async def record(
    db: FakeDatabase,
    use_case: Callable[[Command, UnitOfWork, Deployment, Authorize, Origin], Awaitable[FactsOutcome]],
    cmd: Command,
) -> FactsOutcome:
    """Run a fact-recording use case in its own unit of work, for an HTTP caller of the training's region."""
    async with db.unit_of_work() as uow:
        return await use_case(cmd, uow, DEPLOYMENT, only(REGION), http())
