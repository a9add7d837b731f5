"""Languages: Bahasa Indonesia first, English by choice.

* :func:`preferences` and :func:`negotiate` read an ``Accept-Language`` header (RFC 9110: language
  ranges with quality values; ``q=0`` means "not this one").
* :func:`load_translations` reads a gettext ``.po`` catalogue with Babel and compiles it in memory,
  so a fresh clone needs no compiled ``.mo`` file and a catalogue can never be stale.
* :class:`Language` is one language of a service's human text: its gettext translations and its
  number and date formats (Babel's CLDR data: ``1.234,5`` and ``7 Agustus 2016`` in Indonesian,
  ``1,234.5`` and ``August 7, 2016`` in English).
* :func:`error_message` is the Indonesian text of an HTTP error, looked up by its machine ``code``
  in ``shared/kernel/locale/id/LC_MESSAGES/errors.po`` (msgids are the codes), falling back to
  the text of its status. ``shared.kernel.http`` adds it to an error body as ``localized_message``
  when the request's ``Accept-Language`` prefers Indonesian; ``message`` stays English.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

INDONESIAN = "id"
ENGLISH = "en"
SUPPORTED = (INDONESIAN, ENGLISH)
LOCALES = {INDONESIAN: "id_ID", ENGLISH: "en"}
# Time of day in 24 hours: Indonesian writes 14.05.03 (CLDR's separator), English 14:05:03.
_TIME = {INDONESIAN: "HH.mm.ss", ENGLISH: "HH:mm:ss"}

ERRORS_DIRECTORY = Path(__file__).parent / "locale"


def preferences(header: str | None) -> list[tuple[str, float]]:
    """The language ranges of an ``Accept-Language`` header, most wanted first (ties keep the
    header's order), lower-cased, without those of quality 0; malformed parts are skipped."""
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag or len(tag) > 35:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
        if 0 < quality <= 1:
            ranges.append((-quality, position, tag))
    return [(tag, -negative) for negative, _, tag in sorted(ranges)]


def requested(header: str | None, supported: Sequence[str] = SUPPORTED) -> str | None:
    """The supported language the header asks for most (``id-ID`` asks for ``id``), or None when it
    names none of them (``*`` names none: it leaves the choice to the server)."""
    for tag, _ in preferences(header):
        primary = tag.split("-", 1)[0]
        if primary in supported:
            return primary
    return None


def negotiate(header: str | None, supported: Sequence[str] = SUPPORTED, default: str = INDONESIAN) -> str:
    """The language of an answer to a request with this ``Accept-Language``: the one it prefers
    among ``supported``, else ``default``."""
    return requested(header, supported) or default


def load_translations(po_file: Path) -> Translations:
    """A ``.po`` catalogue as gettext translations, compiled in memory (fuzzy entries left out, as
    ``pybabel compile`` does)."""
    with po_file.open("rb") as source:
        catalogue = read_po(source)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


@dataclass(frozen=True)
class Language:
    """One language of a service's human text and its formats."""

    code: str
    translations: gettext.NullTranslations

    @property
    def locale(self) -> str:
        return LOCALES[self.code]

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def number(self, value: float | None, decimals: int = 1) -> str:
        """A count as ``1.234`` (id) or ``1,234`` (en); a fraction with ``decimals`` places,
        ``1.234,5`` or ``1,234.5``; ``-`` for nothing."""
        if value is None:
            return "-"
        if isinstance(value, int):
            return format_decimal(value, locale=self.locale)
        pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, ratio: float | None, decimals: int = 1) -> str:
        """A ratio (0..1) as a percentage, ``87,3%`` (id) or ``87.3%`` (en); ``-`` for nothing."""
        if ratio is None:
            return "-"
        pattern = "#,##0." + "0" * decimals + "%" if decimals else "#,##0%"
        return format_percent(ratio, format=pattern, locale=self.locale)

    def long_date(self, day: date) -> str:
        """``7 Agustus 2016`` (id), ``August 7, 2016`` (en)."""
        return format_date(day, format="long", locale=self.locale)

    def day_month(self, day: date) -> str:
        """A short day of the year: ``7 Agu`` (id), ``Aug 7`` (en)."""
        return format_skeleton("dMMM", day, locale=self.locale)

    def month(self, day: date) -> str:
        """The month of ``day``: ``Juli 2016`` (id), ``July 2016`` (en)."""
        return format_skeleton("yMMMM", day, locale=self.locale)

    def moment(self, moment: datetime, zone: tzinfo | None = None) -> str:
        """``7 Agustus 2016 14.05.03`` (id), ``August 7, 2016 14:05:03`` (en), in ``zone``."""
        local = moment.astimezone(zone) if zone is not None else moment
        return f"{self.long_date(local.date())} {format_datetime(local, _TIME[self.code], locale=self.locale)}"


@cache
def _errors() -> Translations:
    return load_translations(ERRORS_DIRECTORY / INDONESIAN / "LC_MESSAGES" / "errors.po")


def error_message(code: str, fallback_code: str) -> str:
    """The Indonesian text of an error: its ``code``'s entry in the errors catalogue, else that of
    ``fallback_code`` (the generic code of its HTTP status), else a generic refusal."""
    for key in (code, fallback_code, "http_error"):
        text = _errors().gettext(key)
        if text != key:
            return text
    return "Permintaan tidak dapat diproses."


def translated_codes() -> set[str]:
    """Every code the errors catalogue has an Indonesian text for."""
    with (ERRORS_DIRECTORY / INDONESIAN / "LC_MESSAGES" / "errors.po").open("rb") as source:
        return {str(m.id) for m in read_po(source) if m.id and m.string}
