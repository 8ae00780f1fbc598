"""Signed webhooks: the documented vector, forged/stale refusals, malformed bodies, fuzzing."""

from __future__ import annotations

import asyncio
import string
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamline.adapters.centra.webhooks import (
    WebhookError,
    parse_webhook_body,
    sign,
    verify_signature,
    webhook_router,
)
from seamline.domain.events import CentraEvent

SECRET = "test123"
VECTOR_BODY = b"payload=%7B%22x%22%3A%22test%22%7D"
VECTOR_SIG = "0b9cd84f5d583e5e1aadfb9f160aa8080b51d5b85ff85808d6b75bdac356c549"
NOW = 1_800_000_000


def test_the_documented_test_vector_reproduces() -> None:
    """secret test123, t=12345678 and the docs' body give the docs' v1."""
    assert sign(SECRET, 12345678, VECTOR_BODY) == VECTOR_SIG
    assert verify_signature(SECRET, f"t=12345678,v1={VECTOR_SIG}", VECTOR_BODY,
                            tolerance_s=300, now=12345678 + 10) == 12345678


class Client:
    """POSTs to an ASGI app in-process (starlette's TestClient warns under httpx 0.28)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def post(self, path: str, *, content: bytes,
             headers: dict[str, str] | None = None) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.post(path, content=content, headers=headers or {})

        return asyncio.run(go())


def app_with(received: list[list[CentraEvent]]) -> Client:
    app = FastAPI()
    app.include_router(webhook_router(SECRET, 300, received.append, clock=lambda: NOW),
                       prefix="/webhooks/centra")
    return Client(app)


def body_for(events: str) -> bytes:
    return b"payload=" + quote(events).encode()


def headers(body: bytes, t: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return {"X-Centra-Signature": f"t={t},v1={sign(secret, t, body)}",
            "Content-Type": "application/x-www-form-urlencoded"}


def test_a_signed_webhook_hands_its_events_over() -> None:
    """A well-signed Integration-API payload yields order events."""
    received: list[list[CentraEvent]] = []
    body = body_for('{"events":[{"type":"order","action":"insert","date":"x","id":2735}]}')
    r = app_with(received).post("/webhooks/centra", content=body, headers=headers(body))
    assert r.status_code == 200
    assert received == [[CentraEvent(id=0, object_type="Order", change_type="CREATED",
                                     object_reference="2735")]]


def test_a_forged_signature_is_refused_and_records_nothing() -> None:
    """A wrong secret gives 401 and on_events is not called."""
    received: list[list[CentraEvent]] = []
    body = body_for('{"type":"order","action":"insert","id":1}')
    r = app_with(received).post("/webhooks/centra", content=body,
                                headers=headers(body, secret="wrong"))
    assert r.status_code == 401
    assert received == []


def test_a_stale_signature_is_refused_and_records_nothing() -> None:
    """A correctly signed but old request is a replay: 401."""
    received: list[list[CentraEvent]] = []
    body = body_for('{"type":"order","action":"insert","id":1}')
    r = app_with(received).post("/webhooks/centra", content=body,
                                headers=headers(body, t=NOW - 301))
    assert r.status_code == 401
    assert received == []


def test_a_missing_signature_is_refused() -> None:
    """No header, no entry."""
    r = app_with([]).post("/webhooks/centra", content=b"payload=%7B%7D")
    assert r.status_code == 401


def test_a_tampered_body_is_refused() -> None:
    """The signature covers the body exactly."""
    received: list[list[CentraEvent]] = []
    body = body_for('{"type":"order","action":"insert","id":1}')
    r = app_with(received).post("/webhooks/centra", content=body + b"0",
                                headers=headers(body))
    assert r.status_code == 401
    assert received == []


def test_a_malformed_but_signed_body_is_a_400_with_a_reason() -> None:
    """Signed garbage is a 400 naming what is wrong."""
    received: list[list[CentraEvent]] = []
    for body, reason in ((b"nothing=1", "missing payload"),
                         (b"payload=not-json", "not JSON"),
                         (body_for('{"events": 3}'), "events must be a list"),
                         (body_for("[1]"), "JSON object")):
        r = app_with(received).post("/webhooks/centra", content=body, headers=headers(body))
        assert r.status_code == 400
        assert reason in r.json()["error"]
    assert received == []


def test_a_failing_recorder_answers_503_so_the_sender_may_retry() -> None:
    """If the events cannot be recorded, the answer is not a success."""

    def broken(events: list[CentraEvent]) -> None:
        raise RuntimeError("db down")

    app = FastAPI()
    app.include_router(webhook_router(SECRET, 300, broken, clock=lambda: NOW),
                       prefix="/webhooks/centra")
    body = body_for('{"type":"order","action":"update","id":1}')
    r = Client(app).post(
        "/webhooks/centra", content=body, headers=headers(body))
    assert r.status_code == 503


def test_parse_rejects_non_utf8() -> None:
    """Bytes that are not UTF-8 are a WebhookError(400)."""
    with pytest.raises(WebhookError) as err:
        parse_webhook_body(b"payload=\xff\xfe")
    assert err.value.status == 400


_client = app_with([])
_header_text = st.text(alphabet=string.printable, max_size=120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=400), sig=st.one_of(st.none(), _header_text),
       sign_it=st.booleans())
def test_the_endpoint_never_answers_500_whatever_arrives(body: bytes, sig: str | None,
                                                         sign_it: bool) -> None:
    """Fuzzed bodies and headers only ever give 200, 400 or 401."""
    hdrs: dict[str, str] = {}
    if sign_it:
        hdrs = headers(body)
    elif sig is not None:
        hdrs = {"X-Centra-Signature": sig.replace("\n", " ").replace("\r", " ")}
    r = _client.post("/webhooks/centra", content=body, headers=hdrs)
    assert r.status_code in (200, 400, 401)
    if not sign_it:
        assert r.status_code == 401
