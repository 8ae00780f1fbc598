"""The sandbox's signed webhooks reach Seamline's receiver over real HTTP; a wrong secret
is refused and records nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from seamline.adapters.centra.webhooks import webhook_router
from seamline.domain.events import CentraEvent
from seamline_sandbox.centra.app import create_app
from seamline_sandbox.serve import ServerThread


@pytest.fixture
def sandbox() -> Iterator[ServerThread]:
    with ServerThread(create_app(seed=3, orders=0)) as server:
        yield server


def receiver(secret: str, got: list[CentraEvent]) -> ServerThread:
    app = FastAPI()
    app.include_router(webhook_router(secret, 300, got.extend), prefix="/webhooks/centra")
    return ServerThread(app).start()


def _place(sandbox: ServerThread) -> int:
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=10) as c:
        out = c.post("/orders/generate", json={"count": 1, "unknown_sku_rate": 0,
                                                "pickup_point_rate": 0}).json()
    return int(out[0]["number"])


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(("ours", "theirs", "accepted"),
                         [("s3cret", "s3cret", True), ("s3cret", "forged", False)])
def test_sandbox_webhooks_are_accepted_only_with_the_right_secret(
        sandbox: ServerThread, ours: str, theirs: str, accepted: bool) -> None:
    """A new order's webhook arrives as an Order event when the secrets match, else 401."""
    got: list[CentraEvent] = []
    server = receiver(ours, got)
    try:
        with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=10) as c:
            c.post("/webhooks", json={"url": f"{server.url}/webhooks/centra", "secret": theirs,
                                      "retries": 0}).raise_for_status()
            number = _place(sandbox)
            assert _wait_for(lambda: bool(c.get("/webhooks").json().get("delivered"))
                             or bool(got) or _attempted(c))
        if accepted:
            assert _wait_for(lambda: any(e.object_reference == str(number) for e in got))
            assert all(e.object_type in {"Order", "Shipment"} for e in got)
        else:
            time.sleep(0.3)
            assert got == []
    finally:
        server.stop()


def _attempted(c: httpx.Client) -> bool:
    log = c.get("/webhooks").json()
    return any(bool(v) for k, v in log.items() if k not in ("url",))
