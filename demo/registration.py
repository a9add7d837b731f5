"""The South Sumatra demo's facilitators as a spreadsheet export, loaded through the bulk import.

    demo_csv()                              the CSV text of the 242 facilitators (deterministic)
    await load_registration(client, url)    import it; the facilitator ids in file order

The people come from :mod:`demo.south_sumatra`; the speciality is added here, deterministically:
the two Asisten Korkot of each kota/kabupaten are teknik and manajemen_keuangan, and the
Fasilitator rotate through teknik, sosial and ekonomi (the Tridaya strands).
"""

from __future__ import annotations

import csv
import io

import httpx

from demo import south_sumatra as demo

COLUMNS = ("nik", "full_name", "role", "speciality", "province_code", "kabkota_code", "effective_from")
EFFECTIVE_FROM = "2016-07-01"
_ASKOT = ("teknik", "manajemen_keuangan")
_FASILITATOR = ("teknik", "sosial", "ekonomi")


def specialities(people: list[demo.DemoFacilitator]) -> list[str]:
    """The speciality of each person ('' for roles without one), in the same order."""
    result: list[str] = []
    askot_in_kabkota: dict[str, int] = {}
    fasilitator = 0
    for person in people:
        if person.role == "askot":
            n = askot_in_kabkota.get(person.kabkota_code, 0)
            askot_in_kabkota[person.kabkota_code] = n + 1
            result.append(_ASKOT[n % len(_ASKOT)])
        elif person.role == "fasilitator":
            result.append(_FASILITATOR[fasilitator % len(_FASILITATOR)])
            fasilitator += 1
        else:
            result.append("")
    return result


def demo_csv() -> str:
    """The 242 facilitators as CSV (comma separated, UTF-8, header first)."""
    people = demo.facilitators()
    rows = [
        [p.nik, p.full_name, p.role, speciality, demo.PROVINCE, p.kabkota_code, EFFECTIVE_FROM]
        for p, speciality in zip(people, specialities(people), strict=True)
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def _ids(response: httpx.Response) -> list[str]:
    if response.status_code != 200:
        raise RuntimeError(f"the import was refused: {response.status_code} {response.text}")
    report = response.json()
    ids: list[str] = []
    for result in sorted(report["results"], key=lambda r: r["row"]):
        if result["status"] == "rejected":
            raise RuntimeError(f"row {result['row']} was rejected: {result['problems']}")
        ids.append(result["facilitator_id"])
    return ids


URL = "{}/api/v1/facilitators/import"
HEADERS = {"Content-Type": "text/csv; charset=utf-8"}


def _import_request(client: httpx.Client | httpx.AsyncClient, base_url: str) -> httpx.Request:
    """The upload of the demo CSV to ``POST /api/v1/facilitators/import``, with ``client``'s credential."""
    return client.build_request(
        "POST",
        URL.format(base_url.rstrip("/")),
        params={"region": demo.REGION},
        content=demo_csv().encode("utf-8"),
        headers=HEADERS,
        timeout=120.0,
    )


async def load_registration(client: httpx.AsyncClient, base_url: str) -> list[str]:
    """Import the demo CSV through ``POST /api/v1/facilitators/import`` (``client`` carries an
    oc02 credential) and return the facilitator ids in file order. Loading twice returns the
    same ids: the second import reports every row as a duplicate of the first."""
    return _ids(await client.send(_import_request(client, base_url)))


def load_registration_sync(client: httpx.Client, base_url: str) -> list[str]:
    """:func:`load_registration` for a synchronous client."""
    return _ids(client.send(_import_request(client, base_url)))
