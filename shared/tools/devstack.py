"""The local stack: runs the three services as background processes against the Kafka broker and
PostgreSQL started by ``deploy/local``. Used by ``make run`` / ``make stop`` and by the tests.

Reporting runs in the shape production has: one API process (``KOTAKU_PROCESS_ROLE=api``, port
8003) and consumer processes (``reporting-consumers-<n>``, ``KOTAKU_PROCESS_ROLE=consumers``, on free
ports), each for a group of regions. ``KOTAKU_REPORTING_CONSUMER_GROUPS`` says how many (default 1:
on a small machine one process for every region measured far better than one per region, see
docs/reporting.md; the Kubernetes layout runs one per region).

    python -m shared.tools.devstack up       create topics (retention per topic class), migrate, start the
                                       services, wait until ready
    python -m shared.tools.devstack down     stop the services (SIGTERM, then SIGKILL after a timeout)
    python -m shared.tools.devstack status   show what runs where

Connection details, and the name of this clone's own database, come from ``.local/db.env``
(written by ``deploy/local/postgres.sh``); the address of this clone's broker from
``.local/kafka.env`` (written by ``deploy/local/kafka.sh``); the NIK hash key is generated once
into ``.local/secrets.env``. None of these files is committed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.kernel.auth import CredentialStore, Role
from shared.kernel.topics import all_topics, national_topics
from shared.tools.kafka_admin import describe, reconcile_topics
from shared.tools.localenv import ROOT, kafka_bootstrap, local_dir, read_env_file
from shared.tools.lrs import configured as lrs_settings

SERVICES: dict[str, int] = {"registration": 8001, "training": 8002, "reporting": 8003}
# The services that run their consumers in processes of their own, per group of regions.
SPLIT = ("reporting",)


def region_groups(regions: list[str], groups: int) -> list[list[str]]:
    """``regions`` in ``groups`` contiguous groups of (nearly) equal size, none empty."""
    groups = max(1, min(groups, len(regions)))
    size, extra = divmod(len(regions), groups)
    out, start = [], 0
    for n in range(groups):
        end = start + size + (n < extra)
        out.append(regions[start:end])
        start = end
    return out


def consumer_groups(regions: list[str]) -> list[list[str]]:
    """The region groups of the split services' consumer processes (``KOTAKU_REPORTING_CONSUMER_GROUPS``)."""
    wanted = os.environ.get("KOTAKU_REPORTING_CONSUMER_GROUPS", "")
    return region_groups(regions, int(wanted) if wanted.strip() else 1)


def local_secrets() -> dict[str, str]:
    """Database credentials and the NIK hash key of this machine's stack."""
    db = read_env_file(local_dir() / "db.env")
    if not db:
        raise SystemExit("no .local/db.env: run deploy/local/postgres.sh start (or make infra) first")
    path = local_dir() / "secrets.env"
    found = read_env_file(path)
    if "KOTAKU_NIK_HASH_KEY" not in found:
        found["KOTAKU_NIK_HASH_KEY"] = secrets.token_urlsafe(32)
        path.write_text("".join(f"{k}={v}\n" for k, v in found.items()))
        path.chmod(0o600)
    return {**db, **found}


def local_database(secrets_: Mapping[str, str] | None = None) -> str:
    """This clone's database: ``deploy/local/postgres.sh`` names it after the clone's path, so
    that two checkouts on one machine never share data (the roles are shared; they belong to the
    PostgreSQL cluster)."""
    name = (secrets_ if secrets_ is not None else local_secrets()).get("KOTAKU_PG_DATABASE", "")
    if not name:
        raise SystemExit(
            ".local/db.env names no database (it was written by an older deploy/local/postgres.sh): "
            "run deploy/local/postgres.sh start (or make infra) again"
        )
    return name


def local_credentials() -> tuple[Path, dict[str, str]]:
    """The local stack's credentials file, with an admin, an oc02 writer and a national reader
    issued on first use; their tokens are kept in ``.local/tokens.env`` for the demo and for you."""
    path = local_dir() / "credentials.jsonl"
    tokens_path = local_dir() / "tokens.env"
    tokens = read_env_file(tokens_path)
    if not path.exists() or not tokens:
        path.unlink(missing_ok=True)
        store = CredentialStore(path)
        tokens = {
            "KOTAKU_ADMIN_TOKEN": store.create(Role.ADMIN, label="local admin"),
            "KOTAKU_OC02_TOKEN": store.create(Role.REGION, ["oc02"], label="local OC 02 office"),
            "KOTAKU_NATIONAL_TOKEN": store.create(Role.NATIONAL, label="local national office"),
        }
        tokens_path.write_text("".join(f"{k}={v}\n" for k, v in tokens.items()))
        tokens_path.chmod(0o600)
    return path, tokens


def database_url(service: str, database: str, secrets_: Mapping[str, str]) -> str:
    """The local DSN of ``service``'s role. The local cluster listens on loopback only, where TLS
    protects nothing and costs every query a round of encryption (about a tenth of a consumer's CPU
    in make bench), so it is off; a DSN given for a networked database keeps its own sslmode."""
    password = secrets_[f"KOTAKU_PG_PASSWORD_{service.upper()}"]
    return f"postgresql://kotaku_{service}:{password}@127.0.0.1:{secrets_['KOTAKU_PG_PORT']}/{database}?sslmode=disable"


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ServiceProcess:
    """One service process with its environment; started detached, logging to a file."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    service: str = ""  # the service it runs, when the process has a name of its own
    command: tuple[str, ...] = ("serve",)  # e.g. ("xapi-forward",) for reporting's xAPI forwarder

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", f"services.{self.service or self.name}", *args]

    def migrate(self) -> str:
        return self.run("migrate")

    def run(self, *args: str) -> str:
        """Run a command of the service's command line with its environment; its standard output."""
        done = subprocess.run(self._command(*args), env=self.env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout.strip()

    def start(self) -> None:
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} for {self.name} is taken by another program")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self._command(*self.command),
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            if http_status(f"{self.url}/ready") == 200:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 25.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def service_process(
    name: str,
    *,
    port: int,
    database: str | None = None,
    regions: str = "oc02",
    topic_prefix: str = "",
    log_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    process: str = "",
) -> ServiceProcess:
    """The service's process (named ``process`` when one service runs as several processes);
    ``database`` defaults to this clone's (:func:`local_database`)."""
    secrets_ = local_secrets()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KOTAKU_")},
        "PYTHONUNBUFFERED": "1",
        "KOTAKU_DATABASE_URL": database_url(name, database or local_database(secrets_), secrets_),
        "KOTAKU_HTTP_PORT": str(port),
        "KOTAKU_REGIONS": regions,
        "KOTAKU_TOPIC_PREFIX": topic_prefix,
        "KOTAKU_KAFKA_BOOTSTRAP": kafka_bootstrap(),
        "KOTAKU_NIK_HASH_KEY": secrets_["KOTAKU_NIK_HASH_KEY"],
        "KOTAKU_CREDENTIALS_FILE": str(local_credentials()[0]),
        **(extra_env or {}),
    }
    process = process or name
    return ServiceProcess(process, port, env, (log_dir or local_dir() / "log") / f"{process}.log", service=name)


def split_processes(
    name: str, *, port: int, regions: list[str], groups: list[list[str]], **kwargs: Any
) -> list[ServiceProcess]:
    """A split service as production runs it: its API process on ``port`` (every region), and per
    group of regions one process for the read models' consumers and, when the service has
    consumers that run apart (:data:`APART`), one for those; each on a free port."""
    extra_env = kwargs.pop("extra_env", None) or {}
    api = service_process(name, port=port, regions=",".join(regions), extra_env={**extra_env, **_ROLE_API}, **kwargs)
    kinds = [("consumers", READ_MODELS.get(name, ()))]
    if name in APART:
        kinds.append((APART[name][0], APART[name][1]))
    workers = [
        service_process(
            name,
            port=free_port(),
            regions=",".join(group),
            extra_env={
                **_SHARED_CORES,
                **extra_env,
                **_ROLE_CONSUMERS,
                **({"KOTAKU_CONSUMERS": ",".join(names)} if names else {}),
            },
            process=f"{name}-{kind}-{n}",
            **kwargs,
        )
        for n, group in enumerate(groups, 1)
        for kind, names in kinds
    ]
    return [api, *workers]


# Consumers of a split service that run in processes of their own, beside the read models' consumer
# processes: (process kind, consumer names). The xAPI statements are a national feed whose cost per
# event is several times a read model's; on shared cores they would delay the reports (measured in
# docs/reporting.md "Processes"). tests/unit/test_consumer_processes.py checks the names against
# the service's definition.
APART: dict[str, tuple[str, tuple[str, ...]]] = {"reporting": ("xapi", ("reporting.xapi",))}
READ_MODELS: dict[str, tuple[str, ...]] = {"reporting": ("reporting.facilitators", "reporting.trainings")}


# Locally every region's consumers share the machine's cores (in Kubernetes each region has its
# own): a region working off a backlog takes at most a tenth of the time, at the lowest priority
# (docs/reporting.md, "Processes"). A setting given to split_processes wins.
_SHARED_CORES = {"KOTAKU_CONSUMER_BACKLOG_DUTY": "0.1", "KOTAKU_CONSUMER_BACKLOG_NICE": "19"}
_ROLE_API = {"KOTAKU_PROCESS_ROLE": "api"}
_ROLE_CONSUMERS = {"KOTAKU_PROCESS_ROLE": "consumers"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_file(name: str) -> Path:
    return local_dir() / "run" / f"{name}.pid"


def _running(name: str) -> tuple[int, int] | None:
    """(pid, port) of the process ``name`` started by :func:`up`, if it still runs."""
    path = _pid_file(name)
    if not path.exists():
        return None
    pid, _, port = path.read_text().strip().partition(" ")
    try:
        cmdline = Path(f"/proc/{int(pid or 0)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return (int(pid), int(port or 0)) if b"services." in cmdline else None


def _started() -> list[str]:
    """The names of the processes :func:`up` started (pid files), services first."""
    run_dir = local_dir() / "run"
    found = sorted(p.stem for p in run_dir.glob("*.pid")) if run_dir.exists() else []
    return [*SERVICES, *(n for n in found if n not in SERVICES)]


def up(regions: str) -> None:
    bootstrap = kafka_bootstrap()
    wanted = regions.split(",")
    changes = asyncio.run(reconcile_topics(bootstrap, all_topics(wanted) + national_topics()))
    print(f"regions {regions}, {describe(changes)}")
    procs = []
    for name, port in SERVICES.items():
        port = int(os.environ.get(f"KOTAKU_{name.upper()}_PORT", port))
        if (running := _running(name)) is not None:
            print(f"{name}: already running (pid {running[0]})")
            continue
        if name in SPLIT:
            group = split_processes(name, port=port, regions=wanted, groups=consumer_groups(wanted))
        else:
            group = [service_process(name, port=port, regions=regions)]
        print(group[0].migrate())
        if name == "registration":  # every kelurahan of the country (docs/reference-data.md)
            print(group[0].run("load-country"))
        for proc in group:
            proc.start()
            _pid_file(proc.name).parent.mkdir(parents=True, exist_ok=True)
            _pid_file(proc.name).write_text(f"{proc.pid} {proc.port}")
            procs.append(proc)
    if (forwarder := xapi_forwarder(regions)) is not None:
        forwarder.start()
        _pid_file(forwarder.name).write_text(f"{forwarder.pid} {forwarder.port}")
        procs.append(forwarder)
    for proc in procs:
        proc.wait_ready()
        regions_of = proc.env["KOTAKU_REGIONS"]
        role = proc.env.get("KOTAKU_PROCESS_ROLE", "all")
        print(f"{proc.name}: ready at {proc.url} ({role}, {regions_of}; pid {proc.pid}, log {proc.log_path})")


def xapi_forwarder(regions: str) -> ServiceProcess | None:
    """Reporting's xAPI forwarder, when this clone has an LRS (``python -m shared.tools.lrs up``)
    and it is not running yet."""
    name = "reporting-xapi-forward"
    lrs = lrs_settings()
    if not lrs or _running(name) is not None:
        return None
    proc = service_process("reporting", port=free_port(), regions=regions, extra_env=lrs, process=name)
    proc.command = ("xapi-forward",)
    return proc


def down() -> None:
    for name in _started():
        running = _running(name)
        _pid_file(name).unlink(missing_ok=True)
        if running is None:
            if name in SERVICES:
                print(f"{name}: not running")
            continue
        pid = running[0]
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists() or b"Z" in _state(pid):
                break
            time.sleep(0.25)
        else:
            os.kill(pid, signal.SIGKILL)
        print(f"{name}: stopped")


def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().split(b")")[-1].split()[0]
    except (OSError, IndexError):
        return b"X"


def status() -> int:
    bad = 0
    for name in _started():
        running = _running(name)
        if running is None and name not in SERVICES:
            continue
        ready = http_status(f"http://127.0.0.1:{running[1]}/ready") if running else None
        print(f"{name}: " + (f"pid {running[0]}, port {running[1]}, /ready {ready}" if running else "not running"))
        bad += ready != 200
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.tools.devstack")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--regions", default=os.environ.get("KOTAKU_REGIONS", "oc02"))
    args = parser.parse_args()
    if args.command == "up":
        up(args.regions)
    elif args.command == "down":
        down()
    else:
        sys.exit(status())


if __name__ == "__main__":
    main()
