"""The comparison: what the system shows (the reports, the registration listing, the rejection and
dead-letter topics) against the ledger.

Every command ends as one of: ok, lost (its effect is missing), doubled (its effect, or an answer to
it, shows more than once), misplaced (it ended somewhere else: a valid command refused or
dead-lettered, an invalid one accepted, a rejection with another reason or on another region's
topic, a poison record in the wrong dead-letter topic) or unresolved (the client never got an
answer). Report figures (counts per region, province and role, per training and session, each
participant's outcome) are checked on their own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.kernel.topics import REJECTIONS
from tests.faults.clients import Http
from tests.faults.infra import Namespace
from tests.faults.ledger import (
    ABSORB,
    ACCEPT,
    DOUBLED,
    LOST,
    MISPLACED,
    OK,
    REJECT,
    UNRESOLVED,
    Key,
    Ledger,
)
from tests.faults.options import REGIONS

API = "/api/v1"


# -- reading topics ------------------------------------------------------------------------------


async def read_topics(bootstrap: str, topics: Iterable[str], partitions: int = 3) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topics`` from the beginning up to their end offsets now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(parts)
        end = await consumer.end_offsets(parts)
        await consumer.seek_to_beginning(*parts)
        remaining = {tp for tp in parts if end[tp] > 0}
        deadline = time.monotonic() + 120
        while remaining and time.monotonic() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, recs in batch.items():
                records.extend(r for r in recs if r.offset < end[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return records


@dataclass
class DeadLetter:
    topic: str
    key: str | None
    consumer: str
    reason: str
    origin: tuple[str, int, int]
    value: bytes


def dead_letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    headers = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}
    try:
        origin = (
            headers.get("x-dlq-original-topic", ""),
            int(headers.get("x-dlq-original-partition", -1)),
            int(headers.get("x-dlq-original-offset", -1)),
        )
    except ValueError:
        origin = ("", -1, -1)
    return DeadLetter(
        topic=record.topic,
        key=record.key.decode("utf-8", "replace") if record.key is not None else None,
        consumer=headers.get("x-dlq-consumer", "?"),
        reason=headers.get("x-dlq-reason", "?"),
        origin=origin,
        value=record.value or b"",
    )


# -- what the system shows ---------------------------------------------------------------------------


@dataclass
class Observed:
    listing: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> registration items
    listed_ids: set[str] = field(default_factory=set)
    histories: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # facilitator id -> history
    trainings: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # training id -> report
    figures: dict[Key, Any] = field(default_factory=dict)
    rejections: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # message id -> events
    rejection_records: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    poison_copies: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    lag: int | None = None


class Observer:
    def __init__(self, ns: Namespace, http: Http, ledger: Ledger) -> None:
        self.ns = ns
        self.http = http
        self.ledger = ledger
        self.national = ns.tokens["national"]

    def url(self, service: str, path: str) -> str:
        return f"{self.ns.url(service)}{API}{path}"

    async def get(self, service: str, path: str, params: dict[str, str] | None = None, auth: bool = False) -> Any:
        for _ in range(20):  # a read is retried: the services are up, but may be busy
            body = await self.http.get_json(self.url(service, path), self.national if auth else None, params)
            if body is not None:
                return body
            await asyncio.sleep(0.5)
        return None

    async def figures(self, obs: Observed) -> None:
        """The aggregate figures of the reports: facilitators per region, province, role and status,
        per region in total, and each training's counts (from the region reports)."""
        figures: dict[Key, Any] = {}
        national = await self.get("reporting", "/reports/national")
        if national is not None:
            for row in national["facilitators_by_region"]:
                figures[("region total", row["region"])] = int(row["total"])
            lags = [f.get("lag") for f in national["freshness"]]
            obs.lag = sum(int(x) for x in lags if x is not None) if lags else None
        for region in REGIONS:
            counts = await self.get("reporting", "/reports/facilitator-counts", {"region": region})
            if counts is not None:
                figures[("facilitator-counts", region)] = int(counts["total"])
            report = await self.get("reporting", f"/reports/regions/{region}")
            if report is None:
                continue
            for row in report["facilitators_by_province"]:
                for status in ("active", "inactive"):
                    if row[status]:
                        figures[("facilitators", region, row["code"], row["role"], status)] = int(row[status])
            for row in report["trainings"]:
                for name in ("enrolled", "withdrawn", "completed", "not_completed", "certified"):
                    figures[("training", row["training_id"], name)] = int(row[name])
                figures[("training", row["training_id"], "status")] = row["status"]
        obs.figures = figures

    async def details(self, obs: Observed) -> None:
        """Per entity: the registration listing, every facilitator's history in the reports, every
        training's report, and the rejection and dead-letter topics."""
        for region in REGIONS:
            offset = 0
            while True:
                page = await self.get(
                    "registration", "/facilitators", {"region": region, "limit": "500", "offset": str(offset)}, True
                )
                if page is None:
                    raise RuntimeError("the registration listing could not be read")
                for item in page["items"]:
                    obs.listing.setdefault(item["full_name"], []).append(item)
                    obs.listed_ids.add(str(item["facilitator_id"]))
                offset += len(page["items"])
                if not page["items"] or offset >= page["total"]:
                    break
        for f in self.ledger.facilitators.values():
            if f.fid is None and f.channel == "intake":
                found = obs.listing.get(f.name, [])
                if len(found) >= 1:
                    f.fid = str(found[0]["facilitator_id"])
        ids = [f.fid for f in self.ledger.facilitators.values() if f.fid is not None]
        gate = asyncio.Semaphore(8)

        async def history(fid: str) -> None:
            async with gate:
                obs.histories[fid] = await self.http.get_json(
                    self.url("reporting", f"/facilitators/{fid}/history"), self.national
                )

        async def training(tid: str) -> None:
            async with gate:
                obs.trainings[tid] = await self.http.get_json(self.url("reporting", f"/reports/trainings/{tid}"))

        await asyncio.gather(*(history(i) for i in ids), *(training(t) for t in self.ledger.trainings))
        for tid, report in obs.trainings.items():
            if report is None:
                continue
            info = report["training"]
            for name in ("participants", "pre_n", "post_n", "ojt_assigned", "ojt_completed"):
                obs.figures[("training", tid, name)] = int(info[name])
            for row in report["attendance_by_session"]:
                for name in ("recorded", "present", "late", "excused", "absent"):
                    obs.figures[("session", tid, row["session_id"], name)] = int(row[name])
        for f in self.ledger.facilitators.values():
            h = obs.histories.get(f.fid or "")
            for row in (h or {}).get("trainings", []):
                obs.figures[("outcome", row["training_id"], f.key)] = row["outcome"]
                obs.figures[("certified", row["training_id"], f.key)] = row["certificate_code"] is not None
        await self.topics(obs)

    async def topics(self, obs: Observed) -> None:
        prefix, bootstrap = self.ns.prefix, self.ns.brokers.bootstrap
        rejection_topics = {REJECTIONS.topic(r, prefix): r for r in REGIONS}
        for record in await read_topics(bootstrap, rejection_topics):
            obs.rejection_records += 1
            try:
                event = json.loads(record.value or b"")
                if event["event_type"] == "IntakeAccepted":
                    continue  # the receipt of a batch of facts, not a rejection
                payload = event["payload"]
                entry = (rejection_topics[record.topic], str(payload["reason"]), str(event["event_id"]))
                obs.rejections.setdefault(str(payload["message_id"]), []).append(entry)
            except (ValueError, KeyError, TypeError):
                obs.rejections.setdefault("(unreadable)", []).append((record.topic, "?", str(record.offset)))
        dlq_topics = [t for t in self.ns.topics if t.endswith(".dlq")]
        obs.dead_letters = [dead_letter(r) for r in await read_topics(bootstrap, dlq_topics)]
        sources = sorted({p.topic for p in self.ledger.poison.values()})
        keys = set(self.ledger.poison)
        for record in await read_topics(bootstrap, sources):
            key = record.key.decode("utf-8", "replace") if record.key is not None else ""
            if key in keys:
                obs.poison_copies.setdefault(key, []).append((record.topic, record.partition, record.offset))


# -- the expected figures ----------------------------------------------------------------------------


def expected_figures(ledger: Ledger, *, detailed: bool) -> dict[Key, Any]:
    fig: dict[Key, Any] = defaultdict(int)
    for f in ledger.facilitators.values():
        if ledger.value(("fac", f.key, "reg")) != 1:
            continue
        region, province, _, role = ledger.value(("fac", f.key, "area"))
        status = ledger.value(("fac", f.key, "status"))
        fig[("facilitators", region, province, role, status)] += 1
        fig[("region total", region)] += 1
        fig[("facilitator-counts", region)] += 1
    for tid, t in ledger.trainings.items():
        if ledger.value(("tr", tid, "known")) is None:
            continue
        fig[("training", tid, "status")] = ledger.value(("tr", tid, "status"))
        parts = ledger.participants(tid)
        outcomes = {k: ledger.expected_outcome(tid, k) for k in parts}
        for name in ("enrolled", "withdrawn"):
            fig[("training", tid, name)] = sum(s == name for s in parts.values())
        fig[("training", tid, "completed")] = sum(o == "completed" for o in outcomes.values())
        fig[("training", tid, "not_completed")] = sum(o == "not_completed" for o in outcomes.values())
        fig[("training", tid, "certified")] = fig[("training", tid, "completed")]
        if not detailed:
            continue
        fig[("training", tid, "participants")] = len(parts)
        for name, part in (("pre_n", "pre"), ("post_n", "post"), ("ojt_assigned", "ojt_a"), ("ojt_completed", "ojt_c")):
            fig[("training", tid, name)] = sum(ledger.value(("p", tid, k, part)) is not None for k in parts)
        for s, _ in t.sessions:
            statuses = [ledger.value(("p", tid, k, "att", s)) for k in parts]
            fig[("session", tid, s, "recorded")] = sum(x is not None for x in statuses)
            for name in ("present", "late", "excused", "absent"):
                fig[("session", tid, s, name)] = sum(x == name for x in statuses)
        for k, outcome in outcomes.items():
            fig[("outcome", tid, k)] = outcome
            fig[("certified", tid, k)] = outcome == "completed"
    return dict(fig)


def figure_mismatches(expected: dict[Key, Any], observed: dict[Key, Any]) -> list[tuple[Key, Any, Any]]:
    out = []
    for key in sorted(set(expected) | set(observed), key=str):
        exp = expected.get(key, 0 if key[0] in ("facilitators",) else None)
        obs = observed.get(key, 0 if key[0] in ("facilitators", "session") else None)
        if key[0] == "training" and key[1] not in {k[1] for k in expected if k[0] == "training"}:
            exp = None
        if exp != obs and not (exp in (0, None, False) and obs in (0, None, False)):
            out.append((key, exp, obs))
    return out


def classify_figure(exp: Any, obs: Any) -> str:
    if isinstance(exp, int | float) and not isinstance(exp, bool) and isinstance(obs, int | float | None):
        return LOST if (obs or 0) < exp else DOUBLED
    if obs in (None, 0, False):
        return LOST
    return MISPLACED


# -- the comparison ----------------------------------------------------------------------------------


@dataclass
class Findings:
    effects_checked: int = 0
    figures_checked: int = 0
    figure_mismatches: list[tuple[Key, Any, Any]] = field(default_factory=list)
    unexpected_dead_letters: Counter[str] = field(default_factory=Counter)
    unexpected_rejections: Counter[str] = field(default_factory=Counter)
    rejection_copies: int = 0  # records of a rejection event seen more than once (same event id)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def example(self, status: str, text: str) -> None:
        self.examples.setdefault(status, [])
        if len(self.examples[status]) < 8:
            self.examples[status].append(text)


def _values_match(exp: Any, obs: Any) -> bool:
    if isinstance(exp, float) and isinstance(obs, int | float):
        return abs(exp - obs) < 0.01
    return bool(exp == obs)


class Comparison:
    def __init__(self, ledger: Ledger, obs: Observed) -> None:
        self.ledger = ledger
        self.obs = obs
        self.findings = Findings()
        self.key_status: dict[Key, tuple[str, str]] = {}

    def run(self) -> Findings:
        self.answers()
        self.effects()
        self.attendance()
        self.intake_outcomes()
        self.resends_and_absent_names()
        self.poison()
        self.other_dead_letters()
        self.findings.effects_checked = len(self.ledger.effects) + len(self.ledger.absent)
        expected = expected_figures(self.ledger, detailed=True)
        self.findings.figures_checked = len(expected)
        self.findings.figure_mismatches = figure_mismatches(expected, self.obs.figures)
        for key, exp, obs in self.findings.figure_mismatches:
            self.findings.example("figure", f"{_show(key)}: expected {exp}, reports show {obs}")
        for cmd in self.ledger.commands:
            if cmd.status != OK:
                self.findings.example(cmd.status, f"#{cmd.n} {cmd.group} {cmd.kind}: {cmd.detail}")
        return self.findings

    # HTTP answers and unanswered commands
    def answers(self) -> None:
        for cmd in self.ledger.commands:
            if cmd.answer in ("unresolved", "unsent", "pending"):
                cmd.mark(UNRESOLVED, f"no answer ({cmd.answer})")
                continue
            if cmd.channel != "http":
                continue
            if cmd.expect == REJECT:
                if cmd.answer == "accepted":
                    cmd.mark(MISPLACED, f"invalid on purpose ({cmd.reason}) but accepted")
                elif cmd.answer != f"rejected:{cmd.reason}":
                    cmd.mark(MISPLACED, f"refused as {cmd.answer.split(':', 1)[-1]}, expected {cmd.reason}")
            elif cmd.expect == ACCEPT and cmd.answer.startswith("rejected:"):
                cmd.mark(MISPLACED, f"a valid command was refused: {cmd.answer.split(':', 1)[1]}")
            elif cmd.expect == ABSORB and cmd.answer != "absorbed":
                if cmd.answer == "doubled":
                    cmd.mark(DOUBLED, "a resend took effect a second time")
                else:
                    cmd.mark(MISPLACED, f"a resend was answered {cmd.answer}")

    def history(self, fkey: str) -> dict[str, Any] | None:
        f = self.ledger.facilitators[fkey]
        return self.obs.histories.get(f.fid or "")

    def training_row(self, tid: str, fkey: str) -> dict[str, Any] | None:
        h = self.history(fkey)
        for row in (h or {}).get("trainings", []):
            if row["training_id"] == tid:
                return dict(row)
        return None

    def observe(self, key: Key) -> Any:
        kind = key[0]
        if kind == "fac":
            fkey, part = key[1], key[2]
            f = self.ledger.facilitators[fkey]
            h = self.history(fkey)
            info = (h or {}).get("facilitator") or {}
            if part == "reg":
                in_registration = f.fid is not None and f.fid in self.obs.listed_ids
                same_name = len(self.obs.listing.get(f.name, [])) if f.channel == "intake" else 1
                if not in_registration:
                    return ("not registered", 0)
                if same_name > 1:
                    return ("registered more than once", same_name)
                return ("in the reports", 1) if info.get("registered") else ("not in the reports", 0)
            if part == "name":
                return info.get("full_name")
            if part == "area":
                if not info.get("registered"):
                    return None
                return (info.get("region"), info.get("province_code"), info.get("kabkota_code"), info.get("role"))
            if part == "status":
                return info.get("status") if info.get("registered") else None
            if part == "assign":
                return len((h or {}).get("assignments", []))
        if kind == "tr":
            report = self.obs.trainings.get(key[1])
            info = (report or {}).get("training") or {}
            return info.get("title") if key[2] == "known" else info.get("status")
        if kind == "p":
            row = self.training_row(key[1], key[2])
            if row is None:
                return None
            part = key[3]
            if part == "enroll":
                return row["enrollment_status"]
            if part in ("pre", "post"):
                return row[f"{part}_pct"]
            if part == "ojt_a":
                return row["ojt_kelurahan"]
            if part == "ojt_c":
                return row["ojt_kelurahan"] if row["ojt_completed"] else None
        return None

    def effects(self) -> None:
        for key, effect in self.ledger.effects.items():
            if key[0] in ("rej", "dlq") or (key[0] == "p" and key[3] == "att"):
                continue
            obs = self.observe(key)
            status, detail = OK, ""
            if key[0] == "fac" and key[2] == "reg":
                where, count = obs
                if count == 0:
                    status, detail = LOST, f"facilitator {where}"
                elif count > 1:
                    status, detail = DOUBLED, f"facilitator {where} ({count})"
            elif key[0] == "fac" and key[2] == "assign":
                if obs != effect.value:
                    status = LOST if obs < effect.value else DOUBLED
                    detail = f"{obs} assignment(s) in the reports, expected {effect.value}"
            elif not _values_match(effect.value, obs):
                earlier = obs is None or any(_values_match(e, obs) for e in effect.earlier)
                status = LOST if earlier else MISPLACED
                detail = (
                    f"{_show(key)}: the reports show another name"
                    if key[-1] == "name"  # names stay out of the output
                    else f"{_show(key)}: expected {_brief(effect.value)}, reports show {_brief(obs)}"
                )
            self.key_status[key] = (status, detail)
            if status != OK:
                effect.owner.mark(status, detail)

    def attendance(self) -> None:
        """Per training: participants whose (recorded, attended) differ from the ledger, crossed with
        sessions whose counts differ, locate the attendance effects that are wrong."""
        effects = self.ledger.effects
        cells: dict[str, dict[tuple[str, str], Key]] = defaultdict(dict)
        for key in effects:
            if key[0] == "p" and key[3] == "att":
                cells[key[1]][(key[2], key[4])] = key
        expected = expected_figures(self.ledger, detailed=True)
        for tid, by_cell in cells.items():
            t = self.ledger.trainings[tid]
            bad_people = set()
            for fkey in {k for k, _ in by_cell}:
                exp_rec = sum((fkey, s) in by_cell for s, _ in t.sessions)
                exp_att = sum(
                    effects[by_cell[(fkey, s)]].value in ("present", "late")
                    for s, _ in t.sessions
                    if (fkey, s) in by_cell
                )
                row = self.training_row(tid, fkey)
                got = (row["sessions_recorded"], row["sessions_attended"]) if row else (0, 0)
                if got != (exp_rec, exp_att):
                    bad_people.add(fkey)
            bad_sessions = {}
            for s, _ in t.sessions:
                names = ("recorded", "present", "late", "excused", "absent")
                exp = tuple(expected.get(("session", tid, s, n), 0) for n in names)
                got = tuple(self.obs.figures.get(("session", tid, s, n), 0) for n in names)
                if exp != got:
                    bad_sessions[s] = (exp, got)
            for (fkey, s), key in by_cell.items():
                if (bad_people and fkey not in bad_people) or (bad_sessions and s not in bad_sessions):
                    continue
                if not bad_people and not bad_sessions:
                    continue
                exp_s, got_s = bad_sessions.get(s, ((0,), (0,)))
                status = DOUBLED if got_s[0] > exp_s[0] else LOST
                effects[key].owner.mark(status, f"attendance of {fkey} at {s} of training {tid[:8]}")
                self.key_status[key] = (status, "")

    def intake_outcomes(self) -> None:
        dead = {}
        for dl in self.obs.dead_letters:
            mid = _message_id(dl.value)
            if mid is not None:
                dead[mid] = dl
        for cmd in self.ledger.commands:
            if cmd.channel != "intake" or cmd.message_id is None or cmd.expect == ABSORB:
                continue
            found = self.obs.rejections.get(cmd.message_id, [])
            if cmd.message_id in dead:
                dl = dead[cmd.message_id]
                cmd.mark(MISPLACED, f"dead-lettered by {dl.consumer} ({dl.reason})")
                continue
            if cmd.expect == ACCEPT:
                if found:
                    cmd.mark(MISPLACED, f"a valid message was rejected: {found[0][1]}")
                continue
            if cmd.expect == REJECT:
                events = {e[2] for e in found}
                self.findings.rejection_copies += len(found) - len(events)
                if not found:
                    cmd.mark(LOST, f"no rejection ({cmd.reason}) on the rejections topic")
                elif len(events) > 1:
                    cmd.mark(DOUBLED, f"{len(events)} rejections of one message")
                elif (found[0][0], found[0][1]) != (cmd.region, cmd.reason):
                    cmd.mark(
                        MISPLACED, f"rejected as {found[0][1]} on {found[0][0]}, expected {cmd.reason} on {cmd.region}"
                    )
        for mid, found in self.obs.rejections.items():
            if mid not in self.ledger.by_message:
                self.findings.unexpected_rejections[f"unknown message id ({found[0][1]})"] += 1

    def resends_and_absent_names(self) -> None:
        for name, cmd in self.ledger.absent.items():
            if name in self.obs.listing:
                if cmd.expect == ABSORB:
                    cmd.mark(DOUBLED, "a resend under the same message id was applied as a new command")
                else:
                    cmd.mark(MISPLACED, f"invalid on purpose ({cmd.reason}) but registered")
        for cmd in self.ledger.commands:
            if cmd.expect != ABSORB or cmd.channel != "intake":
                continue
            for key in cmd.watch:
                status = self.key_status.get(key, (OK, ""))[0]
                if key[0] == "rej":
                    original = self.ledger.by_message.get(key[1])
                    status = DOUBLED if original is not None and original.status == DOUBLED else OK
                if status == DOUBLED:
                    cmd.mark(DOUBLED, "the resend took effect a second time")

    def poison(self) -> None:
        by_key: dict[str, list[DeadLetter]] = defaultdict(list)
        for dl in self.obs.dead_letters:
            if dl.key is not None and dl.key in self.ledger.poison:
                by_key[dl.key].append(dl)
        for key, p in self.ledger.poison.items():
            cmd = p.command
            if cmd.answer != "sent":
                continue
            records = by_key.get(key, [])
            for dl in records:
                self.findings.dead_letter_reasons[dl.reason] += 1
            copies = self.obs.poison_copies.get(key, [])
            if not copies:
                cmd.mark(LOST, "acknowledged by the broker but not on its topic")
                continue
            wrong = [dl for dl in records if dl.topic != p.topic + ".dlq" or dl.consumer not in p.consumers]
            counts = Counter((dl.origin, dl.consumer) for dl in records if dl not in wrong)
            missing = [(c, who) for c in copies for who in p.consumers if counts[(c, who)] == 0]
            if wrong:
                cmd.mark(MISPLACED, f"dead-lettered on {wrong[0].topic} by {wrong[0].consumer}")
            elif any(n > 1 for n in counts.values()):
                cmd.mark(DOUBLED, f"dead-lettered {max(counts.values())} times by one consumer")
            elif missing:
                cmd.mark(LOST, f"not dead-lettered by {', '.join(sorted({w for _, w in missing}))}")

    def other_dead_letters(self) -> None:
        """Dead letters that are not poison: a valid message or event a consumer gave up on."""
        fkeys = {f.fid: f.key for f in self.ledger.facilitators.values() if f.fid}
        for dl in self.obs.dead_letters:
            if dl.key is not None and dl.key in self.ledger.poison:
                continue
            self.findings.dead_letter_reasons[dl.reason] += 1
            if _message_id(dl.value) is not None:
                continue  # an intake message: counted on its command (intake_outcomes)
            keys = _event_keys(dl.value, fkeys)
            owners = {self.ledger.effects[k].owner for k in keys if k in self.ledger.effects}
            for owner in owners:
                owner.mark(MISPLACED, f"its event was dead-lettered by {dl.consumer} ({dl.reason})")
            if not owners:
                self.findings.unexpected_dead_letters[f"{dl.consumer}: {dl.reason} ({_event_type(dl.value)})"] += 1


def _message_id(value: bytes) -> str | None:
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, dict) and isinstance(data.get("message_id"), str) and "event_type" not in data:
        return str(data["message_id"])
    return None


def _event_type(value: bytes) -> str:
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return "?"
    return str(data.get("event_type", "?")) if isinstance(data, dict) else "?"


def _event_keys(value: bytes, fkeys: dict[str, str]) -> list[Key]:
    """The ledger effects a canonical event stands for."""
    try:
        event = json.loads(value)
        payload = event["payload"]
        kind = str(event["event_type"])
    except (ValueError, RecursionError, KeyError, TypeError):
        return []
    fkey = fkeys.get(str(payload.get("facilitator_id")))
    tid = str(payload.get("training_id"))
    simple = {
        "FacilitatorRegistered": ("reg",),
        "FacilitatorUpdated": ("name",),
        "FacilitatorReassigned": ("area", "assign"),
        "FacilitatorDeactivated": ("status",),
    }
    if kind in simple and fkey:
        return [("fac", fkey, part) for part in simple[kind]]
    if kind in ("FacilitatorEnrolled", "EnrollmentWithdrawn") and fkey:
        return [("p", tid, fkey, "enroll")]
    if kind == "TrainingScheduled":
        return [("tr", tid, "known")]
    if kind == "TrainingClosed":
        return [("tr", tid, "status")]
    if kind == "AttendanceRecorded" and fkey:
        return [("p", tid, fkey, "att", str(payload.get("session_id")))]
    if kind == "AssessmentScored" and fkey:
        return [("p", tid, fkey, str(payload.get("kind")))]
    if kind == "OJTAssigned" and fkey:
        return [("p", tid, fkey, "ojt_a")]
    if kind == "OJTCompleted" and fkey:
        return [("p", tid, fkey, "ojt_c")]
    return []


def _show(key: Key) -> str:
    return " ".join(k[:8] if len(k) == 36 else k for k in key)


def _brief(value: Any) -> str:
    return "nothing" if value is None else str(value)


def converged(ledger: Ledger, obs: Observed) -> list[tuple[Key, Any, Any]]:
    """The aggregate figures that still differ (used while waiting for the reports to catch up)."""
    expected = expected_figures(ledger, detailed=False)
    return figure_mismatches(expected, obs.figures)
