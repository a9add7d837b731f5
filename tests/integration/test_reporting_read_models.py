"""The reporting read models and API on the real broker and database, checked against counts
computed here from the events sent: reassignments, deactivations, events that arrive before the
registration or the schedule (across topics), duplicates, attendance corrections sent in reverse
order, and the national office's question answered from the API and a CSV."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import asyncpg
import httpx
import openpyxl  # type: ignore[import-untyped]
import pytest
from aiokafka import AIOKafkaProducer

from shared.kernel.contracts import (
    AssessmentKind,
    AssessmentScored,
    AttendanceRecorded,
    AttendanceStatus,
    CertificateIssued,
    EnrollmentWithdrawn,
    FacilitatorDeactivated,
    FacilitatorEnrolled,
    FacilitatorReassigned,
    FacilitatorRegistered,
    FacilitatorUpdated,
    OJTAssigned,
    OJTCompleted,
    OrgUnitDefined,
    OrgUnitLevel,
    Role,
    Session,
    SessionKind,
    TrainingCompleted,
    TrainingNotCompleted,
    TrainingScheduled,
    TrainingType,
)
from shared.kernel.envelope import Event, EventPayload, new_event
from tests.integration.conftest import OTHER, REGION, Stack, assert_documented, eventually, publish

pytestmark = pytest.mark.real

T0 = datetime(2016, 7, 31, 8, tzinfo=UTC)
KELURAHAN = ["16.71.01.1001", "16.71.01.1002", "16.71.02.1003", "16.71.03.1004"]
DAYS = [date(2016, 7, 31) + timedelta(days=i) for i in range(8)]


@dataclass
class Scenario:
    """Events to send, in the order they are sent, and what the test expects of them."""

    sent: list[Event[Any]] = field(default_factory=list)

    def add(self, payload: EventPayload, region: str = REGION, at: datetime = T0) -> Event[Any]:
        event = new_event(payload, region=region, source="test", occurred_at=at)
        self.sent.append(event)
        return event


def reassigned(
    fid: uuid.UUID, before: tuple[Role, str], after: tuple[Role, str], effective_from: date
) -> FacilitatorReassigned:
    """A reassignment from ``before`` to ``after`` (each a role and a kabupaten/kota code, whose first
    two digits are the province)."""
    (previous_role, previous_kabkota), (role, kabkota) = before, after
    return FacilitatorReassigned(
        facilitator_id=fid,
        role=role,
        province_code=kabkota[:2],
        kabkota_code=kabkota,
        effective_from=effective_from,
        previous_role=previous_role,
        previous_province_code=previous_kabkota[:2],
        previous_kabkota_code=previous_kabkota,
    )


def q2(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


async def test_read_models_match_counts_computed_from_the_events(
    stack: Stack, other_region: str, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    stack.start("reporting", KOTAKU_REGIONS=f"{REGION},{other_region}")
    s = Scenario()
    people = [uuid.uuid4() for _ in range(12)]
    areas = ["16.71", "16.71", "16.71", "16.72", "16.72", "16.02", "16.02", "16.03", "16.71", "16.72", "16.71", "16.74"]
    roles = [Role.FASILITATOR] * 9 + [Role.SENIOR_FASILITATOR, Role.ASKOT, Role.FASILITATOR]

    # -- facilitators ------------------------------------------------------------------------
    # Moved to oc05 (province 13) and deactivated: both published on oc05 topics and sent BEFORE
    # the registration on the oc02 topic, as can happen across topics.
    moved, gone_early = people[10], people[11]
    early = [
        s.add(
            reassigned(moved, (Role.ASKOT, "16.71"), (Role.KORKOT, "13.71"), date(2016, 10, 1)),
            region=other_region,
            at=T0 + timedelta(days=60),
        ),
        s.add(
            FacilitatorDeactivated(facilitator_id=gone_early, effective_from=date(2016, 12, 1), reason="resigned"),
            region=other_region,
            at=T0 + timedelta(days=120),
        ),
    ]
    registrations = [
        s.add(
            FacilitatorRegistered(
                facilitator_id=fid,
                full_name=f"Peserta {i}",
                role=roles[i],
                province_code=areas[i][:2],
                kabkota_code=areas[i],
                effective_from=date(2016, 7, 1),
            ),
            at=T0 - timedelta(days=30),
        )
        for i, fid in enumerate(people)
    ]
    s.add(
        reassigned(people[0], (Role.FASILITATOR, "16.71"), (Role.SENIOR_FASILITATOR, "16.73"), date(2016, 9, 1)),
        at=T0 + timedelta(days=30),
    )
    s.add(FacilitatorDeactivated(facilitator_id=people[1], effective_from=date(2016, 9, 1)), at=T0 + timedelta(days=31))
    s.add(FacilitatorUpdated(facilitator_id=people[2], full_name="Peserta Dua (koreksi)"), at=T0 + timedelta(days=1))
    for code, level, name, parent in (
        ("16.71.01.1001", OrgUnitLevel.KELURAHAN, "35 Ilir", "16.71.01"),
        ("16.71", OrgUnitLevel.KABKOTA, "Kota Palembang", "16"),
    ):
        s.add(OrgUnitDefined(code=code, level=level, name=name, parent_code=parent, effective_from=date(2016, 1, 1)))
    # expected facilitator buckets, computed from the facts above
    bucket = {fid: (REGION, areas[i][:2], areas[i], roles[i].value, "active") for i, fid in enumerate(people)}
    bucket[people[0]] = (REGION, "16", "16.73", "senior_fasilitator", "active")
    bucket[people[1]] = (*bucket[people[1]][:4], "inactive")
    bucket[moved] = (other_region, "13", "13.71", "korkot", "active")
    bucket[gone_early] = (*bucket[gone_early][:4], "inactive")

    # -- a basic training in oc02, its participation events sent BEFORE its schedule ----------
    tid = uuid.uuid4()
    participants = people[:10]
    withdrawn = participants[9]
    participation: list[Event[Any]] = []

    def part(payload: EventPayload, at: datetime = T0) -> None:
        participation.append(new_event(payload, region=REGION, source="test", occurred_at=at))

    enrollments: list[Event[Any]] = [
        new_event(
            FacilitatorEnrolled(
                enrollment_id=uuid.uuid4(),
                training_id=tid,
                facilitator_id=fid,
                role=roles[i],
                province_code=areas[i][:2],
                kabkota_code=areas[i],
            ),
            region=REGION,
            source="test",
            occurred_at=T0 - timedelta(days=5),
        )
        for i, fid in enumerate(participants)
    ]
    enrollments.append(
        new_event(
            EnrollmentWithdrawn(enrollment_id=uuid.uuid4(), training_id=tid, facilitator_id=withdrawn, reason="sakit"),
            region=REGION,
            source="test",
            occurred_at=T0 + timedelta(days=1),
        )
    )
    statuses = [AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED]
    final_status: dict[tuple[str, uuid.UUID], AttendanceStatus] = {}
    for d, day in enumerate(DAYS[:7]):  # day 8 is never reported
        at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        for i, fid in enumerate(participants[:9]):
            status = statuses[(i + d) % 4] if i >= 6 else AttendanceStatus.PRESENT
            if i == 5 and d == 2:  # absent, corrected to present later: the correction is SENT FIRST
                part(
                    AttendanceRecorded(
                        training_id=tid,
                        session_id=f"d{d + 1}",
                        facilitator_id=fid,
                        status=AttendanceStatus.PRESENT,
                        note="koreksi",
                    ),
                    at + timedelta(hours=5),
                )
                status = AttendanceStatus.ABSENT
                part(AttendanceRecorded(training_id=tid, session_id=f"d{d + 1}", facilitator_id=fid, status=status), at)
                final_status[(f"d{d + 1}", fid)] = AttendanceStatus.PRESENT
                continue
            part(AttendanceRecorded(training_id=tid, session_id=f"d{d + 1}", facilitator_id=fid, status=status), at)
            final_status[(f"d{d + 1}", fid)] = status
    pre = {fid: Decimal(20 + 3 * i) for i, fid in enumerate(participants[:9])}
    post = {fid: Decimal(60 + 4 * i) for i, fid in enumerate(participants[:8])}  # one post-test missing
    for fid, score in pre.items():
        part(
            AssessmentScored(
                training_id=tid, facilitator_id=fid, kind=AssessmentKind.PRE, score=float(score), max_score=50
            )
        )
    for fid, score in post.items():
        part(
            AssessmentScored(
                training_id=tid, facilitator_id=fid, kind=AssessmentKind.POST, score=float(score), max_score=100
            )
        )
    ojt_site = {fid: KELURAHAN[i % 4] for i, fid in enumerate(participants[:8])}
    ojt_done = set(participants[:7])
    for fid, site in ojt_site.items():
        part(OJTAssigned(training_id=tid, facilitator_id=fid, kelurahan_code=site, mentor="Pemandu"))
        if fid in ojt_done:
            part(
                OJTCompleted(training_id=tid, facilitator_id=fid, kelurahan_code=site, rating=4), T0 + timedelta(days=7)
            )
    completed = participants[:6]
    for fid in completed:
        part(
            TrainingCompleted(
                training_id=tid, facilitator_id=fid, attendance_ratio=1.0, ojt_kelurahan_code=ojt_site[fid]
            )
        )
        part(CertificateIssued(training_id=tid, facilitator_id=fid, certificate_code=f"KTK-{str(fid)[:8]}"))
    reasons = {
        participants[6]: ["attendance_below_minimum"],
        participants[7]: ["attendance_below_minimum", "post_test_missing"],
        participants[8]: ["ojt_not_completed", "post_test_missing"],
        withdrawn: ["withdrawn"],
    }
    for fid, unmet in reasons.items():
        part(TrainingNotCompleted(training_id=tid, facilitator_id=fid, attendance_ratio=0.5, unmet=unmet))
    schedule = new_event(
        TrainingScheduled(
            training_id=tid,
            training_type=TrainingType.BASIC,
            title="Pelatihan Dasar Fasilitator OC 02",
            organiser="OC 02",
            venue="Asrama Haji Palembang",
            start_date=DAYS[0],
            end_date=DAYS[-1],
            capacity=242,
            eligible_roles=[Role.FASILITATOR, Role.SENIOR_FASILITATOR, Role.ASKOT],
            sessions=[
                Session(session_id=f"d{i + 1}", date=day, kind=SessionKind.CLASSROOM) for i, day in enumerate(DAYS)
            ],
        ),
        region=REGION,
        source="test",
        occurred_at=T0 - timedelta(days=20),
    )
    # A refresher in 2017 for three of them: not counted in the basic-2016 answer.
    tid2 = uuid.uuid4()
    refresher: list[Event[Any]] = [
        new_event(
            TrainingScheduled(
                training_id=tid2,
                training_type=TrainingType.REFRESHER,
                title="Penyegaran 2017",
                organiser="OC 02",
                venue="Palembang",
                start_date=date(2017, 3, 1),
                end_date=date(2017, 3, 2),
                capacity=30,
                eligible_roles=[Role.FASILITATOR],
                sessions=[Session(session_id="r1", date=date(2017, 3, 1), kind=SessionKind.CLASSROOM)],
            ),
            region=REGION,
            source="test",
        ),
        *(
            new_event(
                p,
                region=REGION,
                source="test",
            )
            for fid in participants[:3]
            for p in (
                FacilitatorEnrolled(
                    enrollment_id=uuid.uuid4(),
                    training_id=tid2,
                    facilitator_id=fid,
                    role=Role.FASILITATOR,
                    province_code="16",
                    kabkota_code="16.71",
                ),
                TrainingCompleted(
                    training_id=tid2, facilitator_id=fid, attendance_ratio=1.0, ojt_kelurahan_code=KELURAHAN[3]
                ),
                OJTCompleted(training_id=tid2, facilitator_id=fid, kelurahan_code=KELURAHAN[3], rating=5),
            )
        ),
    ]

    await publish(producer, stack, early)
    await publish(producer, stack, participation + enrollments)  # before the training is scheduled...
    await publish(producer, stack, [*s.sent[len(early) :], schedule, *refresher])  # ...and the registrations
    await publish(producer, stack, [registrations[3], participation[0]])  # duplicates (same event ids)

    distinct = {e.envelope.event_id for e in [*s.sent, *participation, *enrollments, schedule, *refresher]}
    db = service_db["reporting"]

    async def caught_up() -> bool:
        return bool(await db.fetchval("SELECT sum(events_applied) FROM region_freshness") == len(distinct))

    await eventually(caught_up, within=60)
    rep = stack.url("reporting")
    async with httpx.AsyncClient(timeout=10, base_url=rep) as http:
        # -- facilitator counts ---------------------------------------------------------------
        counts = (await http.get("/api/v1/reports/facilitator-counts")).json()
        by_area = Counter((b[0], b[1]) for b in bucket.values())
        assert counts["total"] == len(people)
        assert {(r["region"], r["province_code"]): r["facilitators"] for r in counts["rows"]} == dict(by_area)
        rows = await db.fetch(
            "SELECT region, province_code, kabkota_code, role, status, registered FROM facilitator_totals"
        )
        assert {tuple(r)[:5]: r["registered"] for r in rows} == dict(Counter(bucket.values()))
        assert await db.fetchval("SELECT full_name FROM facilitators WHERE facilitator_id = $1", people[2]) == (
            "Peserta Dua (koreksi)"
        )

        national = (await http.get("/api/v1/reports/national")).json()
        active = Counter(b[0] for b in bucket.values() if b[4] == "active")
        assert {r["region"]: r["active"] for r in national["facilitators_by_region"]} == dict(active)
        assert national["summary"]["facilitators_active"] == sum(active.values())
        assert national["summary"]["completed"] == len(completed) + 3
        year_rows = {(r["period"], r["training_type"]): r for r in national["totals_by_year"]}
        assert year_rows[("2016", "basic")]["trainings"] == 1
        assert year_rows[("2016", "basic")]["completed"] == len(completed)
        assert year_rows[("2016", "basic")]["not_completed"] == len(reasons)
        assert year_rows[("2017", "refresher")]["completed"] == 3
        # day 8 of the basic training and the refresher's only session have no attendance
        assert {r["region"]: r["sessions_unreported"] for r in national["completeness_by_region"]} == {REGION: 2}
        fresh = {f["region"]: f for f in national["freshness"]}
        assert set(fresh) == {REGION, other_region}
        assert sum(f["events_applied"] for f in fresh.values()) == len(distinct)
        assert national["lag_source"].startswith("kafka")

        async def lag_is_zero() -> bool:
            body = (await http.get("/api/v1/reports/national")).json()
            return all(f["lag"] == 0 for f in body["freshness"])

        await eventually(lag_is_zero, within=30, interval=1.0)

        # -- the training -----------------------------------------------------------------------
        report = (await http.get(f"/api/v1/reports/trainings/{tid}")).json()
        t = report["training"]
        assert t["title"] == "Pelatihan Dasar Fasilitator OC 02"
        assert (t["enrolled"], t["withdrawn"]) == (9, 1)
        assert (t["completed"], t["not_completed"], t["certified"]) == (6, 4, 6)
        pre_pct = [v / 50 * 100 for v in pre.values()]
        post_pct = [v / 100 * 100 for v in post.values()]
        gains = [post[f] / 100 * 100 - pre[f] / 50 * 100 for f in post]
        assert t["pre_mean"] == q2(sum(pre_pct, Decimal(0)) / len(pre_pct))
        assert t["post_mean"] == q2(sum(post_pct, Decimal(0)) / len(post_pct))
        assert t["gain_mean"] == q2(sum(gains, Decimal(0)) / len(gains))
        assert (t["ojt_assigned"], t["ojt_completed"]) == (len(ojt_site), len(ojt_done))
        sessions = {r["session_id"]: r for r in report["attendance_by_session"]}
        assert set(sessions) == {f"d{i + 1}" for i in range(8)}
        for sid in (f"d{i + 1}" for i in range(7)):
            got = [st for (x, _), st in final_status.items() if x == sid]
            attended = sum(st in (AttendanceStatus.PRESENT, AttendanceStatus.LATE) for st in got)
            assert sessions[sid]["recorded"] == len(got)
            assert sessions[sid]["absent"] == sum(st is AttendanceStatus.ABSENT for st in got)
            assert sessions[sid]["attendance_rate"] == round(attended / len(got), 4)
        assert sessions["d3"]["absent"] == 1  # participant 6's absence was corrected, participant 8's was not
        assert sessions["d8"]["recorded"] == 0
        assert [u["session_id"] for u in report["unreported_sessions"]] == ["d8"]
        days = {r["session_date"]: r for r in report["attendance_by_day"]}
        assert days["2016-07-31"]["recorded"] == 9
        reasons_count = Counter(r for unmet in reasons.values() for r in unmet)
        assert {r["reason"]: r["participants"] for r in report["not_completed_reasons"]} == dict(reasons_count)
        ojt = {r["kelurahan_code"]: r for r in report["ojt_kelurahan"]}
        assert {k: v["ojt_assigned"] for k, v in ojt.items()} == dict(Counter(ojt_site.values()))
        assert {k: v["ojt_completed"] for k, v in ojt.items() if v["ojt_completed"]} == dict(
            Counter(ojt_site[f] for f in ojt_done)
        )
        assert ojt["16.71.01.1001"]["kelurahan_name"] == "35 Ilir"

        # -- "how many Fasilitator in Sumatera Selatan completed basic training this year, and in
        #    which kelurahan did they do OJT" (this year being 2016 here) ---------------------------
        params = {"role": "fasilitator", "training_type": "basic", "period": "2016"}
        fas_completed = [f for f in completed if roles[people.index(f)] is Role.FASILITATOR]
        province = (await http.get("/api/v1/reports/provinces/16", params=params)).json()
        assert province["name"] == "Sumatera Selatan"
        assert province["completed"] == len(fas_completed)
        where = Counter(ojt_site[f] for f in fas_completed)
        assert {
            r["kelurahan_code"]: r["completed_training"] for r in province["ojt_kelurahan"] if r["completed_training"]
        } == dict(where)
        csv_response = await http.get(
            "/api/v1/reports/provinces/16", params={**params, "format": "csv", "table": "ojt_kelurahan"}
        )
        assert csv_response.status_code == 200
        assert csv_response.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv_response.headers["content-disposition"]
        table = list(csv.DictReader(io.StringIO(csv_response.text)))  # headed in Indonesian by default
        assert {r["Kode kelurahan"]: int(r["Lulus pelatihan"]) for r in table if int(r["Lulus pelatihan"])} == dict(
            where
        )
        assert sum(int(r["Lulus pelatihan"]) for r in table) == len(fas_completed)
        # the same in the kota/kabupaten report, and every province table as XLSX
        palembang = (await http.get("/api/v1/reports/kabkota/16.71", params=params)).json()
        assert palembang["name"] == "Kota Palembang"
        assert palembang["completed"] == sum(areas[people.index(f)] == "16.71" for f in fas_completed)
        xlsx = await http.get("/api/v1/reports/provinces/16", params={**params, "format": "xlsx"})
        book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
        assert book.sheetnames == [
            "Fasilitator per wilayah",
            "Kelulusan per wilayah",
            "Pelatihan",
            "OJT per kelurahan",
            "Cakupan OJT",
            "Tentang",
        ]
        sheet = list(book["OJT per kelurahan"].iter_rows(values_only=True))
        assert sheet[0] == ("Kode kelurahan", "Kelurahan", "OJT ditugaskan", "OJT selesai", "Lulus pelatihan")
        assert sum(r[4] for r in sheet[1:]) == len(fas_completed)
        bad = await http.get("/api/v1/reports/provinces/16", params={"format": "csv", "table": "nope"})
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "unknown_table"

        # -- the region report -------------------------------------------------------------------
        region = (await http.get(f"/api/v1/reports/regions/{REGION}")).json()
        assert {r["training_id"] for r in region["trainings"]} == {str(tid), str(tid2)}
        assert [(u["training_id"], u["session_id"]) for u in region["unreported_sessions"]] == [
            (str(tid), "d8"),
            (str(tid2), "r1"),
        ]

        # -- a named person: national credential only -------------------------------------------
        path = f"/api/v1/facilitators/{people[0]}/history"
        assert (await http.get(path)).status_code == 401
        assert (await http.get(path, headers=stack.auth("oc02"))).json()["error"]["code"] == "national_reader_required"
        history = (await http.get(path, headers=stack.auth("national"))).json()
        assert history["facilitator"]["full_name"] == "Peserta 0"
        assert history["facilitator"]["kabkota_code"] == "16.73"
        assert [a["kind"] for a in history["assignments"]] == ["registered", "reassigned"]
        by_training = {h["training_id"]: h for h in history["trainings"]}
        assert by_training[str(tid)]["outcome"] == "completed"
        assert by_training[str(tid)]["sessions_recorded"] == 7
        assert by_training[str(tid)]["certificate_code"] == f"KTK-{str(people[0])[:8]}"
        assert (
            await http.get(f"/api/v1/facilitators/{uuid.uuid4()}/history", headers=stack.auth("national"))
        ).status_code == 404

        await assert_documented(
            http,
            [
                "/api/v1/reports/national",
                "/api/v1/reports/regions/{region}",
                "/api/v1/reports/provinces/{code}",
                "/api/v1/reports/trainings/{training_id}",
                "/api/v1/facilitators/{facilitator_id}/history",
                "/api/v1/reports/facilitator-counts",
            ],
        )


async def test_aggregates_need_a_credential_when_not_public(stack: Stack) -> None:
    stack.start("reporting", KOTAKU_PUBLIC_AGGREGATES="false")
    async with httpx.AsyncClient(timeout=10, base_url=stack.url("reporting")) as http:
        r = await http.get("/api/v1/reports/national")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "credential_required"
        r = await http.get("/api/v1/reports/national", headers=stack.auth("oc02"))  # national figures
        assert (r.status_code, r.json()["error"]["code"]) == (403, "national_reader_required")
        assert (await http.get(f"/api/v1/reports/regions/{REGION}", headers=stack.auth("oc02"))).status_code == 200
        r = await http.get(f"/api/v1/reports/regions/{OTHER}", headers=stack.auth("oc02"))
        assert r.status_code == 403
        assert (await http.get(f"/api/v1/reports/regions/{OTHER}", headers=stack.auth("national"))).status_code == 200
        assert (await http.get("/api/v1/reports/national", headers={"X-API-Key": "kt_bad_key"})).status_code == 401
        assert (await http.get("/")).status_code == 401
        page = await http.get("/", headers={**stack.auth("national"), "Accept-Language": "en"})  # empty renders too
        assert page.status_code == 200
        assert "Data as of no data yet" in page.text
        assert "no data yet" in page.text
