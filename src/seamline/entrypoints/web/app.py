"""``create_app(settings, db, ...)``: the FastAPI app behind ``seamline run`` and ``seamline web``.

- ``GET /healthz``  200 ``{"status": "ok"}`` when the database answers, else 503 with the reason.
- ``GET /readyz``   200 when ready to work, else 503; the JSON body names every check
  (database migrated, Centra and BlueCherry answered lately, no flow parked) and what fails.
- ``GET /metrics``  Prometheus text: ``seamline_jobs{queue,status}`` and
  ``seamline_exceptions_open{type,owner}``, read from the store at scrape time, and the
  shipment lag histogram ``seamline_shipment_lag_seconds`` (this process's completions) and
  the shipments Centra has not shipped yet (``seamline_shipments_not_in_centra{state}``, the
  oldest one's age) and the stock gauges (``seamline_stock_*``: sync lag, sizes pending and
  unknown, the cycle read per warehouse), read from the store; the operations gauges
  (``seamline.services.metrics``: circuit per system, orders by state and the oldest
  unposted one's age, alert deliveries) and the store's counters
  (``seamline.adapters.store.counters``: API calls per system and outcome, job events such
  as retries and outage waits), all read from the store at scrape time.
- the dashboard (``pages.py``): overview, exceptions (filters, search, actions, bulk retry),
  order trace, stock, reconciliation reports, configuration; sign-in with users and roles from
  ``[web]``, CSRF on every POST, security headers on every response. ``/healthz``, ``/readyz``,
  ``/metrics`` and the Centra webhook stay open (machines call them).

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
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from seamline import __version__
from seamline.config import Settings
from seamline.exceptions import SeamlineError
from seamline.logging import get_logger, redact_text
from seamline.ports import BudgetView
from seamline.services.budget.metrics import BudgetGauges
from seamline.services.dashboard import DashboardService, ReconciliationProvider
from seamline.services.metrics import OperationsGauges
from seamline.services.shipments.metrics import SHIPMENT_LAG, PendingShipments
from seamline.services.stock.metrics import StockGauges

from .auth import LoginLimiter, Sessions
from .headers import SecurityHeadersMiddleware
from .limits import BodyLimitMiddleware
from .pages import TEMPLATES, Forbidden, SignInRequired, dashboard_router

__all__ = ["DashboardSource", "JobCount", "StoreDashboardSource", "create_app"]

log = get_logger("seamline.web")


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


def _dashboard_on(settings: Settings, db: Any, queue: Any | None,
                  reconciliation: ReconciliationProvider | None,
                  ) -> Callable[[], DashboardService]:
    """The dashboard service on ``db``, built on the first page (keeps the import light)."""
    built: list[DashboardService] = []

    def get() -> DashboardService:
        if not built:
            from seamline.bootstrap import dashboard_for  # noqa: PLC0415

            built.append(dashboard_for(settings, db, queue, reconciliation=reconciliation))
        return built[0]

    return get


def _error_page(request: Request, message: str, status: int) -> Response:
    return TEMPLATES.TemplateResponse(
        request, "error.html", {"error": message, "user": None, "flash": None,
                                "refresh": False, "path": "", "version": __version__,
                                "open_mode": False},
        status_code=status)


def _handle_errors(app: FastAPI) -> None:
    """Sign-in redirects, 403 pages, and a store error as a 503 page (never a 500)."""

    @app.exception_handler(SignInRequired)
    def sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, exc: Forbidden) -> Response:
        return _error_page(request, f"not allowed: {exc.reason}", 403)

    @app.exception_handler(SeamlineError)
    def store_down(request: Request, exc: SeamlineError) -> Response:
        log.warning("dashboard: request failed", path=request.url.path,
                    error=redact_text(exc.message))
        return _error_page(request, redact_text(exc.message), 503)


def _metrics_registry(data: DashboardSource, db: _Database | None, queue: Any | None,
                      collectors: Sequence[Collector],
                      budget: Callable[[], BudgetView] | None) -> CollectorRegistry:
    """What ``/metrics`` serves: the store's gauges of every flow, the extra collectors and
    the Centra budget's view."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(data))
    registry.register(SHIPMENT_LAG)
    if db is not None:
        registry.register(PendingShipments(_store_on(db, queue)))
        registry.register(StockGauges(_store_on(db, queue)))
        registry.register(OperationsGauges(_store_on(db, queue)))
    for collector in collectors:
        registry.register(collector)
    if budget is not None:
        registry.register(BudgetGauges(budget))
    return registry


def create_app(
    settings: Settings,
    db: _Database | None = None,
    *,
    queue: Any | None = None,
    source: DashboardSource | None = None,
    routers: Sequence[APIRouter] = (),
    readiness: Callable[[], ReadinessReport] | None = None,
    dashboard: Callable[[], DashboardService] | None = None,
    reconciliation: ReconciliationProvider | None = None,
    collectors: Sequence[Collector] = (),
    budget: Callable[[], BudgetView] | None = None,
) -> FastAPI:
    """The Seamline web app. Give ``db`` (and ``queue``), or a ready ``source`` and
    ``dashboard`` (tests). ``readiness`` answers ``/readyz`` (the composition root's
    ``Container.readiness``); without it ``/readyz`` reports the database check alone.
    ``dashboard`` builds the pages' service (default: on ``db``, through the composition
    root); ``reconciliation`` lists and renders the daily reports (the reconciliation flow's
    provider; none by default). ``collectors`` join ``/metrics`` (the composition root's
    ``Container.metrics_collectors()``: the store's counters); ``budget`` reads the Centra
    budget's view for ``/metrics`` (``Container.centra_budget.view``)."""
    if source is None:
        if db is None:
            raise ValueError("create_app needs db or source")
        source = StoreDashboardSource(db, queue)
    data: DashboardSource = source
    if dashboard is None:
        if db is None:
            raise ValueError("create_app needs db or a dashboard service")
        dashboard = _dashboard_on(settings, db, queue, reconciliation)

    app = FastAPI(title="Seamline", version=__version__, docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.web.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))),
              name="static")
    sessions = Sessions(settings.web)
    limiter = LoginLimiter(settings.web.login_max_failures, settings.web.login_lockout_s)

    _handle_errors(app)
    registry = _metrics_registry(data, db, queue, collectors, budget)
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

    app.include_router(dashboard_router(settings, dashboard, sessions, limiter))
    for router in routers:
        app.include_router(router)
    return app
