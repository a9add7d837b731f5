"""Command line of the registration service: ``python -m services.registration <command>``.

serve                      run the service (default; see shared.bootstrap.service)
migrate [--no-seed]        apply migrations, then load the committed org-unit reference data
                           (data/orgunits.json and the OC regions of data/oc_regions.json; adds
                           what is missing; publishes it through the outbox)
seed-orgunits [--file F] [--regions-file R] [--update] [--republish]
                           load reference data; --update applies names and regions that differ
                           from the database; --republish publishes everything again
load-country [--update] [--republish]
                           load every province, kota/kabupaten, kecamatan and kelurahan/desa of the
                           country (Kemendagri codes; docs/reference-data.md) with a progress bar;
                           set-based and idempotent; prints how long it took
regions plan|apply [--file F]
                           the OC regions file (data/oc_regions.json): plan shows what would change
                           against what the service holds; apply records and publishes it
import-csv FILE --region oc02 [--url URL] [--token-env VAR]
                           bulk-register facilitators from a CSV file through the HTTP API,
                           with a progress bar; prints the per-row report as JSON
intake-schemas [--check]   write (or check) the JSON Schemas of the intake in docs/intake/
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import httpx

from services.registration.app import DEFINITION
from services.registration.entrypoints import country, intake, referencefile, regionsfile
from services.registration.entrypoints.csvfile import CsvFileError, parse_csv, write_csv
from services.registration.entrypoints.referencefile import DATA_FILE
from services.registration.entrypoints.regionsfile import REGIONS_FILE
from services.registration.repositories.unit_of_work import PgStore
from services.registration.usecases.orgunits import (
    AssignProvince,
    LoadUnits,
    SeedReport,
    assign_province,
    load_units,
    seed_orgunits,
)
from services.registration.usecases.ports import OrgUnitFilter
from shared.bootstrap import service
from shared.kernel.contracts import OrgUnitLevel
from shared.kernel.db import create_pool
from shared.kernel.logs import configure_logging
from shared.kernel.metrics import Metrics
from shared.kernel.outbox import Outbox
from shared.kernel.settings import load_settings

COMMANDS = ("migrate", "seed-orgunits", "load-country", "regions", "import-csv", "intake-schemas")


async def _store() -> tuple[PgStore, Any]:
    settings = load_settings()
    metrics = Metrics(DEFINITION.name)
    pool = await create_pool(settings.database_url.get_secret_value(), DEFINITION.name, min_size=1, max_size=2)
    # Nothing is published from here: the outbox relay of the running service publishes the events.
    return PgStore(pool, Outbox(pool, settings.topic_prefix, metrics)), pool


async def seed(file: Path, *, update: bool, republish: bool, regions_file: Path = REGIONS_FILE) -> SeedReport:
    settings = load_settings()
    store, pool = await _store()
    try:
        data = referencefile.load_reference_data(file)
        assignments = regionsfile.load_regions_file(regions_file).assignments()
        cmd = referencefile.command(data, assignments, update=update, republish=republish)
        async with store.unit_of_work() as uow:
            return await seed_orgunits(uow, cmd, served=settings.regions)
    finally:
        await pool.close()


async def load_whole_country(*, update: bool, republish: bool, out: TextIO = sys.stderr) -> str:
    """Load the country's units (entrypoints.country); returns the summary with the timings."""
    settings = load_settings()
    started = time.perf_counter()
    data = country.load_country()
    read = time.perf_counter() - started
    counts = ", ".join(f"{data.count(level)} {level.value}" for level in OrgUnitLevel)
    out.write(f"{len(data.units)} units ({counts}) from {data.source}\n")
    store, pool = await _store()
    try:
        async with store.unit_of_work() as uow:
            report = await load_units(
                uow,
                LoadUnits(data.units, update=update, republish=republish),
                served=settings.regions,
                progress=lambda done, total: bar("publishing", done, total, "units", out),
            )
    finally:
        await pool.close()
    total = time.perf_counter() - started
    return (
        f"whole country ({data.edition}): {report.summary()}; "
        f"read in {read:.1f} s, loaded in {total - read:.1f} s, {total:.1f} s in all"
    )


async def regions_command(action: str, file: Path, out: TextIO = sys.stdout) -> int:
    """``regions plan`` / ``regions apply``: 0 when the service holds the file (after apply), 1 when
    plan finds changes to make, 2 when the file is refused."""
    settings = load_settings()
    wanted = regionsfile.load_regions_file(file).assignments()
    store, pool = await _store()
    try:
        async with store.reading() as repos:
            today = date.today()
            page = await repos.orgunits.find(OrgUnitFilter(on=today, level=OrgUnitLevel.PROVINCE), 1000, 0)
            provinces = {
                u.unit.code: regionsfile.Province(u.unit.name, u.unit.effective_from, u.unit.effective_to)
                for u in page.items
            }
            for a in wanted:
                if a.province_code not in provinces and (unit := await repos.orgunits.get(a.province_code)):
                    provinces[unit.code] = regionsfile.Province(unit.name, unit.effective_from, unit.effective_to)
            held = await repos.orgunits.assignments()
        problems = regionsfile.check_provinces(wanted, provinces)
        if problems:
            out.write(f"{file}: refused:\n" + "".join(f"  {p}\n" for p in problems))
            return 2
        changes = regionsfile.plan(wanted, held)
        names = {code: p.name for code, p in provinces.items()}
        todo = [c for c in changes if c.kind != "kept"]
        for change in changes:
            out.write(change.describe(names) + "\n")
        out.write(f"{len(todo)} change(s) to make, {len(changes) - len(todo)} kept\n")
        if action == "plan":
            return 1 if todo else 0
        events = 0
        skipped: set[str] = set()
        for change in todo:
            a = change.assignment
            cmd = AssignProvince(a.province_code, a.region, a.effective_from, correct=change.kind == "correct")
            async with store.unit_of_work() as uow:
                written = await assign_province(uow, cmd, served=settings.regions, authorize=lambda: None)
            events += written.published.events
            skipped |= written.published.skipped_regions
        note = f" (not published for regions not served here: {', '.join(sorted(skipped))})" if skipped else ""
        out.write(f"applied {len(todo)} change(s): {events} event(s) published{note}\n")
        return 0
    finally:
        await pool.close()


def bar(label: str, done: int, total: int, unit: str, out: TextIO = sys.stderr) -> None:
    width = 30
    filled = width * done // max(total, 1)
    out.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {unit}")
    if done >= total:
        out.write("\n")
    out.flush()


def progress(done: int, total: int, out: TextIO = sys.stderr) -> None:
    bar("importing", done, total, "rows", out)


def import_csv(
    data: bytes,
    *,
    url: str,
    token: str,
    region: str,
    chunk_rows: int = 250,
    effective_from: str | None = None,
    client: httpx.Client | None = None,
    out: TextIO = sys.stderr,
) -> dict[str, Any]:
    """Send the file in parts of ``chunk_rows`` rows (each part is a complete CSV with the header)
    to ``POST /api/v1/facilitators/import`` and merge the reports; row and line numbers refer to
    the original file. Raises CsvFileError for a file the server would refuse as a whole."""
    parsed = parse_csv(data)
    total = len(parsed.rows)
    merged: dict[str, Any] = {"region": region, "rows": 0, "accepted": 0, "duplicate": 0, "rejected": 0, "results": []}
    params = {"region": region, **({"effective_from": effective_from} if effective_from else {})}
    own = client is None
    http = client or httpx.Client(timeout=120.0)
    try:
        progress(0, total, out)
        for start in range(0, total, chunk_rows):
            part = parsed.rows[start : start + chunk_rows]
            rows = [list(r.fields) for r in part]
            body = write_csv(parsed.columns, rows, parsed.delimiter).encode()
            response = http.post(
                f"{url.rstrip('/')}/api/v1/facilitators/import",
                params=params,
                content=body,
                headers={"Content-Type": "text/csv; charset=utf-8", "Authorization": f"Bearer {token}"},
            )
            if response.status_code != 200:
                raise RuntimeError(
                    f"the server refused part {start // chunk_rows + 1}: {response.status_code} {response.text}"
                )
            report = response.json()
            for result in report["results"]:
                original = part[result["row"] - 1]
                merged["results"].append({**result, "row": original.row, "line": original.line})
            for key in ("rows", "accepted", "duplicate", "rejected"):
                merged[key] += report[key]
            progress(min(start + chunk_rows, total), total, out)
    finally:
        if own:
            http.close()
    return merged


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
    if not args or args[0] not in COMMANDS:
        service.main(DEFINITION, args)
        return
    parser = argparse.ArgumentParser(
        prog="python -m services.registration",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply migrations, then load the committed reference data")
    migrate.add_argument("--no-seed", action="store_true", help="do not load the reference data")
    seed_cmd = sub.add_parser("seed-orgunits", help="load org-unit reference data")
    seed_cmd.add_argument("--file", type=Path, default=DATA_FILE)
    seed_cmd.add_argument("--regions-file", type=Path, default=REGIONS_FILE)
    seed_cmd.add_argument("--update", action="store_true", help="apply names and regions that differ")
    seed_cmd.add_argument("--republish", action="store_true", help="publish every unit and assignment again")
    whole = sub.add_parser("load-country", help="load the whole country's units (Kemendagri codes)")
    whole.add_argument("--update", action="store_true", help="apply names and dates that differ")
    whole.add_argument("--republish", action="store_true", help="publish every unit again")
    regions = sub.add_parser("regions", help="the OC regions file: plan (show changes) or apply (publish them)")
    regions.add_argument("action", choices=["plan", "apply"])
    regions.add_argument("--file", type=Path, default=REGIONS_FILE)
    imp = sub.add_parser("import-csv", help="bulk-register facilitators from a CSV file through the HTTP API")
    imp.add_argument("file", type=Path)
    imp.add_argument("--region", required=True)
    imp.add_argument("--url", default="http://127.0.0.1:8001")
    imp.add_argument(
        "--token-env", default="KOTAKU_TOKEN", help="environment variable holding the credential (default KOTAKU_TOKEN)"
    )
    imp.add_argument("--effective-from", help="for rows without effective_from (YYYY-MM-DD); default today")
    imp.add_argument("--chunk", type=int, default=250, help="rows per request (default 250)")
    imp.add_argument("--report", type=Path, help="write the JSON report here instead of stdout")
    schemas = sub.add_parser("intake-schemas", help="write the intake JSON Schemas into docs/intake/")
    schemas.add_argument("--check", action="store_true", help="only check that the committed files are current")
    schemas.add_argument("--dir", type=Path, default=intake.SCHEMA_DIR)
    ns = parser.parse_args(args)

    if ns.command == "intake-schemas":
        if ns.check:
            stale = intake.stale_intake_schemas(ns.dir)
            if stale:
                sys.exit(f"out of date: {', '.join(stale)}; run python -m services.registration intake-schemas")
            print("intake schemas are current")
        else:
            for path in intake.write_intake_schemas(ns.dir):
                print(path)
        return
    if ns.command == "import-csv":
        token = os.environ.get(ns.token_env)
        if not token:
            sys.exit(f"set ${ns.token_env} to a credential that may write {ns.region}")
        try:
            report = import_csv(
                ns.file.read_bytes(),
                url=ns.url,
                token=token,
                region=ns.region,
                chunk_rows=max(1, min(ns.chunk, 5000)),
                effective_from=ns.effective_from,
            )
        except CsvFileError as exc:
            sys.exit(f"{ns.file}: {exc.code}: {exc.message}")
        except (RuntimeError, httpx.HTTPError) as exc:
            sys.exit(str(exc))
        text = json.dumps(report, indent=2, ensure_ascii=False)
        if ns.report:
            ns.report.write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
        print(
            f"{report['rows']} rows: {report['accepted']} accepted, {report['duplicate']} duplicate, "
            f"{report['rejected']} rejected",
            file=sys.stderr,
        )
        sys.exit(1 if report["rejected"] else 0)
    settings = load_settings()
    configure_logging(DEFINITION.name, settings.log_level)
    if ns.command == "load-country":
        try:
            summary = asyncio.run(load_whole_country(update=ns.update, republish=ns.republish))
        except country.CountryFileError as exc:
            sys.exit(f"{DEFINITION.name}: {exc}")
        print(f"{DEFINITION.name}: {summary}")
        return
    if ns.command == "regions":
        try:
            sys.exit(asyncio.run(regions_command(ns.action, ns.file)))
        except ValueError as exc:  # the file's own validation (pydantic)
            sys.exit(f"{ns.file}: refused: {exc}")
    if ns.command == "migrate":
        service.main(DEFINITION, ["migrate"])
        if ns.no_seed:
            return
        seeded = asyncio.run(seed(DATA_FILE, update=False, republish=False))
    else:
        seeded = asyncio.run(seed(ns.file, update=ns.update, republish=ns.republish, regions_file=ns.regions_file))
    print(f"{DEFINITION.name}: reference data: {seeded.summary()}")
