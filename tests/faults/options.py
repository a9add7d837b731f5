"""Command-line options of the fault suite and the sizes they imply."""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

REGIONS = ("oc02", "oc05")

T = TypeVar("T")


class ShortOrFull(Generic[T]):
    """An option's value that depends on the run's size: one for a short run, one for a full run."""

    def __init__(self, short: T, full: T) -> None:
        self.short = short
        self.full = full

    @overload
    def __get__(self, opts: None, owner: type[Any]) -> ShortOrFull[T]: ...
    @overload
    def __get__(self, opts: Options, owner: type[Any]) -> T: ...
    def __get__(self, opts: Options | None, owner: type[Any]) -> T | ShortOrFull[T]:
        if opts is None:
            return self
        return self.short if opts.short else self.full


@dataclass(frozen=True)
class Options:
    short: bool
    brokers: int
    seed: int
    commands: int
    keep: bool
    postgres_outage: float | None = None

    # -- the fault schedule -------------------------------------------------------------------

    service_kills = ShortOrFull(3, 12)
    """SIGKILLs of service processes, spread over the three services."""
    broker_kills = ShortOrFull(1, 2)

    @property
    def postgres_outage_seconds(self) -> float:
        if self.postgres_outage is not None:
            return self.postgres_outage
        return 20.0 if self.short else 60.0

    churns = ShortOrFull(1, 2)
    """A second reporting instance joins the consumer groups and leaves again."""
    churn_seconds = ShortOrFull(8.0, 20.0)
    gap_seconds = ShortOrFull((1.0, 3.0), (4.0, 12.0))
    """Random pause between one fault's recovery and the next fault."""
    warmup_seconds = ShortOrFull(6.0, 15.0)

    # -- the workload -------------------------------------------------------------------------

    workload_seconds = ShortOrFull(70.0, 420.0)
    """Over how long the cohorts are started; the fault schedule runs meanwhile."""
    cohort_participants = ShortOrFull((10, 14), (22, 30))
    poison_share = 0.01

    # -- waiting ------------------------------------------------------------------------------

    answer_deadline = 240.0
    """How long a client keeps retrying one command before giving up (unresolved)."""
    recovery_deadline = ShortOrFull(150.0, 240.0)
    converge_deadline = ShortOrFull(120.0, 240.0)


def parse(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults",
        description="Fault suite: a ledgered workload on the real stack under SIGKILLs, a Kafka broker kill, a "
        "PostgreSQL outage and consumer-group churn; compares the ledger with the reports (docs/faults.md).",
    )
    parser.add_argument("--short", action="store_true", help="one fault of each kind and a small workload")
    parser.add_argument("--brokers", type=int, choices=(1, 3), default=1, help="1 (deploy/local/kafka.sh) or 3")
    parser.add_argument("--seed", type=int, default=None, help="seed of the workload and the schedule")
    parser.add_argument("--commands", type=int, default=None, help="at least this many commands")
    parser.add_argument(
        "--postgres-outage",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long PostgreSQL stays down after its crash (default 60; 20 with --short)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database, topics and logs afterwards")
    ns = parser.parse_args(argv)
    seed = ns.seed if ns.seed is not None else random.SystemRandom().randrange(1, 10**6)
    commands = ns.commands if ns.commands is not None else (700 if ns.short else 5000)
    if commands < 100:
        parser.error("--commands must be at least 100")
    if ns.postgres_outage is not None and not 1 <= ns.postgres_outage <= 600:
        parser.error("--postgres-outage must be between 1 and 600 seconds")
    return Options(
        short=ns.short,
        brokers=ns.brokers,
        seed=seed,
        commands=commands,
        keep=ns.keep,
        postgres_outage=ns.postgres_outage,
    )
