"""Response classification for Centra's Integration API, in one pure function.

``classify`` looks at one exchange (an ``httpx.Response`` or the ``httpx`` exception raised
instead of one) and either returns the parsed JSON body or raises the matching
``seamline.exceptions`` error:

=====================================  ==================================================
what happened                          raised
=====================================  ==================================================
401 / 403                              ``AuthFailed``
429                                    ``RateLimited(retry_after=…)`` (delta, epoch or date)
5xx, timeout, connection error: query  ``TransientError``
5xx, timeout, connection error: write  ``AmbiguousWrite`` (read back before any retry)
GraphQL ``errors``, authorization      ``AuthFailed`` naming the permission
GraphQL ``errors``, unknown field      ``SchemaMismatch`` naming ``Type.field`` and the operation
GraphQL ``errors``, anything else      ``PermanentError`` with the messages
``userErrors`` in a mutation payload   ``Rejected`` with the messages as codes
other 4xx, body not JSON               ``PermanentError``
=====================================  ==================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

import httpx

from seamline.adapters.centra.schema_check import problems_from_messages
from seamline.adapters.http import EPOCH_THRESHOLD, parse_retry_after
from seamline.exceptions import (
    AmbiguousWrite,
    AuthFailed,
    PermanentError,
    RateLimited,
    Rejected,
    SchemaMismatch,
    TransientError,
)

__all__ = ["EPOCH_THRESHOLD", "classify", "classify_transport_error", "parse_retry_after",
           "refused_sizes", "size_indexes"]

SYSTEM = "centra"

_AUTH_CATEGORIES = frozenset({"authorization", "authentication"})


def _loads(content: bytes) -> Any:
    return json.loads(content, parse_float=Decimal)


def _messages(errors: Any) -> list[str]:
    out: list[str] = []
    if isinstance(errors, list):
        for err in errors:
            if isinstance(err, Mapping):
                out.append(str(err.get("message", err)))
            else:
                out.append(str(err))
    return out


def _categories(errors: Any) -> set[str]:
    cats: set[str] = set()
    if isinstance(errors, list):
        for err in errors:
            if isinstance(err, Mapping):
                ext = err.get("extensions")
                if isinstance(ext, Mapping) and "category" in ext:
                    cats.add(str(ext["category"]))
    return cats


def classify_transport_error(exc: httpx.HTTPError, *, mutation: bool, operation: str) -> None:
    """Translate an ``httpx`` exception raised instead of a response. Always raises."""
    what = f"centra {operation}: {type(exc).__name__}"
    if mutation:
        # A request that was sent may have been applied: only a failure to connect is safe.
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            raise TransientError(f"{what} (not sent)", system=SYSTEM) from exc
        raise AmbiguousWrite(f"{what}; the write may have been applied", system=SYSTEM) from exc
    raise TransientError(what, system=SYSTEM) from exc


def _raise_for_status(status: int, where: str, *, mutation: bool, retry_after: str | None,
                      now: float | None) -> None:
    """Raise for the statuses whose body does not matter (auth, 429, 5xx)."""
    if status in (401, 403):
        raise AuthFailed(f"{where}: credentials refused", system=SYSTEM, status=status)
    if status == 429:
        delay = parse_retry_after(retry_after, now=now)
        raise RateLimited(f"{where}: rate limited", system=SYSTEM, status=status,
                          retry_after=delay)
    if status >= 500:
        if mutation:
            raise AmbiguousWrite(f"{where}; the write may have been applied", system=SYSTEM,
                                 status=status)
        raise TransientError(where, system=SYSTEM, status=status)


def _body(response: httpx.Response, where: str, *, mutation: bool) -> Mapping[str, Any]:
    """The JSON object answered, or raise: unreadable after a 2xx may have done the work."""
    status = response.status_code
    try:
        body = _loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        if status >= 400:
            raise PermanentError(f"{where}: not a GraphQL answer", system=SYSTEM,
                                 status=status) from exc
        # 2xx with an unreadable body: the server may have done the work.
        if mutation:
            raise AmbiguousWrite(f"{where}: unreadable answer", system=SYSTEM,
                                 status=status) from exc
        raise TransientError(f"{where}: unreadable answer", system=SYSTEM,
                             status=status) from exc
    if not isinstance(body, Mapping):
        raise PermanentError(f"{where}: answer is not a JSON object", system=SYSTEM,
                             status=status)
    return body


def _raise_graphql_errors(errors: Any, operation: str, status: int) -> NoReturn:
    """GraphQL ``errors``: a refused permission, a field this schema lacks, or anything else."""
    messages = _messages(errors) or ["unknown GraphQL error"]
    text = "; ".join(messages)
    problems = problems_from_messages(operation, messages)
    if _categories(errors) & _AUTH_CATEGORIES or any(p.kind == "permission" for p in problems):
        needed = sorted({p.field for p in problems if p.kind == "permission"})
        hint = (f"; the token lacks {', '.join(needed)}: add it to the integration's API "
                "token" if needed else "")
        raise AuthFailed(f"centra {operation}: {text}{hint}", system=SYSTEM, status=status,
                         permissions=needed, messages=messages)
    missing = [p.field for p in problems if p.kind == "missing"]
    if missing:
        raise SchemaMismatch(
            f"Centra refused operation {operation}: {', '.join(missing)} not in this "
            f"environment's schema (schema mismatch: {text}); run `seamline config check "
            "--online` and see docs/centra-fields.md", system=SYSTEM, status=status,
            operation=operation, fields=missing, messages=messages)
    raise PermanentError(f"centra {operation}: {text}", system=SYSTEM, status=status,
                         messages=messages)


def classify(
    response: httpx.Response | httpx.HTTPError,
    *,
    mutation: bool,
    operation: str = "request",
    now: float | None = None,
) -> dict[str, Any]:
    """Return the whole GraphQL answer (``data`` guaranteed to be an object, ``extensions``
    as sent) when it is good, or raise what the caller should act on.

    ``mutation`` says whether the request was a write (failures after sending are then
    ambiguous). ``userErrors`` of every top-level mutation field are checked here too.
    """
    if isinstance(response, httpx.HTTPError):
        classify_transport_error(response, mutation=mutation, operation=operation)
        raise AssertionError("unreachable")  # pragma: no cover
    status = response.status_code
    where = f"centra {operation}: HTTP {status}"
    _raise_for_status(status, where, mutation=mutation,
                      retry_after=response.headers.get("Retry-After"), now=now)
    body = _body(response, where, mutation=mutation)
    errors = body.get("errors")
    if errors:
        _raise_graphql_errors(errors, operation, status)
    if status >= 400:
        raise PermanentError(where, system=SYSTEM, status=status)
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise PermanentError(f"centra {operation}: answer has no data", system=SYSTEM,
                             status=status)
    if mutation:
        _raise_user_errors(data, operation)
    return dict(body)


def _raise_user_errors(data: Mapping[str, Any], operation: str) -> None:
    codes: list[dict[str, Any]] = []
    for field, payload in data.items():
        if not isinstance(payload, Mapping):
            continue
        for err in payload.get("userErrors") or ():
            if isinstance(err, Mapping):
                message = str(err.get("message", ""))
                path = err.get("path")
                codes.append({"code": message, "field": field,
                              "path": list(path) if isinstance(path, list) else path})
    if codes:
        text = "; ".join(c["code"] for c in codes)
        raise Rejected(f"centra {operation}: {text}", system=SYSTEM, codes=codes)


def _size_index(path: Any, count: int) -> int | None:
    parts = [str(p) for p in path or ()]
    if "productSizes" not in parts:
        return None
    rest = parts[parts.index("productSizes") + 1:]
    if not rest or not rest[0].isdigit() or int(rest[0]) >= count:
        return None
    return int(rest[0])


def refused_sizes(exc: Rejected, count: int) -> set[int]:
    """The indexes of ``productSizes`` entries a ``setStock`` rejection names (empty when an
    error names none: then the whole mutation was refused for another reason)."""
    found: set[int] = set()
    for code in exc.codes:
        index = _size_index(code.get("path"), count)
        if index is None:
            return set()
        found.add(index)
    return found


def size_indexes(warnings: Any, count: int) -> set[int]:
    """The indexes of ``productSizes`` entries that ``setStock``'s ``userWarnings`` name: sizes
    Centra did not take as given (e.g. physical raised to what orders hold allocated)."""
    found: set[int] = set()
    for warning in warnings:
        if isinstance(warning, Mapping):
            index = _size_index(warning.get("path"), count)
            if index is not None:
                found.add(index)
    return found
