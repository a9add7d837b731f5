"""Bulk import from a spreadsheet export: a per-row report, idempotent uploads, whole-file refusals
that write nothing, and the command-line importer."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from demo.registration import demo_csv, load_registration
from shared.kernel.topics import FACILITATOR
from tests.integration.conftest import REGION, Stack, read_topic
from tests.integration.test_registration_support import API

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[2]
IMPORT = f"{API}/facilitators/import"
CSV = {"Content-Type": "text/csv"}

MIXED = (
    "\ufeffNIK;Full Name;Role;Speciality;Province_Code;Kabkota_Code;Effective_From\r\n"
    "1671010101950001;Ni Made Ayu Sukarsih;fasilitator;teknik;16;16.71;2016-07-01\r\n"
    '1671010101950002;"Nurul \'Aini, S.Sos.";askot;sosial;16;16.71;\r\n'
    "1671010101950003;Ṣāliḥ Dédé;fasilitator;;16;16.72;2016-07-01\r\n"
    "1671010101950004;李华;senior_fasilitator;;16;16.73;2016-07-01\r\n"
    "\r\n"
    "1671010101950001;Ni Made Ayu Sukarsih;fasilitator;teknik;16;16.71;2016-07-01\r\n"  # same NIK again
    "12345;Budi Santoso;fasilitator;;16;16.71;2016-07-01\r\n"
    "1671010101950006;Hard Rock Hotel & Casino;fasilitator;;16;16.71;2016-07-01\r\n"
    "1671010101950007;Agus Salim;boss;;16;16.71;2016-07-01\r\n"
    "1671010101950008;Agus Salim;fasilitator;;16;16.99;2016-07-01\r\n"
    "1671010101950009;Agus Salim;korkot;teknik;16;16.71;2016-07-01\r\n"
    "1671010101950010;Agus Salim;fasilitator;;16\r\n"
    "1671010101950011;;fasilitator;;16;16.71;2016-07-01\r\n"
    "1671010101950012;Agus Salim;fasilitator;;16;16.71;1999-01-01\r\n"
)


async def test_a_mixed_file_gets_a_row_report_and_a_second_upload_changes_nothing(
    stack: Stack, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    db = service_db["registration"]
    async with httpx.AsyncClient(timeout=30, headers=stack.auth("oc02")) as http:
        r = await http.post(f"{reg}{IMPORT}", params={"region": REGION}, content=MIXED.encode(), headers=CSV)
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["rows"], report["accepted"], report["duplicate"], report["rejected"]) == (13, 4, 1, 8)
        outcome = {row["row"]: (row["status"], row["reason"], row["column"]) for row in report["results"]}
        assert outcome == {
            1: ("accepted", None, None),
            2: ("accepted", None, None),
            3: ("accepted", None, None),
            4: ("accepted", None, None),
            5: ("duplicate", None, None),
            6: ("rejected", "invalid_value", "nik"),
            7: ("rejected", "invalid_value", "full_name"),
            8: ("rejected", "invalid_value", "role"),
            9: ("rejected", "unknown_orgunit", "kabkota_code"),
            10: ("rejected", "speciality_not_allowed", "speciality"),
            11: ("rejected", "wrong_column_count", None),
            12: ("rejected", "missing_value", "full_name"),
            13: ("rejected", "invalid_value", "effective_from"),
        }
        assert report["results"][4]["facilitator_id"] == report["results"][0]["facilitator_id"]
        assert [row["line"] for row in report["results"]][4:6] == [7, 8]  # the blank line 6 is skipped
        assert not [s for s in ("Casino", "1671010101950001") if s in r.text]  # no values echoed
        names = {row["full_name"] for row in await db.fetch("SELECT full_name FROM facilitators")}
        assert names == {"Ni Made Ayu Sukarsih", "Nurul 'Aini, S.Sos.", "Ṣāliḥ Dédé", "李华"}

        second = (
            await http.post(f"{reg}{IMPORT}", params={"region": REGION}, content=MIXED.encode(), headers=CSV)
        ).json()
        assert (second["accepted"], second["duplicate"], second["rejected"]) == (0, 5, 8)
        assert [row["facilitator_id"] for row in second["results"][:5]] == [
            row["facilitator_id"] for row in report["results"][:5]
        ]
    assert await db.fetchval("SELECT count(*) FROM facilitators") == 4
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'FacilitatorRegistered'") == 4
    assert await db.fetchval("SELECT count(*) FROM facilitator_assignments") == 4


async def test_files_that_cannot_be_read_are_refused_whole_and_write_nothing(
    stack: Stack, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    db = service_db["registration"]
    header = "nik,full_name,role,province_code,kabkota_code\n"
    good_row = "1671010101960001,Budi Santoso,fasilitator,16,16.71\n"
    files = {
        "unbalanced quote": (
            (header + good_row + '1671010101960002,"Siti,fasilitator,16,16.71\n').encode(),
            422,
            "malformed_csv",
        ),
        "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), 422, "not_text"),
        "latin-1": (
            (header + "1671010101960003,Dédé Suryana,fasilitator,16,16.71\n").encode("latin-1"),
            422,
            "not_utf8",
        ),
        "unknown column": (("nik,nama,role,province_code,kabkota_code\n" + good_row).encode(), 422, "unknown_column"),
        "missing column": (
            b"nik,full_name,role,province_code\n1671010101960001,Budi,fasilitator,16\n",
            422,
            "missing_column",
        ),
        "header only": (header.encode(), 200, None),
        "empty": (b"", 422, "empty_file"),
        "too many rows": ((header + good_row * 5001).encode(), 422, "too_many_rows"),
        "too large": ((header + good_row * 25000).encode(), 413, "body_too_large"),
    }
    async with httpx.AsyncClient(timeout=30, headers=stack.auth("oc02")) as http:
        for label, (body, status, code) in files.items():
            r = await http.post(f"{reg}{IMPORT}", params={"region": REGION}, content=body, headers=CSV)
            assert r.status_code == status, (label, r.text)
            if code:
                assert r.json()["error"]["code"] == code, label
        r = await http.post(f"{reg}{IMPORT}", params={"region": REGION}, json={"nik": "1"})
        assert (r.status_code, r.json()["error"]["code"]) == (415, "unsupported_media_type")
        r = await http.post(
            f"{reg}{IMPORT}",
            params={"region": REGION},
            content=b"x",
            headers={"Content-Type": "text/csv; charset=latin-1"},
        )
        assert r.status_code == 415
        r = await http.post(f"{reg}{IMPORT}", content=(header + good_row).encode(), headers=CSV)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request")  # region is required
        r = await http.post(
            f"{reg}{IMPORT}", params={"region": "oc05"}, content=(header + good_row).encode(), headers=CSV
        )
        assert (r.status_code, r.json()["error"]["code"]) == (403, "region_forbidden")
    assert await db.fetchval("SELECT count(*) FROM facilitators") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE event_type LIKE 'Facilitator%'") == 0


async def test_the_demo_file_imports_242_facilitators_once(
    stack: Stack, service_db: dict[str, asyncpg.Connection], reg: str
) -> None:
    async with httpx.AsyncClient(timeout=60, headers=stack.auth("oc02")) as http:
        ids = await load_registration(http, reg)
        assert len(ids) == len(set(ids)) == 242
        assert await load_registration(http, reg) == ids  # the second load: all duplicates, same ids
    db = service_db["registration"]
    assert await db.fetchval("SELECT count(*) FROM facilitators") == 242
    per_kabkota = {
        r["kabkota_code"]: r["n"]
        for r in await db.fetch("SELECT kabkota_code, count(*) AS n FROM facilitators GROUP BY 1")
    }
    assert per_kabkota == {"16.71": 70, "16.72": 26, "16.73": 24, "16.74": 32, "16.02": 30, "16.01": 28, "16.03": 32}
    assert await db.fetchval("SELECT count(*) FROM facilitators WHERE role = 'fasilitator' AND speciality IS NULL") == 0
    registered = await read_topic(stack.topic(FACILITATOR.topic(REGION)), expect=242)
    assert len(registered) == 242


async def test_the_command_line_importer_shows_progress_and_reports_each_row(stack: Stack, tmp_path: Path) -> None:
    stack.start("registration")
    path = tmp_path / "facilitators.csv"
    rows = demo_csv().splitlines()
    path.write_text(
        "\n".join(rows[:31]) + "\n1671010101970001,Casino & Spa,fasilitator,,16,16.71,2016-07-01\n", encoding="utf-8"
    )
    env = {**os.environ, "KOTAKU_TOKEN": stack.tokens["oc02"]}
    command = [
        sys.executable,
        "-m",
        "services.registration",
        "import-csv",
        str(path),
        "--region",
        REGION,
        "--url",
        stack.url("registration"),
        "--chunk",
        "10",
    ]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stderr  # one row was rejected
    report = json.loads(done.stdout)
    assert (report["rows"], report["accepted"], report["rejected"]) == (31, 30, 1)
    assert (report["results"][30]["row"], report["results"][30]["line"]) == (31, 32)
    assert report["results"][30]["column"] == "full_name"
    assert "[##############################] 31/31 rows" in done.stderr
    assert "30 accepted, 0 duplicate, 1 rejected" in done.stderr
    again = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert json.loads(again.stdout)["duplicate"] == 30
    unreadable = tmp_path / "broken.csv"
    unreadable.write_bytes(b'nik,full_name,role,province_code,kabkota_code\n"1671,x')
    broken = await asyncio.to_thread(
        subprocess.run,
        [*command[:4], str(unreadable), *command[5:]],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert broken.returncode != 0
    assert "malformed_csv" in broken.stderr
