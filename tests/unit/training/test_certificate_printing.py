"""Printable certificates: the Indonesian wording, the PDF read back (text with pypdf, QR code with
zxing-cpp), and the use cases that refuse to print a revoked or nameless certificate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from services.training.domain import Training
from services.training.domain.errors import (
    CertificateNotFound,
    CertificateRevoked,
    NoValidCertificates,
    ParticipantNameUnknown,
    TrainingNotFound,
)
from services.training.entrypoints import certificate_document as doc
from services.training.entrypoints.certificates import PdfCache
from services.training.entrypoints.errors import ERRORS
from services.training.usecases import certificates
from services.training.usecases.certificates import Holder, Printable
from shared.kernel.contracts import CompletionRule, Module, Role, TrainingType
from shared.kernel.errors import Forbidden
from shared.kernel.settings import Settings
from tests.certificate_reading import pages_qr_codes, pages_text

BASE = "https://sertifikat.kotaku.example"
CODE_A = "ABCD-EFGH-JKMN-PQRS"
CODE_B = "2345-6789-TUVW-XYZA"


def training(**changes: object) -> Training:
    now = datetime(2016, 8, 8, tzinfo=UTC)
    fields: dict[str, object] = {
        "training_id": uuid.uuid4(),
        "region": "oc02",
        "training_type": TrainingType.BASIC,
        "title": "Pelatihan Dasar Fasilitator",
        "organiser": "OC 02 Sumatera Selatan",
        "venue": "Asrama Haji Palembang",
        "start_date": date(2016, 7, 31),
        "end_date": date(2016, 8, 7),
        "capacity": 60,
        "eligible_roles": [Role.FASILITATOR, Role.SENIOR_FASILITATOR],
        "modules": [Module(code="DPK", title="Dasar Program KOTAKU"), Module(code="SP", title="Siklus Program")],
        "classes": [],
        "sessions": [],
        "completion_rule": CompletionRule(),
        "status": "closed",
        "status_reason": "",
        "version": 2,
        "created_at": now,
        "updated_at": now,
        "closed_at": now,
    }
    fields.update(changes)
    return Training(**fields)  # type: ignore[arg-type]


def holder(t: Training, code: str = CODE_A, **changes: object) -> Holder:
    fields: dict[str, object] = {
        "code": code,
        "training_id": t.training_id,
        "facilitator_id": uuid.uuid4(),
        "issued_at": datetime(2016, 8, 7, 20, 30, tzinfo=UTC),  # 8 August in WIB
        "revoked_at": None,
        "revoke_reason": None,
        "role": "senior_fasilitator",
        "full_name": "Siti Nurhaliza",
    }
    fields.update(changes)
    return Holder(**fields)  # type: ignore[arg-type]


# -- wording ------------------------------------------------------------------------------------


def test_dates_in_indonesian() -> None:
    assert doc.indonesian_date_range(date(2016, 7, 31), date(2016, 8, 7)) == "31 Juli \u2013 7 Agustus 2016"
    assert doc.indonesian_date_range(date(2016, 8, 1), date(2016, 8, 3)) == "1\u20133 Agustus 2016"
    assert doc.indonesian_date_range(date(2016, 8, 1), date(2016, 8, 1)) == "1 Agustus 2016"
    assert doc.indonesian_date_range(date(2016, 12, 30), date(2017, 1, 2)) == "30 Desember 2016 \u2013 2 Januari 2017"
    months = [doc.indonesian_date(date(2016, m, 1)).split()[1] for m in range(1, 13)]
    assert months == [
        *("Januari", "Februari", "Maret", "April", "Mei", "Juni"),
        *("Juli", "Agustus", "September", "Oktober", "November", "Desember"),
    ]
    # issue and revocation days are WIB days
    assert doc.day_of(datetime(2016, 8, 7, 16, 59, tzinfo=UTC)) == "7 Agustus 2016"
    assert doc.day_of(datetime(2016, 8, 7, 17, 0, tzinfo=UTC)) == "8 Agustus 2016"


def test_every_role_and_training_type_has_an_indonesian_label() -> None:
    assert {r.value: doc.role_label(r.value) for r in Role} == {
        "korkot": "Koordinator Kota",
        "askot": "Asisten Koordinator Kota",
        "senior_fasilitator": "Fasilitator Senior",
        "fasilitator": "Fasilitator",
    }
    assert all(doc.training_type_label(t.value) != t.value for t in TrainingType)
    assert doc.region_label("oc02") == "OC 02"


def test_the_verification_url_comes_from_the_setting_only() -> None:
    assert doc.verification_url(BASE + "/", CODE_A) == f"{BASE}/certificates/{CODE_A}"
    assert Settings(database_url="postgresql://x", public_base_url="https://verifikasi.example.id/pelatihan")
    for bad in ("javascript:alert(1)", "https://x.example/a b", "https://x.example/?next=evil", "ftp://x.example"):
        with pytest.raises(ValidationError):
            Settings(database_url="postgresql://x", public_base_url=bad)


# -- the PDF ------------------------------------------------------------------------------------


def test_pdf_reads_back_with_every_field_and_a_qr_code_of_its_verification_url() -> None:
    t = training()
    a = holder(t)
    b = holder(t, CODE_B, role="korkot", full_name="Budi Santoso")
    pdf = doc.certificates_pdf([Printable(a, t), Printable(b, t)], BASE)
    texts = pages_text(pdf)
    assert len(texts) == 2
    for text, h, role in ((texts[0], a, "Fasilitator Senior"), (texts[1], b, "Koordinator Kota")):
        for expected in (
            "SERTIFIKAT",
            "diberikan kepada",
            h.full_name or "(no name)",
            role,
            "telah mengikuti",
            "Pelatihan Dasar Fasilitator",
            "Dasar Program KOTAKU",
            "Siklus Program",
            "31 Juli \u2013 7 Agustus 2016",
            "Asrama Haji Palembang",
            "OC 02 Sumatera Selatan",
            f"Kode sertifikat: {h.code}",
            "Diterbitkan 8 Agustus 2016",
            "memindai kode QR",
            f"{BASE}/certificates/{h.code}",
        ):
            assert expected in text, (expected, text)
    assert pages_qr_codes(pdf) == [[f"{BASE}/certificates/{CODE_A}"], [f"{BASE}/certificates/{CODE_B}"]]


@pytest.mark.filterwarnings("ignore")
def test_names_in_any_script_do_not_break_the_pdf() -> None:
    t = training(title="Pelatihan Tematik \u00c9konomi", venue="Hotel \u201cSriwijaya\u201d")
    names = ["Nguy\u1ec5n Th\u1ecb Minh Khai", "\u0414\u043c\u0438\u0442\u0440\u0438\u0439", "\u674e\u5c0f\u9f8d"]
    names += ["\u0645\u062d\u0645\u062f \u0639\u0628\u062f \u0627\u0644\u0644\u0647", "Ana\u00efs O\u2019Brien"]
    items = [Printable(holder(t, CODE_A, full_name=n), t) for n in names]
    pdf = doc.certificates_pdf(items, BASE)
    texts = pages_text(pdf)
    assert len(texts) == len(names)
    for name in (names[0], names[1], names[4]):  # the scripts Noto Sans covers
        assert any(name in text for text in texts), name
    assert all(codes == [f"{BASE}/certificates/{CODE_A}"] for codes in pages_qr_codes(pdf))


def test_long_titles_and_many_modules_still_fit_one_page_each() -> None:
    modules = [Module(code=f"M{i}", title=f"Modul {i}: Perencanaan Penataan Lingkungan Permukiman") for i in range(14)]
    t = training(title="Pelatihan Penguatan Kapasitas Pemerintah Daerah dan Masyarakat " * 3, modules=modules)
    long_name = "Raden Ajeng Kartini Soerjosoemarto Tjondronegoro Sosroningrat Wulandari Kusumawardhani"
    pdf = doc.certificates_pdf([Printable(holder(t, full_name=long_name), t)], BASE)
    (text,) = pages_text(pdf)
    assert f"Kode sertifikat: {CODE_A}" in text
    assert "Penyelenggara: OC 02 Sumatera Selatan" in text
    assert pages_qr_codes(pdf) == [[f"{BASE}/certificates/{CODE_A}"]]
    # the most a schedule may hold: the modules are counted instead of listed
    modules = [Module(code=f"M{i}", title=f"Modul {i} " + "penataan kawasan permukiman " * 6) for i in range(50)]
    t = training(title="Pelatihan " + "penguatan kapasitas " * 9, modules=modules)
    pdf = doc.certificates_pdf([Printable(holder(t, full_name=long_name), t)], BASE)
    (text,) = pages_text(pdf)
    assert "Materi: 50 modul" in text
    assert "Modul 0" not in text
    assert f"Kode sertifikat: {CODE_A}" in text
    assert pages_qr_codes(pdf) == [[f"{BASE}/certificates/{CODE_A}"]]


def test_without_the_font_the_pdf_falls_back_to_helvetica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doc, "unicode_font", lambda: None)
    t = training()
    pdf = doc.certificates_pdf([Printable(holder(t, full_name="Siti \u015aanti \u674e"), t)], BASE)
    (text,) = pages_text(pdf)
    assert "Siti ?anti ?" in text
    assert "31 Juli - 7 Agustus 2016" in text
    assert pages_qr_codes(pdf) == [[f"{BASE}/certificates/{CODE_A}"]]


def test_nothing_to_print_is_a_bug_of_the_caller() -> None:
    with pytest.raises(ValueError, match="no certificate"):
        doc.certificates_pdf([], BASE)


# -- use cases ----------------------------------------------------------------------------------


@dataclass
class Store:
    """Trainings and certificate holders in memory (both ports of the use cases)."""

    trainings: dict[uuid.UUID, Training] = field(default_factory=dict)
    holders: dict[str, Holder] = field(default_factory=dict)

    def add(self, t: Training, hs: Sequence[Holder]) -> None:
        self.trainings[t.training_id] = t
        self.holders.update({h.code: h for h in hs})

    async def training(self, training_id: uuid.UUID) -> Training | None:
        return self.trainings.get(training_id)

    async def by_code(self, code: str) -> Holder | None:
        return self.holders.get(code)

    async def valid_of_training(self, training_id: uuid.UUID) -> list[Holder]:
        valid = [h for h in self.holders.values() if h.training_id == training_id and not h.revoked]
        return sorted(valid, key=lambda h: (h.full_name is None, h.full_name or "", h.code))


def allow(region: str) -> None:
    return None


def refuse(region: str) -> None:
    raise Forbidden("region_forbidden", f"not {region}")


async def test_verification_finds_a_code_as_typed_and_shows_revoked_ones() -> None:
    store, t = Store(), training()
    revoked = holder(t, CODE_B, revoked_at=datetime(2016, 9, 1, tzinfo=UTC), revoke_reason="data kehadiran salah")
    store.add(t, [holder(t), revoked])
    found = await certificates.verification(store, store, "abcd efgh-jkmn pqrs")
    assert (found.holder.code, found.training.title) == (CODE_A, t.title)
    assert (await certificates.verification(store, store, CODE_B)).holder.revoke_reason == "data kehadiran salah"
    for unknown in ("AAAA-AAAA-AAAA-AAAA", "ABCD-EFGH", "../../etc/passwd", "", "O0O0-1111-IIII-LLLL", "A" * 5000):
        with pytest.raises(CertificateNotFound):
            await certificates.verification(store, store, unknown)


async def test_a_revoked_or_nameless_certificate_is_not_printed() -> None:
    store, t = Store(), training()
    revoked_at = datetime(2016, 9, 1, 3, tzinfo=UTC)
    store.add(
        t,
        [
            holder(t, CODE_A, revoked_at=revoked_at, revoke_reason="data kehadiran salah"),
            holder(t, CODE_B, full_name=None),
        ],
    )
    with pytest.raises(CertificateRevoked) as revoked:
        await certificates.printable(store, store, CODE_A)
    assert revoked.value.details == {
        "certificate_code": CODE_A,
        "revoked_at": revoked_at.isoformat(),
        "reason": "data kehadiran salah",
    }
    assert ERRORS.status(revoked.value) == 410
    with pytest.raises(ParticipantNameUnknown) as unnamed:
        await certificates.printable(store, store, CODE_B)
    assert unnamed.value.details == {"certificate_codes": [CODE_B]}
    assert ERRORS.status(unnamed.value) == 409


async def test_a_training_prints_its_valid_certificates_for_a_reader_of_its_region() -> None:
    store, t = Store(), training()
    zeta = holder(t, CODE_A, full_name="Zainal Arifin")
    ayu = holder(t, CODE_B, full_name="Ayu Lestari")
    gone = holder(t, "3456-789A-BCDE-FGHJ", revoked_at=datetime(2016, 9, 1, tzinfo=UTC))
    store.add(t, [zeta, ayu, gone])
    items = await certificates.printable_of_training(store, store, t.training_id, allow)
    assert [i.holder.code for i in items] == [CODE_B, CODE_A]
    with pytest.raises(Forbidden):
        await certificates.printable_of_training(store, store, t.training_id, refuse)
    with pytest.raises(TrainingNotFound):
        await certificates.printable_of_training(store, store, uuid.uuid4(), allow)
    store.holders[CODE_B] = replace(ayu, full_name=None)
    with pytest.raises(ParticipantNameUnknown):
        await certificates.printable_of_training(store, store, t.training_id, allow)
    empty = training()
    store.add(empty, [holder(empty, "4567-89AB-CDEF-GHJK", revoked_at=datetime(2016, 9, 1, tzinfo=UTC))])
    with pytest.raises(NoValidCertificates):
        await certificates.printable_of_training(store, store, empty.training_id, allow)


def test_recent_single_pdfs_are_kept_by_what_is_printed_on_them() -> None:
    cache = PdfCache(size=2)
    cache.put("a", b"A")
    cache.put("b", b"B")
    assert cache.get("a") == b"A"  # now the most recent
    cache.put("c", b"C")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"A", None, b"C")
