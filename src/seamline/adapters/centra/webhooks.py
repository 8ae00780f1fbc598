"""Centra's signed webhooks ("Integration API" mode): verification, parsing and a receiver.

Wire format (reference §5): ``POST`` ``application/x-www-form-urlencoded`` with one field,
``payload=<url-encoded JSON>``; header ``X-Centra-Signature: t=<unix>,v1=<hex>`` where ``v1`` is
HMAC-SHA256, keyed with the endpoint secret, over ``f"{t}.{raw body}"`` (the body exactly as
received, ``payload=`` included). A signature older (or newer) than the tolerance is refused so a
captured request cannot be replayed.

The pure functions (``sign``, ``verify_signature``, ``parse_webhook_body``) carry the rules;
``webhook_router`` wraps them in a FastAPI router whose only outcomes are 200, 400 (malformed,
with a reason), 401 (forged or stale), 409 (a replay of a request already received) and 413
(too large): it never answers 500 for anything a sender can send.

Work before authentication is bounded: the signature header is checked (present, well-formed,
fresh) before a byte of the body is read; the body is read in chunks and refused at the limit
(and at once when its ``Content-Length`` says it is over); only a verified body is parsed. Each
event is checked on its own (type, action, an id in 1..2^53), so one bad event is reported and
skipped while the rest are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from seamline.domain.events import CentraEvent

__all__ = [
    "MAX_EVENT_ID",
    "SIGNATURE_HEADER",
    "MemoryReplayGuard",
    "ParsedWebhook",
    "RejectedEvent",
    "ReplayGuard",
    "WebhookError",
    "check_signature_header",
    "parse_signature_header",
    "parse_webhook",
    "parse_webhook_body",
    "read_bounded",
    "replay_key",
    "sign",
    "verify_signature",
    "webhook_router",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Centra-Signature"
#: Centra's webhook ``type`` → the events queue's ``objectType``.
_OBJECT_TYPES = {"order": "Order", "shipment": "Shipment", "customer": "Customer",
                 "account": "Account", "return": "Return"}
#: Webhook ``action`` → events-queue ``changeType`` (unknown actions pass through upper-cased).
_CHANGE_TYPES = {"insert": "CREATED", "create": "CREATED", "update": "UPDATED",
                 "delete": "DELETED", "good_to_go": "UPDATED", "shipped": "COMPLETED",
                 "completed": "COMPLETED"}
#: Bodies larger than this are refused before parsing (Centra sends ≤ 100 events per call).
MAX_BODY_BYTES = 1_000_000
#: The largest object id accepted: ids must survive a JSON number in any client (2^53).
MAX_EVENT_ID = 2**53
#: JSON integers longer than this are not parsed at all (an id needs at most 16 digits).
_MAX_INT_DIGITS = 20


class WebhookError(ValueError):
    """A webhook request that must be refused; ``status`` is 400, 401, 409 or 413."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _secret(secret: SecretStr | str) -> bytes:
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return raw.encode("utf-8")


def sign(secret: SecretStr | str, timestamp: int | str, body: bytes) -> str:
    """The ``v1`` hex digest Centra sends for ``body`` at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(_secret(secret), message, hashlib.sha256).hexdigest()


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """``t=…,v1=…`` → (timestamp, every v1 signature). Raises ``WebhookError(401)``."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise WebhookError(401, "signature timestamp is not a Unix time")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.strip())
    if timestamp is None or not signatures:
        raise WebhookError(401, "signature header lacks t= or v1=")
    return timestamp, signatures


def check_signature_header(
    header: str | None, *, tolerance_s: float, now: float | None = None,
) -> tuple[int, list[str]]:
    """The header's (timestamp, signatures) if present, well-formed and fresh; needs no body.

    Raises ``WebhookError(401)``, so an unsigned or stale request is refused unread.
    """
    if not header:
        raise WebhookError(401, f"missing {SIGNATURE_HEADER} header")
    if len(header) > 1024:
        raise WebhookError(401, "signature header too long")
    timestamp, signatures = parse_signature_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookError(401, "signature timestamp outside the tolerance")
    return timestamp, signatures


def _check_mac(secret: SecretStr | str, timestamp: int, signatures: list[str],
               body: bytes) -> None:
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected.encode("ascii"), s.encode("utf-8", "replace"))
               for s in signatures):
        raise WebhookError(401, "signature does not match")


def verify_signature(
    secret: SecretStr | str,
    header: str | None,
    body: bytes,
    *,
    tolerance_s: float,
    now: float | None = None,
) -> int:
    """Check the signature and its age; returns the timestamp or raises ``WebhookError(401)``."""
    timestamp, signatures = check_signature_header(header, tolerance_s=tolerance_s, now=now)
    _check_mac(secret, timestamp, signatures, body)
    return timestamp


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """One event of a batch that was refused (the others were accepted)."""

    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedWebhook:
    """The events of a webhook body that passed, and those that did not (with a reason)."""

    events: list[CentraEvent]
    rejected: list[RejectedEvent]


class _LongInt(str):
    """A JSON integer too long to be any id: kept as text, never converted to ``int``."""

    __slots__ = ()


def _bounded_int(text: str) -> int | _LongInt:
    # ``json.loads`` would otherwise build (or, past 4,300 digits, refuse) a huge int and fail
    # the whole batch; an over-long number is one bad event, not a bad request.
    return int(text) if len(text) <= _MAX_INT_DIGITS else _LongInt(text)


def _event_id(ident: Any) -> int:
    if isinstance(ident, bool | _LongInt):
        raise WebhookError(400, "event id is not an integer in 1..2^53")
    if isinstance(ident, str):
        text = ident.strip()
        if not text.isascii() or not text.isdigit() or len(text) > _MAX_INT_DIGITS:
            raise WebhookError(400, "event id is not an integer in 1..2^53")
        ident = int(text)
    if not isinstance(ident, int) or not 1 <= ident <= MAX_EVENT_ID:
        raise WebhookError(400, "event id is not an integer in 1..2^53")
    return ident


def _event(item: Any) -> CentraEvent:
    if not isinstance(item, dict):
        raise WebhookError(400, "each event must be a JSON object")
    kind = item.get("type")
    action = item.get("action")
    if not isinstance(kind, str) or not isinstance(action, str):
        raise WebhookError(400, "event lacks a string type or action")
    if not (0 < len(kind) <= 64 and 0 < len(action) <= 64):
        raise WebhookError(400, "event type or action is empty or longer than 64 characters")
    if "id" not in item:
        raise WebhookError(400, "event lacks an id")
    ident = _event_id(item["id"])
    return CentraEvent(
        id=0,
        object_type=_OBJECT_TYPES.get(kind.lower(), kind[:1].upper() + kind[1:]),
        change_type=_CHANGE_TYPES.get(action.lower(), action.upper()),
        object_reference=str(ident),
    )


def parse_webhook(body: bytes) -> ParsedWebhook:
    """The events of a form-encoded ``payload=…`` body, each checked on its own.

    Accepts ``{"events": [...]}`` and a single bare event object (the ERP guide's form).
    A malformed envelope raises ``WebhookError(400)``; a bad event inside a good envelope is
    listed in ``rejected`` and the others are returned.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError(413, "body too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookError(400, "body is not UTF-8") from exc
    try:
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False,
                          errors="strict", max_num_fields=16)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(400, "body is not form-encoded") from exc
    payloads = fields.get("payload")
    if not payloads:
        raise WebhookError(400, "missing payload field")
    if len(payloads) > 1:
        raise WebhookError(400, "more than one payload field")
    try:
        data = json.loads(payloads[0], parse_float=Decimal, parse_int=_bounded_int)
    except (ValueError, RecursionError) as exc:
        raise WebhookError(400, "payload is not JSON") from exc
    if isinstance(data, dict) and "events" in data:
        items = data["events"]
        if not isinstance(items, list):
            raise WebhookError(400, "events must be a list")
    elif isinstance(data, dict):
        items = [data]
    else:
        raise WebhookError(400, "payload must be a JSON object")
    events: list[CentraEvent] = []
    rejected: list[RejectedEvent] = []
    for index, item in enumerate(items):
        try:
            events.append(_event(item))
        except WebhookError as err:
            rejected.append(RejectedEvent(index, err.reason))
    return ParsedWebhook(events, rejected)


def parse_webhook_body(body: bytes) -> list[CentraEvent]:
    """Like :func:`parse_webhook`, but any bad event refuses the body (``WebhookError(400)``)."""
    parsed = parse_webhook(body)
    if parsed.rejected:
        first = parsed.rejected[0]
        raise WebhookError(400, f"event {first.index}: {first.reason}")
    return parsed.events


class ReplayGuard(Protocol):
    """Remembers verified signatures for the tolerance window, so each is accepted once."""

    def claim(self, key: str, *, now: float, expires_at: float) -> bool:
        """Remember ``key`` until ``expires_at``; False if it is already remembered."""

    def release(self, key: str) -> None:
        """Forget ``key`` (the request it came with could not be recorded)."""


class MemoryReplayGuard:
    """A :class:`ReplayGuard` in this process's memory.

    Enough for one web process; with several processes behind one address a replay sent to
    another process is not seen, so use the store's guard there.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def claim(self, key: str, *, now: float, expires_at: float) -> bool:
        with self._lock:
            if len(self._seen) >= self.max_entries or key in self._seen:
                self._seen = {k: t for k, t in self._seen.items() if t >= now}
            if key in self._seen:
                return False
            if len(self._seen) >= self.max_entries:
                # Full of live signatures: refuse rather than forget one (a flood of valid
                # signatures means the secret leaked; Centra itself sends far fewer).
                return False
            self._seen[key] = expires_at
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)


def replay_key(timestamp: int, body: bytes, secret: SecretStr | str) -> str:
    """What a replay guard remembers: the verified signature (it covers timestamp and body)."""
    return sign(secret, timestamp, body)


async def read_bounded(request: Request, limit: int) -> bytes:
    """The request body, read in chunks; ``WebhookError(413)`` as soon as it passes ``limit``
    (at once when ``Content-Length`` says so), without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise WebhookError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise WebhookError(413, f"body over {limit} bytes")
    buf = bytearray()
    async for chunk in request.stream():
        if len(buf) + len(chunk) > limit:
            raise WebhookError(413, f"body over {limit} bytes")
        buf += chunk
    return bytes(buf)


async def _verified(request: Request, secret: SecretStr | str, *, tolerance_s: float,
                    now: float, max_body_bytes: int, guard: ReplayGuard) -> tuple[str, Any]:
    """The checks in the order ``webhook_router`` documents; raises ``WebhookError``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_body_bytes:
        raise WebhookError(413, f"body over {max_body_bytes} bytes")
    timestamp, signatures = check_signature_header(
        request.headers.get(SIGNATURE_HEADER), tolerance_s=tolerance_s, now=now)
    body = await read_bounded(request, max_body_bytes)
    _check_mac(secret, timestamp, signatures, body)
    key = replay_key(timestamp, body, secret)
    if not await run_in_threadpool(guard.claim, key, now=now,
                                   expires_at=timestamp + tolerance_s + 1):
        raise WebhookError(409, "this signed request was already received")
    try:
        return key, parse_webhook(body)
    except WebhookError:
        await run_in_threadpool(guard.release, key)
        raise


def webhook_router(
    secret: SecretStr | str,
    tolerance_s: float,
    on_events: Callable[[list[CentraEvent]], None],
    *,
    path: str = "",
    clock: Callable[[], float] = time.time,
    max_body_bytes: int = MAX_BODY_BYTES,
    replay_guard: ReplayGuard | None = None,
) -> APIRouter:
    """A router to mount at ``/webhooks/centra``: ``POST {path}`` verifies, parses and hands
    the events to ``on_events`` (which should record them durably, e.g. enqueue intake jobs).

    In order: 413 when ``Content-Length`` is over ``max_body_bytes``; 401 for a missing,
    malformed or stale signature header (the body is not read); 413 when the body read so far
    passes the limit; 401 when the signature does not match; 409 when the same signature was
    already received within the tolerance window (``replay_guard``, in this process's memory
    unless one is given); 400 for a malformed envelope. Events that fail their own checks are
    answered in ``rejected`` (index and reason) and the others are recorded. If ``on_events``
    fails the answer is 503 and the signature is forgotten, so a retry is accepted.
    """
    if not (secret.get_secret_value() if isinstance(secret, SecretStr) else secret):
        raise ValueError("a webhook secret is required")
    guard: ReplayGuard = replay_guard if replay_guard is not None else MemoryReplayGuard()
    router = APIRouter()

    @router.post(path or "/", include_in_schema=False)
    @router.post(path or "", include_in_schema=False)
    async def receive(request: Request) -> JSONResponse:
        try:
            key, parsed = await _verified(request, secret, tolerance_s=tolerance_s,
                                          now=clock(), max_body_bytes=max_body_bytes,
                                          guard=guard)
        except WebhookError as err:
            return JSONResponse({"error": err.reason}, status_code=err.status)
        for bad in parsed.rejected:
            log.warning("centra webhook: event %d rejected: %s", bad.index, bad.reason)
        try:
            if parsed.events:
                await run_in_threadpool(on_events, parsed.events)
        except Exception:
            log.exception("centra webhook: recording %d event(s) failed", len(parsed.events))
            await run_in_threadpool(guard.release, key)
            return JSONResponse({"error": "could not record the events"}, status_code=503)
        answer: dict[str, Any] = {"received": len(parsed.events)}
        if parsed.rejected:
            answer["rejected"] = [{"index": r.index, "reason": r.reason} for r in parsed.rejected]
        return JSONResponse(answer)

    return router
