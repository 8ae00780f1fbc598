"""BlueCherry response classification: the one place that decides what an answer means.

``classify`` is pure: it looks at an ``httpx.Response`` (or the transport error raised instead
of one) and says which ``seamline.exceptions`` error it is, or ``None`` for success. The client
raises what it returns (``raise err from exc``); nothing else in Seamline interprets BlueCherry
status codes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from seamline.adapters.http import parse_retry_after
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
    """``Retry-After`` as seconds (delta-seconds, or an HTTP date relative to ``Date``)."""
    return parse_retry_after(response.headers.get("Retry-After"),
                             date=response.headers.get("Date"))


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
        return _transport_error(outcome, label, write=write)
    status = outcome.status_code
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        return AuthFailed(
            f"{label}: BlueCherry refused the credentials (HTTP {status}); check "
            "bluecherry.auth_header, bluecherry.auth_scheme and SEAMLINE_BLUECHERRY_API_KEY",
            system=SYSTEM, status=status,
        )
    return _error_answer(outcome, label, write=write)


def _transport_error(exc: httpx.HTTPError, label: str, *, write: bool) -> ExternalError:
    """No answer: never sent (safe to retry), or sent and unanswered (a write is ambiguous)."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return TransientError(f"{label}: BlueCherry unreachable ({type(exc).__name__})",
                              system=SYSTEM)
    kind = type(exc).__name__
    if write:
        return AmbiguousWrite(f"{label}: no answer ({kind}); it may have been applied",
                              system=SYSTEM)
    return TransientError(f"{label}: no answer ({kind})", system=SYSTEM)


def _error_answer(response: httpx.Response, label: str, *, write: bool) -> ExternalError:
    """A non-2xx answer other than 401/403, read with its coded error body."""
    status = response.status_code
    body = error_body(response)
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
    if status == 404:
        return NotFound(text, system=SYSTEM, status=status, code=code)
    if status == 409:
        existing = next((body[k] for k in _EXISTING_KEYS if isinstance(body.get(k), dict)),
                        None)
        return Conflict(text, system=SYSTEM, status=status, existing=existing, code=code)
    if status in (400, 413, 415, 422):
        codes = details or ([{"field": "", "code": code}] if code else [])
        return Rejected(text, system=SYSTEM, status=status, codes=codes, code=code)
    if status == 429 or status >= 500 or status in (408, 425):
        return _retriable(response, text, write=write)
    return PermanentError(text, system=SYSTEM, status=status, code=code)


def _retriable(response: httpx.Response, text: str, *, write: bool) -> ExternalError:
    """429 (rate limited), 408/425/5xx (transient; a write may have been applied)."""
    status = response.status_code
    retry_after = retry_after_seconds(response)
    if status == 429:
        return RateLimited(text, system=SYSTEM, status=status, retry_after=retry_after)
    if write:
        return AmbiguousWrite(f"{text}; it may have been applied", system=SYSTEM,
                              status=status, retry_after=retry_after)
    return TransientError(text, system=SYSTEM, status=status, retry_after=retry_after)
