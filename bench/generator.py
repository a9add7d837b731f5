"""Synthetic KOTAKU events: a realistic mix across regions, valid against the contracts.

Per training (20-40 participants, 8 days): TrainingScheduled; the participants' registrations
(most are new facilitators, some return for a second training); enrollments; pre-tests; attendance
per participant and day (with a few later corrections); post-tests; OJT assignment and completion
in a kelurahan; completion or not (with reasons); certificates; and some withdrawals,
reassignments, deactivations and name updates. About 0.3% of events are sent twice (as an outbox
relay does after a crash). Attendance is about half of all events, as in the field.

Bodies are built as JSON directly (not through the pydantic models) so that a million events take
seconds; ``tests/unit/test_reporting_bench.py`` checks that every kind decodes against the contracts.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.kernel.topics import ENROLLMENT, FACILITATOR, PARTICIPATION, TRAINING, Stream

FACILITATORS_CONSUMER = "reporting.facilitators"
TRAININGS_CONSUMER = "reporting.trainings"

ROLES = ("fasilitator", "fasilitator", "fasilitator", "fasilitator", "senior_fasilitator", "askot", "korkot")
TYPES = ("basic", "basic", "basic", "refresher", "refresher", "tot", "thematic")
STATUSES = ("present",) * 85 + ("late",) * 5 + ("excused",) * 4 + ("absent",) * 6
PROVINCES = [
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "18",
    "19",
    "21",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "51",
    "52",
    "53",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "72",
    "73",
    "74",
    "75",
    "76",
    "81",
    "82",
    "91",
    "94",
]
SESSIONS = 8


def regions(count: int) -> list[str]:
    return [f"oc{i:02d}" for i in range(1, count + 1)]


@dataclass(frozen=True)
class Synthetic:
    """One event to publish: its stream, region, key and body parts (the time is set on send)."""

    stream: Stream
    region: str
    key: bytes
    event_id: str
    event_type: str
    payload: dict[str, Any]
    at: datetime
    repeat: bool = False  # a second delivery of an event already generated

    @property
    def consumer(self) -> str:
        return FACILITATORS_CONSUMER if self.stream is FACILITATOR else TRAININGS_CONSUMER

    def body(self, occurred_at: datetime | None = None) -> bytes:
        ts = (occurred_at or self.at).isoformat()
        return json.dumps(
            {
                "event_id": self.event_id,
                "event_type": self.event_type,
                "schema_version": 1,
                "occurred_at": ts,
                "recorded_at": ts,
                "source": "kotaku.bench",
                "region": self.region,
                "correlation_id": self.event_id,
                "causation_id": None,
                "payload": self.payload,
            },
            separators=(",", ":"),
        ).encode()

    def headers(self) -> list[tuple[str, bytes]]:
        return [("ce_id", self.event_id.encode()), ("ce_type", self.event_type.encode())]


class Generator:
    def __init__(
        self, region_codes: list[str], seed: int = 7, start: date = date(2016, 1, 4), ids_seed: int | None = None
    ) -> None:
        self.rng = random.Random(seed)
        # ids from a stream of their own: generators of one seed and other ids_seeds make the same
        # events (types, regions, order, fields) under other ids
        self.ids = self.rng if ids_seed is None else random.Random(ids_seed)
        self.regions = region_codes
        self.start = start
        # each region serves one to three provinces
        self.provinces: dict[str, list[str]] = {r: [] for r in region_codes}
        for i, province in enumerate(PROVINCES):
            self.provinces[region_codes[i % len(region_codes)]].append(province)
        self.people: dict[str, list[tuple[str, str, str, str]]] = {r: [] for r in region_codes}
        self.units: dict[str, int] = dict.fromkeys(region_codes, 0)

    def _id(self) -> str:
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))

    def _event(
        self, stream: Stream, region: str, key: str, event_type: str, at: datetime, payload: dict[str, Any]
    ) -> Synthetic:
        return Synthetic(stream, region, key.encode(), self._id(), event_type, payload, at)

    def _area(self, region: str) -> tuple[str, str]:
        province = self.rng.choice(self.provinces[region] or ["16"])
        return province, f"{province}.{self.rng.choice(('71', '72', '01', '02', '03', '04'))}"

    def unit(self, region: str) -> list[Synthetic]:
        """Every event of one training in ``region``, in the order they happen."""
        rng = self.rng
        n = self.units[region]
        self.units[region] += 1
        start = self.start + timedelta(days=7 * n + rng.randrange(5))
        t0 = datetime(start.year, start.month, start.day, 1, tzinfo=UTC)
        tid = self._id()
        ttype = rng.choice(TYPES)
        days = [start + timedelta(days=d) for d in range(SESSIONS)]
        out: list[Synthetic] = [
            self._event(
                TRAINING,
                region,
                tid,
                "TrainingScheduled",
                t0 - timedelta(days=14),
                {
                    "training_id": tid,
                    "training_type": ttype,
                    "title": f"Pelatihan {ttype} {region.upper()} #{n + 1}",
                    "organiser": f"OC {region[2:]}",
                    "venue": "Asrama Haji",
                    "start_date": days[0].isoformat(),
                    "end_date": days[-1].isoformat(),
                    "capacity": 60,
                    "eligible_roles": ["fasilitator", "senior_fasilitator", "askot", "korkot"],
                    "sessions": [
                        {
                            "session_id": f"d{i + 1}",
                            "date": d.isoformat(),
                            "kind": "classroom" if i < SESSIONS - 2 else "ojt",
                        }
                        for i, d in enumerate(days)
                    ],
                },
            )
        ]
        people = []
        for _ in range(rng.randrange(20, 41)):
            pool = self.people[region]
            if pool and rng.random() < 0.1:
                people.append(rng.choice(pool))
                continue
            fid = self._id()
            province, kabkota = self._area(region)
            person = (fid, rng.choice(ROLES), province, kabkota)
            pool.append(person)
            people.append(person)
            out.append(
                self._event(
                    FACILITATOR,
                    region,
                    fid,
                    "FacilitatorRegistered",
                    t0 - timedelta(days=30),
                    {
                        "facilitator_id": fid,
                        "full_name": f"Peserta {fid[:8]}",
                        "role": person[1],
                        "province_code": province,
                        "kabkota_code": kabkota,
                        "effective_from": (start - timedelta(days=30)).isoformat(),
                    },
                )
            )
        people = list({p[0]: p for p in people}.values())  # a returning facilitator may be drawn twice

        def part(event_type: str, fid: str, at: datetime, **fields: Any) -> Synthetic:
            return self._event(
                PARTICIPATION, region, tid, event_type, at, {"training_id": tid, "facilitator_id": fid, **fields}
            )

        withdrawn = {p[0] for p in people if rng.random() < 0.03}
        for fid, role, province, kabkota in people:
            out.append(
                self._event(
                    ENROLLMENT,
                    region,
                    tid,
                    "FacilitatorEnrolled",
                    t0 - timedelta(days=10),
                    {
                        "enrollment_id": self._id(),
                        "training_id": tid,
                        "facilitator_id": fid,
                        "role": role,
                        "province_code": province,
                        "kabkota_code": kabkota,
                    },
                )
            )
            out.append(part("AssessmentScored", fid, t0, kind="pre", score=rng.randrange(20, 80), max_score=100))
        attended: dict[str, int] = dict.fromkeys((p[0] for p in people), 0)
        for i, day in enumerate(days):
            at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
            for fid, *_ in people:
                if fid in withdrawn and i >= 2:
                    continue
                status = rng.choice(STATUSES)
                out.append(part("AttendanceRecorded", fid, at, session_id=f"d{i + 1}", status=status, note=""))
                if rng.random() < 0.02:  # a correction later that day
                    status = rng.choice(("present", "excused"))
                    out.append(
                        part(
                            "AttendanceRecorded",
                            fid,
                            at + timedelta(hours=6),
                            session_id=f"d{i + 1}",
                            status=status,
                            note="koreksi",
                        )
                    )
                attended[fid] += status in ("present", "late")
        t_end = datetime(days[-1].year, days[-1].month, days[-1].day, 16, tzinfo=UTC)

        def changed(event_type: str, fid: str, days_after_end: int, **fields: Any) -> Synthetic:
            """A change to facilitator ``fid``, some days after the training's last session."""
            at = t_end + timedelta(days=days_after_end)
            return self._event(FACILITATOR, region, fid, event_type, at, {"facilitator_id": fid, **fields})

        kelurahan = [f"{people[0][3]}.{k:02d}.{1000 + k}" for k in range(1, 9)] if people else []
        for fid, role, province, kabkota in people:
            if fid in withdrawn:
                out.append(
                    self._event(
                        ENROLLMENT,
                        region,
                        tid,
                        "EnrollmentWithdrawn",
                        t0 + timedelta(days=2),
                        {"enrollment_id": self._id(), "training_id": tid, "facilitator_id": fid, "reason": "sakit"},
                    )
                )
                out.append(part("TrainingNotCompleted", fid, t_end, attendance_ratio=0.25, unmet=["withdrawn"]))
                continue
            out.append(part("AssessmentScored", fid, t_end, kind="post", score=rng.randrange(50, 101), max_score=100))
            ojt_done = False
            site = rng.choice(kelurahan)
            if rng.random() < 0.9:
                out.append(part("OJTAssigned", fid, t0 + timedelta(days=5), kelurahan_code=site, mentor="Pemandu"))
                if rng.random() < 0.9:
                    out.append(part("OJTCompleted", fid, t_end, kelurahan_code=site, report="", rating=4))
                    ojt_done = True
            ratio = round(attended[fid] / SESSIONS, 4)
            if ratio >= 0.75 and ojt_done:
                out.append(part("TrainingCompleted", fid, t_end, attendance_ratio=ratio, ojt_kelurahan_code=site))
                out.append(part("CertificateIssued", fid, t_end, certificate_code=f"KTK-{fid[:8].upper()}"))
            else:
                unmet = (["attendance_below_minimum"] if ratio < 0.75 else []) + (
                    [] if ojt_done else ["ojt_not_completed"]
                )
                out.append(part("TrainingNotCompleted", fid, t_end, attendance_ratio=ratio, unmet=unmet))
            if rng.random() < 0.03:
                province2, kabkota2 = self._area(region)
                new_role = rng.choice(ROLES)
                out.append(
                    changed(
                        "FacilitatorReassigned",
                        fid,
                        3,
                        role=new_role,
                        province_code=province2,
                        kabkota_code=kabkota2,
                        effective_from=(days[-1] + timedelta(days=3)).isoformat(),
                        previous_role=role,
                        previous_province_code=province,
                        previous_kabkota_code=kabkota,
                    )
                )
            elif rng.random() < 0.01:
                effective = (days[-1] + timedelta(days=5)).isoformat()
                out.append(changed("FacilitatorDeactivated", fid, 5, effective_from=effective))
            elif rng.random() < 0.01:
                out.append(changed("FacilitatorUpdated", fid, 1, full_name=f"Peserta {fid[:8]} (koreksi)"))
        # about 0.3% are delivered twice (same event id, same bytes)
        twice = [replace(e, repeat=True) for e in out if rng.random() < 0.003]
        return out + twice

    def events(self, count: int) -> Iterator[Synthetic]:
        """``count`` events, one training at a time, taking the regions in turn."""
        made = 0
        while True:
            for region in self.regions:
                for event in self.unit(region):
                    if made == count:
                        return
                    made += 1
                    yield event


def distinct_ids(events: list[Synthetic], consumer: str | None = None) -> int:
    return len({e.event_id for e in events if consumer is None or e.consumer == consumer})
