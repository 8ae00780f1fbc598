"""The web skeleton: health, Prometheus metrics and the small dashboard, over a fake store."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from fastapi import APIRouter

from seamline.config import Settings
from seamline.entrypoints.web.app import JobCount, create_app
from seamline.exceptions import StoreError
from seamline.services.dashboard import DashboardService
from seamline.services.exceptions import ExceptionService
from seamline.services.shipments.metrics import observe_lag
from seamline.testing.dashboard import InMemoryDashboardReads
from seamline.testing.store import InMemoryStore


class FakeStore:
    """A DashboardSource with fixed figures; ``down`` makes every read fail like the store."""

    def __init__(self) -> None:
        self.down = False
        self.counts = [JobCount("orders", "todo", 3), JobCount("orders", "failed", 1),
                       JobCount("writeback", "succeeded", 7)]
        self.exceptions: list[dict[str, Any]] = [
            {"id": 1, "type": "MAPPING_MISSING", "owner": "ecommerce", "severity": "error",
             "business_key": "market:6", "count": 4, "last_seen": "2026-11-28T10:00:00",
             "message": "no market mapping for '6'"},
            {"id": 2, "type": "MAPPING_MISSING", "owner": "ecommerce", "severity": "error",
             "business_key": "shipping:pickup-point", "count": 1, "last_seen": "x",
             "message": "no shipping_option mapping for 'pickup-point'"},
            {"id": 3, "type": "TOTAL_MISMATCH", "owner": "finance", "severity": "error",
             "business_key": "centra:1:1001", "count": 1, "last_seen": "x",
             "message": "grand_total: expected 100.00, computed 99.99"},
        ]

    def _guard(self) -> None:
        if self.down:
            raise StoreError("cannot connect to postgresql+psycopg://u:***@h/db: refused")

    def check(self) -> None:
        self._guard()

    def job_counts(self) -> Sequence[JobCount]:
        self._guard()
        return self.counts

    def open_exceptions(self, limit: int = 200) -> Sequence[Mapping[str, Any]]:
        self._guard()
        return self.exceptions[:limit]


class _Client:
    """A synchronous face over httpx's ASGI transport (no server, no port)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def _call(self, method: str, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.request(method, path)

        return asyncio.run(go())

    def get(self, path: str) -> httpx.Response:
        return self._call("GET", path)

    def post(self, path: str) -> httpx.Response:
        return self._call("POST", path)


class DownReads(InMemoryDashboardReads):
    """Reads that fail like an unreachable store."""

    def queue_figures(self, *, since: Any, now: Any, queues: Any = ()) -> Any:
        raise StoreError("cannot connect to postgresql+psycopg://u:***@h/db: refused")


def _dashboard(store: FakeStore, *, down: bool = False) -> DashboardService:
    """The dashboard's service on an in-memory store holding the fake's open exceptions."""
    memory = InMemoryStore()
    with memory.begin() as uow:
        for e in store.exceptions:
            uow.exceptions.raise_(type=e["type"], owner=e["owner"],
                                  business_key=e["business_key"], message=e["message"])
        uow.outbox.enqueue("orders.post", {"number": 1}, queue="orders")
        uow.outbox.enqueue("centra.writeback", {"number": 1}, queue="writeback")
    reads = DownReads(memory) if down else InMemoryDashboardReads(memory)
    return DashboardService(reads, memory, ExceptionService(memory), Settings())


def _client(store: FakeStore, **kw: Any) -> _Client:
    service = _dashboard(store, down=store.down)
    return _Client(create_app(Settings(), source=store, dashboard=lambda: service, **kw))


def test_healthz_is_ok_while_the_store_answers_and_503_when_it_does_not() -> None:
    """Load balancers and systemd can tell a live process from one with no database."""
    store = FakeStore()
    client = _client(store)
    assert client.get("/healthz").json()["status"] == "ok"
    store.down = True
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["status"] == "unavailable"
    assert "refused" in resp.json()["error"]


def test_metrics_expose_job_counts_and_open_exceptions_by_type_and_owner() -> None:
    """Prometheus text with one sample per queue/status and per exception type/owner."""
    text = _client(FakeStore()).get("/metrics").text
    assert 'seamline_jobs{queue="orders",status="todo"} 3.0' in text
    assert 'seamline_jobs{queue="writeback",status="succeeded"} 7.0' in text
    assert 'seamline_exceptions_open{owner="ecommerce",type="MAPPING_MISSING"} 2.0' in text
    assert 'seamline_exceptions_open{owner="finance",type="TOTAL_MISMATCH"} 1.0' in text
    assert "seamline_store_up 1.0" in text


def test_metrics_expose_the_shipment_lag_histogram() -> None:
    """A completed shipment's lag (BlueCherry confirmed → Centra shipped) is a histogram."""
    observe_lag(120)
    text = _client(FakeStore()).get("/metrics").text
    assert 'seamline_shipment_lag_seconds_bucket{le="300.0"}' in text
    assert "seamline_shipment_lag_seconds_count" in text


def test_metrics_still_answer_when_the_store_is_down() -> None:
    """A scrape during an outage says store_up 0 instead of failing."""
    store = FakeStore()
    store.down = True
    resp = _client(store).get("/metrics")
    assert resp.status_code == 200
    assert "seamline_store_up 0.0" in resp.text


def test_the_dashboard_shows_each_flows_backlog_and_open_exceptions_by_owner() -> None:
    """The overview: the order flow's backlog (its two queues) and the open exceptions."""
    html = _client(FakeStore()).get("/").text
    assert "Open exceptions by owner and age (3;" in html
    flow = html.split('id="flow-orders"')[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in flow
    listing = _client(FakeStore()).get("/exceptions").text
    assert "pickup-point" in listing
    assert "TOTAL_MISMATCH" in listing


def test_the_dashboard_says_so_when_the_store_is_unreachable() -> None:
    """An outage is a visible message and a 503, not a stack trace."""
    store = FakeStore()
    store.down = True
    resp = _client(store).get("/")
    assert resp.status_code == 503
    assert "The store is not reachable" in resp.text


def test_other_parts_plug_in_their_own_routers() -> None:
    """The webhook and later pages arrive as routers passed to create_app."""
    router = APIRouter()

    @router.post("/webhooks/centra")
    def hook() -> dict[str, str]:
        return {"ok": "yes"}

    assert _client(FakeStore(), routers=[router]).post("/webhooks/centra").json() == {"ok": "yes"}
