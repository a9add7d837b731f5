"""The South Sumatra 2016 training, played through the training service's public interfaces.

OC 02 Sumatera Selatan trained 242 facilitators from 31 July to 7 August 2016 at Asrama Haji
Palembang: the modules "Dasar Program KOTAKU" and "Keterampilan Teknik Fasilitasi" in classes of
about 25 with two pemandu each, pre-test and post-test, and On-the-Job Training in 8 kelurahan of
Palembang. Two steps, because the registration service must learn of the training before it
enrolls anyone:

    training_id = await schedule_demo_training(training_url, token)
    ... registration enrolls the facilitators ...
    summary = await run_demo_training(training_url, token, facilitator_ids)

Everything is seeded: the same ids give the same absences, scores and outcomes. Attendance,
tests, OJT assignments and the close go over HTTP; the OJT field team syncs its records (OJT-day
attendance and OJT completions, shuffled, some sent twice) through the Kafka intake topic.
From synchronous code, call these with ``asyncio.run(...)``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import httpx

from demo.south_sumatra import REGION, TRAINING_ID
from shared.kernel import kafka as kafka_clients
from shared.kernel.topics import TRAINING_INTAKE
from shared.tools import localenv

WIB = timezone(timedelta(hours=7))
START, END = date(2016, 7, 31), date(2016, 8, 7)
PALEMBANG = "16.71"
OJT_KELURAHAN = ("35 Ilir", "36 Ilir", "29 Ilir", "30 Ilir", "32 Ilir", "Karang Jaya", "Silaberanti", "Tuan Kentang")
PARTICIPANTS = 242
CLASS_SIZE = 25
MODULES = (("DPK", "Dasar Program KOTAKU"), ("KTF", "Keterampilan Teknik Fasilitasi"))
# Invented pemandu (trainers), two per class.
_TRAINERS = (
    "Hasan Basri",
    "Lina Marlina",
    "Darmawan Putra",
    "Sri Wahyuni",
    "Ferry Irawan",
    "Nurhayati Lubis",
    "Rudi Hartono",
    "Mega Safitri",
    "Zulkifli Hamid",
    "Evi Susanti",
    "Bambang Sutrisno",
    "Yeni Oktaviani",
    "Anton Wijaya",
    "Rosmala Dewi",
)
_OJT_TASKS = (
    "Pemetaan swadaya kawasan kumuh bersama BKM",
    "Identifikasi kebutuhan infrastruktur permukiman",
    "Fasilitasi rembug warga dan penyusunan RPLP",
)
_REPORTS = (
    "Pemetaan swadaya selesai; 3 RT kumuh teridentifikasi",
    "Rembug warga terlaksana, usulan drainase disepakati",
    "Data baseline 100-0-100 diverifikasi bersama lurah",
    "Diskusi kelompok dengan KSM sanitasi berjalan baik",
)


def _session_plan() -> list[tuple[str, date, str, str | None, time]]:
    """(session id, date, kind, module, start time): 8 days, 14 sessions, OJT on days 6 and 7."""
    plan: list[tuple[str, date, str, str | None, time]] = []
    modules = ["DPK", "DPK", "DPK", "DPK", "DPK", "KTF", "KTF", "KTF", "KTF", "KTF"]
    for day in range(5):
        for half, start in (("pagi", time(8)), ("siang", time(13))):
            plan.append((f"h{day + 1}-{half}", START + timedelta(days=day), "classroom", modules.pop(0), start))
    plan.append(("h6-ojt", START + timedelta(days=5), "ojt", "KTF", time(8)))
    plan.append(("h7-ojt", START + timedelta(days=6), "ojt", "KTF", time(8)))
    plan.append(("h8-pagi", END, "classroom", "KTF", time(8)))
    plan.append(("h8-siang", END, "classroom", "KTF", time(13)))
    return plan


def schedule_body(training_id: uuid.UUID, participants: int = PARTICIPANTS) -> dict[str, Any]:
    classes = max(1, math.ceil(participants / CLASS_SIZE))
    return {
        "training_id": str(training_id),
        "region": REGION,
        "training_type": "basic",
        "title": "Pelatihan Dasar Fasilitator Program KOTAKU Provinsi Sumatera Selatan 2016",
        "organiser": "OC 02 Sumatera Selatan",
        "venue": "Asrama Haji Palembang",
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "capacity": participants,
        "eligible_roles": ["askot", "senior_fasilitator", "fasilitator"],
        "modules": [{"code": c, "title": t} for c, t in MODULES],
        "classes": [
            {
                "class_id": chr(ord("A") + i) if i < 26 else f"K{i + 1}",
                "name": f"Kelas {chr(ord('A') + i) if i < 26 else i + 1}",
                "trainers": [_TRAINERS[(2 * i) % len(_TRAINERS)], _TRAINERS[(2 * i + 1) % len(_TRAINERS)]],
            }
            for i in range(classes)
        ],
        "sessions": [
            {"session_id": sid, "date": day.isoformat(), "kind": kind, "module_code": module}
            for sid, day, kind, module, _ in _session_plan()
        ],
        "completion_rule": {"min_attendance_ratio": 0.9, "require_post_test": True, "require_ojt": True},
    }


async def schedule_demo_training(
    training_url: str, token: str, *, training_id: uuid.UUID = TRAINING_ID, participants: int = PARTICIPANTS
) -> uuid.UUID:
    """Schedule the training (idempotent: an existing training with this id is reused)."""
    async with httpx.AsyncClient(base_url=training_url, headers=_auth(token), timeout=30.0) as http:
        r = await http.post("/api/v1/trainings", json=schedule_body(training_id, participants))
        if r.status_code == 409 and r.json()["error"]["code"] == "training_exists":
            return training_id
        _check(r)
        return uuid.UUID(r.json()["training_id"])


@dataclass
class DemoSummary:
    training_id: uuid.UUID
    enrolled: int
    completed: int
    not_completed: int
    ojt_kelurahan: int
    certificates: int
    certificate_codes: list[str] = field(default_factory=list)
    not_completed_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Profile:
    absent_sessions: frozenset[str]  # classroom or OJT sessions missed
    excused: frozenset[str]
    late_sessions: frozenset[str]
    corrected_session: str | None  # first recorded absent, corrected to late later
    post_test: bool
    ojt_done: bool
    pre_score: int
    post_score: int


def _profiles(people: Sequence[uuid.UUID], rng: random.Random) -> dict[uuid.UUID, _Profile]:
    """Who misses what. Most attend everything; about one in ten misses one session (allowed:
    13 of 14 sessions make 90%); a few miss too much, skip the post-test or the OJT."""
    n = len(people)
    plan = _session_plan()
    classroom = [sid for sid, _, kind, _, _ in plan if kind == "classroom"]
    every = [sid for sid, *_ in plan]
    low, no_post, no_ojt = max(1, round(n * 0.025)), max(1, round(n * 0.008)), max(1, round(n * 0.012))
    chosen = rng.sample(range(n), min(n, low + no_post + no_ojt))
    low_set = set(chosen[:low])
    no_post_set = set(chosen[low : low + no_post])
    no_ojt_set = set(chosen[low + no_post :])
    profiles = {}
    for i, person in enumerate(people):
        absent: set[str] = set()
        excused: set[str] = set()
        if i in low_set:
            absent |= set(rng.sample(every, rng.randint(2, 4)))
        elif rng.random() < 0.1:
            (excused if rng.random() < 0.4 else absent).add(rng.choice(classroom))
        late = {sid for sid in classroom if sid not in absent | excused and rng.random() < 0.03}
        corrected = None
        if not absent and not excused and rng.random() < 0.04:
            corrected = rng.choice([s for s in classroom if s not in late])
        pre = max(10, min(90, round(rng.gauss(52, 12))))
        post = max(pre, min(100, pre + round(rng.gauss(24, 8))))
        profiles[person] = _Profile(
            frozenset(absent),
            frozenset(excused),
            frozenset(late),
            corrected,
            i not in no_post_set,
            i not in no_ojt_set and not (absent & {"h6-ojt", "h7-ojt"}),
            pre,
            post,
        )
    return profiles


async def run_demo_training(
    training_url: str,
    token: str,
    facilitator_ids: Sequence[uuid.UUID | str],
    *,
    training_id: uuid.UUID = TRAINING_ID,
    kafka_bootstrap: str | None = None,
    topic_prefix: str = "",
    seed: int = 2016,
    wait_seconds: float = 120.0,
) -> DemoSummary:
    """Run the training for ``facilitator_ids`` (enrolled by the registration service) and close it."""
    people = [uuid.UUID(str(f)) for f in dict.fromkeys(str(f) for f in facilitator_ids)]
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=training_url, headers=_auth(token), timeout=60.0) as http:
        await _wait_for_roster(http, training_id, people, wait_seconds)
        training = _check(await http.get(f"/api/v1/trainings/{training_id}"))
        if training["status"] == "closed":
            return await _summary(http, training_id)
        kelurahan = await _wait_for_kelurahan(http, wait_seconds)
        plan = _session_plan()
        profiles = _profiles(people, rng)
        classes = [c["class_id"] for c in training["classes"]]
        members = {c: people[i :: len(classes)] for i, c in enumerate(classes)}
        assignments = [{"facilitator_id": str(p), "class_id": c} for c, ps in members.items() for p in ps]
        _check(await http.post(f"/api/v1/trainings/{training_id}/class-assignments", json={"assignments": assignments}))

        # Day 1: pre-test, class by class.
        for ps in members.values():
            scores = [{"facilitator_id": str(p), "score": profiles[p].pre_score} for p in ps]
            body = {"kind": "pre", "max_score": 100, "occurred_at": _at(START, time(8, 30)), "scores": scores}
            _check(await http.post(f"/api/v1/trainings/{training_id}/assessments", json=body))

        # Classroom sessions: one sheet per class and session, everyone present but the exceptions.
        for sid, day, kind, _, start in plan:
            if kind != "classroom":
                continue
            if sid == "h8-pagi":  # post-test on the last morning, then the last sessions
                await _post_test(http, training_id, members, profiles)
            for c, ps in members.items():
                await _sheet(http, training_id, sid, c, ps, profiles, _at(day, start, hours=1))
            if day == START + timedelta(days=4) and start.hour == 13:
                await _assign_ojt(http, training_id, people, kelurahan, rng)
                bootstrap = kafka_bootstrap or localenv.kafka_bootstrap()
                await _field_team_sync(training_id, people, profiles, kelurahan, rng, bootstrap, topic_prefix)
                await _wait_for_ojt(http, training_id, profiles, wait_seconds)

        # Corrections: a few sheets said absent for someone who came late; the secretariat fixes it.
        for person, profile in profiles.items():
            if profile.corrected_session is not None:
                day, start = next((d, s) for sid, d, _, _, s in plan if sid == profile.corrected_session)
                body = {
                    "session_id": profile.corrected_session,
                    "occurred_at": _at(day, start, hours=3),
                    "records": [{"facilitator_id": str(person), "status": "late", "note": "koreksi: datang terlambat"}],
                }
                _check(await http.post(f"/api/v1/trainings/{training_id}/attendance", json=body))

        _check(await http.post(f"/api/v1/trainings/{training_id}/close"))
        return await _summary(http, training_id)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _check(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise RuntimeError(f"{r.request.method} {r.request.url.path} failed: {r.status_code} {r.text[:500]}")
    return r.json()


def _at(day: date, start: time, *, hours: float = 0) -> str:
    return (datetime.combine(day, start, WIB) + timedelta(hours=hours)).isoformat()


async def _wait_for_roster(
    http: httpx.AsyncClient, training_id: uuid.UUID, people: Sequence[uuid.UUID], wait_seconds: float
) -> None:
    wanted = {str(p) for p in people}
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        roster = _check(await http.get(f"/api/v1/trainings/{training_id}/roster"))
        enrolled = {e["facilitator_id"] for e in roster["entries"] if e["status"] == "enrolled"}
        if wanted <= enrolled:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(
                f"roster has {len(wanted & enrolled)} of {len(wanted)} participants after {wait_seconds}s"
            )
        await asyncio.sleep(0.5)


async def _wait_for_kelurahan(http: httpx.AsyncClient, wait_seconds: float) -> list[str]:
    """Codes of the 8 OJT kelurahan, found by name in the reference data the service knows."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        known = _check(await http.get("/api/v1/reference/kelurahan", params={"code_prefix": PALEMBANG + "."}))
        by_name = {_norm(k["name"]): k["code"] for k in known}
        codes = [by_name.get(_norm(name)) for name in OJT_KELURAHAN]
        if all(codes):
            return [c for c in codes if c]
        if asyncio.get_running_loop().time() > deadline:
            missing = [n for n, c in zip(OJT_KELURAHAN, codes, strict=True) if not c]
            raise RuntimeError(f"kelurahan not in the reference data after {wait_seconds}s: {', '.join(missing)}")
        await asyncio.sleep(0.5)


def _norm(name: str) -> str:
    words = name.lower().replace("kelurahan", "").split()
    return " ".join(words)


async def _sheet(
    http: httpx.AsyncClient,
    training_id: uuid.UUID,
    session_id: str,
    class_id: str,
    members: Sequence[uuid.UUID],
    profiles: dict[uuid.UUID, _Profile],
    occurred_at: str,
) -> None:
    records = []
    for p in members:
        prof = profiles[p]
        if session_id in prof.absent_sessions or session_id == prof.corrected_session:
            records.append({"facilitator_id": str(p), "status": "absent"})
        elif session_id in prof.excused:
            records.append({"facilitator_id": str(p), "status": "excused", "note": "izin keluarga"})
        elif session_id in prof.late_sessions:
            records.append({"facilitator_id": str(p), "status": "late"})
    body = {
        "session_id": session_id,
        "class_id": class_id,
        "default_status": "present",
        "sheet_id": f"{session_id}-{class_id}",
        "occurred_at": occurred_at,
        "records": records,
    }
    _check(await http.post(f"/api/v1/trainings/{training_id}/attendance", json=body))


async def _post_test(
    http: httpx.AsyncClient,
    training_id: uuid.UUID,
    members: dict[str, list[uuid.UUID]],
    profiles: dict[uuid.UUID, _Profile],
) -> None:
    for ps in members.values():
        scores = [{"facilitator_id": str(p), "score": profiles[p].post_score} for p in ps if profiles[p].post_test]
        if scores:
            body = {"kind": "post", "max_score": 100, "occurred_at": _at(END, time(8, 30)), "scores": scores}
            _check(await http.post(f"/api/v1/trainings/{training_id}/assessments", json=body))


def _ojt_groups(people: Sequence[uuid.UUID], kelurahan: Sequence[str]) -> dict[str, list[uuid.UUID]]:
    return {code: list(people[i :: len(kelurahan)]) for i, code in enumerate(kelurahan)}


async def _assign_ojt(
    http: httpx.AsyncClient,
    training_id: uuid.UUID,
    people: Sequence[uuid.UUID],
    kelurahan: Sequence[str],
    rng: random.Random,
) -> None:
    for i, (code, group) in enumerate(_ojt_groups(people, kelurahan).items()):
        body = {
            "kelurahan_code": code,
            "mentor": f"Tim Korkot Kota Palembang {i % 3 + 1}",
            "task": rng.choice(_OJT_TASKS),
            "facilitator_ids": [str(p) for p in group],
            "occurred_at": _at(START + timedelta(days=4), time(16)),
        }
        _check(await http.post(f"/api/v1/trainings/{training_id}/ojt-assignments", json=body))


async def _field_team_sync(
    training_id: uuid.UUID,
    people: Sequence[uuid.UUID],
    profiles: dict[uuid.UUID, _Profile],
    kelurahan: Sequence[str],
    rng: random.Random,
    bootstrap: str,
    topic_prefix: str,
) -> None:
    """Each kelurahan's field team recorded OJT attendance and completions offline and syncs them
    through the intake topic: facts shuffled, some sent twice, one message resent whole."""
    messages: list[dict[str, Any]] = []
    for code, group in _ojt_groups(people, kelurahan).items():
        facts: list[dict[str, Any]] = []
        for p in group:
            prof = profiles[p]
            for sid, day in (("h6-ojt", START + timedelta(days=5)), ("h7-ojt", START + timedelta(days=6))):
                status = "absent" if sid in prof.absent_sessions else "present"
                facts.append(
                    {
                        "kind": "attendance",
                        "fact_id": f"ojt-{sid}-{p}",
                        "occurred_at": _at(day, time(9)),
                        "facilitator_id": str(p),
                        "session_id": sid,
                        "status": status,
                    }
                )
            if prof.ojt_done:
                facts.append(
                    {
                        "kind": "ojt_completion",
                        "fact_id": f"ojt-done-{p}",
                        "occurred_at": _at(START + timedelta(days=6), time(15)),
                        "facilitator_id": str(p),
                        "kelurahan_code": code,
                        "report": rng.choice(_REPORTS),
                        "rating": rng.choice((3, 4, 4, 4, 5, 5)),
                    }
                )
        facts += rng.sample(facts, len(facts) // 10)  # a device that synced twice
        rng.shuffle(facts)
        messages.append(
            {
                "message_id": f"ojt-sync-{training_id}-{code}",
                "type": "SyncFacts",
                "region": REGION,
                "sent_at": _at(START + timedelta(days=6), time(18)),
                "payload": {"training_id": str(training_id), "device_id": f"tim-ojt-{code}", "facts": facts},
            }
        )
    messages.append(messages[0])  # resent whole: the intake recognises the message id
    producer = kafka_clients.reliable_producer(bootstrap, "kotaku-demo")
    await producer.start()
    try:
        topic = TRAINING_INTAKE.topic(REGION, topic_prefix)
        for message in messages:
            await producer.send_and_wait(topic, json.dumps(message).encode(), key=f"{training_id}".encode())
    finally:
        await producer.stop()


async def _wait_for_ojt(
    http: httpx.AsyncClient, training_id: uuid.UUID, profiles: dict[uuid.UUID, _Profile], wait_seconds: float
) -> None:
    expected = sum(p.ojt_done for p in profiles.values())
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        body = _check(await http.get(f"/api/v1/trainings/{training_id}/participants"))
        done = sum(p["ojt_completion"] is not None for p in body["participants"])
        synced = sum("h7-ojt" in p["attendance"] for p in body["participants"])
        if done >= expected and synced >= len(profiles):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"OJT sync incomplete after {wait_seconds}s: {done} of {expected} completions")
        await asyncio.sleep(0.5)


async def _summary(http: httpx.AsyncClient, training_id: uuid.UUID) -> DemoSummary:
    training = _check(await http.get(f"/api/v1/trainings/{training_id}"))
    body = _check(await http.get(f"/api/v1/trainings/{training_id}/participants"))
    reasons: dict[str, int] = {}
    for p in body["participants"]:
        decision = p["decision"]
        if decision and decision["outcome"] == "not_completed":
            for code in decision["unmet"]:
                reasons[code] = reasons.get(code, 0) + 1
    return DemoSummary(
        training_id=training_id,
        enrolled=training["enrolled"],
        completed=training["completed"],
        not_completed=training["not_completed"],
        ojt_kelurahan=len({p["ojt_completion"]["kelurahan_code"] for p in body["participants"] if p["ojt_completion"]}),
        certificates=training["certificates"],
        certificate_codes=sorted(p["certificate_code"] for p in body["participants"] if p["certificate_code"]),
        not_completed_reasons=reasons,
    )
