"""The workload: cohorts of facilitators and trainings in oc02 and oc05, driven through the public
interfaces only (the HTTP APIs and the Kafka intake topics), every command written into the ledger.

A cohort is one training in one region and its people: the training is scheduled, facilitators are
registered (HTTP and intake), enrolled, some withdrawn, renamed, reassigned or deactivated, then the
sessions' attendance, pre- and post-tests and OJT are recorded, corrections included, and the
training is closed. Along the way come commands that are invalid on purpose (each must be answered
with its reason exactly once), resends of the same command or message (absorbed), and, from a
separate task, poison records on intake and canonical topics (each must be dead-lettered once per
consumer that reads the topic). Cohorts start at a steady pace over the workload window while the
fault schedule runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypedDict, Unpack

from shared.kernel.topics import (
    ENROLLMENT,
    FACILITATOR,
    PARTICIPATION,
    REGISTRATION_INTAKE,
    TRAINING,
    TRAINING_INTAKE,
    Stream,
)
from tests.faults.clients import Answer, Http, Producer
from tests.faults.infra import Namespace
from tests.faults.ledger import ABSORB, ACCEPT, DEAD_LETTER, REJECT, Command, Facilitator, Key, Ledger, Poison, Training
from tests.faults.options import REGIONS, Options
from tests.faults.plan import (
    CANARY_KABKOTA,
    ELIGIBLE,
    KABKOTA,
    KELURAHAN,
    OC05_UNITS,
    WIB,
    Cohort,
    Person,
    Planner,
    letters,
    readers,
    rng_uuid,
)

API = "/api/v1"
DONE_REGISTER = frozenset({"facilitator_exists"})
INTAKE = {"registration": REGISTRATION_INTAKE, "training": TRAINING_INTAKE}


class HttpOptions(TypedDict, total=False):
    """How an HTTP command is sent and judged (see ``Workload.call``)."""

    json_body: Any
    params: dict[str, str] | None
    done: frozenset[str]
    retry: frozenset[str]


class Workload:
    def __init__(self, opts: Options, ns: Namespace, ledger: Ledger, http: Http, producer: Producer) -> None:
        self.opts = opts
        self.ns = ns
        self.ledger = ledger
        self.http = http
        self.producer = producer
        self.planner = Planner(opts)
        self.rng = random.Random(opts.seed + 1)
        self._messages = 0
        self.sent: dict[str, tuple[str, bytes, bytes]] = {}  # message_id -> (topic, value, key)
        self.background: set[asyncio.Task[None]] = set()
        self.readers = readers()
        self.canary_missing: dict[str, int] = {r: 0 for r in REGIONS}

    @property
    def cohorts(self) -> list[Cohort]:
        return self.planner.cohorts

    @property
    def poison_planned(self) -> int:
        return self.planner.poison_planned

    def plan(self) -> int:
        return self.planner.plan()

    def name(self) -> str:
        return self.planner.name()

    def nik(self, province: str) -> str:
        return self.planner.nik(province)

    def message_id(self) -> str:
        self._messages += 1
        return f"{self.ns.name}-m{self._messages}"

    # -- sending -------------------------------------------------------------------------------

    def url(self, service: str, path: str) -> str:
        return f"{self.ns.url(service)}{API}{path}"

    def token(self, region: str) -> str:
        return self.ns.tokens[region]

    def topic(self, stream: Stream, region: str) -> str:
        return stream.topic(region, self.ns.prefix)

    async def call(
        self,
        cmd: Command,
        method: str,
        service: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        done: frozenset[str] = frozenset(),
        retry: frozenset[str] = frozenset(),
        absorbed: Callable[[Answer], bool | None] | None = None,
    ) -> Answer | None:
        """Send an HTTP command until it is answered and settle it in the ledger. Returns the answer
        when the command is to have its effect (accepted, or proven by an 'already done' answer after
        an attempt whose outcome was not known), else None."""
        answer = await self.http.call(
            method, self.url(service, path), self.token(cmd.region), json=json_body, params=params, retry_codes=retry
        )
        cmd.uncertain = answer.uncertain
        if answer.status is None:
            cmd.answer = "unresolved"
            return None
        code = answer.code or str(answer.status)
        if cmd.expect == REJECT:
            cmd.answer = "accepted" if answer.ok else f"rejected:{code}"
            return None
        if cmd.expect == ABSORB:
            verdict = absorbed(answer) if absorbed is not None else None
            cmd.answer = "absorbed" if verdict else ("doubled" if verdict is False else f"answered:{code}")
            return None
        if answer.ok:
            cmd.answer = "accepted"
            return answer
        if code in done and answer.uncertain:
            cmd.answer = "accepted"
            cmd.detail = f"an uncertain attempt, then {code}"
            return answer
        cmd.answer = f"rejected:{code}"
        return None

    async def intake(
        self,
        cmd: Command,
        stream: Stream,
        message_type: str,
        payload: Any,
        key: str,
        *,
        region_field: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> bool:
        """Publish an intake message (acks=all) until acknowledged; the message id is the command's."""
        assert cmd.message_id is not None
        body = raw or {
            "message_id": cmd.message_id,
            "type": message_type,
            "region": region_field or cmd.region,
            "sent_at": datetime.now(WIB).isoformat(),
            "payload": payload,
        }
        topic = self.topic(stream, cmd.region)
        value = json.dumps(body).encode()
        ok = await self.producer.send(topic, value, key.encode())
        cmd.answer = "sent" if ok else "unsent"
        if ok:
            self.sent[cmd.message_id] = (topic, value, key.encode())
        return ok

    def intake_command(
        self, group: str, kind: str, region: str, expect: str = ACCEPT, *, reason: str | None = None, **kw: Any
    ) -> Command:
        return self.ledger.new(group, kind, "intake", region, expect, reason=reason, message_id=self.message_id(), **kw)

    def resend_later(self, original: Command, *, delay: float, altered: dict[str, Any] | None = None) -> None:
        """Send an intake message again with the same message_id: identical bytes, or other content
        (``altered`` payload fields; the service must ignore it, whatever its content)."""

        async def resend() -> None:
            await asyncio.sleep(delay)
            assert original.message_id is not None
            sent = self.sent.get(original.message_id)
            if sent is None:
                return
            topic, value, key = sent
            cmd = self.ledger.new(original.group, original.kind, "intake", original.region, ABSORB)
            cmd.message_id = original.message_id
            cmd.watch = list(original.keys) + ([("rej", original.message_id)] if original.expect == REJECT else [])
            if altered:
                body = json.loads(value)
                body["payload"] = {**body["payload"], **altered}
                value = json.dumps(body).encode()
                if "full_name" in altered:
                    self.ledger.must_be_absent(cmd, str(altered["full_name"]))
            ok = await self.producer.send(topic, value, key)
            cmd.answer = "sent" if ok else "unsent"

        task = asyncio.create_task(resend())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- facilitators ----------------------------------------------------------------------------

    def registered(self, cmd: Command, f: Facilitator) -> None:
        self.ledger.facilitators[f.key] = f
        led = self.ledger
        led.expect(cmd, ("fac", f.key, "reg"), 1)
        led.expect(cmd, ("fac", f.key, "name"), f.name)
        led.expect(cmd, ("fac", f.key, "area"), (f.region, f.province, f.kabkota, f.role))
        led.expect(cmd, ("fac", f.key, "status"), "active")
        led.expect(cmd, ("fac", f.key, "assign"), 1)
        cmd.watch.append(("fac", f.key, "reg"))

    def registration_body(self, f: Facilitator, *, phone: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "nik": f.nik,
            "full_name": f.name,
            "role": f.role,
            "region": f.region,
            "province_code": f.province,
            "kabkota_code": f.kabkota,
            "effective_from": "2016-07-01",
        }
        if f.speciality:
            body["speciality"] = f.speciality
        if phone:
            body["phone"] = f"08{f.nik[-10:]}"
        return body

    async def register_http(self, f: Facilitator, group: str = "registration http") -> bool:
        cmd = self.ledger.new(group, "RegisterFacilitator", "http", f.region, ACCEPT)
        body = self.registration_body(f, phone=self.rng.random() < 0.3)
        answer = await self.call(cmd, "POST", "registration", "/facilitators", json_body=body, done=DONE_REGISTER)
        if answer is None:
            return False
        f.fid = str(answer.body["facilitator_id"] if answer.ok else answer.body["error"]["details"]["facilitator_id"])
        self.registered(cmd, f)
        return True

    async def register_intake(self, f: Facilitator, group: str = "registration intake") -> Command | None:
        cmd = self.intake_command(group, "RegisterFacilitator", f.region)
        if not await self.intake(cmd, REGISTRATION_INTAKE, "RegisterFacilitator", self.registration_body(f), f.key):
            return None
        self.registered(cmd, f)
        return cmd

    async def invalid_registrations(self, c: Cohort, known: Facilitator) -> None:
        """Commands that must be refused: over HTTP (answered at once) and over the intake (answered
        on the rejections topic). None of their names may ever be registered."""
        region = c.region
        other = next(r for r in REGIONS if r != region)
        bad_kab = f"{known.province}.99"  # a well-formed code that is not in the reference data
        unknown_area = {"province_code": known.province, "kabkota_code": bad_kab}
        cases_http = [
            ("facilitator_exists", {**self.registration_body(known), "full_name": self.name()}),
            (
                "unknown_orgunit",
                {**self.registration_body(known), "nik": self.nik("16"), "full_name": self.name(), **unknown_area},
            ),
        ]
        for reason, body in cases_http:
            cmd = self.ledger.new("registration http", "RegisterFacilitator", "http", region, REJECT, reason=reason)
            self.ledger.must_be_absent(cmd, str(body["full_name"]))
            await self.call(cmd, "POST", "registration", "/facilitators", json_body=body)
        base = self.registration_body(known)

        def new(**changes: str) -> dict[str, Any]:  # another person: a new NIK and name
            return {**base, "nik": self.nik("16"), "full_name": self.name(), **changes}

        spam = f"Hotel {letters(self.planner.names + 1)} & Casino"  # not a person's name
        cases: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
            ("facilitator_exists", {**base, "full_name": self.name()}, {}),
            ("unknown_orgunit", new(**unknown_area), {}),
            ("invalid_payload", new(full_name=spam), {}),
            ("region_mismatch", new(), {"region_field": other}),
            ("unknown_type", new(), {"message_type": "Register"}),
            ("invalid_message", {}, {"invalid": True}),
        ]
        for reason, payload, how in cases:
            cmd = self.intake_command("rejections", "RegisterFacilitator", region, REJECT, reason=reason)
            if "full_name" in payload:
                self.ledger.must_be_absent(cmd, str(payload["full_name"]))
            raw: dict[str, Any] | None = (
                {"message_id": cmd.message_id, "type": 7, "region": region, "payload": []}
                if how.get("invalid")
                else None
            )
            if await self.intake(
                cmd,
                REGISTRATION_INTAKE,
                str(how.get("message_type", "RegisterFacilitator")),
                payload,
                known.key,
                region_field=how.get("region_field"),
                raw=raw,
            ):
                self.ledger.expect(cmd, ("rej", str(cmd.message_id)), (region, reason))
                if self.rng.random() < 0.3:
                    self.resend_later(cmd, delay=self.rng.uniform(0, 20))

    async def resend_registration_http(self, f: Facilitator) -> None:
        cmd = self.ledger.new("registration http", "RegisterFacilitator", "http", f.region, ABSORB)
        cmd.watch.append(("fac", f.key, "reg"))

        def absorbed(a: Answer) -> bool | None:
            if a.status == 201:
                return False
            details = a.body.get("error", {}).get("details", {}) if isinstance(a.body, dict) else {}
            return (a.code == "facilitator_exists" and details.get("facilitator_id") == f.fid) or None

        await self.call(
            cmd, "POST", "registration", "/facilitators", json_body=self.registration_body(f), absorbed=absorbed
        )

    async def rename(self, f: Facilitator, via: str) -> None:
        new = self.name()
        if via == "http":
            cmd = self.ledger.new("registration http", "UpdateFacilitator", "http", f.region, ACCEPT, correction=True)
            if await self.call(cmd, "PATCH", "registration", f"/facilitators/{f.fid}", json_body={"full_name": new}):
                self.ledger.expect(cmd, ("fac", f.key, "name"), new)
            return
        cmd = self.intake_command("registration intake", "UpdateFacilitator", f.region, correction=True)
        if await self.intake(
            cmd, REGISTRATION_INTAKE, "UpdateFacilitator", {"facilitator_id": f.fid, "full_name": new}, f.key
        ):
            self.ledger.expect(cmd, ("fac", f.key, "name"), new)
            if self.rng.random() < 0.5:  # resent with other content: must be ignored
                self.resend_later(cmd, delay=self.rng.uniform(0.5, 10), altered={"full_name": self.name()})

    async def reassign(self, f: Facilitator, via: str) -> None:
        kab = self.rng.choice([k for k in KABKOTA[f.region] if k != f.kabkota])
        body: dict[str, Any] = {
            "role": f.role,
            "province_code": kab[:2],
            "kabkota_code": kab,
            "effective_from": "2017-01-01",
        }
        if f.speciality:
            body["speciality"] = f.speciality
        area = (f.region, kab[:2], kab, f.role)
        cmd, ok = await self.facilitator_change(
            f, via, "ReassignFacilitator", "reassignments", body, "assignment_unchanged"
        )
        if ok:
            self.ledger.expect(cmd, ("fac", f.key, "area"), area)
            self.ledger.expect(cmd, ("fac", f.key, "assign"), 2)

    async def deactivate(self, f: Facilitator, via: str) -> None:
        body = {"reason": "contract_ended", "effective_from": "2017-06-30"}
        cmd, ok = await self.facilitator_change(
            f, via, "DeactivateFacilitator", "deactivation", body, "facilitator_inactive"
        )
        if ok:
            self.ledger.expect(cmd, ("fac", f.key, "status"), "inactive")

    async def facilitator_change(
        self, f: Facilitator, via: str, kind: str, resource: str, body: dict[str, Any], done: str
    ) -> tuple[Command, bool]:
        """A change to a facilitator: over HTTP a POST of ``body`` to the facilitator's ``resource``
        (``done`` is the answer that proves an earlier uncertain attempt took effect), over the intake
        the same fields with the facilitator's id."""
        payload = {"facilitator_id": f.fid, **body}
        path = f"/facilitators/{f.fid}/{resource}"
        return await self.command(
            via, "registration", kind, f.region, payload, f.key, "POST", path, json_body=body, done=frozenset({done})
        )

    async def command(
        self,
        via: str,
        service: str,
        kind: str,
        region: str,
        payload: Any,
        key: str,
        method: str,
        path: str,
        **http: Unpack[HttpOptions],
    ) -> tuple[Command, bool]:
        """Send one command that must take effect to a service, over HTTP (``method`` on ``path``) or as
        a message on its intake topic (``payload``, keyed by ``key``). Returns the command and whether
        it is to have its effect."""
        if via == "http":
            cmd = self.ledger.new(f"{service} http", kind, "http", region, ACCEPT)
            return cmd, await self.call(cmd, method, service, path, **http) is not None
        cmd = self.intake_command(f"{service} intake", kind, region)
        return cmd, await self.intake(cmd, INTAKE[service], kind, payload, key)

    # -- trainings and enrollments -------------------------------------------------------------

    def schedule_body(self, t: Training) -> dict[str, Any]:
        first, last = t.sessions[0][1], t.sessions[-1][1]
        return {
            "training_id": t.training_id,
            "region": t.region,
            "training_type": "basic",
            "title": t.title,
            "organiser": f"OC {t.region[2:]}",
            "venue": "Balai Pelatihan",
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
            "capacity": 100,
            "eligible_roles": ELIGIBLE,
            "modules": [{"code": "DPK", "title": "Dasar Program KOTAKU"}],
            "classes": [{"class_id": "A", "name": "Kelas A", "trainers": ["Hasan Basri", "Sri Wahyuni"]}],
            "sessions": [{"session_id": s, "date": d.isoformat(), "kind": "classroom"} for s, d in t.sessions],
            "completion_rule": {
                "min_attendance_ratio": t.min_attendance_ratio,
                "require_post_test": t.require_post_test,
                "require_ojt": False,
            },
        }

    async def schedule(self, c: Cohort) -> bool:
        t = c.training
        self.ledger.trainings[t.training_id] = t
        body = self.schedule_body(t)
        cmd, ok = await self.command(
            c.schedule_via,
            "training",
            "ScheduleTraining",
            t.region,
            body,
            t.training_id,
            "POST",
            "/trainings",
            json_body=body,
            done=frozenset({"training_exists"}),
        )
        if ok:
            self.ledger.expect(cmd, ("tr", t.training_id, "known"), t.title)
            self.ledger.expect(cmd, ("tr", t.training_id, "status"), "scheduled")
        return ok

    async def wait_until(self, check: Callable[[], Awaitable[bool]], seconds: float, note: str) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if await check():
                return True
            await asyncio.sleep(0.5)
        self.ledger.notes[note] += 1
        return False

    async def enroll(self, c: Cohort, p: Person) -> None:
        t, f = c.training, p.fac
        cmd, ok = await self.command(
            p.enroll_via,
            "registration",
            "EnrollFacilitator",
            c.region,
            {"training_id": t.training_id, "facilitator_id": f.fid},
            f.key,
            "POST",
            f"/trainings/{t.training_id}/enrollments",
            json_body={"facilitator_id": f.fid},
            done=frozenset({"already_enrolled"}),
            retry=frozenset({"training_unknown"}),
        )
        if ok:
            self.ledger.expect(cmd, ("p", t.training_id, f.key, "enroll"), "enrolled")
        else:
            p.participant = False

    async def withdraw(self, c: Cohort, p: Person) -> None:
        t, f = c.training, p.fac
        # enrolled over the intake: the enrollment may not be processed yet
        retry = frozenset({"enrollment_not_found"}) if p.enroll_via == "intake" else frozenset()
        cmd, ok = await self.command(
            p.withdraw_via or "intake",
            "registration",
            "WithdrawEnrollment",
            c.region,
            {"training_id": t.training_id, "facilitator_id": f.fid, "reason": "replaced"},
            f.key,
            "DELETE",
            f"/trainings/{t.training_id}/enrollments/{f.fid}",
            params={"reason": "replaced"},
            done=frozenset({"already_withdrawn"}),
            retry=retry,
        )
        if ok:
            self.ledger.expect(cmd, ("p", t.training_id, f.key, "enroll"), "withdrawn")

    async def invalid_enrollments(self, c: Cohort, sample: Person | None) -> None:
        t = c.training
        if c.korkot.fid is not None:
            cmd = self.ledger.new(
                "registration http", "EnrollFacilitator", "http", c.region, REJECT, reason="role_not_eligible"
            )
            await self.call(
                cmd,
                "POST",
                "registration",
                f"/trainings/{t.training_id}/enrollments",
                json_body={"facilitator_id": c.korkot.fid},
                retry=frozenset({"training_unknown"}),
            )
        cmd = self.intake_command("rejections", "EnrollFacilitator", c.region, REJECT, reason="facilitator_not_found")
        payload = {"training_id": t.training_id, "facilitator_id": str(rng_uuid(self.rng))}
        if await self.intake(cmd, REGISTRATION_INTAKE, "EnrollFacilitator", payload, t.training_id):
            self.ledger.expect(cmd, ("rej", str(cmd.message_id)), (c.region, "facilitator_not_found"))
        if sample is not None and sample.fac.fid is not None:
            cmd = self.ledger.new("registration http", "EnrollFacilitator", "http", c.region, ABSORB)
            await self.call(
                cmd,
                "POST",
                "registration",
                f"/trainings/{t.training_id}/enrollments",
                json_body={"facilitator_id": sample.fac.fid},
                absorbed=lambda a: False if a.status == 201 else (a.code == "already_enrolled" or None),
            )

    async def roster(self, c: Cohort) -> dict[str, str]:
        """Wait until the training service's roster shows the enrollments and withdrawals the
        ledger expects; the roster as it is then (facilitator id -> status)."""
        t = c.training
        fid_of = {p.fac.key: p.fac.fid for p in c.people}
        wanted = {str(fid_of[k]): s for k, s in self.ledger.participants(t.training_id).items()}
        seen: dict[str, str] = {}

        async def check() -> bool:
            nonlocal seen
            body = await self.http.get_json(
                self.url("training", f"/trainings/{t.training_id}/roster"), self.token(c.region)
            )
            if body is None:
                return False
            seen = {str(e["facilitator_id"]): str(e["status"]) for e in body["entries"]}
            return all(seen.get(fid) == s for fid, s in wanted.items())

        await self.wait_until(check, 180.0, "a cohort's roster was incomplete after 180 s; its facts were narrowed")
        return seen

    # -- participation facts -----------------------------------------------------------------------

    def at(self, day: date, hour: int) -> str:
        return datetime(day.year, day.month, day.day, hour, tzinfo=WIB).isoformat()

    def facts_ok(self, n: int) -> Callable[[Answer], bool | None]:
        """The answer of a resent fact command: everything a duplicate."""

        def check(a: Answer) -> bool | None:
            if not a.ok or not isinstance(a.body, dict):
                return None
            return False if a.body.get("recorded", 0) else (a.body.get("duplicates") == n or None)

        return check

    async def facts_http(
        self,
        c: Cohort,
        kind: str,
        path: str,
        body: dict[str, Any],
        effects: Sequence[tuple[Key, Any]],
        *,
        correction: bool = False,
    ) -> Command:
        cmd = self.ledger.new("training http", kind, "http", c.region, ACCEPT, correction=correction)
        answer = await self.call(
            cmd,
            "POST",
            "training",
            f"/trainings/{c.training.training_id}{path}",
            json_body=body,
            retry=frozenset({"not_enrolled"}),
        )
        if answer is not None:
            for key, value in effects:
                self.ledger.expect(cmd, key, value)
        return cmd

    async def facts_intake(
        self,
        c: Cohort,
        kind: str,
        payload: dict[str, Any],
        effects: Sequence[tuple[Key, Any]],
        *,
        correction: bool = False,
    ) -> Command:
        cmd = self.intake_command("training intake", kind, c.region, correction=correction)
        t = c.training.training_id
        if await self.intake(cmd, TRAINING_INTAKE, kind, {"training_id": t, **payload}, t):
            for key, value in effects:
                self.ledger.expect(cmd, key, value)
        return cmd

    async def participation(self, c: Cohort, roster: dict[str, str]) -> bool:
        """Attendance, tests, OJT and their corrections; True when something went over the intake."""
        t = c.training
        tid = t.training_id
        trained = [
            p
            for p in c.participants
            if p.withdraw_via is None and roster.get(str(p.fac.fid)) == "enrolled"
            and self.ledger.value(("p", tid, p.fac.key, "enroll")) == "enrolled"
        ]  # fmt: skip
        if not trained:
            return False
        via_intake = False
        absent = {p.fac.key: p.absent for p in trained}
        # attendance, one sheet per session
        resent = False
        for s, day in t.sessions:
            records = [
                {"facilitator_id": p.fac.fid, "status": "absent" if s in absent.get(p.fac.key, []) else "present"}
                for p in trained
            ]
            effects = [(("p", tid, p.fac.key, "att", s), r["status"]) for p, r in zip(trained, records, strict=True)]
            if c.session_via[s] == "http":
                body: dict[str, Any] = {
                    "session_id": s,
                    "occurred_at": self.at(day, 16),
                    "sheet_id": f"{s}-{tid[:8]}",
                    "records": records,
                }
                await self.facts_http(c, "RecordAttendance", "/attendance", body, effects)
                if not resent:
                    resent = True
                    cmd = self.ledger.new("training http", "RecordAttendance", "http", c.region, ABSORB)
                    await self.call(
                        cmd, "POST", "training", f"/trainings/{tid}/attendance", json_body=body,
                        absorbed=self.facts_ok(len(records)),
                    )  # fmt: skip
            else:
                via_intake = True
                await self.facts_intake(
                    c,
                    "RecordAttendance",
                    {"session_id": s, "occurred_at": self.at(day, 16), "records": records},
                    effects,
                )
        # corrections: one absence of each 'corrected' participant was a late arrival
        for p in trained:
            if p.profile != "corrected":
                continue
            s = absent[p.fac.key][0]
            day = dict(t.sessions)[s]
            record = {
                "facilitator_id": p.fac.fid,
                "status": "late",
                "note": "koreksi",
                "fact_id": f"corr-{s}-{p.fac.fid}",
            }
            body = {"session_id": s, "occurred_at": self.at(day + timedelta(days=1), 9), "records": [record]}
            effect: list[tuple[Key, Any]] = [(("p", tid, p.fac.key, "att", s), "late")]
            if self.rng.random() < 0.5:
                await self.facts_http(c, "RecordAttendance", "/attendance", body, effect, correction=True)
            else:
                via_intake = True
                await self.facts_intake(c, "RecordAttendance", body, effect, correction=True)
        # pre-test and post-test
        day1, last = t.sessions[0][1], t.sessions[-1][1]
        scores = {p.fac.key: p.scores for p in trained}
        via_intake |= await self.tests(c, "pre", c.pre_via, trained, scores, self.at(day1, 9))
        with_post = [p for p in trained if p.profile != "no_post"]
        via_intake |= await self.tests(c, "post", c.post_via, with_post, scores, self.at(last, 15))
        for p in with_post:
            if p.post_correction_via is None:
                continue
            score = min(100, scores[p.fac.key][1] + 2)
            body = {
                "kind": "post",
                "max_score": 100,
                "occurred_at": self.at(last, 18),
                "scores": [{"facilitator_id": p.fac.fid, "score": score, "fact_id": f"post2-{p.fac.fid}"}],
            }
            effect = [(("p", tid, p.fac.key, "post"), float(score))]
            if p.post_correction_via == "http":
                await self.facts_http(c, "ScoreAssessments", "/assessments", body, effect, correction=True)
            else:
                via_intake = True
                await self.facts_intake(c, "ScoreAssessments", body, effect, correction=True)
        via_intake |= await self.ojt(c, trained)
        via_intake |= await self.invalid_facts(c, trained[0])
        return via_intake

    async def tests(
        self, c: Cohort, kind: str, via: str, people: Sequence[Person], scores: dict[str, tuple[int, int]], at: str
    ) -> bool:
        if not people:
            return False
        tid = c.training.training_id
        pick = 0 if kind == "pre" else 1
        entries = [
            {"facilitator_id": p.fac.fid, "score": scores[p.fac.key][pick], "fact_id": f"{kind}-{p.fac.fid}"}
            for p in people
        ]
        effects = [(("p", tid, p.fac.key, kind), float(scores[p.fac.key][pick])) for p in people]
        if via == "http":
            body = {"kind": kind, "max_score": 100, "occurred_at": at, "scores": entries}
            await self.facts_http(c, "ScoreAssessments", "/assessments", body, effects)
            if kind == "pre":
                cmd = self.ledger.new("training http", "ScoreAssessments", "http", c.region, ABSORB)
                await self.call(
                    cmd, "POST", "training", f"/trainings/{tid}/assessments", json_body=body,
                    absorbed=self.facts_ok(len(entries)),
                )  # fmt: skip
            return False
        for p, effect in zip(people, effects, strict=True):
            # over the intake, fact ids come from the message id
            score = {"facilitator_id": p.fac.fid, "score": scores[p.fac.key][pick]}
            await self.facts_intake(
                c, "ScoreAssessments", {"kind": kind, "max_score": 100, "occurred_at": at, "scores": [score]}, [effect]
            )
        return True

    async def ojt(self, c: Cohort, trained: Sequence[Person]) -> bool:
        tid = c.training.training_id
        kel = c.kelurahan
        assigned = [p for p in trained if p.ojt]
        if not assigned:
            return False
        via_intake = False
        last = c.training.sessions[-1][1]
        body = {
            "kelurahan_code": kel,
            "mentor": "Tim Korkot",
            "task": "Pemetaan swadaya",
            "facilitator_ids": [p.fac.fid for p in assigned],
            "occurred_at": self.at(last, 17),
        }
        effects = [(("p", tid, p.fac.key, "ojt_a"), kel) for p in assigned]
        if c.ojt_assign_via == "http":
            await self.facts_http(c, "AssignOJT", "/ojt-assignments", body, effects)
        else:
            via_intake = True
            await self.facts_intake(c, "AssignOJT", body, effects)
        done = [p for p in assigned if p.ojt == "complete"]
        at = self.at(last + timedelta(days=2), 15)
        synced: list[Person] = []
        for p in done:
            effect = [(("p", tid, p.fac.key, "ojt_c"), kel)]
            fact = {"facilitator_id": p.fac.fid, "kelurahan_code": kel, "rating": 4, "report": "Rembug warga selesai"}
            if p.ojt_complete_via == "http":
                body2 = {**fact, "occurred_at": at, "fact_id": f"ojt-{p.fac.fid}"}
                await self.facts_http(c, "CompleteOJT", "/ojt-completions", body2, effect)
            elif p.ojt_complete_via == "intake":
                via_intake = True
                await self.facts_intake(c, "CompleteOJT", {**fact, "occurred_at": at}, effect)
            else:
                synced.append(p)
        if synced:
            via_intake = True
            facts: list[dict[str, Any]] = [
                {
                    "kind": "ojt_completion",
                    "fact_id": f"sync-{p.fac.fid}",
                    "occurred_at": at,
                    "facilitator_id": p.fac.fid,
                    "kelurahan_code": kel,
                    "rating": 5,
                }
                for p in synced
            ]
            facts.append(dict(facts[0]))  # the device sent one fact twice
            expect, reason = ACCEPT, None
            if c.sync_with_refusal:  # a fact about someone not in this training: refused, the rest recorded
                facts.append({**facts[0], "fact_id": f"sync-x-{tid[:8]}", "facilitator_id": str(rng_uuid(self.rng))})
                expect, reason = REJECT, "facts_refused"
            cmd = self.intake_command("training intake", "SyncFacts", c.region, expect, reason=reason)
            if await self.intake(
                cmd, TRAINING_INTAKE, "SyncFacts", {"training_id": tid, "device_id": "tim-ojt", "facts": facts}, tid
            ):
                for p in synced:
                    self.ledger.expect(cmd, ("p", tid, p.fac.key, "ojt_c"), kel)
                if reason:
                    self.ledger.expect(cmd, ("rej", str(cmd.message_id)), (c.region, reason))
        return via_intake

    async def invalid_facts(self, c: Cohort, p: Person) -> bool:
        tid = c.training.training_id
        day = c.training.sessions[0][1]
        record = {"facilitator_id": p.fac.fid, "status": "present"}
        cmd = self.ledger.new("training http", "RecordAttendance", "http", c.region, REJECT, reason="unknown_session")
        await self.call(
            cmd,
            "POST",
            "training",
            f"/trainings/{tid}/attendance",
            json_body={"session_id": "s9", "occurred_at": self.at(day, 16), "records": [record]},
        )
        too_high = {"facilitator_id": p.fac.fid, "score": 150}  # above max_score
        nowhere = {"facilitator_id": p.fac.fid, "kelurahan_code": "16.71.01.1999", "rating": 3}
        cases: list[tuple[str, str, dict[str, Any]]] = [
            (
                "RecordAttendance",
                "unknown_session",
                {"session_id": "s9", "occurred_at": self.at(day, 16), "records": [record]},
            ),
            ("ScoreAssessments", "invalid_payload", {"kind": "pre", "max_score": 100, "scores": [too_high]}),
            ("CompleteOJT", "unknown_kelurahan", nowhere),
        ]
        for kind, reason, payload in cases:
            cmd = self.intake_command("rejections", kind, c.region, REJECT, reason=reason)
            if await self.intake(cmd, TRAINING_INTAKE, kind, {"training_id": tid, **payload}, tid):
                self.ledger.expect(cmd, ("rej", str(cmd.message_id)), (c.region, reason))
        return True

    async def close(self, c: Cohort, via_intake: bool) -> None:
        tid = c.training.training_id
        # over the intake: after the facts on the same partition of the intake topic
        via = "intake" if via_intake else "http"
        cmd, ok = await self.command(
            via,
            "training",
            "CloseTraining",
            c.region,
            {"training_id": tid},
            tid,
            "POST",
            f"/trainings/{tid}/close",
            done=frozenset({"training_closed"}),
        )
        if ok:
            self.ledger.expect(cmd, ("tr", tid, "status"), "closed")

    # -- a cohort ------------------------------------------------------------------------------

    async def run_cohort(self, c: Cohort) -> None:
        if not await self.schedule(c):
            return
        t = c.training
        intake_sent: list[Command] = []

        async def reg_intake(f: Facilitator) -> None:
            cmd = await self.register_intake(f)
            if cmd is not None:
                intake_sent.append(cmd)

        registrations: list[Awaitable[object]] = [self.register_http(p.fac) for p in c.people]
        registrations.append(self.register_http(c.korkot))
        registrations += [reg_intake(f) for f in c.intake_people]
        self.rng.shuffle(registrations)  # intake traffic goes on while HTTP calls wait out a 503
        await gather_limited(registrations, 4)
        people = [p for p in c.people if p.fac.fid is not None]
        if not people:
            return
        known = self.rng.choice(people).fac
        await self.invalid_registrations(c, known)
        await self.resend_registration_http(self.rng.choice(people).fac)
        for cmd in self.rng.sample(intake_sent, min(len(intake_sent), c.intake_resends)):
            self.resend_later(cmd, delay=self.rng.uniform(0, 30))
        if intake_sent:  # the same message id with other content: ignored
            self.resend_later(
                self.rng.choice(intake_sent), delay=self.rng.uniform(1, 10), altered={"full_name": self.name()}
            )

        async def training_known() -> bool:
            body = await self.http.get_json(
                self.url("registration", f"/trainings/{t.training_id}"), self.token(c.region)
            )
            return body is not None

        if not await self.wait_until(training_known, 240.0, "registration did not learn a training within 240 s"):
            return
        participants = [p for p in c.participants if p.fac.fid is not None]
        others = [p for p in people if not p.participant]
        await gather_limited(
            [self.enroll(c, p) for p in participants]
            + [self.maintain(p) for p in others]
            + [self.renames(p) for p in participants if p.renames],
            4,
        )
        await self.invalid_enrollments(c, participants[0] if participants else None)
        await gather_limited([self.withdraw(c, p) for p in participants if p.withdraw_via and p.participant], 4)
        roster = await self.roster(c)
        via_intake = await self.participation(c, roster)
        await self.close(c, via_intake)

    async def maintain(self, p: Person) -> None:
        await self.renames(p)
        if p.reassign_via:
            await self.reassign(p.fac, p.reassign_via)
        if p.deactivate_via:
            await self.deactivate(p.fac, p.deactivate_via)

    async def renames(self, p: Person) -> None:
        for via in p.renames:
            await self.rename(p.fac, via)

    async def run(self, window: float, stop: asyncio.Event) -> None:
        """Start the cohorts at a steady pace over ``window`` seconds and wait for all of them."""
        started = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        pace = window / max(1, len(self.cohorts))
        for i, cohort in enumerate(self.cohorts):
            delay = started + i * pace - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                break
            tasks.append(asyncio.create_task(self.run_cohort(cohort)))
        for done in asyncio.as_completed(tasks):
            try:
                await done
            except Exception as exc:  # a driver bug must not hide the ledger; it is reported
                self.ledger.notes[f"a cohort failed in the driver: {exc!r}"[:200]] += 1
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)

    # -- poison --------------------------------------------------------------------------------

    async def run_poison(self, count: int, window: float) -> None:
        """Poison records at random moments over the window, each with its own Kafka key."""
        rng = random.Random(self.opts.seed + 2)
        streams = (REGISTRATION_INTAKE, TRAINING_INTAKE, FACILITATOR, PARTICIPATION, ENROLLMENT, TRAINING)
        kinds = ("brackets", "deep", "bytes", "no_id")
        moments = sorted(rng.uniform(2.0, window) for _ in range(count))
        started = time.monotonic()
        for i, moment in enumerate(moments):
            await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
            stream = streams[i % len(streams)]
            region = REGIONS[(i // len(streams)) % len(REGIONS)]
            kind = kinds[rng.randrange(len(kinds))]
            key = f"poison-{self.ns.name}-{i + 1}"
            topic = self.topic(stream, region)
            group = "poison (intake)" if stream in (REGISTRATION_INTAKE, TRAINING_INTAKE) else "poison (canonical)"
            cmd = self.ledger.new(group, kind, "kafka", region, DEAD_LETTER)
            self.ledger.poison[key] = Poison(key, topic, kind, self.readers.get(stream.name, ()), cmd)
            ok = await self.producer.send(topic, poison_value(kind, rng), key.encode())
            cmd.answer = "sent" if ok else "unsent"
            if ok:
                self.ledger.expect(cmd, ("dlq", key), topic)

    # -- canaries: how long until a new command shows in the reports ------------------------------

    async def canary(self, region: str) -> Callable[[], Awaitable[bool]]:
        """Register a korkot in the region's canary kota over HTTP and one over the intake; returns
        a check that is true once reporting shows both."""
        kab = CANARY_KABKOTA[region]
        http_f = self.planner.facilitator(region, "korkot", "http", kab)
        intake_f = self.planner.facilitator(region, "korkot", "intake", kab)
        http_f.canary = intake_f.canary = True
        results = await asyncio.gather(
            self.register_http(http_f, "canaries"), self.register_intake(intake_f, "canaries")
        )
        expected = sum(
            1 for f in self.ledger.facilitators.values() if f.canary and f.region == region
        )  # both just registered included
        national = self.ns.tokens["national"]

        async def visible() -> bool:
            if results[0] and http_f.fid is not None:
                body = await self.http.get_json(self.url("reporting", f"/facilitators/{http_f.fid}/history"), national)
                if body is None:
                    return False
            report = await self.http.get_json(
                self.url("reporting", f"/reports/kabkota/{kab}"), params={"role": "korkot"}
            )
            return report is not None and int(report["facilitators_total"]) >= expected - self.canary_missing[region]

        return visible

    async def settle_canaries(self, region: str) -> None:
        """After a recovery deadline: how many canaries of the region reporting still lacks."""
        kab = CANARY_KABKOTA[region]
        report = await self.http.get_json(self.url("reporting", f"/reports/kabkota/{kab}"), params={"role": "korkot"})
        if report is not None:
            expected = sum(1 for f in self.ledger.facilitators.values() if f.canary and f.region == region)
            self.canary_missing[region] = max(0, expected - int(report["facilitators_total"]))

    # -- setup ---------------------------------------------------------------------------------

    async def reference_data(self) -> None:
        """oc05's kota/kabupaten and OJT kelurahan (admin), then wait until the training service
        knows every OJT kelurahan of both regions (it learns them from OrgUnitDefined events)."""
        admin = self.ns.tokens["admin"]
        for code, name in OC05_UNITS:
            answer = await self.http.call(
                "PUT",
                self.url("registration", f"/orgunits/{code}"),
                admin,
                json={"name": name, "effective_from": "2016-01-01"},
            )
            if not answer.ok:
                raise RuntimeError(f"could not define org unit {code}: {answer.status} {answer.code}")
        wanted = {k for ks in KELURAHAN.values() for k in ks}

        async def known() -> bool:
            body = await self.http.get_json(self.url("training", "/reference/kelurahan"), admin)
            return body is not None and wanted <= {k["code"] for k in body}

        if not await self.wait_until(known, 90.0, "reference data"):
            raise RuntimeError("the training service did not learn the OJT kelurahan within 90 s")


def poison_value(kind: str, rng: random.Random) -> bytes:
    if kind == "brackets":  # ~100 KB of '['
        return b"[" * 100_000
    if kind == "deep":  # an object whose one field nests 50,000 arrays deep
        return b'{"data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    if kind == "bytes":  # not JSON, not even UTF-8
        return b"\xff\xfe\x00" + bytes(rng.randrange(256) for _ in range(200))
    return json.dumps({"type": "RegisterFacilitator", "note": "no message id, no envelope"}).encode()


async def gather_limited(coros: Iterable[Awaitable[Any]], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(c: Awaitable[Any]) -> None:
        async with gate:
            await c

    await asyncio.gather(*(one(c) for c in coros))
