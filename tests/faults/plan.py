"""The plan of the workload: cohorts of people and trainings in oc02 and oc05, decided from the seed
before anything is sent (the run itself, under faults, is not deterministic; the plan is)."""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from services.registration.app import DEFINITION as REGISTRATION
from services.reporting.app import DEFINITION as REPORTING
from services.training.app import DEFINITION as TRAINING_SERVICE
from shared.kernel.consumer import Consumer
from shared.kernel.topics import REGISTRATION_INTAKE, TRAINING_INTAKE
from tests.faults.ledger import Facilitator, Training
from tests.faults.options import REGIONS, Options

WIB = timezone(timedelta(hours=7))
KABKOTA = {"oc02": ("16.71", "16.72", "16.73", "16.01", "16.02", "16.03"), "oc05": ("18.71", "18.72", "18.01", "19.01")}
CANARY_KABKOTA = {"oc02": "16.74", "oc05": "19.71"}  # registrations of canaries only
KELURAHAN = {"oc02": ("16.71.01.1001", "16.71.01.1002", "16.71.12.1001"), "oc05": ("18.71.01.1001", "18.71.01.1002")}
# Reference data of oc05 that the committed org units lack (the admin adds them at setup; the names
# are placeholders in the official code format, as the seed file's illustrative units).
OC05_UNITS = (
    ("18.71", "Kota Bandar Lampung"),
    ("18.72", "Kota Metro"),
    ("18.01", "Kabupaten Lampung Barat"),
    ("19.71", "Kota Pangkalpinang"),
    ("19.01", "Kabupaten Bangka"),
    ("18.71.01", "Teluk Betung Barat"),
    ("18.71.01.1001", "Bakung"),
    ("18.71.01.1002", "Kuripan"),
)
FIRST_NAMES = (
    "Rahmat", "Siti", "Dewi", "Agus", "Budi", "Intan", "Yusuf", "Ratna",
    "Hendra", "Nur", "Wahyu", "Fitri", "Joko", "Lestari", "Rizki", "Andi",
)  # fmt: skip
SPECIALITIES = {"fasilitator": ("teknik", "sosial", "ekonomi"), "askot": ("teknik", "manajemen_keuangan", "sosial")}
ELIGIBLE = ["askot", "senior_fasilitator", "fasilitator"]


def letters(n: int, width: int = 4) -> str:
    out = ""
    for _ in range(width):
        n, rest = divmod(n, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[rest] + out
    return out.capitalize()


def readers() -> dict[str, tuple[str, ...]]:
    """Stream name -> the consumers (by name) that read it, from the services' definitions. Each of
    them dead-letters a poison record of that stream once."""
    found: dict[str, list[str]] = {
        REGISTRATION_INTAKE.name: ["registration.intake"],
        TRAINING_INTAKE.name: ["training.intake"],
    }
    for definition in (REGISTRATION, TRAINING_SERVICE, REPORTING):
        # factories (consumers that need the runtime) only read settings when they are built
        stand_in: Any = SimpleNamespace(settings=SimpleNamespace(topic_prefix=""), definition=definition)
        for item in definition.consumers:
            consumer = item if isinstance(item, Consumer) else item(stand_in)
            for stream in consumer.streams:
                found.setdefault(stream.name, []).append(consumer.name)
    return {k: tuple(sorted(set(v))) for k, v in found.items()}


# -- the plan of a cohort ------------------------------------------------------------------------

PROFILES = ("complete", "complete", "complete", "complete", "one_absent", "corrected", "corrected", "low", "no_post")


@dataclass
class Person:
    fac: Facilitator
    participant: bool = False
    enroll_via: str = "http"
    withdraw_via: str | None = None
    profile: str = "complete"
    renames: list[str] = field(default_factory=list)  # channels, in order: http..., then at most one intake
    reassign_via: str | None = None
    deactivate_via: str | None = None
    post_correction_via: str | None = None
    ojt: str | None = None  # None | assign | complete
    ojt_complete_via: str = "http"
    absent: list[str] = field(default_factory=list)  # sessions first recorded absent
    scores: tuple[int, int] = (50, 80)  # pre, post


@dataclass
class Cohort:
    index: int
    region: str
    training: Training
    schedule_via: str
    people: list[Person]
    intake_people: list[Facilitator]
    korkot: Facilitator
    session_via: dict[str, str]
    pre_via: str
    post_via: str
    ojt_assign_via: str
    sync_with_refusal: bool
    intake_resends: int
    kelurahan: str

    @property
    def participants(self) -> list[Person]:
        return [p for p in self.people if p.participant]


class Planner:
    """Decides, from the seed alone, every cohort: who, which door each command takes, who is absent,
    renamed, withdrawn. Names and NIKs are unique within the run."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.plan_rng = random.Random(opts.seed)
        self.today = datetime.now(WIB).date()
        self._names = 0
        self._niks = 0
        self._people = 0
        self.cohorts: list[Cohort] = []
        self.poison_planned = 0

    # -- naming --------------------------------------------------------------------------------

    @property
    def names(self) -> int:
        return self._names

    def name(self) -> str:
        self._names += 1
        return f"{self.plan_rng.choice(FIRST_NAMES)} {letters(self._names)}"

    def nik(self, province: str) -> str:
        self._niks += 1
        return f"{province}{self.opts.seed % 10**6:06d}{self._niks:08d}"

    def facilitator(self, region: str, role: str, channel: str, kabkota: str | None = None) -> Facilitator:
        self._people += 1
        kab = kabkota or self.plan_rng.choice(KABKOTA[region])
        options = SPECIALITIES.get(role)
        return Facilitator(
            key=f"F{self._people}",
            region=region,
            province=kab[:2],
            kabkota=kab,
            role=role,
            speciality=self.plan_rng.choice(options) if options else None,
            name=self.name(),
            nik=self.nik(kab[:2]),
            channel=channel,
        )

    # -- planning ------------------------------------------------------------------------------

    def plan(self) -> int:
        """Plan cohorts until they hold at least the requested number of commands, then the poison
        records (1% of all). Returns the number of commands planned."""
        total = 0
        target = self.opts.commands - self.poison_count(self.opts.commands)
        while total < target:
            cohort = self.plan_cohort(len(self.cohorts))
            self.cohorts.append(cohort)
            total += self.count(cohort)
        self.poison_planned = self.poison_count(total)
        return total + self.poison_planned

    def poison_count(self, others: int) -> int:
        """At least the poison share of all records: resends the plan cannot count add a few percent."""
        return max(4, math.ceil(1.08 * others * self.opts.poison_share / (1 - self.opts.poison_share)))

    def plan_cohort(self, index: int) -> Cohort:
        rng = self.plan_rng
        region = REGIONS[index % len(REGIONS)]
        start = self.today - timedelta(days=40 + index)
        training = Training(
            training_id=str(rng_uuid(rng)),
            region=region,
            title=f"Pelatihan Dasar Fasilitator Angkatan {index + 1}",
            sessions=[(f"s{i + 1}", start + timedelta(days=i)) for i in range(4)],
        )
        low, high = self.opts.cohort_participants
        n = rng.randint(low, high)
        people: list[Person] = []
        for _ in range(n):
            role = rng.choices(ELIGIBLE, weights=(2, 1, 7))[0]
            p = Person(self.facilitator(region, role, "http"), participant=True)
            p.enroll_via = "intake" if rng.random() < 0.3 else "http"
            p.profile = rng.choice(PROFILES)
            sessions = [s for s, _ in training.sessions]
            p.absent = rng.sample(sessions, {"one_absent": 1, "corrected": 2, "low": 2}.get(p.profile, 0))
            p.scores = (rng.randint(30, 70), rng.randint(60, 98))
            p.ojt = rng.choice((None, None, "assign", "complete"))
            p.ojt_complete_via = rng.choice(("http", "intake", "sync"))
            if rng.random() < 0.08:
                p.post_correction_via = rng.choice(("http", "intake"))
            people.append(p)
        for p in rng.sample(people, 2):
            p.withdraw_via = rng.choice(("http", "intake"))
        for p in rng.sample(people, max(1, n // 8)):
            p.renames = ["http"] * rng.randint(0, 2) + (["intake"] if rng.random() < 0.5 else [])
            p.renames = p.renames or ["http"]
        # people who are registered but do not train: reassigned, deactivated, renamed
        for i in range(4):
            p = Person(self.facilitator(region, rng.choice(("fasilitator", "askot")), "http"))
            if i < 2:
                p.reassign_via = rng.choice(("http", "intake"))
            else:
                p.deactivate_via = rng.choice(("http", "intake"))
            if rng.random() < 0.5:
                p.renames = [rng.choice(("http", "intake"))]
            people.append(p)
        intake_people = [
            self.facilitator(region, rng.choice(("fasilitator", "askot", "senior_fasilitator")), "intake")
            for _ in range(rng.randint(n // 4, n // 3))
        ]
        return Cohort(
            index=index,
            region=region,
            training=training,
            schedule_via=rng.choice(("http", "http", "intake")),
            people=people,
            intake_people=intake_people,
            korkot=self.facilitator(region, "korkot", "http"),
            session_via={s: rng.choice(("http", "http", "intake")) for s, _ in training.sessions},
            pre_via=rng.choice(("http", "intake")),
            post_via=rng.choice(("http", "intake")),
            ojt_assign_via=rng.choice(("http", "intake")),
            sync_with_refusal=rng.random() < 0.5,
            intake_resends=rng.randint(2, 5),
            kelurahan=rng.choice(KELURAHAN[region]),
        )

    def count(self, c: Cohort) -> int:
        """The commands a cohort sends when everything is answered as planned."""
        parts = c.participants
        n = len(parts)
        with_post = [p for p in parts if p.withdraw_via is None and p.profile != "no_post"]
        trained = [p for p in parts if p.withdraw_via is None]
        completes = [p for p in trained if p.ojt == "complete"]
        via_sync = [p for p in completes if p.ojt_complete_via == "sync"]
        return (
            1  # schedule
            + len(c.people) + 1 + len(c.intake_people)  # registrations, the korkot included
            + 2 + 6  # invalid registrations: 2 over HTTP, 6 over the intake
            + 1 + 1  # HTTP resend of a registration, intake resend with other content
            + n + 2 + 1  # enrollments, 2 invalid, 1 resend
            + sum(p.withdraw_via is not None for p in parts)
            + sum(len(p.renames) for p in c.people)
            + sum(p.reassign_via is not None or p.deactivate_via is not None for p in c.people)
            + len(c.training.sessions) + 1  # attendance, an invalid one
            + (1 if "http" in c.session_via.values() else 0)  # a resent sheet
            + sum(p.profile == "corrected" for p in trained)  # attendance corrections
            + (2 if c.pre_via == "http" else len(trained))  # pre-tests (and a resend)
            + (1 if c.post_via == "http" else len(with_post))
            + sum(p.post_correction_via is not None for p in with_post)
            + (1 if any(p.ojt for p in trained) else 0)  # OJT assignment
            + len(completes) - len(via_sync) + (1 if via_sync else 0)
            + 3  # invalid intake facts
            + 1  # close
            + c.intake_resends
        )  # fmt: skip


def rng_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)
