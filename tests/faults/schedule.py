"""The fault schedule: SIGKILLs of the service processes, a Kafka broker (or partition leader) killed
and restarted, PostgreSQL crashed and started, and consumer-group churn (a second reporting instance
joins the groups and leaves again). Faults come one after the other, at random moments; after each,
the time to recover is measured: until every service answers /ready with 200 again and a new
command sent over HTTP and over the intake of each region shows in the reports (canaries)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from tests.faults.infra import SERVICES, Brokers, Namespace, Postgres, wait_ready
from tests.faults.options import REGIONS, Options
from tests.faults.workload import Workload


@dataclass
class Fault:
    kind: str  # kill | broker | postgres | churn
    target: str = ""
    at: float = 0.0  # seconds since the workload started
    down: float = 0.0  # from the injection until the component was back (restarted, started, stopped)
    recovered: float | None = None  # from then until ready and the canaries showed in the reports
    note: str = ""

    @property
    def label(self) -> str:
        return {
            "kill": f"SIGKILL {self.target}",
            "broker": f"SIGKILL {self.target}",
            "postgres": "PostgreSQL crashed",
            "churn": f"2nd reporting instance ({self.target})",
        }[self.kind]


class Schedule:
    def __init__(
        self, opts: Options, ns: Namespace, brokers: Brokers, postgres: Postgres, workload: Workload, t0: float
    ) -> None:
        self.opts = opts
        self.ns = ns
        self.brokers = brokers
        self.postgres = postgres
        self.workload = workload
        self.t0 = t0
        self.rng = random.Random(opts.seed + 3)
        self.faults = self.plan()
        self.done: list[Fault] = []

    def plan(self) -> list[Fault]:
        kills = [Fault("kill", SERVICES[i % len(SERVICES)]) for i in range(self.opts.service_kills)]
        brokers = [Fault("broker") for _ in range(self.opts.broker_kills)]
        churns = [Fault("churn", "SIGTERM" if i % 2 == 0 else "SIGKILL") for i in range(self.opts.churns)]
        faults = [*kills, *brokers, Fault("postgres"), *churns]
        self.rng.shuffle(faults)
        if faults[0].kind == "postgres":  # not during the warm-up: the outage must meet traffic
            middle = len(faults) // 2
            faults[0], faults[middle] = faults[middle], faults[0]
        return faults

    def estimate(self) -> float:
        """Rough length of the schedule, to spread the workload over it."""
        cost = {"kill": 8.0, "broker": 30.0, "postgres": self.opts.postgres_outage_seconds + 15, "churn": 20.0}
        low, high = self.opts.gap_seconds
        return self.opts.warmup_seconds + sum(cost[f.kind] + (low + high) / 2 for f in self.faults)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def say(self, text: str) -> None:
        print(f"  [{self.now():6.1f}s] {text}", flush=True)

    async def run(self) -> None:
        await asyncio.sleep(self.opts.warmup_seconds)
        for fault in self.faults:
            await self.inject(fault)
            self.done.append(fault)
            await asyncio.sleep(self.rng.uniform(*self.opts.gap_seconds))

    async def inject(self, fault: Fault) -> None:
        fault.at = self.now()
        started = time.monotonic()
        if fault.kind == "kill":
            self.ns.kill(fault.target)
            self.say(f"SIGKILL {fault.target}")
            await asyncio.sleep(self.rng.uniform(0.0, 2.0))
            await asyncio.to_thread(self.ns.restart, fault.target)
        elif fault.kind == "broker":
            busy = ("intake", "facilitator", "enrollment", "participation")  # the topics the workload writes most
            topic = self.rng.choice([t for t in self.ns.topics if not t.endswith(".dlq") and any(b in t for b in busy)])
            fault.target = await self.brokers.kill(topic)
            self.say(f"SIGKILL {fault.target}")
            await asyncio.sleep(self.rng.uniform(2.0, 6.0))
            await self.brokers.restart()
        elif fault.kind == "postgres":
            await self.postgres.crash()
            self.say(f"PostgreSQL crashed (immediate stop), down for {self.opts.postgres_outage_seconds:.0f} s")
            await asyncio.sleep(self.opts.postgres_outage_seconds)
            await self.postgres.start()
        else:
            proc = self.ns.start_second_reporting(len(self.done) + 1)
            self.say("second reporting instance started (consumer groups rebalance)")
            joined = await wait_ready([proc], 60.0)
            if joined is None:
                fault.note = "the second instance never became ready"
            await asyncio.sleep(self.opts.churn_seconds)
            if fault.target == "SIGKILL":
                await asyncio.to_thread(proc.kill)
            else:
                await asyncio.to_thread(proc.stop)
            self.ns.extra.remove(proc)
        fault.down = time.monotonic() - started
        self.say(f"{fault.label}: back after {fault.down:.1f} s; measuring recovery")
        fault.recovered = await self.recovery()
        if fault.recovered is None:
            fault.note = fault.note or f"not recovered within {self.opts.recovery_deadline:.0f} s"
        self.say(
            f"{fault.label}: recovered in {fault.recovered:.1f} s"
            if fault.recovered is not None
            else f"{fault.label}: {fault.note}"
        )

    async def recovery(self) -> float | None:
        """Seconds until all services are ready and both regions' canaries show in the reports."""
        started = time.monotonic()
        deadline = started + self.opts.recovery_deadline
        checks = await asyncio.gather(*(self.workload.canary(r) for r in REGIONS))
        pending = list(checks)
        while time.monotonic() < deadline:
            if await asyncio.to_thread(self.ns.ready):
                pending = [c for c in pending if not await c()]
                if not pending:
                    return time.monotonic() - started
            await asyncio.sleep(0.25)
        for region in REGIONS:
            await self.workload.settle_canaries(region)
        return None
