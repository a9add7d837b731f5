"""Command-line options of the fault suite and the sizes they imply."""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from dataclasses import dataclass

REGIONS = ("oc02", "oc05")


@dataclass(frozen=True)
class Options:
    short: bool
    brokers: int
    seed: int
    commands: int
    keep: bool
    postgres_outage: float | None = None

    # -- the fault schedule -------------------------------------------------------------------

    @property
    def service_kills(self) -> int:
        """SIGKILLs of service processes, spread over the three services."""
        return 3 if self.short else 12

    @property
    def broker_kills(self) -> int:
        return 1 if self.short else 2

    @property
    def postgres_outage_seconds(self) -> float:
        if self.postgres_outage is not None:
            return self.postgres_outage
        return 20.0 if self.short else 60.0

    @property
    def churns(self) -> int:
        """A second reporting instance joins the consumer groups and leaves again."""
        return 1 if self.short else 2

    @property
    def churn_seconds(self) -> float:
        return 8.0 if self.short else 20.0

    @property
    def gap_seconds(self) -> tuple[float, float]:
        """Random pause between one fault's recovery and the next fault."""
        return (1.0, 3.0) if self.short else (4.0, 12.0)

    @property
    def warmup_seconds(self) -> float:
        return 6.0 if self.short else 15.0

    # -- the workload -------------------------------------------------------------------------

    @property
    def workload_seconds(self) -> float:
        """Over how long the cohorts are started; the fault schedule runs meanwhile."""
        return 70.0 if self.short else 420.0

    @property
    def cohort_participants(self) -> tuple[int, int]:
        return (10, 14) if self.short else (22, 30)

    @property
    def poison_share(self) -> float:
        return 0.01

    # -- waiting ------------------------------------------------------------------------------

    @property
    def answer_deadline(self) -> float:
        """How long a client keeps retrying one command before giving up (unresolved)."""
        return 240.0

    @property
    def recovery_deadline(self) -> float:
        return 150.0 if self.short else 240.0

    @property
    def converge_deadline(self) -> float:
        return 120.0 if self.short else 240.0


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
        help="how long PostgreSQL stays stopped (default 60; 20 with --short)",
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
