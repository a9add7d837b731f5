"""The printed result: commands by door with what became of them, the report figures, the faults
with their times to recover, and a verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tests.faults.clients import Http, Producer
from tests.faults.ledger import ABSORB, DOUBLED, LOST, MISPLACED, OK, REJECT, UNRESOLVED, Ledger
from tests.faults.schedule import Fault
from tests.faults.verify import Findings, classify_figure

GROUPS = (
    "registration http",
    "registration intake",
    "training http",
    "training intake",
    "rejections",
    "poison (intake)",
    "poison (canonical)",
    "canaries",
)
COLUMNS = (OK, LOST, DOUBLED, MISPLACED, UNRESOLVED)


def table(rows: Sequence[Sequence[str]], header: Sequence[str], align: str) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if a == "<" else str(c).rjust(w) for c, w, a in zip(cells, widths, align, strict=True)
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def verdict_counts(ledger: Ledger, findings: Findings) -> Counter[str]:
    counts: Counter[str] = Counter(c.status for c in ledger.commands)
    for _, exp, obs in findings.figure_mismatches:
        counts[f"figure {classify_figure(exp, obs)}"] += 1
    counts["dead letters of valid events"] = sum(findings.unexpected_dead_letters.values())
    counts["unexpected rejections"] = sum(findings.unexpected_rejections.values())
    return counts


def render(
    ledger: Ledger,
    findings: Findings,
    faults: Sequence[Fault],
    exits: Sequence[tuple[float, str, str]],
    http: Http,
    producer: Producer,
    converged_after: float | None,
    elapsed: float,
) -> tuple[str, bool]:
    out: list[str] = []
    by_group: dict[str, Counter[str]] = {g: Counter() for g in GROUPS}
    for cmd in ledger.commands:
        by_group.setdefault(cmd.group, Counter())[cmd.status] += 1
    rows = []
    total: Counter[str] = Counter()
    for group, counts in by_group.items():
        n = sum(counts.values())
        total.update(counts)
        rows.append([group, str(n), *(str(counts[c]) for c in COLUMNS)])
    rows.append(["total", str(sum(total.values())), *(str(total[c]) for c in COLUMNS)])
    out.append(table(rows, ["commands", "sent", *COLUMNS], "<" + ">" * (len(COLUMNS) + 1)))

    cmds = ledger.commands
    resends = sum(c.expect == ABSORB for c in cmds)
    corrections = sum(c.correction for c in cmds)
    invalid = sum(c.expect == REJECT for c in cmds)
    http_n = sum(c.channel == "http" for c in cmds)
    intake_n = sum(c.channel == "intake" for c in cmds)
    poison_n = sum(c.channel == "kafka" for c in cmds)
    out.append(
        f"\n{len(cmds)} commands: {http_n} over HTTP, {intake_n} over the intake topics, {poison_n} poison records "
        f"({100 * poison_n / max(1, len(cmds)):.1f}%); {resends} resends of a command or message id, "
        f"{corrections} corrections, {invalid} invalid on purpose"
    )
    uncertain = sum(c.uncertain and c.answer == "accepted" for c in cmds)
    out.append(
        f"clients met: {', '.join(f'{k} x{v}' for k, v in http.seen.most_common()) or 'nothing unusual'}; "
        f"{uncertain} HTTP commands were accepted after an attempt with an unknown outcome; "
        f"{producer.repeats} intake sends were repeated after a broker error"
    )

    mismatched = Counter(classify_figure(exp, obs) for _, exp, obs in findings.figure_mismatches)
    out.append(
        f"effects checked one by one: {findings.effects_checked} (each facilitator's registration, name, area, "
        "status and assignments; each participant's enrollment, attendance, tests and OJT; each training; each "
        "rejection; each poison record's dead letters; names that must not exist)"
    )
    out.append(
        f"report figures: {findings.figures_checked} checked, {len(findings.figure_mismatches)} differ "
        f"(lost {mismatched[LOST]}, doubled {mismatched[DOUBLED]}, misplaced {mismatched[MISPLACED]})"
    )
    if findings.dead_letter_reasons:
        reasons = ", ".join(f"{k} x{v}" for k, v in findings.dead_letter_reasons.most_common())
        out.append(f"dead letters by reason: {reasons}")
    for label, counter in (
        ("dead letters of valid events not tied to one command", findings.unexpected_dead_letters),
        ("rejections nobody asked for", findings.unexpected_rejections),
    ):
        if counter:
            out.append(f"{label}: " + ", ".join(f"{k} x{v}" for k, v in counter.most_common()))
    if findings.rejection_copies:
        out.append(
            f"rejection events delivered more than once with the same event id (outbox redelivery, "
            f"not counted as doubled): {findings.rejection_copies}"
        )
    for note, n in ledger.notes.most_common():
        out.append(f"workload: {note} (x{n})")

    fault_rows = []
    for f in faults:
        rec = f"{f.recovered:.1f}s" if f.recovered is not None else "NOT RECOVERED"
        fault_rows.append([f.label, f"{f.at:.1f}s", f"{f.down:.1f}s", rec, f.note])
    kinds = Counter(f.kind for f in faults)
    out.append(
        f"\nfaults injected: {len(faults)} ({kinds['kill']} service SIGKILLs, {kinds['broker']} broker kills, "
        f"{kinds['postgres']} PostgreSQL outage, {kinds['churn']} consumer-group churns)"
    )
    if fault_rows:
        out.append(table(fault_rows, ["fault", "at", "down", "time to recover", "note"], "<>>><"))
    recovered = [f.recovered for f in faults if f.recovered is not None]
    if recovered:
        out.append(f"time to recover: median {sorted(recovered)[len(recovered) // 2]:.1f}s, max {max(recovered):.1f}s")
    if exits:
        out.append(f"service processes that exited on their own (restarted with backoff): {len(exits)}")
        for at, service, line in exits[:10]:
            out.append(f"  {at:7.1f}s {service}: {line}")
    out.append(
        f"reports matched the ledger's figures {converged_after:.1f}s after the workload ended"
        if converged_after is not None
        else "the reports did NOT converge to the ledger's figures before the deadline"
    )

    for status in (UNRESOLVED, MISPLACED, DOUBLED, LOST, "figure"):
        for example in findings.examples.get(status, []):
            out.append(f"  {status}: {example}")

    counts = verdict_counts(ledger, findings)
    bad = {k: v for k, v in counts.items() if k != OK and v}
    not_recovered = sum(f.recovered is None for f in faults)
    if exits:
        bad["service exits outside the schedule"] = len(exits)
    passed = not bad and not not_recovered
    summary = ", ".join(f"{k} {v}" for k, v in sorted(bad.items()))
    if not_recovered:
        summary = f"{summary}, faults not recovered {not_recovered}".lstrip(", ")
    out.append(
        f"\nRESULT: {'PASS' if passed else 'FAIL'} in {elapsed:.0f}s"
        + ("" if passed else f" ({summary})")
        + (f"; lost {total[LOST]}, doubled {total[DOUBLED]}, misplaced {total[MISPLACED]}")
    )
    return "\n".join(out), passed
