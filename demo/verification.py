"""The demo's verification chain: once the South Sumatra training is closed, OC 02's training
coordinator and the national office check what the trainers recorded, through the public API.

- OC 02 returns the first day's sheet (a trainer's signature is missing); the trainers correct it,
  which sends it back for verification, and OC 02 verifies it;
- OC 02 verifies every other sheet and the close with its decisions;
- a trainer then corrects a verified sheet (the last classroom day): it is reopened and waits for
  OC 02 again;
- the national office accepts every verified sheet and the close, but returns one sheet (the
  second day: the number of participants does not match the paper list).

So the reports show all three levels and what waits where. Idempotent: a run after the first one
finds the close no longer ``submitted`` and only counts where things stand.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx

RETURN_BY_REGION = "Tanda tangan pemandu belum lengkap"
RETURN_BY_NATIONAL = "Jumlah peserta tidak sesuai daftar hadir kertas"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _check(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise RuntimeError(f"{r.request.method} {r.request.url.path} failed: {r.status_code} {r.text[:300]}")
    return r.json()


async def _correct_sheet(region: httpx.AsyncClient, url: str, session_id: str) -> None:
    """A trainer sends one line of a sheet again, as on paper (same status, a later time): recorded
    as a correction, it sends the sheet back for verification without changing any outcome."""
    participants = _check(await region.get(f"{url}/participants"))["participants"]
    training = _check(await region.get(url))
    day = next(s["date"] for s in training["sessions"] if s["session_id"] == session_id)
    person = next(p for p in participants if p["attendance"].get(session_id))
    at = datetime.fromisoformat(f"{day}T17:00:00+07:00") + timedelta(minutes=len(person["attendance"]))
    record = {"facilitator_id": person["facilitator_id"], "status": person["attendance"][session_id]}
    body = {"session_id": session_id, "occurred_at": at.isoformat(), "records": [record]}
    _check(await region.post(f"{url}/attendance", json=body))


async def walk_the_chain(training_url: str, training_id: str, region_token: str, national_token: str) -> Counter[str]:
    """Walk the demo's submissions through the chain (first run only); where they stand, counted."""
    url = f"/api/v1/trainings/{training_id}"
    async with (
        httpx.AsyncClient(
            base_url=training_url, timeout=60, headers={"Authorization": f"Bearer {region_token}"}
        ) as region,
        httpx.AsyncClient(
            base_url=training_url, timeout=60, headers={"Authorization": f"Bearer {national_token}"}
        ) as national,
    ):

        async def submissions() -> list[dict[str, Any]]:
            return list(_check(await region.get(f"{url}/submissions")))

        def step(client: httpx.AsyncClient, sid: str, action: str, reason: str = "") -> Any:
            return client.post(f"{url}/submissions/{sid}/{action}", json={"reason": reason})

        now = await submissions()
        close = next((s for s in now if s["submission_id"] == "close"), None)
        if close is not None and close["status"] == "submitted":
            sheets = sorted((s for s in now if s["kind"] == "attendance"), key=lambda s: s["session_id"] or "")
            first, second, last = sheets[0]["submission_id"], sheets[1]["submission_id"], sheets[-1]["submission_id"]
            _check(await step(region, first, "return", RETURN_BY_REGION))
            await _correct_sheet(region, url, sheets[0]["session_id"])
            for s in [*sheets, close]:
                _check(await step(region, s["submission_id"], "verify"))
            await _correct_sheet(region, url, sheets[-1]["session_id"])  # reopens a verified sheet
            for s in [*sheets, close]:
                sid = s["submission_id"]
                if sid == last:
                    continue  # reopened: waits for OC 02 again
                if sid == second:
                    _check(await step(national, sid, "return", RETURN_BY_NATIONAL))
                else:
                    _check(await step(national, sid, "accept"))
            now = await submissions()
        return Counter(s["status"] for s in now)
