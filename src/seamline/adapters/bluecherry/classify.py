"""BlueCherry response classification: the one place that decides what an answer means.

``classify`` is pure: it looks at an ``httpx.Response`` (or the transport error raised instead
of one) and says which ``seamline.exceptions`` error it is, or ``None`` for success. The client
raises what it returns (``raise err from exc``); nothing else in Seamline interprets BlueCherry
status codes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from seamline.exceptions import (
    AmbiguousWrite,
    AuthFailed,
    Conflict,
    ExternalError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)

__all__ = ["DUPLICATE_CODES", "classify", "error_body", "retry_after_seconds"]

SYSTEM = "bluecherry"

#: 409 codes that mean "this record already exists" (the body carries the stored record).
DUPLICATE_CODES = frozenset({
    "DUPLICATE_CUSTOMER_PO", "DUPLICATE_EXTERNAL_REFERENCE", "DUPLICATE_REFERENCE",
})

#: Keys under which a 409 body may carry the existing record.
_EXISTING_KEYS = ("order", "receipt", "cash_receipt", "credit_memo", "memo", "existing", "result")


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The parsed JSON body of an error answer, or ``{}`` when it is not JSON."""
    try:
        body = json.loads(response.content or b"null", parse_float=Decimal)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date relative to ``Date``)."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
        date_hdr = response.headers.get("Date")
        now = parsedate_to_datetime(date_hdr) if date_hdr else datetime.now(UTC)
    except (TypeError, ValueError):
        return None
    return max((when - now).total_seconds(), 0.0)


def classify(
    outcome: httpx.Response | httpx.HTTPError, *, write: bool, what: str = ""
) -> ExternalError | None:
    """What a BlueCherry answer means.

    - 2xx → ``None`` (success);
    - 401/403 → ``AuthFailed`` (the integrator's: credentials or permissions);
    - 404 → ``NotFound``;
    - 409 → ``Conflict`` with ``code`` in details and ``existing`` = the stored record when the
      body carries one (the caller turns a duplicate into ``PostResult(created=False)``);
    - 400/422 → ``Rejected`` with BlueCherry's coded details;
    - 429 → ``RateLimited`` with ``retry_after``;
    - 5xx, timeouts, resets, unreadable answers → ``TransientError`` on reads and
      ``AmbiguousWrite`` on writes (a write may have been applied: read back before any retry);
      a connection that was never established is ``TransientError`` even for a write (the
      request was never sent).

    ``what`` names the call in messages (method and path; never headers or the key).
    """
    label = what or "BlueCherry call"
    if isinstance(outcome, httpx.HTTPError):
        if isinstance(outcome, (httpx.ConnectError, httpx.ConnectTimeout)):
            return TransientError(f"{label}: BlueCherry unreachable ({type(outcome).__name__})",
                                  system=SYSTEM)
        kind = type(outcome).__name__
        if write:
            return AmbiguousWrite(f"{label}: no answer ({kind}); it may have been applied",
                                  system=SYSTEM)
        return TransientError(f"{label}: no answer ({kind})", system=SYSTEM)

    status = outcome.status_code
    if 200 <= status < 300:
        return None
    body = error_body(outcome)
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(err, dict)
    code = str(err.get("code", "") or "")
    message = str(err.get("message", "") or "")
    raw_details = err.get("details")
    details: list[dict[str, Any]] = (
        [dict(d) for d in raw_details if isinstance(d, dict)]
        if isinstance(raw_details, list) else []
    )
    text = f"{label}: HTTP {status}" + (f" {code}" if code else "") + (
        f": {message}" if message else "")

    if status in (401, 403):
        return AuthFailed(
            f"{label}: BlueCherry refused the credentials (HTTP {status}); check "
            "bluecherry.auth_header, bluecherry.auth_scheme and SEAMLINE_BLUECHERRY_API_KEY",
            system=SYSTEM, status=status,
        )
    if status == 404:
        return NotFound(text, system=SYSTEM, status=status, code=code)
    if status == 409:
        existing = None
        for key in _EXISTING_KEYS:
            if isinstance(body.get(key), dict):
                existing = body[key]
                break
        return Conflict(text, system=SYSTEM, status=status, existing=existing, code=code)
    if status in (400, 413, 415, 422):
        codes = details or ([{"field": "", "code": code}] if code else [])
        return Rejected(text, system=SYSTEM, status=status, codes=codes, code=code)
    if status == 429:
        return RateLimited(text, system=SYSTEM, status=status,
                           retry_after=retry_after_seconds(outcome))
    if status >= 500 or status in (408, 425):
        if write:
            return AmbiguousWrite(f"{text}; it may have been applied", system=SYSTEM,
                                  status=status, retry_after=retry_after_seconds(outcome))
        return TransientError(text, system=SYSTEM, status=status,
                              retry_after=retry_after_seconds(outcome))
    return PermanentError(text, system=SYSTEM, status=status, code=code)
