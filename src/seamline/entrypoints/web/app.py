"""``create_app(settings, db, ...)``: the FastAPI app behind ``seamline run`` and ``seamline web``.

- ``GET /healthz``  200 ``{"status": "ok"}`` when the database answers, else 503 with the reason.
- ``GET /readyz``   200 when ready to work, else 503; the JSON body names every check
  (database migrated, Centra and BlueCherry answered lately, no flow parked) and what fails.
- ``GET /metrics``  Prometheus text: ``seamline_jobs{queue,status}`` and
  ``seamline_exceptions_open{type,owner}``, read from the store at scrape time, and the
  shipment lag histogram ``seamline_shipment_lag_seconds`` (this process's completions) and
  the shipments Centra has not shipped yet (``seamline_shipments_not_in_centra{state}``, the
  oldest one's age) and the stock gauges (``seamline_stock_*``: sync lag, sizes pending and
  unknown, the cycle read per warehouse), read from the store.
- ``GET /``         a small server-rendered page: queue counts and open exceptions.

Every request body, on every route, is limited to ``[web].max_body_bytes`` (413 beyond it).

Other parts of Seamline add their own routes by passing routers (``routers=[...]``) or by
``app.include_router(...)`` on the returned app (the Centra webhook lives in its own router).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from seamline import __version__
from seamline.config import Settings
from seamline.exceptions import SeamlineError
from seamline.logging import get_logger, redact_text
from seamline.ports import BudgetView
from seamline.services.budget.metrics import BudgetGauges
from seamline.services.shipments.metrics import SHIPMENT_LAG, PendingShipments
from seamline.services.stock.metrics import StockGauges

from .limits import BodyLimitMiddleware

__all__ = ["DashboardSource", "JobCount", "StoreDashboardSource", "create_app"]

log = get_logger("seamline.web")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


@dataclass(frozen=True, slots=True)
class JobCount:
    queue: str
    status: str
    count: int


class DashboardSource(Protocol):
    """What the dashboard and the metrics read (the store, or a fake in tests)."""

    def check(self) -> None:
        """Raise ``SeamlineError`` (``StoreError``) when the store cannot be reached."""

    def job_counts(self) -> Sequence[JobCount]:
        """Jobs per (queue, status)."""

    def open_exceptions(self, limit: int = 200) -> Sequence[Mapping[str, Any]]:
        """Open exceptions, oldest first: id, type, owner, severity, business_key, count, ..."""


class ReadinessReport(Protocol):
    """What ``/readyz`` serves (``seamline.services.health.Readiness`` fits)."""

    @property
    def ready(self) -> bool: ...

    def body(self) -> dict[str, Any]: ...


class _Database(Protocol):
    def check(self) -> None: ...


def _as_mapping(row: Any) -> Mapping[str, Any]:
    if isinstance(row, Mapping):
        return row
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    mapping = getattr(row, "_mapping", None)
    if mapping is not None:
        return dict(mapping)
    dump = getattr(row, "model_dump", None)
    if callable(dump):
        return dict(dump())
    return dict(vars(row))


class StoreDashboardSource:
    """Reads the live store through the job queue and the exceptions service."""

    def __init__(self, db: Any, queue: Any | None = None, exceptions: Any | None = None) -> None:
        self.db = db
        self.queue = queue
        self.exceptions = exceptions

    def check(self) -> None:
        self.db.check()

    def job_counts(self) -> Sequence[JobCount]:
        if self.queue is None:
            from seamline.queue import JobQueue  # noqa: PLC0415 - only when no queue was given

            self.queue = JobQueue(self.db)
        raw = self.queue.counts(by_queue=True)
        return list(_normalise_counts(raw))

    def open_exceptions(self, limit: int = 200) -> Sequence[Mapping[str, Any]]:
        if self.exceptions is None:
            from seamline.bootstrap import store_for  # noqa: PLC0415 - keeps the import light
            from seamline.services.exceptions import ExceptionService  # noqa: PLC0415

            self.exceptions = ExceptionService(store_for(self.db, self.queue))
        rows = self.exceptions.list(state="open", limit=limit)
        return [_as_mapping(r) for r in rows]


def _store_on(db: Any, queue: Any | None) -> Callable[[], Any]:
    """Units of work on ``db``, built on the first scrape (keeps the import light)."""
    built: list[Any] = []

    def store() -> Any:
        if not built:
            from seamline.bootstrap import store_for  # noqa: PLC0415

            built.append(store_for(db, queue))
        return built[0]

    return store


def _normalise_counts(raw: Any) -> Iterator[JobCount]:
    """Accept ``{(queue, status): n}``, ``{queue: {status: n}}`` or rows with those fields."""
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if isinstance(key, tuple):
                yield JobCount(str(key[0]), str(key[1]), int(value))
            elif isinstance(value, Mapping):
                for status, n in value.items():
                    yield JobCount(str(key), str(status), int(n))
        return
    for row in raw:
        m = _as_mapping(row)
        yield JobCount(str(m["queue"]), str(m["status"]), int(m["count"]))


class _StoreCollector(Collector):
    """Prometheus collector that reads the store on every scrape."""

    def __init__(self, source: DashboardSource) -> None:
        self.source = source

    def collect(self) -> Iterable[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("seamline_jobs", "Jobs by queue and status.",
                                 labels=["queue", "status"])
        excs = GaugeMetricFamily("seamline_exceptions_open", "Open exceptions by type and owner.",
                                 labels=["type", "owner"])
        up = GaugeMetricFamily("seamline_store_up", "1 when the store answered this scrape.")
        try:
            for c in self.source.job_counts():
                jobs.add_metric([c.queue, c.status], c.count)
            grouped: dict[tuple[str, str], int] = {}
            for e in self.source.open_exceptions(limit=100_000):
                key = (str(e.get("type")), str(e.get("owner")))
                grouped[key] = grouped.get(key, 0) + 1
            for (kind, owner), n in sorted(grouped.items()):
                excs.add_metric([kind, owner], n)
            up.add_metric([], 1)
        except SeamlineError as exc:
            log.warning("metrics: store unavailable", error=exc.message)
            up.add_metric([], 0)
        yield jobs
        yield excs
        yield up


def _not_ready(exc: SeamlineError) -> JSONResponse:
    return JSONResponse({"status": "not ready", "failing": ["database"], "checks": {
        "database": {"ok": False, "detail": redact_text(exc.message)}}}, status_code=503)


def _readyz(data: DashboardSource,
            readiness: Callable[[], ReadinessReport] | None) -> JSONResponse:
    """``/readyz``: the composition root's readiness, else the database check alone."""
    if readiness is None:
        try:
            data.check()
        except SeamlineError as exc:
            return _not_ready(exc)
        return JSONResponse({"status": "ready", "failing": [], "checks": {
            "database": {"ok": True, "detail": "reachable"}}})
    try:
        report = readiness()
    except SeamlineError as exc:
        return _not_ready(exc)
    answer = report.body()
    checks: Mapping[str, dict[str, Any]] = answer.get("checks", {})
    for check in checks.values():
        if isinstance(check.get("detail"), str):
            check["detail"] = redact_text(check["detail"])
    return JSONResponse(answer, status_code=200 if report.ready else 503)


def _dashboard_data(
    data: DashboardSource,
) -> tuple[dict[str, dict[str, int]], list[str], Sequence[Mapping[str, Any]], str | None]:
    """Job counts by queue and status, the open exceptions, or the store's error."""
    error: str | None = None
    counts: Sequence[JobCount] = []
    exceptions: Sequence[Mapping[str, Any]] = []
    try:
        counts = data.job_counts()
        exceptions = data.open_exceptions()
    except SeamlineError as exc:
        error = redact_text(exc.message)
    queues: dict[str, dict[str, int]] = {}
    statuses: list[str] = ["todo", "doing", "succeeded", "failed", "cancelled"]
    for c in counts:
        queues.setdefault(c.queue, {})[c.status] = c.count
        if c.status not in statuses:
            statuses.append(c.status)
    return dict(sorted(queues.items())), statuses, exceptions, error


def _dashboard_page(request: Request, data: DashboardSource) -> HTMLResponse:
    queues, statuses, exceptions, error = _dashboard_data(data)
    return TEMPLATES.TemplateResponse(
        request,
        "index.html",
        {"version": __version__, "queues": queues, "statuses": statuses,
         "exceptions": exceptions, "error": error},
        status_code=200 if error is None else 503,
    )


def create_app(
    settings: Settings,
    db: _Database | None = None,
    *,
    queue: Any | None = None,
    source: DashboardSource | None = None,
    routers: Sequence[APIRouter] = (),
    readiness: Callable[[], ReadinessReport] | None = None,
    budget: Callable[[], BudgetView] | None = None,
) -> FastAPI:
    """The Seamline web app. Give ``db`` (and ``queue``), or a ready ``source`` (tests).
    ``readiness`` answers ``/readyz`` (the composition root's ``Container.readiness``); without
    it ``/readyz`` reports the database check alone. ``budget`` reads the Centra budget's
    view for ``/metrics`` (the composition root's ``Container.centra_budget.view``)."""
    if source is None:
        if db is None:
            raise ValueError("create_app needs db or source")
        source = StoreDashboardSource(db, queue)
    data: DashboardSource = source

    app = FastAPI(title="Seamline", version=__version__, docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.web.max_body_bytes)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(data))
    registry.register(SHIPMENT_LAG)
    if db is not None:
        registry.register(PendingShipments(_store_on(db, queue)))
        registry.register(StockGauges(_store_on(db, queue)))
    if budget is not None:
        registry.register(BudgetGauges(budget))
    app.state.settings = settings
    app.state.source = data
    app.state.metrics_registry = registry

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            data.check()
        except SeamlineError as exc:
            return JSONResponse({"status": "unavailable", "error": redact_text(exc.message)},
                                status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        return _readyz(data, readiness)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request) -> HTMLResponse:
        return _dashboard_page(request, data)

    for router in routers:
        app.include_router(router)
    return app
