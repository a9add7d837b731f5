"""Certificates as a person reads them, in Bahasa Indonesia: the wording (roles, dates), the public
verification URL, and the printable PDF (A4 landscape, one page per certificate) with a QR code
that encodes that URL.

The text is set in Noto Sans (Latin, Greek, Cyrillic and Vietnamese; the ``fontpkg-noto-sans``
package, embedded as a subset). A character the font lacks is left out of the PDF with a warning,
never an error; the verification page shows every name as it is. Without the font (a broken
install) the PDF falls back to Helvetica, with the characters it cannot show replaced by ``?``.

The URL comes from the ``KOTAKU_PUBLIC_BASE_URL`` setting and never from a request, so a request's
``Host`` header cannot change what a printed certificate points to.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from importlib import resources
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import Align, TextMode, XPos, YPos

from services.training.usecases.certificates import Printable

log = logging.getLogger(__name__)

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
ROLE_LABELS = {
    "korkot": "Koordinator Kota",
    "askot": "Asisten Koordinator Kota",
    "senior_fasilitator": "Fasilitator Senior",
    "fasilitator": "Fasilitator",
}
TRAINING_TYPE_LABELS = {
    "basic": "Pelatihan Dasar",
    "thematic": "Pelatihan Tematik",
    "refresher": "Pelatihan Penyegaran",
    "tot": "Pelatihan untuk Pelatih (ToT)",
}
# Dates of issue and revocation are shown as the day in Western Indonesia (WIB).
WIB = timezone(timedelta(hours=7), "WIB")
EN_DASH = "\N{EN DASH}"


def indonesian_date(day: date) -> str:
    """``7 Agustus 2016``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def indonesian_date_range(start: date, end: date) -> str:
    """``31 Juli - 7 Agustus 2016``, with an en dash; ``1-3 Agustus 2016`` within a month; one date
    for one day."""
    if start == end:
        return indonesian_date(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}{EN_DASH}{end.day} {MONTHS[end.month - 1]} {end.year}"
    if start.year == end.year:
        return f"{start.day} {MONTHS[start.month - 1]} {EN_DASH} {indonesian_date(end)}"
    return f"{indonesian_date(start)} {EN_DASH} {indonesian_date(end)}"


def day_of(moment: datetime) -> str:
    """The WIB calendar day of a moment, in Indonesian."""
    return indonesian_date(moment.astimezone(WIB).date())


def role_label(role: str | None) -> str:
    return ROLE_LABELS.get(role or "", role or "")


def training_type_label(training_type: str) -> str:
    return TRAINING_TYPE_LABELS.get(training_type, training_type)


def region_label(region: str) -> str:
    """``oc02`` as ``OC 02``."""
    return f"{region[:2].upper()} {region[2:]}" if region[:2].lower() == "oc" else region.upper()


def verification_url(base_url: str, code: str) -> str:
    """The public verification page of a certificate: ``<base>/certificates/<code>``."""
    return f"{base_url.rstrip('/')}/certificates/{code}"


def qr_png(data: str) -> bytes:
    """A QR code (error correction M, the standard quiet zone of 4 modules) as a 1-bit PNG with 10
    pixels per module: sharp when printed 4 cm wide."""
    buffer = io.BytesIO()
    segno.make(data, error="m", micro=False).save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()


# -- the PDF ------------------------------------------------------------------------------------

FONT_FAMILY = "NotoSans"
INK = (15, 23, 42)
MUTED = (71, 85, 105)
ACCENT = (15, 61, 110)
PAGE_W, PAGE_H = 297.0, 210.0  # A4 landscape, millimetres
BODY_W = 235.0  # width of the centred text
BODY_TOP, BODY_BOTTOM = 44.0, 146.0  # where the text between the title and the footer goes
MIN_SCALE = 0.6  # the body's text is shrunk to fit, down to this share of its sizes


@cache
def unicode_font() -> Path | None:
    """Noto Sans, as installed with the ``fontpkg-noto-sans`` package; None if it is missing."""
    try:
        path = Path(str(resources.files("fontpkg_noto_sans") / "files" / "NotoSans[wdth,wght].ttf"))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        log.warning("the Noto Sans font is not installed; certificates fall back to Helvetica (Latin-1 only)")
        return None
    return path


@dataclass(frozen=True)
class _Line:
    """A centred paragraph of the certificate's body."""

    text: str
    size: float
    bold: bool = False
    color: tuple[int, int, int] = INK
    space_after: float = 2.0


class _Certificates:
    """One PDF, a page per certificate."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.pdf = FPDF(orientation="L", unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(0, 0, 0)
        self.pdf.set_lang("id")
        self.pdf.set_creator("KOTAKU Ops")
        font = unicode_font()
        self.unicode = font is not None
        if font is not None:
            self.pdf.add_font(FONT_FAMILY, "", str(font))
        self.family = FONT_FAMILY if self.unicode else "helvetica"

    def text(self, value: str) -> str:
        """What the current font can show: NFC; Latin-1 only for the fallback font."""
        value = unicodedata.normalize("NFC", value)
        if self.unicode:
            return value
        return value.replace(EN_DASH, "-").encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, *, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        """Noto Sans has one (regular) instance embedded; bold is drawn by stroking the outline too."""
        pdf = self.pdf
        if self.unicode:
            pdf.set_font(self.family, "", size)
            pdf.text_mode = TextMode.FILL_STROKE if bold else TextMode.FILL
            pdf.set_line_width(size * 0.016)
            pdf.set_draw_color(*color)
        else:
            pdf.set_font(self.family, "B" if bold else "", size)
        pdf.set_text_color(*color)

    def block(self, lines: Sequence[_Line], scale: float, *, dry_run: bool) -> float:
        """Write (or only measure) the centred paragraphs at ``scale`` of their sizes; their height."""
        pdf = self.pdf
        height = 0.0
        for line in lines:
            size = line.size * scale
            self.font(size, bold=line.bold, color=line.color)
            h = size * 0.45  # line height in mm for a size in points
            if dry_run:
                lines_out = pdf.multi_cell(BODY_W, h, self.text(line.text), align=Align.C, dry_run=True, output="LINES")
                assert isinstance(lines_out, list)
                height += h * len(lines_out) + line.space_after * scale
            else:
                pdf.set_x((PAGE_W - BODY_W) / 2)
                pdf.multi_cell(BODY_W, h, self.text(line.text), align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.set_y(pdf.get_y() + line.space_after * scale)
                height = pdf.get_y()
        return height

    @staticmethod
    def body(item: Printable, modules: str | None) -> list[_Line]:
        holder, training = item.holder, item.training
        lines = [
            _Line("diberikan kepada", 13, color=MUTED, space_after=1),
            _Line(holder.full_name or "", 26, bold=True, space_after=0.5),
            _Line(role_label(holder.role), 14, color=MUTED, space_after=4),
            _Line("telah mengikuti", 13, color=MUTED, space_after=1),
            _Line(training.title, 19, bold=True, color=ACCENT, space_after=2),
        ]
        if modules:
            lines.append(_Line(modules, 11, space_after=3))
        return [
            *lines,
            _Line(f"Tanggal: {indonesian_date_range(training.start_date, training.end_date)}", 12, space_after=0.5),
            _Line(f"Tempat: {training.venue}", 12, space_after=0.5),
            _Line(f"Penyelenggara: {training.organiser}", 12, space_after=0),
        ]

    def fit(self, lines: Sequence[_Line], room: float) -> float | None:
        """The largest scale (1 down to MIN_SCALE) at which the lines fit in ``room``; None if none."""
        scale = 1.0
        while scale >= MIN_SCALE:
            if self.block(lines, scale, dry_run=True) <= room:
                return scale
            scale = round(scale - 0.05, 2)
        return None

    def page(self, item: Printable) -> None:
        pdf, holder, training = self.pdf, item.holder, item.training
        url = verification_url(self.base_url, holder.code)
        pdf.add_page()
        pdf.set_title(f"Sertifikat {holder.code}")
        # frame
        pdf.text_mode = TextMode.FILL
        pdf.set_draw_color(*ACCENT)
        pdf.set_line_width(1.2)
        pdf.rect(9, 9, PAGE_W - 18, PAGE_H - 18)
        pdf.set_line_width(0.3)
        pdf.rect(12.5, 12.5, PAGE_W - 25, PAGE_H - 25)
        # heading
        pdf.set_y(19)
        organiser, size = self.text(training.organiser), 11.0
        self.font(size, color=MUTED)
        while size > 6 and pdf.get_string_width(organiser) > PAGE_W - 40:
            size -= 0.5
            self.font(size, color=MUTED)
        pdf.cell(0, 6, organiser, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_y(27)
        self.font(34, bold=True, color=ACCENT)
        pdf.set_char_spacing(3)
        pdf.cell(0, 14, "SERTIFIKAT", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_char_spacing(0)
        # body, shrunk until it fits between the heading and the footer, and centred there
        modules = [m.title for m in training.modules]
        lines = self.body(item, "Materi: " + "; ".join(modules) if modules else None)
        room = BODY_BOTTOM - BODY_TOP
        scale = self.fit(lines, room)
        if scale is None:  # too much to show: the modules are counted, and listed on the verification page
            lines = self.body(item, f"Materi: {len(modules)} modul (daftarnya pada halaman verifikasi)")
            scale = self.fit(lines, room) or MIN_SCALE
        pdf.set_y(BODY_TOP + max(0.0, (room - self.block(lines, scale, dry_run=True)) / 2))
        self.block(lines, scale, dry_run=False)
        # footer: the code and how to verify it, beside the QR code
        qr_size, qr_x, qr_y = 38.0, PAGE_W - 22 - 38.0, PAGE_H - 22 - 38.0 - 4
        pdf.image(io.BytesIO(qr_png(url)), x=qr_x, y=qr_y, w=qr_size, h=qr_size)
        pdf.set_xy(qr_x - 6, qr_y + qr_size)
        self.font(7.5, color=MUTED)
        pdf.cell(qr_size + 12, 4, "Pindai untuk verifikasi", align=Align.C)
        left, width = 24.0, qr_x - 24.0 - 8
        pdf.set_xy(left, PAGE_H - 56)
        self.font(12, bold=True)
        pdf.cell(width, 7, f"Kode sertifikat: {holder.code}", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.font(9.5, color=MUTED)
        pdf.cell(width, 5, self.text(f"Diterbitkan {day_of(holder.issued_at)}"), new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_xy(left, pdf.get_y() + 2)
        pdf.multi_cell(
            width,
            4.5,
            "Keaslian sertifikat ini dapat diperiksa dengan memindai kode QR atau membuka alamat berikut:",
            new_x=XPos.LEFT,
            new_y=YPos.NEXT,
        )
        self.font(9.5, color=ACCENT)
        pdf.multi_cell(width, 4.5, url, link=url, new_x=XPos.LEFT, new_y=YPos.NEXT)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def certificates_pdf(items: Sequence[Printable], base_url: str) -> bytes:
    """One PDF with a page per certificate, in the order given. CPU-bound: run it off the event loop."""
    if not items:
        raise ValueError("no certificate to print")
    document = _Certificates(base_url)
    for item in items:
        document.page(item)
    return document.output()
