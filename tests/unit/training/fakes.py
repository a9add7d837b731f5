"""In-memory implementations of the training use cases' ports (services/training/usecases/ports.py).

:class:`FakeDatabase` holds the state; ``async with db.unit_of_work() as uow`` is one transaction:
if the block raises, the state is restored and its events are dropped, otherwise the events are
"committed" to ``db.published``. The rules the SQL enforces (a fact id once per training, one
decision per participant, a certificate code once) hold here too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from services.training.domain import CLOSED, SCHEDULED, Decision, Fact, Outcome, Schedule, Training
from services.training.domain.submissions import Submission
from services.training.usecases.ports import (
    CertificateView,
    DecisionEntry,
    Deployment,
    KnownKelurahan,
    NewTraining,
    Participant,
    ParticipantRow,
    Review,
    RosterEntry,
    StoredFact,
    TrainingCounts,
)
from shared.kernel.envelope import Event, EventPayload
from shared.kernel.errors import Forbidden
from tests.unit.fakes_common import all_or_nothing

NOW = datetime(2016, 8, 20, 9, 0, tzinfo=UTC)
REGION = "oc02"
DEPLOYMENT = Deployment(source="kotaku.training", regions=(REGION,), clock=lambda: NOW)


def only(*regions: str) -> Any:
    """An authorize callback that lets the caller act on ``regions`` only."""

    def authorize(region: str) -> None:
        if region not in regions:
            raise Forbidden("region_forbidden", f"may not act on {region}")

    return authorize


@dataclass
class DecisionRow:
    outcome: str
    unmet: list[str]
    attendance_ratio: float
    decided_by: str
    decided_at: datetime


@dataclass
class State:
    trainings: dict[uuid.UUID, Training] = field(default_factory=dict)
    roster: dict[tuple[uuid.UUID, uuid.UUID], RosterEntry] = field(default_factory=dict)
    classes: dict[tuple[uuid.UUID, uuid.UUID], str] = field(default_factory=dict)
    facts: dict[tuple[uuid.UUID, str], StoredFact] = field(default_factory=dict)
    kelurahan: dict[str, KnownKelurahan] = field(default_factory=dict)
    decisions: dict[tuple[uuid.UUID, uuid.UUID], DecisionRow] = field(default_factory=dict)
    certificates: dict[str, tuple[uuid.UUID, uuid.UUID, datetime]] = field(default_factory=dict)
    revoked: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    history: list[tuple[uuid.UUID, uuid.UUID, DecisionEntry]] = field(default_factory=list)
    reviews: dict[uuid.UUID, Review] = field(default_factory=dict)
    submissions: dict[tuple[uuid.UUID, str], Submission] = field(default_factory=dict)
    submission_steps: list[tuple[uuid.UUID, str, str, str]] = field(
        default_factory=list
    )  # training, id, action, status
    locked: list[uuid.UUID] = field(default_factory=list)  # every lock taken, in order


def _counts(s: State, training_id: uuid.UUID) -> TrainingCounts:
    roster = [e for (t, _), e in s.roster.items() if t == training_id]
    decisions = [d for (t, _), d in s.decisions.items() if t == training_id]
    return TrainingCounts(
        enrolled=sum(e.status == "enrolled" for e in roster),
        withdrawn=sum(e.status == "withdrawn" for e in roster),
        completed=sum(d.outcome == "completed" for d in decisions),
        not_completed=sum(d.outcome == "not_completed" for d in decisions),
        certificates=sum(t == training_id for c, (t, _, _) in s.certificates.items() if c not in s.revoked),
    )


class FakeTrainings:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, training: NewTraining) -> bool:
        if training.training_id in self.s.trainings:
            return False
        sch = training.schedule
        self.s.trainings[training.training_id] = Training(
            training_id=training.training_id,
            region=training.region,
            training_type=training.training_type,
            status=SCHEDULED,
            status_reason="",
            version=1,
            created_at=NOW,
            updated_at=NOW,
            closed_at=None,
            **sch.fields(),
        )
        return True

    async def get(self, training_id: uuid.UUID) -> Training | None:
        return self.s.trainings.get(training_id)

    async def lock(self, training_id: uuid.UUID) -> Training | None:
        self.s.locked.append(training_id)
        return self.s.trainings.get(training_id)

    async def update_schedule(self, training_id: uuid.UUID, schedule: Schedule) -> None:
        t = self.s.trainings[training_id]
        self.s.trainings[training_id] = replace(t, version=t.version + 1, **schedule.fields())

    async def set_status(self, training_id: uuid.UUID, status: str, reason: str) -> None:
        t = self.s.trainings[training_id]
        self.s.trainings[training_id] = replace(
            t, status=status, status_reason=reason, version=t.version + 1, closed_at=NOW if status == CLOSED else None
        )

    async def counts(self, training_id: uuid.UUID) -> TrainingCounts:
        return _counts(self.s, training_id)


class FakeRoster:
    def __init__(self, s: State) -> None:
        self.s = s

    async def count_enrolled(self, training_id: uuid.UUID) -> int:
        return _counts(self.s, training_id).enrolled

    async def enrolled_among(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return {
            f
            for f in facilitator_ids
            if (e := self.s.roster.get((training_id, f))) is not None and e.status == "enrolled"
        }


class FakeClasses:
    def __init__(self, s: State) -> None:
        self.s = s

    async def in_use(self, training_id: uuid.UUID) -> set[str]:
        return {c for (t, _), c in self.s.classes.items() if t == training_id}

    async def members(self, training_id: uuid.UUID, class_id: str) -> list[uuid.UUID]:
        return sorted(
            f
            for (t, f), c in self.s.classes.items()
            if t == training_id
            and c == class_id
            and (e := self.s.roster.get((t, f))) is not None
            and e.status == "enrolled"
        )

    async def assign(self, training_id: uuid.UUID, assignments: Sequence[tuple[uuid.UUID, str]]) -> None:
        for f, c in assignments:
            self.s.classes[(training_id, f)] = c


class FakeFacts:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, training_id: uuid.UUID, facts: Sequence[Fact], channel: str) -> set[str]:
        inserted = set()
        for f in facts:
            if (training_id, f.fact_id) not in self.s.facts:
                self.s.facts[(training_id, f.fact_id)] = StoredFact(f, channel, NOW)
                inserted.add(f.fact_id)
        return inserted

    async def by_id(self, training_id: uuid.UUID, fact_ids: Sequence[str]) -> dict[str, Fact]:
        return {i: self.s.facts[(training_id, i)].fact for i in fact_ids if (training_id, i) in self.s.facts}

    async def of_participants(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> list[Fact]:
        wanted = set(facilitator_ids)
        return [sf.fact for (t, _), sf in self.s.facts.items() if t == training_id and sf.fact.facilitator_id in wanted]


class FakeKelurahan:
    def __init__(self, s: State) -> None:
        self.s = s

    async def known_among(self, codes: Sequence[str]) -> set[str]:
        return {c for c in codes if c in self.s.kelurahan}


class FakeDecisions:
    def __init__(self, s: State) -> None:
        self.s = s

    async def count(self, training_id: uuid.UUID) -> int:
        return sum(t == training_id for t, _ in self.s.decisions)

    async def undecided(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID] | None) -> list[Participant]:
        return [
            Participant(f, e.status == "withdrawn")
            for (t, f), e in sorted(self.s.roster.items(), key=lambda item: item[0][1])
            if t == training_id and (t, f) not in self.s.decisions and (facilitator_ids is None or f in facilitator_ids)
        ]

    async def add(self, training_id: uuid.UUID, facilitator_id: uuid.UUID, decision: Decision, decided_by: str) -> bool:
        if (training_id, facilitator_id) in self.s.decisions:
            return False
        self.s.decisions[(training_id, facilitator_id)] = DecisionRow(
            decision.outcome.value, list(decision.unmet), decision.attendance_ratio, decided_by, NOW
        )
        self._history(training_id, facilitator_id, decision, decided_by, None, None)
        return True

    def _history(self, t: uuid.UUID, f: uuid.UUID, d: Decision, by: str, who: str | None, reason: str | None) -> None:
        entry = DecisionEntry(d.outcome.value, list(d.unmet), d.attendance_ratio, by, who, reason, NOW)
        self.s.history.append((t, f, entry))

    async def of(self, training_id: uuid.UUID, facilitator_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Decision]:
        return {
            f: Decision(Outcome(d.outcome), tuple(d.unmet), d.attendance_ratio)
            for (t, f), d in self.s.decisions.items()
            if t == training_id and f in facilitator_ids
        }

    async def correct(
        self, training_id: uuid.UUID, facilitator_id: uuid.UUID, decision: Decision, reason: str, who: str
    ) -> None:
        self.s.decisions[(training_id, facilitator_id)] = DecisionRow(
            decision.outcome.value, list(decision.unmet), decision.attendance_ratio, "officer", NOW
        )
        self._history(training_id, facilitator_id, decision, "officer", who, reason)

    async def open_review(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> Review | None:
        return next(
            (
                r
                for r in self.s.reviews.values()
                if (r.training_id, r.facilitator_id, r.status) == (training_id, facilitator_id, "open")
            ),
            None,
        )

    async def add_review(self, review: Review) -> bool:
        if review.review_id in self.s.reviews or await self.open_review(review.training_id, review.facilitator_id):
            return False
        self.s.reviews[review.review_id] = replace(review, opened_at=NOW)
        return True

    async def end_review(self, review_id: uuid.UUID, status: str, who: str, resolution: str) -> None:
        review = self.s.reviews[review_id]
        if review.status == "open":
            self.s.reviews[review_id] = replace(
                review, status=status, resolved_at=NOW, resolved_by=who, resolution=resolution
            )

    async def outcome_counts(self, training_id: uuid.UUID) -> tuple[int, int]:
        c = _counts(self.s, training_id)
        return c.completed, c.not_completed


class FakeCertificates:
    def __init__(self, s: State) -> None:
        self.s = s

    async def add(self, code: str, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> bool:
        if code in self.s.certificates or await self.valid_code(training_id, facilitator_id):
            return False
        self.s.certificates[code] = (training_id, facilitator_id, NOW)
        return True

    async def valid_code(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> str | None:
        return next(
            (
                c
                for c, (t, f, _) in self.s.certificates.items()
                if (t, f) == (training_id, facilitator_id) and c not in self.s.revoked
            ),
            None,
        )

    async def revoke(self, code: str, reason: str) -> None:
        self.s.revoked[code] = (NOW, reason)


class FakeSubmissions:
    def __init__(self, s: State) -> None:
        self.s = s

    async def of(self, training_id: uuid.UUID, submission_ids: Sequence[str]) -> dict[str, Submission]:
        return {
            i: self.s.submissions[(training_id, i)] for i in submission_ids if (training_id, i) in self.s.submissions
        }

    async def put(self, submission: Submission, action: str) -> None:
        tid = submission.training_id
        assert isinstance(tid, uuid.UUID)
        self.s.submissions[(tid, submission.submission_id)] = replace(submission, since=NOW)
        self.s.submission_steps.append((tid, submission.submission_id, action, submission.status.value))


class FakeUnitOfWork:
    def __init__(self, s: State) -> None:
        self.events: list[Event[EventPayload]] = []
        self.trainings = FakeTrainings(s)
        self.roster = FakeRoster(s)
        self.classes = FakeClasses(s)
        self.facts = FakeFacts(s)
        self.kelurahan = FakeKelurahan(s)
        self.decisions = FakeDecisions(s)
        self.certificates = FakeCertificates(s)
        self.submissions = FakeSubmissions(s)

    def emit(self, event: Event[EventPayload]) -> None:
        self.events.append(event)


class FakeReads:
    def __init__(self, s: State) -> None:
        self.s = s

    async def training(self, training_id: uuid.UUID) -> Training | None:
        return self.s.trainings.get(training_id)

    async def counts(self, training_id: uuid.UUID) -> TrainingCounts:
        return _counts(self.s, training_id)

    async def roster(self, training_id: uuid.UUID) -> list[RosterEntry]:
        entries = [e for (t, _), e in self.s.roster.items() if t == training_id]
        return sorted(entries, key=lambda e: (e.enrolled_at, e.facilitator_id))

    async def participants(self, training_id: uuid.UUID) -> list[ParticipantRow]:
        rows = []
        codes = {(t, f): c for c, (t, f, _) in self.s.certificates.items() if c not in self.s.revoked}
        for (t, f), e in self.s.roster.items():
            if t != training_id:
                continue
            d = self.s.decisions.get((t, f))
            rows.append(
                ParticipantRow(
                    facilitator_id=f,
                    status=e.status,
                    role=e.role,
                    province_code=e.province_code,
                    kabkota_code=e.kabkota_code,
                    class_id=self.s.classes.get((t, f)),
                    outcome=d.outcome if d else None,
                    unmet=list(d.unmet) if d else None,
                    decided_by=d.decided_by if d else None,
                    decided_at=d.decided_at if d else None,
                    certificate_code=codes.get((t, f)),
                )
            )
        return sorted(rows, key=lambda r: (r.class_id is None, r.class_id or "", r.facilitator_id))

    async def facts_of_training(self, training_id: uuid.UUID) -> list[Fact]:
        return [sf.fact for (t, _), sf in self.s.facts.items() if t == training_id]

    async def history(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> list[StoredFact]:
        found = [
            sf for (t, _), sf in self.s.facts.items() if t == training_id and sf.fact.facilitator_id == facilitator_id
        ]
        return sorted(found, key=lambda sf: sf.fact.rank)

    async def certificate(self, code: str) -> CertificateView | None:
        if code not in self.s.certificates:
            return None
        training_id, facilitator_id, issued_at = self.s.certificates[code]
        t = self.s.trainings[training_id]
        return CertificateView(
            code=code,
            facilitator_id=facilitator_id,
            issued_at=issued_at,
            training_id=training_id,
            title=t.title,
            training_type=t.training_type.value,
            organiser=t.organiser,
            venue=t.venue,
            start_date=t.start_date,
            end_date=t.end_date,
            region=t.region,
            revoked_at=self.s.revoked[code][0] if code in self.s.revoked else None,
            revoke_reason=self.s.revoked[code][1] if code in self.s.revoked else None,
        )

    async def reviews(self, training_id: uuid.UUID) -> list[Review]:
        found = [r for r in self.s.reviews.values() if r.training_id == training_id]
        return sorted(found, key=lambda r: (r.status != "open", r.opened_at or NOW, r.facilitator_id))

    async def submissions(self, training_id: uuid.UUID) -> list[Submission]:
        found = [v for (t, _), v in self.s.submissions.items() if t == training_id]
        return sorted(found, key=lambda v: (v.kind.value != "close", v.submission_id))

    async def decision_history(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> list[DecisionEntry]:
        return [e for t, f, e in self.s.history if (t, f) == (training_id, facilitator_id)]

    async def kelurahan(self, code_prefix: str) -> list[KnownKelurahan]:
        return sorted((k for c, k in self.s.kelurahan.items() if c.startswith(code_prefix)), key=lambda k: k.code)[
            :1000
        ]


class FakeDatabase:
    def __init__(self) -> None:
        self.state = State()
        self.published: list[Event[EventPayload]] = []
        self.reads = FakeReads(self.state)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[FakeUnitOfWork]:
        uow = FakeUnitOfWork(self.state)
        async with all_or_nothing(self.state):
            yield uow
        self.published.extend(uow.events)

    # -- what the consumers would have learned from the registration service -------------------

    def enroll(
        self,
        training_id: uuid.UUID,
        facilitator_id: uuid.UUID | None = None,
        *,
        region: str = REGION,
        role: str = "fasilitator",
        status: str = "enrolled",
    ) -> uuid.UUID:
        fid = facilitator_id or uuid.uuid4()
        self.state.roster[(training_id, fid)] = RosterEntry(
            facilitator_id=fid,
            enrollment_id=uuid.uuid4(),
            region=region,
            role=role,
            status=status,
            enrolled_at=NOW,
            withdrawn_at=NOW if status == "withdrawn" else None,
            province_code="16",
            kabkota_code="16.71",
        )
        return fid

    def withdraw(self, training_id: uuid.UUID, facilitator_id: uuid.UUID) -> None:
        e = self.state.roster[(training_id, facilitator_id)]
        self.state.roster[(training_id, facilitator_id)] = replace(e, status="withdrawn", withdrawn_at=NOW)

    def define_kelurahan(self, code: str, name: str = "35 Ilir") -> None:
        self.state.kelurahan[code] = KnownKelurahan(code, name, code[:8], REGION, date(2015, 1, 1))

    def payloads(self, kind: type[EventPayload] | None = None) -> list[Any]:
        return [e.payload for e in self.published if kind is None or isinstance(e.payload, kind)]
