"""Printable certificates on the real broker and database: the training service learns names from
registration's facilitator events, closes a training, and serves each certificate as a PDF (read
back: text and QR code), a training's certificates as one PDF, and the verification page; a
certificate revoked by the officer's re-decision shows as revoked and is not printed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.training.entrypoints.certificate_document import day_of
from shared.kernel.contracts import FacilitatorRegistered, FacilitatorUpdated, Role
from tests.certificate_reading import pages_qr_codes, pages_text
from tests.integration.conftest import Stack, assert_documented, eventually
from tests.integration.test_training_helpers import enrollment, publish, training_body, wait_enrolled

pytestmark = pytest.mark.real

PUBLIC = "https://verifikasi.kotaku.example"
DATES = "31 Juli \u2013 1 Agustus 2016"
MODULES = [{"code": "DPK", "title": "Dasar Program KOTAKU"}, {"code": "SP", "title": "Siklus Program"}]


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def url_of(code: str) -> str:
    return f"{PUBLIC}/certificates/{code}"


async def register(
    producer: AIOKafkaProducer, stack: Stack, training_id: uuid.UUID, name: str | None, role: Role
) -> uuid.UUID:
    """A facilitator as registration announces them (registered, unless ``name`` is None) and enrolled."""
    fid = uuid.uuid4()
    if name is not None:
        await publish(
            producer,
            stack,
            FacilitatorRegistered(
                facilitator_id=fid,
                full_name=name,
                role=role,
                province_code="16",
                kabkota_code="16.71",
                effective_from=date(2016, 1, 4),
            ),
            occurred_at=datetime(2016, 1, 4, 2, tzinfo=UTC),
        )
    await publish(
        producer,
        stack,
        enrollment(training_id, fid, role=role),
    )
    return fid


async def test_certificates_print_verify_and_refuse_when_revoked(
    stack: Stack, producer: AIOKafkaProducer, service_db: dict[str, asyncpg.Connection]
) -> None:
    base = stack.start("training", KOTAKU_PUBLIC_BASE_URL=PUBLIC).url
    body = training_body(
        title="Pelatihan Dasar Koordinator Kota",
        modules=MODULES,
        sessions=[{"session_id": "s1", "date": "2016-07-31", "kind": "classroom", "module_code": "DPK"}],
        eligible_roles=["korkot", "askot", "senior_fasilitator", "fasilitator"],
        completion_rule={"min_attendance_ratio": 0, "require_post_test": False, "require_ojt": False},
    )
    async with (
        httpx.AsyncClient(base_url=base, timeout=20, headers=stack.auth()) as http,
        httpx.AsyncClient(base_url=base, timeout=20) as public,
    ):
        r = await http.post("/api/v1/trainings", json=body)
        assert r.status_code == 201, r.text
        tid = uuid.UUID(r.json()["training_id"])
        siti = await register(producer, stack, tid, "Siti Nurhaliza", Role.KORKOT)
        budi = await register(producer, stack, tid, "Budi Santoso", Role.ASKOT)
        dewi = await register(producer, stack, tid, None, Role.FASILITATOR)  # her name comes later
        await wait_enrolled(http, base, tid, 3)

        r = await http.post(f"/api/v1/trainings/{tid}/close")
        assert r.status_code == 200, r.text
        assert r.json()["certificates"] == 3
        participants = (await http.get(f"/api/v1/trainings/{tid}/participants")).json()["participants"]
        code = {uuid.UUID(p["facilitator_id"]): p["certificate_code"] for p in participants}
        assert all(code.values())

        # one certificate, public: once the name has arrived, a PDF that reads back
        async def printed(fid: uuid.UUID) -> httpx.Response | None:
            r = await public.get(f"/api/v1/certificates/{code[fid]}/pdf")
            return r if r.status_code == 200 else None

        r = await eventually(lambda: printed(siti), within=30)
        assert r.headers["content-type"] == "application/pdf"
        assert f'filename="sertifikat-{code[siti]}.pdf"' in r.headers["content-disposition"]
        (text,) = pages_text(r.content)
        for expected in (
            "SERTIFIKAT",
            "diberikan kepada",
            "Siti Nurhaliza",
            "Koordinator Kota",
            "telah mengikuti",
            "Pelatihan Dasar Koordinator Kota",
            "Dasar Program KOTAKU; Siklus Program",
            f"Tanggal: {DATES}",
            "Tempat: Asrama Haji Palembang",
            "Penyelenggara: OC 02 Sumatera Selatan",
            f"Kode sertifikat: {code[siti]}",
            url_of(code[siti]),
        ):
            assert expected in text, (expected, text)
        assert pages_qr_codes(r.content) == [[url_of(code[siti])]]
        # the printed URL is the setting's, whatever Host the request names; a typed code works too
        r = await public.get(f"/api/v1/certificates/{code[siti].lower()}/pdf", headers={"Host": "evil.example"})
        assert r.status_code == 200, r.text
        assert pages_qr_codes(r.content) == [[url_of(code[siti])]]
        assert "evil.example" not in pages_text(r.content)[0]

        # a certificate whose holder's name is not known yet is not printed, alone or with the training
        assert error(await public.get(f"/api/v1/certificates/{code[dewi]}/pdf")) == (409, "participant_name_unknown")
        r = await http.get(f"/api/v1/trainings/{tid}/certificates.pdf")
        assert error(r) == (409, "participant_name_unknown")
        assert r.json()["error"]["details"]["certificate_codes"] == [code[dewi]]
        await publish(
            producer,
            stack,
            FacilitatorRegistered(
                facilitator_id=dewi,
                full_name="Dewi Lestari",
                role=Role.FASILITATOR,
                province_code="16",
                kabkota_code="16.71",
                effective_from=date(2016, 1, 4),
            ),
        )
        # names: the newest event wins, whatever order they arrive in
        await publish(
            producer, stack, FacilitatorUpdated(facilitator_id=budi, full_name="Budi Santoso Wibowo"), occurred_at=None
        )
        older = await publish(
            producer,
            stack,
            FacilitatorUpdated(facilitator_id=budi, full_name="Budi S."),
            occurred_at=datetime(2016, 3, 1, tzinfo=UTC),
        )
        await eventually(lambda: printed(dewi), within=30)

        async def applied() -> bool:
            found = await service_db["training"].fetchval(
                "SELECT count(*) FROM processed_events WHERE consumer = 'training.names' AND event_id = $1",
                older.envelope.event_id,
            )
            return bool(found)

        await eventually(applied, within=30)
        page = (await public.get(f"/certificates/{code[budi]}")).text
        assert "Budi Santoso Wibowo" in page
        assert "Budi S.<" not in page

        # the whole training, for a reader of its region: a page per certificate, by name
        for who in ("oc02", "national", "admin"):
            r = await public.get(f"/api/v1/trainings/{tid}/certificates.pdf", headers=stack.auth(who))
            assert r.status_code == 200, (who, r.text)
        texts = pages_text(r.content)
        assert [t.split("diberikan kepada\n")[1].split("\n")[0] for t in texts] == [
            "Budi Santoso Wibowo",
            "Dewi Lestari",
            "Siti Nurhaliza",
        ]
        assert "Asisten Koordinator Kota" in texts[0]
        assert "Fasilitator" in texts[1]
        assert pages_qr_codes(r.content) == [[url_of(code[f])] for f in (budi, dewi, siti)]
        assert error(await public.get(f"/api/v1/trainings/{tid}/certificates.pdf")) == (401, "credential_required")
        r = await public.get(f"/api/v1/trainings/{tid}/certificates.pdf", headers=stack.auth("oc05"))
        assert error(r) == (403, "region_forbidden")
        r = await http.get(f"/api/v1/trainings/{uuid.uuid4()}/certificates.pdf")
        assert error(r) == (404, "training_not_found")
        assert (await http.get("/api/v1/trainings/not-a-uuid/certificates.pdf")).status_code == 422

        # the verification page, in Bahasa Indonesia
        r = await public.get(f"/certificates/{code[siti]}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        page = r.text
        for expected in (
            'data-status="valid"',
            "SAH",
            "Siti Nurhaliza",
            "Koordinator Kota",
            "Pelatihan Dasar Koordinator Kota",
            "Siklus Program",
            DATES,
            "Asrama Haji Palembang",
            "OC 02",
            f"../api/v1/certificates/{code[siti]}/pdf",
        ):
            assert expected in page, expected
        assert (await public.get(f"/certificates/{code[siti].lower()}")).status_code == 200

        # unknown and malformed codes: 404 (a page, or the standard error body), never a 500
        fakes = {"ABCD-EFGH-JKMN-PQRS", "2222-2222-2222-2222", "x", "%00", "%E2%80%AE", "A" * 300}
        fakes.add(code[siti][:-1] + "Z")
        for fake in fakes - set(code.values()):
            r = await public.get(f"/certificates/{fake}")
            assert (r.status_code, r.headers["content-type"][:9]) == (404, "text/html"), fake
            assert "Sertifikat tidak ditemukan" in r.text
            assert error(await public.get(f"/api/v1/certificates/{fake}/pdf")) == (404, "certificate_not_found"), fake

        # revoked by the region's training officer: shown as revoked with its day and reason, not printed
        r = await http.post(
            f"/api/v1/trainings/{tid}/participants/{budi}/decision",
            json={"outcome": "not_completed", "reason": "Data kehadiran keliru"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["certificate_revoked"] == code[budi]
        verified = (await public.get(f"/api/v1/certificates/{code[budi]}")).json()
        assert verified["valid"] is False
        revoked_at = datetime.fromisoformat(verified["revoked_at"])
        r = await public.get(f"/api/v1/certificates/{code[budi]}/pdf")
        assert error(r) == (410, "certificate_revoked")
        assert r.json()["error"]["details"]["reason"] == "Data kehadiran keliru"
        page = (await public.get(f"/certificates/{code[budi]}")).text
        for expected in ('data-status="revoked"', "DICABUT", day_of(revoked_at), "Data kehadiran keliru"):
            assert expected in page, expected
        assert "/pdf" not in page
        r = await http.get(f"/api/v1/trainings/{tid}/certificates.pdf")
        assert r.status_code == 200, r.text
        assert pages_qr_codes(r.content) == [[url_of(code[f])] for f in (dewi, siti)]

        await assert_documented(
            http,
            [
                "/api/v1/certificates/{code}/pdf",
                "/api/v1/trainings/{training_id}/certificates.pdf",
                "/certificates/{code}",
            ],
        )
