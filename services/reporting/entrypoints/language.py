"""The language of the dashboard and of the exports: Bahasa Indonesia unless the reader asks for English.

The reader's choice, first to last: the ``lang`` query parameter (``id`` or ``en``: the switch on
every page, which the dashboard also keeps in the ``kotaku_lang`` cookie), that cookie, the
request's ``Accept-Language`` (quality values honoured: ``en-US,en;q=0.9`` reads English,
``en;q=0.5, id`` Indonesian), and otherwise Indonesian. JSON answers are not translated.

The texts come from gettext catalogues, ``services/reporting/locale/<lang>/LC_MESSAGES/messages.po``,
whose msgids are the English texts of the code and the templates; they are compiled in memory at
import (``shared.kernel.i18n.load_translations``), so no ``.mo`` file is kept or built.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request

from shared.kernel.i18n import ENGLISH, INDONESIAN, SUPPORTED, Language, load_translations, negotiate

LOCALE_DIRECTORY = Path(__file__).parents[1] / "locale"
COOKIE = "kotaku_lang"
QUERY = "lang"


def catalogue(code: str) -> Path:
    return LOCALE_DIRECTORY / code / "LC_MESSAGES" / "messages.po"


LANGUAGES: dict[str, Language] = {code: Language(code, load_translations(catalogue(code))) for code in SUPPORTED}
ID = LANGUAGES[INDONESIAN]
EN = LANGUAGES[ENGLISH]


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue where it is written; it is translated where it is shown."""
    return message


def chosen(request: Request) -> str | None:
    """The language the reader picked with the switch (query parameter, else cookie), if any."""
    for picked in (request.query_params.get(QUERY), request.cookies.get(COOKIE)):
        if picked in LANGUAGES:
            return picked
    return None


def language_of(request: Request) -> Language:
    """The language of the human text of an answer to ``request``."""
    code = chosen(request) or negotiate(request.headers.get("accept-language"), SUPPORTED, INDONESIAN)
    return LANGUAGES[code]
