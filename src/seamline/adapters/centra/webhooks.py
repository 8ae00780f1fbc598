"""Centra's signed webhooks ("Integration API" mode): verification, parsing and a receiver.

Wire format (reference §5): ``POST`` ``application/x-www-form-urlencoded`` with one field,
``payload=<url-encoded JSON>``; header ``X-Centra-Signature: t=<unix>,v1=<hex>`` where ``v1`` is
HMAC-SHA256, keyed with the endpoint secret, over ``f"{t}.{raw body}"`` (the body exactly as
received, ``payload=`` included). A signature older (or newer) than the tolerance is refused so a
captured request cannot be replayed.

The pure functions (``sign``, ``verify_signature``, ``parse_webhook_body``) carry the rules;
``webhook_router`` wraps them in a FastAPI router whose only outcomes are 200, 400 (malformed,
with a reason) and 401 (forged or stale): it never answers 500 for anything a sender can send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from seamline.domain.events import CentraEvent

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookError",
    "parse_signature_header",
    "parse_webhook_body",
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


class WebhookError(ValueError):
    """A webhook request that must be refused; ``status`` is 400 or 401."""

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


def verify_signature(
    secret: SecretStr | str,
    header: str | None,
    body: bytes,
    *,
    tolerance_s: float,
    now: float | None = None,
) -> int:
    """Check the signature and its age; returns the timestamp or raises ``WebhookError(401)``."""
    if not header:
        raise WebhookError(401, f"missing {SIGNATURE_HEADER} header")
    timestamp, signatures = parse_signature_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise WebhookError(401, "signature timestamp outside the tolerance")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected.encode("ascii"), s.encode("utf-8", "replace"))
               for s in signatures):
        raise WebhookError(401, "signature does not match")
    return timestamp


def _event(item: Any) -> CentraEvent:
    if not isinstance(item, dict):
        raise WebhookError(400, "each event must be a JSON object")
    kind = item.get("type")
    action = item.get("action")
    ident = item.get("id")
    if not isinstance(kind, str) or not isinstance(action, str):
        raise WebhookError(400, "event lacks a string type or action")
    if isinstance(ident, bool) or not isinstance(ident, int | str) or str(ident) == "":
        raise WebhookError(400, "event lacks an id")
    return CentraEvent(
        id=0,
        object_type=_OBJECT_TYPES.get(kind.lower(), kind[:1].upper() + kind[1:]),
        change_type=_CHANGE_TYPES.get(action.lower(), action.upper()),
        object_reference=str(ident),
    )


def parse_webhook_body(body: bytes) -> list[CentraEvent]:
    """The events of a form-encoded ``payload=…`` body. Raises ``WebhookError(400)``.

    Accepts ``{"events": [...]}`` and a single bare event object (the ERP guide's form).
    """
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError(400, "body too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookError(400, "body is not UTF-8") from exc
    try:
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False,
                          errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(400, "body is not form-encoded") from exc
    payloads = fields.get("payload")
    if not payloads:
        raise WebhookError(400, "missing payload field")
    if len(payloads) > 1:
        raise WebhookError(400, "more than one payload field")
    try:
        data = json.loads(payloads[0], parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise WebhookError(400, "payload is not JSON") from exc
    if isinstance(data, dict) and "events" in data:
        items = data["events"]
        if not isinstance(items, list):
            raise WebhookError(400, "events must be a list")
        return [_event(item) for item in items]
    if isinstance(data, dict):
        return [_event(data)]
    raise WebhookError(400, "payload must be a JSON object")


def webhook_router(
    secret: SecretStr | str,
    tolerance_s: float,
    on_events: Callable[[list[CentraEvent]], None],
    *,
    path: str = "",
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """A router to mount at ``/webhooks/centra``: ``POST {path}`` verifies, parses and hands
    the events to ``on_events`` (which should record them durably, e.g. enqueue intake jobs).

    401 for a forged or stale signature, 400 for a malformed body; ``on_events`` is only called
    for a verified, well-formed request. If ``on_events`` fails the answer is 503, so Centra
    retries (when its retries are enabled) and the poller catches up regardless.
    """
    if not (secret.get_secret_value() if isinstance(secret, SecretStr) else secret):
        raise ValueError("a webhook secret is required")
    router = APIRouter()

    @router.post(path or "/", include_in_schema=False)
    @router.post(path or "", include_in_schema=False)
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify_signature(secret, request.headers.get(SIGNATURE_HEADER), body,
                             tolerance_s=tolerance_s, now=clock())
            events = parse_webhook_body(body)
        except WebhookError as err:
            return JSONResponse({"error": err.reason}, status_code=err.status)
        try:
            on_events(events)
        except Exception:
            log.exception("centra webhook: recording %d event(s) failed", len(events))
            return JSONResponse({"error": "could not record the events"}, status_code=503)
        return JSONResponse({"received": len(events)})

    return router
