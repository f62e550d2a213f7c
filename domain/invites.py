"""One-time invitation codes that let a group join the organisation.

A code is shown once to the person who created it; only its SHA-256 digest is
stored, so a copy of the database cannot be used to bind groups. Codes are
typed by people (``/setup CODE``) and travel in ``?startgroup=`` links, so they
use an alphabet without look-alikes, safe in a URL, and are read case-blind.
"""

from __future__ import annotations

import hashlib
import re
import secrets

# Crockford's base 32: no I, L, O, U, so nobody mixes up 1/I or 0/O.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12  # 60 random bits: guessing is hopeless within a code's hours of life
_TYPED = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def new_code() -> str:
    """A fresh random code of ``LENGTH`` characters."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """The code as typed, in its stored form; None when it cannot be a code at all.

    Case and dashes do not matter; the look-alikes I, L (→ 1) and O (→ 0) are read
    as the digits they resemble, as Crockford's alphabet intends.
    """
    text = text.strip()
    if not _TYPED.match(text):
        return None
    code = text.replace("-", "").upper().translate(str.maketrans("ILO", "110"))
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def digest(code: str) -> str:
    """What the database keeps of a code (hex SHA-256 of its stored form)."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()
