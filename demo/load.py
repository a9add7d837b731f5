"""Load the South Sumatra 2016 scenario into a running stack, through the public interfaces only.

    python -m demo.load [--registration URL] [--training URL] [--reporting URL] [--token TOKEN]

1. training: schedule the training (TrainingScheduled tells registration about it);
2. registration: bulk-import the 242 facilitators from a CSV, then enroll each of them;
3. training: run the eight days (attendance, pre/post tests, OJT over HTTP and the Kafka intake),
   close the training and issue certificates;
4. verification: OC 02 and the national office walk the sheets and the close through the chain
   (a return, a correction, acceptances; demo/verification.py);
5. reporting: wait until the national read models show the same numbers, and print them.

Idempotent: a second run finds everything in place and only prints the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

import httpx

from demo import south_sumatra as demo
from demo.registration import load_registration
from demo.training import run_demo_training, schedule_demo_training
from demo.verification import walk_the_chain
from shared.tools.devstack import local_credentials
from shared.tools.localenv import kafka_bootstrap


def _progress(label: str, done: int, total: int) -> None:
    if not sys.stdout.isatty() and done not in (total, total // 2):
        return
    width = 30
    filled = width * done // total
    sys.stdout.write(f"\r{label:<26} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total or not sys.stdout.isatty():
        sys.stdout.write("\n")
    sys.stdout.flush()


async def _enroll(http: httpx.AsyncClient, registration: str, ids: list[str], wait_seconds: float) -> tuple[int, int]:
    """Enroll everyone; registration learns of the training from an event, so wait for it."""
    url = f"{registration}/api/v1/trainings/{demo.TRAINING_ID}/enrollments"
    enrolled = already = 0
    deadline = time.monotonic() + wait_seconds
    for n, facilitator_id in enumerate(ids, 1):
        while True:
            r = await http.post(url, json={"facilitator_id": facilitator_id})
            code = r.json().get("error", {}).get("code") if r.status_code >= 400 else None
            if r.status_code == 201:
                enrolled += 1
            elif code == "already_enrolled":
                already += 1
            elif code == "training_unknown" and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                continue
            else:
                raise SystemExit(f"enrolling {facilitator_id} failed: {r.status_code} {r.text}")
            break
        _progress("enrolling into training", n, len(ids))
    return enrolled, already


async def _reported(http: httpx.AsyncClient, reporting: str, expected: int, wait_seconds: float) -> dict[str, Any]:
    url = f"{reporting}/api/v1/reports/trainings/{demo.TRAINING_ID}"
    deadline = time.monotonic() + wait_seconds
    while True:
        r = await http.get(url)
        if r.status_code == 200:
            training: dict[str, Any] = r.json()["training"]
            if training["completed"] + training["not_completed"] >= expected:
                return training
        if time.monotonic() > deadline:
            raise SystemExit(
                f"reporting did not show the training within {wait_seconds:.0f} s: {r.status_code} {r.text}"
            )
        await asyncio.sleep(0.5)


async def load(
    registration: str, training: str, reporting: str, token: str, kafka_bootstrap: str, national_token: str
) -> None:
    async with httpx.AsyncClient(timeout=60.0, headers={"Authorization": f"Bearer {token}"}) as http:
        training_id = await schedule_demo_training(training, token)
        print(f"training {training_id}: scheduled (31 Jul - 7 Aug 2016, Asrama Haji Palembang)")
        ids = await load_registration(http, registration)
        print(f"registration: {len(ids)} facilitators imported from CSV (duplicates of earlier runs reused)")
        state = (await http.get(f"{training}/api/v1/trainings/{training_id}")).json()
        if state["status"] == "closed":
            print("training: already played and closed by an earlier run")
        else:
            enrolled, already = await _enroll(http, registration, ids, wait_seconds=60)
            print(f"enrollments: {enrolled} new, {already} already present")
            summary = await run_demo_training(training, token, ids, kafka_bootstrap=kafka_bootstrap)
            print(
                f"training: {summary.enrolled} enrolled, {summary.completed} completed, "
                f"{summary.not_completed} not completed {summary.not_completed_reasons}, "
                f"OJT in {summary.ojt_kelurahan} kelurahan, {summary.certificates} certificates"
            )
        levels = await walk_the_chain(training, str(training_id), token, national_token)
        print(
            "verification: "
            + ", ".join(f"{levels[s]} {s}" for s in ("accepted", "verified", "submitted", "returned") if levels[s])
            + " (sheets and the close; OC 02 verifies, the national office accepts)"
        )
        state = (await http.get(f"{training}/api/v1/trainings/{training_id}")).json()
        report = await _reported(http, reporting, state["enrolled"], wait_seconds=120)
        print(
            f"reporting: {report['enrolled']} enrolled, {report['completed']} completed, "
            f"{report['not_completed']} not completed, {report['certified']} certified, "
            f"OJT completed by {report['ojt_completed']}; dashboard: {reporting}/"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--registration", default="http://127.0.0.1:8001")
    parser.add_argument("--training", default="http://127.0.0.1:8002")
    parser.add_argument("--reporting", default="http://127.0.0.1:8003")
    parser.add_argument("--kafka", default=kafka_bootstrap())
    parser.add_argument(
        "--token",
        default=os.environ.get("KOTAKU_OC02_TOKEN"),
        help="an oc02 credential (default: $KOTAKU_OC02_TOKEN, else the local stack's)",
    )
    args = parser.parse_args()
    tokens = local_credentials()[1]
    token = args.token or tokens["KOTAKU_OC02_TOKEN"]
    national = os.environ.get("KOTAKU_NATIONAL_TOKEN") or tokens["KOTAKU_NATIONAL_TOKEN"]
    asyncio.run(load(args.registration, args.training, args.reporting, token, args.kafka, national))


if __name__ == "__main__":
    main()
