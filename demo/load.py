"""Load the demo scenario into a running stack through the services' public HTTP APIs.

    python -m demo.load [--registration URL] [--reporting URL] [--training URL]

Idempotent: facilitators already registered are recognised (409) and reused.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import httpx

from demo import south_sumatra as demo
from shared.devstack import local_credentials


def _progress(label: str, done: int, total: int) -> None:
    if not sys.stdout.isatty() and done not in (total, total // 2):
        return
    width = 30
    filled = width * done // total
    sys.stdout.write(f"\r{label:<24} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stdout.flush()
    if done == total or not sys.stdout.isatty():
        sys.stdout.write("\n")


def load(registration: str, training: str, reporting: str, token: str) -> None:
    people = demo.facilitators()
    ids: list[str] = []
    created = existing = 0
    with httpx.Client(timeout=10.0, headers={"Authorization": f"Bearer {token}"}) as http:
        for n, person in enumerate(people, 1):
            response = http.post(
                f"{registration}/api/v1/facilitators",
                json={
                    "nik": person.nik,
                    "full_name": person.full_name,
                    "role": person.role,
                    "region": demo.REGION,
                    "province_code": demo.PROVINCE,
                    "kabkota_code": person.kabkota_code,
                    "effective_from": "2016-07-01",
                },
            )
            if response.status_code == 201:
                created += 1
                ids.append(response.json()["facilitator_id"])
            elif response.status_code == 409:
                existing += 1
                ids.append(response.json()["error"]["details"]["facilitator_id"])
            else:
                raise SystemExit(f"registering {n} failed: {response.status_code} {response.text}")
            _progress("registering facilitators", n, len(people))
        enrolled = already = 0
        for n, facilitator_id in enumerate(ids, 1):
            response = http.post(
                f"{registration}/api/v1/trainings/{demo.TRAINING_ID}/enrollments",
                json={"facilitator_id": facilitator_id},
            )
            if response.status_code == 201:
                enrolled += 1
            elif response.status_code == 409 and response.json()["error"]["code"] == "already_enrolled":
                already += 1
            else:
                raise SystemExit(f"enrolling {facilitator_id} failed: {response.status_code} {response.text}")
            _progress("enrolling into training", n, len(ids))
        print(
            f"facilitators: {created} registered, {existing} already present; "
            f"enrollments: {enrolled} new, {already} already present"
        )

        deadline = time.monotonic() + 60
        while True:
            counts = http.get(
                f"{reporting}/api/v1/reports/facilitator-counts",
                params={"region": demo.REGION, "province": demo.PROVINCE},
            ).json()
            roster = http.get(f"{training}/api/v1/trainings/{demo.TRAINING_ID}/roster").json()
            if counts["total"] >= len(people) and roster["enrolled"] >= len(people):
                break
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"events did not arrive within 60 s: reporting {counts['total']}, "
                    f"training roster {roster['enrolled']}"
                )
            time.sleep(0.5)
        print(
            f"reporting: {counts['total']} facilitators in {demo.REGION} province {demo.PROVINCE}; "
            f"training {demo.TRAINING_ID}: {roster['enrolled']} enrolled"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.load", description=__doc__)
    parser.add_argument("--registration", default="http://127.0.0.1:8001")
    parser.add_argument("--training", default="http://127.0.0.1:8002")
    parser.add_argument("--reporting", default="http://127.0.0.1:8003")
    parser.add_argument(
        "--token",
        default=os.environ.get("KOTAKU_OC02_TOKEN"),
        help="an oc02 credential (default: $KOTAKU_OC02_TOKEN, else the local stack's)",
    )
    args = parser.parse_args()
    token = args.token or local_credentials()[1]["KOTAKU_OC02_TOKEN"]
    load(args.registration, args.training, args.reporting, token)


if __name__ == "__main__":
    main()
