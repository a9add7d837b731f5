"""The one text policy for everything people and regional systems send: HTTP bodies, Kafka intake
messages and CSV rows, in all three services (the pydantic types that apply it are in
:mod:`shared.kernel.validation`; docs/intake.md states it for senders).

**Every string** is normalised to Unicode NFC; NUL, C0 and C1 controls, format characters (bidi
overrides such as U+202E, zero-width spaces and joiners), surrogates, private-use and unassigned
code points are refused; runs of spaces (any Unicode space) become one space and the ends are
trimmed. Then by kind of field:

- **identifier** (ids a system chooses: class, session, module, fact, sheet, device, message ids):
  ASCII letters, digits and ``. _ : -``, starting with a letter or digit.
- **person name**: judged by its shape, never by a list of words (names come in every script):

  1. Letters of any script (Unicode categories L*) and combining marks (M*), spaces, apostrophes
     (``'`` and U+2019), hyphens (``-`` and U+2010), periods and commas. Nothing else: no digits,
     no ``@``, ``&``, ``/``, ``:``, ``|``, quotes, brackets, emoji or symbols.
  2. Each space-separated word starts with a letter (or an apostrophe then a letter, as in
     ``'Aini``); a hyphen or apostrophe joins two letters (``Abdul-Rahman``, ``Ma'ruf``); a period
     ends an abbreviation of at most four letters (``H.``, ``S.T.``, ``M.Eng.``, ``M.Zuherlan``);
     a comma may end a word (``Rahmawati, S.T.``).
  3. All letters belong to one script, or to one of the writing systems that combine scripts
     (Han with Hiragana/Katakana, Han with Hangul).
  4. At least two letters and at most :data:`MAX_NAME_LENGTH` characters.

  This refuses the URL, e-mail, ``&``, digit and mixed-script shapes of spam and keeps every real
  name we know of; a well-formed ``Hotel Casino`` passes on purpose (by shape it could be a name).
- **place name** (reference data): letters, marks, digits, spaces and ``. , ' - ( ) /``.
- **phone** (an Indonesian number): digits with spaces, hyphens, dots, parentheses; kept as ``+62...``.
- **label** (titles, organisers, venues, class names) and **note** (free text such as an
  attendance note or an OJT report): letters, marks, digits, spaces and ordinary punctuation, of
  one script as a name; refused with their own code are markup and code characters
  (``< > { } [ ] \\ | ` ^ ~ $ =`` and ``--``), links (a scheme such as ``http://``, ``www.``, a
  domain name, an e-mail address) and the vocabulary of gambling and massage advertising that
  link spam is made of (the comment spam of the program's own 2016 news page is the model).
  Unlike a name, a training's title or venue is not a person's: a word list is fair there.

Each refusal has a stable ``code`` (the error ``type`` of a 422, the ``code`` of an intake field
error) and a sentence that names the character or the rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_NAME_LENGTH = 100

_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_APOSTROPHES = {"'", "\u2019"}
_HYPHENS = {"-", "\u2010"}
# Scripts that are written together in one name or title.
_COMBINED_SCRIPTS = ({"HAN", "HIRAGANA", "KATAKANA"}, {"HAN", "HANGUL"})
# One word of a name: optional leading apostrophe, abbreviations ("S." "T."), then letters joined by - or '.
_WORD = re.compile(r"^'?(?:a{1,4}\.)*(?:a+(?:[-']a+)*)?,?$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
_PLACE_PUNCTUATION = set(" .,'-()/")
# What a label or note may hold besides letters, marks and digits.
_LABEL_PUNCTUATION = set(" .,;'\"()-/&+:#?!%@") | _APOSTROPHES | _HYPHENS | {"\u2013", "\u2014", "\u201c", "\u201d"}
_MARKUP = set("<>{}[]\\|`^~$=")
_LINK = re.compile(
    r"[a-z][a-z0-9+.-]*://"  # a scheme
    r"|\bwww\."
    r"|[\w.+-]+@[\w-]+\.[\w.-]+"  # an e-mail address
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|xyz|top|site|online|club|shop|io|co|id|ly|me|ru|cn|kr|to|cc|tk|ml|ga|gq|vip|bet|win|link|click|live|pro)\b",
    re.IGNORECASE,
)
# Gambling and massage advertising in Indonesian, English and Korean (출장 "call-out", 마사지 "massage").
_SPAM = re.compile(
    r"\b(?:casino|kasino|judi|togel|gacor|slot\s*online|poker|taruhan|betting|sportsbook|jackpot|viagra|escort)\b"
    r"|출장|마사지|카지노",
    re.IGNORECASE,
)


class TextRefused(ValueError):
    """The text breaks the policy: ``code`` says which rule, the message says how."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def char_label(ch: str) -> str:
    category = unicodedata.category(ch)
    if category[0] in "CZ" or ch.isspace():
        return f"U+{ord(ch):04X}"
    return f"'{ch}' (U+{ord(ch):04X})"


def clean(value: str) -> str:
    """Every string: NFC, no control or invisible character, one space between words, trimmed."""
    value = unicodedata.normalize("NFC", value)
    chars: list[str] = []
    for ch in value:
        category = unicodedata.category(ch)
        if category in _REFUSED_CATEGORIES:
            raise TextRefused("control_character", f"contains a control or invisible character (U+{ord(ch):04X})")
        chars.append(" " if category == "Zs" else ch)
    return re.sub(" +", " ", "".join(chars)).strip(" ")


def refused_character(value: str) -> str | None:
    """The first character of ``value`` that no string may hold, or None (cheap; no copy)."""
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return ch
    return None


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    if name.startswith("CJK") or name.startswith("IDEOGRAPHIC"):
        return "HAN"
    if name.startswith("KATAKANA-HIRAGANA"):
        return "KATAKANA"
    first = name.split(" ", 1)[0]
    if first in {"MODIFIER", "COMBINING", ""}:
        return "COMMON"
    return first


def _one_script(letters: Iterable[str]) -> None:
    scripts = {s for s in map(_script, letters) if s != "COMMON"}
    if len(scripts) > 1 and not any(scripts <= combined for combined in _COMBINED_SCRIPTS):
        raise TextRefused(
            "mixed_scripts", f"mixes letters of several scripts ({', '.join(sorted(s.title() for s in scripts))})"
        )


def check_identifier(value: str) -> str:
    value = clean(value)
    if not _IDENTIFIER.match(value):
        raise TextRefused(
            "not_an_identifier",
            "an identifier has ASCII letters, digits and . _ : - only, and starts with a letter or digit",
        )
    return value


def check_name(value: str) -> str:
    """Return the normalised person's name, or raise :class:`TextRefused` (code ``not_a_name``)."""
    text = clean(value)
    if len(text) > MAX_NAME_LENGTH:
        raise TextRefused("too_long", f"a name has at most {MAX_NAME_LENGTH} characters")
    shape: list[str] = []
    letters: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "L":
            shape.append("a")
            letters.append(ch)
        elif category[0] == "M":
            if not shape or shape[-1] != "a":
                raise TextRefused("not_a_name", f"a combining mark {char_label(ch)} must follow a letter")
            shape.append("a")
        elif ch == " ":
            shape.append(" ")
        elif ch in _APOSTROPHES:
            shape.append("'")
        elif ch in _HYPHENS:
            shape.append("-")
        elif ch in {".", ","}:
            shape.append(ch)
        else:
            raise TextRefused(
                "not_a_name",
                f"contains {char_label(ch)}; a name may contain letters, combining marks, spaces, "
                "apostrophes, hyphens, periods and commas only",
            )
    if len(letters) < 2:
        raise TextRefused("not_a_name", "a name has at least two letters")
    for word in "".join(shape).split(" "):
        if not _WORD.match(word) or "a" not in word:
            raise TextRefused(
                "not_a_name",
                "is not shaped like a name: hyphens and apostrophes join letters, a period ends a "
                "short abbreviation, a comma ends a word",
            )
    _one_script(letters)
    return text


def check_place_name(value: str) -> str:
    text = clean(value)
    for ch in text:
        if unicodedata.category(ch)[0] not in "LMN" and ch not in _PLACE_PUNCTUATION:
            raise TextRefused(
                "not_a_place_name",
                f"a place name has letters, digits, spaces and . , ' - ( ) / only, not {char_label(ch)}",
            )
    return text


def check_free_text(value: str) -> str:
    """A label or a note: ordinary words and punctuation, no markup, no links, no advertising."""
    text = clean(value)
    letters: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "L":
            letters.append(ch)
        elif category[0] in "MN" or ch in _LABEL_PUNCTUATION:
            continue
        elif ch in _MARKUP:
            raise TextRefused("markup", f"contains {char_label(ch)}: markup and code are not text")
        else:
            raise TextRefused(
                "symbol",
                f"contains {char_label(ch)}; text may contain letters, digits, spaces and ordinary punctuation only",
            )
    if "--" in text or "/*" in text:
        raise TextRefused("markup", "contains a code comment (-- or /*)")
    if _LINK.search(text):
        raise TextRefused("link_spam", "contains a link, domain name or e-mail address")
    if _SPAM.search(text):
        raise TextRefused("link_spam", "reads like advertising (gambling or massage)")
    _one_script(letters)
    return text


def normalise_phone(value: str) -> str:
    """An Indonesian mobile or landline number as ``+62`` and digits. Spaces, hyphens, dots and
    parentheses are ignored; a leading ``0`` means ``+62``."""
    digits = re.sub(r"[\s().-]", "", value)
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isascii() or not digits.isdigit():
        raise TextRefused(
            "not_a_phone", "a phone number has digits, spaces, hyphens, dots, parentheses and a leading + only"
        )
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    if not digits.startswith("62") or not 8 <= len(digits) - 2 <= 12:
        raise TextRefused("not_a_phone", "not an Indonesian phone number (+62 or 0, then 8 to 12 digits)")
    return "+" + digits
