"""Certificate codes: short, unambiguous when read aloud or typed from paper."""

from __future__ import annotations

from collections.abc import Sequence

# Crockford-like alphabet: no 0/O, 1/I/L, so a code read aloud or typed from paper survives.
CERTIFICATE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CERTIFICATE_GROUPS = 4
CERTIFICATE_GROUP_LENGTH = 4


def format_certificate_code(symbols: Sequence[int]) -> str:
    """A code from random symbol indexes (the caller draws them from a secure source):
    16 symbols of a 31-letter alphabet, about 79 bits, as XXXX-XXXX-XXXX-XXXX."""
    if len(symbols) != CERTIFICATE_GROUPS * CERTIFICATE_GROUP_LENGTH:
        raise ValueError("wrong number of symbols")
    chars = "".join(CERTIFICATE_ALPHABET[i] for i in symbols)
    n = CERTIFICATE_GROUP_LENGTH
    return "-".join(chars[i : i + n] for i in range(0, len(chars), n))


def normalise_certificate_code(text: str) -> str | None:
    """The canonical form of a typed code (case and dashes forgiven), or None if it cannot be one."""
    chars = "".join(ch for ch in text.strip().upper() if ch not in "- ")
    if len(chars) != CERTIFICATE_GROUPS * CERTIFICATE_GROUP_LENGTH or any(
        ch not in CERTIFICATE_ALPHABET for ch in chars
    ):
        return None
    n = CERTIFICATE_GROUP_LENGTH
    return "-".join(chars[i : i + n] for i in range(0, len(chars), n))
