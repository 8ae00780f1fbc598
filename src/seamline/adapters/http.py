"""What every HTTP adapter reads the same way: the ``Retry-After`` header.

One parser for Centra and BlueCherry. It lives beside the adapters, not in either of them, so
that no adapter imports another; it is pure (no httpx) and takes the header's text.
"""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

__all__ = ["EPOCH_THRESHOLD", "parse_retry_after"]

#: A ``Retry-After`` number above this is a Unix timestamp, not a delay (≈ year 2001). Centra
#: documents "a timestamp" without saying which form it sends.
EPOCH_THRESHOLD = 1_000_000_000


def _http_date(text: str) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return when.timestamp()


def parse_retry_after(
    value: str | None, *, now: float | None = None, date: str | None = None,
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, never negative; ``None`` when it is
    absent or unreadable.

    Args:
        value: the header: delta-seconds (RFC 9110), an HTTP-date, or a Unix epoch.
        now: the current Unix time (default: the system clock).
        date: the response's ``Date`` header; an HTTP-date is measured against it when it is
            readable (the server's clock, not ours), else against ``now``.

    Returns:
        The delay in seconds, or ``None``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    current = time.time() if now is None else now
    try:
        number = float(text)
    except ValueError:
        when = _http_date(text)
        if when is None:
            return None
        served = _http_date(date) if date else None
        return max(0.0, when - (served if served is not None else current))
    if not math.isfinite(number):
        return None
    if number > EPOCH_THRESHOLD:
        return max(0.0, number - current)
    return max(0.0, number)
