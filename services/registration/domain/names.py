"""What a person's name is, for the registration service.

A name is judged by its shape, never by a list of words: names come in every script, and no list
of bad words can tell a person from an advertisement. The rule (also in docs/intake.md):

1. Letters of any script (Unicode categories L*) and combining marks (M*), spaces, apostrophes
   (``'`` and U+2019), hyphens (``-`` and U+2010), periods and commas. Nothing else: no digits, no
   ``@``, ``&``, ``/``, ``:``, ``|``, quotes, brackets, emoji or symbols. Control and invisible
   characters are refused. Runs of spaces (including no-break spaces) become one space.
2. Each space-separated word starts with a letter (or an apostrophe then a letter, as in
   ``'Aini``); a hyphen or apostrophe joins two letters (``Abdul-Rahman``, ``Ma'ruf``); a
   period ends an abbreviation of at most four letters (``H.``, ``S.T.``, ``M.Eng.``,
   ``M.Zuherlan``); a comma may end a word (``Rahmawati, S.T.``).
3. All letters belong to one script, or to one of the writing systems that combine scripts
   (Han with Hiragana/Katakana, Han with Hangul). A name that mixes Latin and Hangul words is
   not one person's name.
4. At least two letters and at most :data:`MAX_NAME_LENGTH` characters.

This refuses the URL, e-mail, ``&``, digit and mixed-script shapes of spam, keeps every real
name we know of, and accepts a well-formed string such as ``Hotel Casino`` on purpose: by shape
it could be a name, and a word list would refuse real people.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

MAX_NAME_LENGTH = 100

_APOSTROPHES = {"'", "\u2019"}
_HYPHENS = {"-", "\u2010"}
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
# Scripts that are written together in one name.
_COMBINED_SCRIPTS = ({"HAN", "HIRAGANA", "KATAKANA"}, {"HAN", "HANGUL"})
# One word: optional leading apostrophe, abbreviations ("S." "T."), then letters joined by - or '.
_WORD = re.compile(r"^'?(?:a{1,4}\.)*(?:a+(?:[-']a+)*)?,?$")


class NotAName(ValueError):
    """The text is not shaped like a person's name; the message says why."""


def _char_label(ch: str) -> str:
    category = unicodedata.category(ch)
    if category[0] in "CZ" or ch.isspace():
        return f"U+{ord(ch):04X}"
    return f"'{ch}' (U+{ord(ch):04X})"


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


def check_name(value: str) -> str:
    """Return the normalised name, or raise :class:`NotAName`."""
    value = unicodedata.normalize("NFC", value)
    chars: list[str] = []
    for ch in value:
        category = unicodedata.category(ch)
        if category in _REFUSED_CATEGORIES:
            raise NotAName(f"contains a control or invisible character (U+{ord(ch):04X})")
        chars.append(" " if category == "Zs" else ch)
    text = re.sub(" +", " ", "".join(chars)).strip(" ")
    if len(text) > MAX_NAME_LENGTH:
        raise NotAName(f"a name has at most {MAX_NAME_LENGTH} characters")
    shape: list[str] = []
    scripts: set[str] = set()
    letters = 0
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "L":
            shape.append("a")
            letters += 1
            script = _script(ch)
            if script != "COMMON":
                scripts.add(script)
        elif category[0] == "M":
            if not shape or shape[-1] != "a":
                raise NotAName(f"a combining mark {_char_label(ch)} must follow a letter")
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
            raise NotAName(
                f"contains {_char_label(ch)}; a name may contain letters, combining marks, spaces, "
                "apostrophes, hyphens, periods and commas only"
            )
    if letters < 2:
        raise NotAName("a name has at least two letters")
    for word in "".join(shape).split(" "):
        if not _WORD.match(word) or "a" not in word:
            raise NotAName(
                "is not shaped like a name: hyphens and apostrophes join letters, a period ends a "
                "short abbreviation, a comma ends a word"
            )
    if len(scripts) > 1 and not any(scripts <= combined for combined in _COMBINED_SCRIPTS):
        raise NotAName(f"mixes letters of several scripts ({', '.join(sorted(s.title() for s in scripts))})")
    return text


def _validate(value: str) -> str:
    try:
        return check_name(value)
    except NotAName as exc:
        raise ValueError(f"not a person's name: {exc}") from None


# The length bound is checked before anything else, so a 100,000-character value costs nothing.
FacilitatorName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_validate)]
