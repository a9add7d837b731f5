"""The ledger: every command the workload sends, through which door, what it must lead to, and
which effect on the reports it owns.

An *effect* is one observable fact of the end state, keyed by a tuple, e.g.
``("fac", "F12", "name")`` (a facilitator's name) or ``("p", training_id, "F12", "att", "s2")``
(one participant's attendance at one session). A command that is accepted sets the expected value
of the effects it writes and becomes their owner; a later command writing the same effect (a
correction) takes over, and the earlier value is kept so that an end state showing it can be told
apart (the correction was lost) from one showing something else (misplaced).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Key = tuple[str, ...]

# What a command must lead to.
ACCEPT = "accept"  # its effect, once
REJECT = "reject"  # an answer with this reason (HTTP 4xx, or IntakeRejected on <region>.rejections.v1)
ABSORB = "absorb"  # nothing new: a resend of a command the system has seen
DEAD_LETTER = "dead_letter"  # a poison record: one dead letter per consumer that reads its topic

# What the comparison found.
OK = "ok"
LOST = "lost"
DOUBLED = "doubled"
MISPLACED = "misplaced"
UNRESOLVED = "unresolved"
SEVERITY = {OK: 0, LOST: 1, DOUBLED: 2, MISPLACED: 3, UNRESOLVED: 4}


@dataclass(eq=False)
class Command:
    n: int
    group: str  # the row of the table it is counted in
    kind: str
    channel: str  # http | intake | kafka
    region: str
    expect: str
    reason: str | None = None  # the expected rejection code
    message_id: str | None = None
    correction: bool = False
    answer: str = "pending"  # http: accepted | absorbed | doubled | rejected:<code> | unresolved; intake: sent | unsent
    uncertain: bool = False
    keys: list[Key] = field(default_factory=list)  # effects it owns (or owned before a correction)
    watch: list[Key] = field(default_factory=list)  # effects a second application would double
    status: str = OK
    detail: str = ""

    def mark(self, status: str, detail: str) -> None:
        if SEVERITY[status] > SEVERITY[self.status]:
            self.status, self.detail = status, detail


@dataclass
class Effect:
    value: Any
    owner: Command
    earlier: list[Any] = field(default_factory=list)


@dataclass
class Facilitator:
    key: str
    region: str
    province: str
    kabkota: str
    role: str
    speciality: str | None
    name: str
    nik: str  # never printed
    channel: str
    canary: bool = False
    fid: str | None = None


@dataclass
class Training:
    training_id: str
    region: str
    title: str
    sessions: list[tuple[str, date]]
    min_attendance_ratio: float = 0.75
    require_post_test: bool = True

    @property
    def required_sessions(self) -> int:
        return -(-int(self.min_attendance_ratio * 100 * len(self.sessions)) // 100)


@dataclass
class Poison:
    key: str
    topic: str
    kind: str
    consumers: tuple[str, ...]
    command: Command


class Ledger:
    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.effects: dict[Key, Effect] = {}
        self.facilitators: dict[str, Facilitator] = {}
        self.trainings: dict[str, Training] = {}
        self.absent: dict[str, Command] = {}  # names that must not be registered -> the command
        self.poison: dict[str, Poison] = {}
        self.by_message: dict[str, Command] = {}  # message_id -> the original intake command
        self.notes: Counter[str] = Counter()  # what the workload met on its way

    def new(
        self,
        group: str,
        kind: str,
        channel: str,
        region: str,
        expect: str,
        *,
        reason: str | None = None,
        message_id: str | None = None,
        correction: bool = False,
    ) -> Command:
        cmd = Command(
            len(self.commands) + 1,
            group,
            kind,
            channel,
            region,
            expect,
            reason=reason,
            message_id=message_id,
            correction=correction,
        )
        self.commands.append(cmd)
        if message_id is not None and expect != ABSORB:
            self.by_message[message_id] = cmd
        return cmd

    def expect(self, cmd: Command, key: Key, value: Any) -> None:
        held = self.effects.get(key)
        earlier = [*held.earlier, held.value] if held is not None else []
        self.effects[key] = Effect(value, cmd, earlier)
        cmd.keys.append(key)

    def value(self, key: Key, default: Any = None) -> Any:
        effect = self.effects.get(key)
        return effect.value if effect is not None else default

    def must_be_absent(self, cmd: Command, name: str) -> None:
        self.absent[name] = cmd

    def participants(self, training_id: str) -> dict[str, str]:
        """facilitator key -> enrolled | withdrawn, as expected."""
        return {
            k[2]: str(e.value)
            for k, e in self.effects.items()
            if k[0] == "p" and k[1] == training_id and k[3] == "enroll"
        }

    def participant_effects(self, training_id: str, fkey: str) -> dict[Key, Any]:
        return {k: e.value for k, e in self.effects.items() if k[0] == "p" and k[1] == training_id and k[2] == fkey}

    def expected_outcome(self, training_id: str, fkey: str) -> str | None:
        """completed | not_completed by the training's completion rule over the facts, once it is
        closed; None (provisional) before."""
        t = self.trainings[training_id]
        if self.value(("tr", training_id, "status")) != "closed":
            return None
        if self.value(("p", training_id, fkey, "enroll")) == "withdrawn":
            return "not_completed"
        attended = sum(self.value(("p", training_id, fkey, "att", s)) in ("present", "late") for s, _ in t.sessions)
        has_post = self.value(("p", training_id, fkey, "post")) is not None
        if attended >= t.required_sessions and (has_post or not t.require_post_test):
            return "completed"
        return "not_completed"


def new_uuid() -> str:
    return str(uuid.uuid4())
