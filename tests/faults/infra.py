"""The machinery under test and how faults are injected into it: the isolated namespace (database,
topic prefix, credentials), the three service processes (plus a second reporting instance for
consumer-group churn), the Kafka broker(s) and PostgreSQL, all from deploy/local."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiokafka.admin import AIOKafkaAdminClient

from bench.scratch import create_database, drop_database
from shared.kernel.auth import CredentialStore, Role
from shared.kernel.topics import all_topics
from shared.tools.devstack import ServiceProcess, free_port, http_status, service_process
from shared.tools.kafka_admin import delete_topics, ensure_topics
from shared.tools.localenv import ROOT, kafka_bootstrap, local_dir

SERVICES = ("registration", "training", "reporting")
LOCAL = ROOT / "deploy" / "local"


def script(*args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    """Run a deploy/local script; raise with its output when it fails."""
    done = subprocess.run(
        ["bash", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


async def run_script(*args: str, limit: float = 240.0) -> str:
    return (await asyncio.to_thread(script, *args, timeout=limit)).stdout


def broker_answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    done = subprocess.run(
        [sys.executable, str(LOCAL / "kafka_ready.py"), host, port], capture_output=True, timeout=10, check=False
    )
    return done.returncode == 0


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_bytes().split(b")")[-1].split()[0]
        except (OSError, IndexError):
            return
        if state in (b"Z", b"X"):
            return
        time.sleep(0.05)


# -- Kafka -------------------------------------------------------------------------------------


class Brokers(Protocol):
    bootstrap: str
    replication_factor: int
    min_insync_replicas: int

    async def prepare(self) -> None: ...
    async def kill(self, topic: str) -> str: ...
    async def restart(self) -> None: ...
    async def ensure_up(self) -> None: ...
    async def close(self, keep: bool) -> None: ...


class SingleBroker:
    """The single broker of deploy/local/kafka.sh: SIGKILL by the pid in its pid file, then start."""

    replication_factor = 1
    min_insync_replicas = 1

    def __init__(self) -> None:
        self.bootstrap = kafka_bootstrap()

    @property
    def pid_file(self) -> Path:
        return local_dir() / "kafka" / "kafka.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"kafka.Kafka" in cmdline else None

    async def prepare(self) -> None:
        await self.ensure_up()
        if self.pid() is None:
            raise RuntimeError(
                f"the broker at {self.bootstrap} was not started by deploy/local/kafka.sh (no pid in "
                f"{self.pid_file}); the suite can only kill a broker it can find"
            )

    async def kill(self, topic: str) -> str:
        pid = self.pid()
        if pid is None:
            raise RuntimeError("no broker pid to kill")
        os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(_wait_gone, pid)
        return "broker"

    async def restart(self) -> None:
        await run_script(str(LOCAL / "kafka.sh"), "start")

    async def ensure_up(self) -> None:
        if not await asyncio.to_thread(broker_answers, self.bootstrap.split(",")[0]):
            await self.restart()

    async def close(self, keep: bool) -> None:
        await self.ensure_up()


class ThreeBrokers:
    """deploy/local/kafka-cluster.sh: three KRaft nodes, RF 3, min ISR 2; a fault kills the leader
    of a partition of a topic the workload writes."""

    replication_factor = 3
    min_insync_replicas = 2
    SCRIPT = str(LOCAL / "kafka-cluster.sh")

    def __init__(self) -> None:
        self.bootstrap = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
        self.killed: str | None = None

    async def prepare(self) -> None:
        await run_script(self.SCRIPT, "reset")
        await run_script(self.SCRIPT, "start")
        self.bootstrap = (await run_script(self.SCRIPT, "bootstrap")).strip()

    async def leader_of(self, topic: str, partition: int = 0) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="kotaku-faults")
        await admin.start()
        try:
            described = await admin.describe_topics([topic])
        finally:
            await admin.close()
        for t in described:
            for p in t["partitions"]:
                if p["partition"] == partition and p["leader"] >= 0:
                    return int(p["leader"])
        raise RuntimeError(f"no leader for {topic}[{partition}]")

    async def kill(self, topic: str) -> str:
        node = await self.leader_of(topic)
        await run_script(self.SCRIPT, "stop-node", str(node), "KILL")
        self.killed = str(node)
        return f"broker {node} (leader of {topic.split('.', 1)[-1]}[0])"

    async def restart(self) -> None:
        if self.killed is not None:
            await run_script(self.SCRIPT, "start-node", self.killed)
            self.killed = None

    async def ensure_up(self) -> None:
        await run_script(self.SCRIPT, "start")

    async def close(self, keep: bool) -> None:
        await run_script(self.SCRIPT, "stop" if keep else "reset", limit=180)


# -- PostgreSQL --------------------------------------------------------------------------------


class Postgres:
    """deploy/local/postgres.sh crash/start. start marks the cluster as started by `make run` when it
    had to start it; the suite puts that marker back the way it found it."""

    SCRIPT = str(LOCAL / "postgres.sh")

    def __init__(self) -> None:
        self.marker = local_dir() / "postgres.started-here"
        self.had_marker = self.marker.exists()
        self.stopped = False

    async def crash(self) -> None:
        """Stop the cluster as a crash would: sessions cut, no checkpoint, unwritten WAL lost (the
        read models' commits that were not flushed yet among it)."""
        self.had_marker = self.marker.exists()
        self.stopped = True
        await run_script(self.SCRIPT, "crash")

    async def start(self) -> None:
        await run_script(self.SCRIPT, "start")
        self.stopped = False
        if not self.had_marker:
            self.marker.unlink(missing_ok=True)

    async def ensure_up(self) -> None:
        if self.stopped:
            await self.start()


# -- the namespace and its services ------------------------------------------------------------


@dataclass
class Namespace:
    """A private database, topic prefix, credentials file and log directory for one run."""

    name: str
    regions: Sequence[str]
    brokers: Brokers
    run_dir: Path = field(init=False)
    tokens: dict[str, str] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    extra: list[ServiceProcess] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # deliberately down (killed by the schedule, stopping)
    exits: list[tuple[float, str, str]] = field(default_factory=list)  # (at, service, last log line)

    def __post_init__(self) -> None:
        self.run_dir = local_dir() / "faults" / self.name

    @property
    def database(self) -> str:
        return f"kotaku_{self.name}"

    @property
    def prefix(self) -> str:
        return f"{self.name}."

    @property
    def credentials_file(self) -> Path:
        return self.run_dir / "credentials.jsonl"

    def url(self, service: str) -> str:
        return self.services[service].url

    async def create(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        await create_database(self.database)
        self.topics = all_topics(list(self.regions), self.prefix)
        await ensure_topics(
            self.brokers.bootstrap,
            self.topics,
            partitions=3,
            replication_factor=self.brokers.replication_factor,
            min_insync_replicas=self.brokers.min_insync_replicas,
        )
        store = CredentialStore(self.credentials_file)
        self.tokens = {
            "admin": store.create(Role.ADMIN, label="faults admin"),
            "national": store.create(Role.NATIONAL, label="faults national"),
            **{r: store.create(Role.REGION, [r], label=f"faults {r}") for r in self.regions},
        }

    def process(self, service: str, port: int, log_dir: Path) -> ServiceProcess:
        return service_process(
            service,
            port=port,
            database=self.database,
            regions=",".join(self.regions),
            topic_prefix=self.prefix,
            log_dir=log_dir,
            extra_env={
                "KOTAKU_CREDENTIALS_FILE": str(self.credentials_file),
                "KOTAKU_KAFKA_BOOTSTRAP": self.brokers.bootstrap,
                # the ledger is compared with what the read models hold now, not a second ago
                "KOTAKU_REPORT_CACHE_SECONDS": "0",
            },
        )

    async def start_services(self) -> None:
        for name in SERVICES:
            proc = self.process(name, free_port(), self.run_dir / "log")
            await asyncio.to_thread(proc.migrate)
            proc.start()
            self.services[name] = proc
        for proc in self.services.values():
            if await wait_ready([proc], 90.0) is None:
                raise RuntimeError(f"{proc.name} did not become ready:\n{proc.log_tail()}")

    def kill(self, service: str) -> None:
        self.held.add(service)
        self.services[service].kill()

    def restart(self, service: str) -> None:
        self.services[service].start()
        self.held.discard(service)

    async def supervise(self, t0: float) -> None:
        """Restart a service process that exited on its own (with backoff), as a process manager
        would, and record the exit: a service must never die outside the fault schedule."""
        backoff: dict[str, float] = {}
        due: dict[str, float] = {}
        while True:
            await asyncio.sleep(0.5)
            for name, proc in self.services.items():
                if name in self.held or proc.alive():
                    continue
                now = time.monotonic()
                if name not in due:
                    lines = [line for line in proc.log_tail(20).splitlines() if line.strip()]
                    self.exits.append((now - t0, name, (lines[-1] if lines else "")[:160]))
                    backoff[name] = min(30.0, backoff.get(name, 0.5) * 2)
                    due[name] = now + backoff[name]
                if now >= due[name]:
                    del due[name]
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(proc.start)

    def start_second_reporting(self, n: int) -> ServiceProcess:
        proc = self.process("reporting", free_port(), self.run_dir / f"log-reporting-{n}")
        proc.start()
        self.extra.append(proc)
        return proc

    def ready(self) -> bool:
        return all(http_status(f"{p.url}/ready") == 200 for p in self.services.values())

    def stop_services(self) -> None:
        self.held.update(self.services)
        for proc in [*self.extra, *self.services.values()]:
            with contextlib.suppress(Exception):
                proc.stop()

    async def drop(self) -> None:
        await drop_database(self.database)
        with contextlib.suppress(Exception):
            await delete_topics(self.brokers.bootstrap, self.topics)


async def wait_ready(procs: Sequence[ServiceProcess], within: float) -> float | None:
    """Seconds until every process answers /ready with 200, or None after ``within`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        statuses = await asyncio.gather(*(asyncio.to_thread(http_status, f"{p.url}/ready", 1.0) for p in procs))
        if all(s == 200 for s in statuses):
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    return None
