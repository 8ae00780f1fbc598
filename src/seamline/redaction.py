"""Which keys hold secrets: one list, used by the log redactor (``seamline.logging``) and by the
exception store's payload scrubber (``seamline.services.exceptions.scrub``).

A key is secret when, lower-cased and with ``-``, ``_``, ``.`` and spaces removed, it contains one
of :data:`SECRET_KEY_WORDS` (so ``api_key``, ``API-Key``, ``apiKey`` and ``x_api_key`` all are).
"""

from __future__ import annotations

import re

__all__ = ["SECRET_KEY_WORDS", "is_secret_key"]

#: Substrings that make a key secret (compared without separators, lower case).
SECRET_KEY_WORDS: tuple[str, ...] = (
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "authorization",
    "cookie",
    "signature",
    "credential",
    "privatekey",
)

_SEPARATORS = re.compile(r"[-_.\s]")


def is_secret_key(key: str) -> bool:
    """True when values under ``key`` must never be logged or stored."""
    compact = _SEPARATORS.sub("", key.lower())
    return any(word in compact for word in SECRET_KEY_WORDS)
