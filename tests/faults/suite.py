"""The run: set up a private namespace on the real stack, drive the workload while the fault schedule
runs, wait for the reports to converge, compare them with the ledger, print the result, clean up."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Sequence

from shared.tools.devstack import local_secrets
from tests.faults.clients import Http, Producer
from tests.faults.infra import Brokers, Namespace, Postgres, SingleBroker, ThreeBrokers
from tests.faults.ledger import Ledger
from tests.faults.options import REGIONS, Options, parse
from tests.faults.report import render
from tests.faults.schedule import Schedule
from tests.faults.verify import Comparison, Observed, Observer, converged
from tests.faults.workload import Workload


def say(text: str) -> None:
    print(text, flush=True)


async def converge(observer: Observer, ledger: Ledger, opts: Options) -> float | None:
    """Seconds until the reports' aggregate figures equal the ledger's, or None when they stopped
    changing (with no consumer lag left) or the deadline passed first."""
    started = time.monotonic()
    last: dict[tuple[str, ...], object] | None = None
    still_since = started
    while time.monotonic() - started < opts.converge_deadline:
        obs = Observed()
        await observer.figures(obs)
        if not converged(ledger, obs):
            return time.monotonic() - started
        if obs.figures != last:
            last, still_since = obs.figures, time.monotonic()
        elif time.monotonic() - still_since > (20 if opts.short else 45) and not obs.lag:  # 0, or not known
            return None
        await asyncio.sleep(2.0)
    return None


async def progress(ledger: Ledger, t0: float, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        answered = sum(c.answer != "pending" for c in ledger.commands)
        say(f"  [{time.monotonic() - t0:6.1f}s] workload: {answered} commands sent")


async def run(opts: Options) -> int:
    started = time.monotonic()
    brokers: Brokers = ThreeBrokers() if opts.brokers == 3 else SingleBroker()
    postgres = Postgres()
    ns = Namespace(f"f{secrets.token_hex(5)}", REGIONS, brokers)
    ledger = Ledger()
    http = Http(opts.answer_deadline)
    producer: Producer | None = None
    passed = False
    say(
        f"fault suite: seed {opts.seed}, {'short' if opts.short else 'full'}, {opts.brokers} broker(s), regions "
        f"{', '.join(REGIONS)}, namespace {ns.name} (rerun: python -m tests.faults"
        f"{' --short' if opts.short else ''} --brokers {opts.brokers} --seed {opts.seed} --commands {opts.commands})"
    )
    try:
        await brokers.prepare()
        await ns.create()
        say(f"setup: database {ns.database}, {len(ns.topics)} topics on {brokers.bootstrap}; starting the services")
        await ns.start_services()
        producer = Producer(brokers.bootstrap, opts.answer_deadline)
        workload = Workload(opts, ns, ledger, http, producer)
        await workload.reference_data()
        planned = workload.plan()
        t0 = time.monotonic()
        schedule = Schedule(opts, ns, brokers, postgres, workload, t0)
        window = max(opts.workload_seconds, 0.85 * schedule.estimate())
        say(
            f"workload: {len(workload.cohorts)} cohorts, about {planned} commands over {window:.0f}s; "
            f"{len(schedule.faults)} faults: {', '.join(f.kind for f in schedule.faults)}"
        )
        stop = asyncio.Event()
        supervisor = asyncio.create_task(ns.supervise(t0))
        faults = asyncio.create_task(schedule.run())
        poison = asyncio.create_task(workload.run_poison(workload.poison_planned, window))
        ticker = asyncio.create_task(progress(ledger, t0, 30.0))
        try:
            await workload.run(window, stop)
            await poison
            if not faults.done():
                say(f"  [{time.monotonic() - t0:6.1f}s] workload done; the fault schedule goes on")
            await faults
        finally:
            ticker.cancel()
            for task in (faults, poison, supervisor):
                if not task.done():
                    task.cancel()
        ended = time.monotonic()
        say(f"  [{ended - t0:6.1f}s] workload and faults done; waiting for the reports to converge")
        observer = Observer(ns, http, ledger)
        settled = await converge(observer, ledger, opts)
        converged_after = (time.monotonic() - ended) if settled is not None else None
        say("comparing the ledger with the reports, the registration listing, the rejections and dead letters")
        obs = Observed()
        await observer.figures(obs)
        await observer.details(obs)
        findings = Comparison(ledger, obs).run()
        text, passed = render(
            ledger, findings, schedule.done, ns.exits, http, producer, converged_after, time.monotonic() - started
        )
        say("")
        say(text)
        return 0 if passed else 1
    finally:
        if producer is not None:
            await producer.close()
        await http.close()
        ns.stop_services()
        await postgres.ensure_up()
        await brokers.ensure_up()
        if opts.keep:
            say(f"kept: database {ns.database}, topics {ns.prefix}*, logs in {ns.run_dir}")
        else:
            try:
                await ns.drop()
            except Exception as exc:
                say(f"cleanup: could not drop {ns.database} or its topics: {exc!r}")
            if passed:
                shutil.rmtree(ns.run_dir, ignore_errors=True)
            else:
                say(f"service logs: {ns.run_dir}")
        await brokers.close(opts.keep)


def stack_missing() -> str | None:
    """Why the suite cannot start (PostgreSQL or the broker not running), or None."""
    port = int(local_secrets().get("KOTAKU_PG_PORT", "5432"))  # exits with its own message without db.env
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    except OSError:
        return f"PostgreSQL does not answer on 127.0.0.1:{port}: run `make infra` first, or use `make faults`"
    return None


def main(argv: Sequence[str] | None = None) -> None:
    opts = parse(argv)
    missing = stack_missing()
    if missing:
        say(f"fault suite: {missing}")
        sys.exit(2)
    # the Kafka clients log every refused connection while a broker is down; the suite reports faults itself
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await run(opts)

    try:
        code = asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted; the stack was restored and the namespace removed")
        code = 130
    sys.exit(code)
