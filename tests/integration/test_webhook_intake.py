"""`seamline run`'s Centra webhook route: a signed notice enqueues a fetch; a forged one nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import quote

import httpx
import pytest

from seamline.bootstrap import build
from seamline.config import load_settings
from seamline.entrypoints.cli.process_cmd import web_routers
from seamline.entrypoints.web.app import create_app
from seamline.testing.bluecherry import FakeBlueCherry
from seamline.testing.centra import FakeCentra
from seamline_sandbox.serve import ServerThread

SECRET = "whsec-test"


def _signed(body: str, secret: str = SECRET, t: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Centra-Signature": f"t={ts},v1={mac}",
            "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def served(sqlite_url: str, tmp_path: object) -> object:
    settings = load_settings(env={"SEAMLINE_DATABASE_URL": sqlite_url,
                                  "SEAMLINE_CENTRA_WEBHOOK_SECRET": SECRET})
    rt = build(settings, centra=FakeCentra(), erp=FakeBlueCherry())
    rt.db.upgrade()
    app = create_app(settings, rt.db, queue=rt.queue, routers=web_routers(settings, rt))
    with ServerThread(app) as server:
        yield server, rt
    rt.close()


def _fetch_jobs(rt: object) -> list[object]:
    return list(rt.queue.list(task="orders.fetch"))  # type: ignore[attr-defined]


def test_a_signed_order_notice_enqueues_one_fetch_per_order(served: tuple) -> None:  # type: ignore[type-arg]
    """A verified webhook naming two orders enqueues a fetch of each; a repeat adds nothing."""
    server, rt = served
    payload = json.dumps({"events": [
        {"type": "order", "action": "insert", "id": 1201},
        {"type": "order", "action": "update", "id": 1202},
        {"type": "shipment", "action": "create", "id": 9},
    ]})
    body = "payload=" + quote(payload)
    url = f"{server.url}/webhooks/centra"
    now = int(time.time())
    assert httpx.post(url, content=body, headers=_signed(body, t=now)).status_code == 200
    assert httpx.post(url, content=body, headers=_signed(body, t=now - 1)).status_code == 200
    jobs = _fetch_jobs(rt)
    assert sorted(j.args["numbers"][0] for j in jobs) == [1201, 1202]


def test_a_forged_or_stale_notice_is_refused_and_enqueues_nothing(served: tuple) -> None:  # type: ignore[type-arg]
    """Wrong secret or an old timestamp: 401, and the queue stays empty."""
    server, rt = served
    body = "payload=" + quote(json.dumps({"events": [{"type": "order", "id": 7}]}))
    url = f"{server.url}/webhooks/centra"
    forged = httpx.post(url, content=body, headers=_signed(body, secret="not-it"))
    stale = httpx.post(url, content=body, headers=_signed(body, t=int(time.time()) - 3600))
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert _fetch_jobs(rt) == []


def test_a_replay_is_refused_even_by_another_web_process_on_the_same_store(
    served: tuple, sqlite_url: str,  # type: ignore[type-arg]
) -> None:
    """The store remembers each verified signature: a second app on the same database (another
    process, or this one restarted) answers the replay 409 and enqueues nothing more."""
    server, rt = served
    body = "payload=" + quote(json.dumps({"type": "order", "action": "insert", "id": 3301}))
    hdrs = _signed(body)
    assert httpx.post(f"{server.url}/webhooks/centra", content=body,
                      headers=hdrs).status_code == 200
    settings = load_settings(env={"SEAMLINE_DATABASE_URL": sqlite_url,
                                  "SEAMLINE_CENTRA_WEBHOOK_SECRET": SECRET})
    other = build(settings, centra=FakeCentra(), erp=FakeBlueCherry())
    app = create_app(settings, other.db, queue=other.queue, routers=web_routers(settings, other))
    with ServerThread(app) as second:
        again = httpx.post(f"{second.url}/webhooks/centra", content=body, headers=hdrs)
    other.close()
    assert again.status_code == 409
    assert [j.args["numbers"][0] for j in _fetch_jobs(rt)] == [3301]


def test_every_route_refuses_a_body_over_the_web_limit(served: tuple) -> None:  # type: ignore[type-arg]
    """A body over [web].max_body_bytes is a 413 on any route, declared or streamed."""
    server, _rt = served

    def chunks() -> object:
        for _ in range(2000):
            yield b"{" * 1024

    for path in ("/", "/healthz", "/metrics", "/no-such-route"):
        declared = httpx.post(f"{server.url}{path}", content=b"{" * 1_000_001)
        assert declared.status_code == 413, path
    streamed = httpx.post(f"{server.url}/webhooks/centra", content=chunks(),  # type: ignore[arg-type]
                          headers=_signed("x"))
    assert streamed.status_code == 413
