"""``/healthz`` and ``/readyz`` over real HTTP, on a real store, with the health ping run by a
real worker: ready only when the database is migrated, both systems answered lately and no flow
is parked; otherwise 503 naming what is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from seamline.adapters.store.repos import set_cursor
from seamline.bootstrap import Container, build
from seamline.config import load_settings
from seamline.entrypoints.web.app import create_app
from seamline.exceptions import ExternalError
from seamline.services.centra_guard import PARKED_CURSOR
from seamline.testing.bluecherry import FakeBlueCherry
from seamline.testing.centra import FakeCentra
from seamline_sandbox.serve import ServerThread


class FlakyCentra(FakeCentra):
    """The in-memory Centra, made to refuse every call while ``down``."""

    down = False

    def rate_limits(self) -> Any:
        if self.down:
            raise ExternalError("centra rate_limits: HTTP 503 Service Unavailable",
                                system="centra", status=503)
        return super().rate_limits()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[str, Container, FlakyCentra, Clock]]:
    settings = load_settings(env={"SEAMLINE_DATABASE_URL": sqlite_url})
    clock = Clock()
    centra = FlakyCentra()
    rt = build(settings, centra=centra, erp=FakeBlueCherry(), clock=clock)
    app = create_app(settings, rt.db, queue=rt.queue, readiness=rt.readiness)
    with ServerThread(app) as server:
        yield server.url, rt, centra, clock
    rt.close()


def _ping(rt: Container) -> None:
    with rt.db.begin() as conn:
        rt.queue.enqueue(conn, "health.ping", {})
    assert rt.worker(queues=["intake"]).drain() == 1


def test_not_migrated_the_process_lives_but_is_not_ready(served: tuple[Any, ...]) -> None:
    url, _rt, _centra, _clock = served
    assert httpx.get(f"{url}/healthz").status_code == 200
    r = httpx.get(f"{url}/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready"
    assert body["failing"] == ["database", "centra", "bluecherry", "flows"]
    assert "seamline db upgrade" in body["checks"]["database"]["detail"]


def test_ready_once_both_systems_answered_and_not_before(served: tuple[Any, ...]) -> None:
    url, rt, _centra, _clock = served
    rt.db.upgrade()
    r = httpx.get(f"{url}/readyz")
    assert r.status_code == 503
    assert r.json()["failing"] == ["centra", "bluecherry"]
    assert "no answer from centra recorded yet" in r.json()["checks"]["centra"]["detail"]

    _ping(rt)
    r = httpx.get(f"{url}/readyz")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "centra", "bluecherry", "flows"}
    assert all(c["ok"] for c in body["checks"].values())


def test_a_system_silent_past_the_limit_makes_it_not_ready(served: tuple[Any, ...]) -> None:
    """Centra refuses every call: the ping records the error; once the last answer is older
    than ``[web].ready_max_age_min`` (5 min), /readyz says 503 and names Centra and why."""
    url, rt, centra, clock = served
    rt.db.upgrade()
    _ping(rt)
    centra.down = True
    clock.now += timedelta(minutes=2)
    _ping(rt)
    assert httpx.get(f"{url}/readyz").status_code == 200  # answered 2 min ago: within 5
    clock.now += timedelta(minutes=4)
    _ping(rt)
    r = httpx.get(f"{url}/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["failing"] == ["centra"]
    detail = body["checks"]["centra"]["detail"]
    assert "no answer for 6 min (limit 5" in detail
    assert "HTTP 503" in detail
    assert body["checks"]["bluecherry"]["ok"] is True
    assert httpx.get(f"{url}/healthz").status_code == 200  # alive all along

    centra.down = False
    _ping(rt)
    assert httpx.get(f"{url}/readyz").status_code == 200
    assert not rt.exceptions.list(state="open")  # an outage is recorded, not an exception


def test_a_parked_flow_makes_it_not_ready(served: tuple[Any, ...]) -> None:
    url, rt, _centra, _clock = served
    rt.db.upgrade()
    _ping(rt)
    with rt.db.begin() as conn:
        set_cursor(conn, PARKED_CURSOR, "orders")
    r = httpx.get(f"{url}/readyz")
    assert r.status_code == 503
    assert r.json()["failing"] == ["flows"]
    assert r.json()["checks"]["flows"]["parked"] == ["orders"]
    assert "orders" in r.json()["checks"]["flows"]["detail"]
