"""What every HTTP adapter does the same way: read ``Retry-After``, bound in-process retries.

Shared by the Centra and BlueCherry clients. It lives beside the adapters, not in either of
them, so that no adapter imports another; it is pure (no httpx).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["EPOCH_THRESHOLD", "InlineRetry", "call_outcome", "parse_retry_after"]

#: A ``Retry-After`` number above this is a Unix timestamp, not a delay (≈ year 2001). Centra
#: documents "a timestamp" without saying which form it sends.
EPOCH_THRESHOLD = 1_000_000_000


def call_outcome(status: int | None) -> str:
    """How one HTTP exchange ended, for the API-call counters: ``ok`` (< 400),
    ``rate_limited`` (429), ``client_error`` (another 4xx), ``server_error`` (5xx) or
    ``no_answer`` (no response: refused, reset, timed out)."""
    if status is None:
        return "no_answer"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "client_error" if status >= 400 else "ok"


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


@dataclass(frozen=True, slots=True)
class InlineRetry:
    """How one HTTP call is retried *inside* one job attempt (stamina): a few attempts within
    a time budget, jittered, ``Retry-After`` honoured up to ``max_inline_wait_s``.

    This is not the queue's ``seamline.queue.RetryPolicy``, and deliberately so: that one
    decides what happens to a *job* after an attempt failed (retry it minutes later with
    backoff, release it past a long ``Retry-After``, or give up into an exception) and its
    state lives in the database. This one keeps a worker's call alive through a blip in
    seconds, in memory; ``budget_s`` must stay well under the queue lease, and a longer wait is
    raised so the queue reschedules the job instead of a worker sleeping on it. Reads, and
    writes with a read-back, use it; blind writes never do.
    """

    attempts: int = 4
    #: Total seconds across the attempts (stamina's ``timeout``).
    budget_s: float = 20.0
    wait_initial_s: float = 0.2
    wait_max_s: float = 4.0
    wait_jitter_s: float = 0.3
    #: A Retry-After longer than this is raised (the queue reschedules the job).
    max_inline_wait_s: float = 5.0
