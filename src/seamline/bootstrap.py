"""The composition root: build the store, the queue and the task registry from ``Settings``.

Every entry point (CLI, web, tests) builds its objects here; adapters and services are added by
their own modules as the project grows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.engine import Connection

from seamline.adapters.store.db import Database
from seamline.adapters.store.exceptions import raise_exception, resolve_for_key
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.config import Settings
from seamline.exceptions import ConfigError
from seamline.queue.circuit import Circuits, CircuitSettings, SystemState
from seamline.queue.core import JobQueue, QueueHooks
from seamline.queue.models import Job
from seamline.queue.policy import RetryDecision, RetryPolicy
from seamline.queue.registry import TaskRegistry
from seamline.queue.scheduler import Scheduler
from seamline.queue.worker import Worker
from seamline.schedules import schedules_with_defaults
from seamline.services.config_reload import ConfigReloader
from seamline.services.exceptions import ExceptionService
from seamline.services.health import Readiness, assess

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from seamline.adapters.centra.budget import BudgetGovernor
    from seamline.adapters.centra.webhooks import ReplayGuard
    from seamline.adapters.store.counters import StoreCallCounter
    from seamline.ports import BlueCherryGateway, CentraGateway, FinanceGateway, Notifier
    from seamline.services.alerts import AlertService
    from seamline.services.budget import BudgetWatch
    from seamline.services.dashboard import DashboardService, ReconciliationProvider
    from seamline.services.drift import DriftService, MissingInErp
    from seamline.services.orders import OrderFlow
    from seamline.services.payments import PaymentFlow
    from seamline.services.reconcile import Reconciler
    from seamline.services.shipments import ShipmentFlow
    from seamline.services.stock import StockSync

__all__ = ["Container", "build", "open_database", "queue_hooks", "retry_policy", "store_for"]


def _raise_for_failed_job(
    conn: Connection, job: Job, exc: BaseException, decision: RetryDecision, *,
    error: str, now: datetime,
) -> int:
    """Give-up hook: open (or count) the exception for the job, with the error, its details
    and BlueCherry's codes. An error may name the key it belongs to (one exception for one
    cause, whichever job met it), else the job's business key."""
    details: dict[str, Any] = {
        "task": job.task, "queue": job.queue, "error": error,
        "error_class": type(exc).__name__,
    }
    extra = getattr(exc, "details", None)
    if isinstance(extra, Mapping) and extra:
        details["error_details"] = dict(extra)
    codes = getattr(exc, "codes", None)
    if codes:
        details["codes"] = list(codes)
    return raise_exception(
        conn,
        type=decision.exception_type or "INTERNAL_ERROR",
        owner=decision.owner or "integrator",
        severity=getattr(exc, "severity", "error"),
        business_key=(getattr(exc, "exception_key", None) or job.business_key
                      or f"job:{job.id}"),
        message=decision.reason,
        details=details,
        payload=job.args,
        job_id=job.id,
        attempts=job.attempts,
        now=now,
    )


def _resolve_for_succeeded_job(conn: Connection, job: Job, *, now: datetime) -> None:
    """Success hook: a job that succeeds resolves its key's open exceptions."""
    if job.business_key:
        resolve_for_key(conn, job.business_key, actor=f"job:{job.id}",
                        note=f"job {job.id} ({job.task}) succeeded", now=now)


def _system_outage(conn: Connection, state: SystemState, *, ended: bool, now: datetime) -> None:
    """Outage hook: one ``SYSTEM_UNAVAILABLE`` exception per system down too long (the jobs
    that need it wait, none gives up for it), resolved when the system answers again."""
    key = f"system:{state.system}"
    if ended:
        resolve_for_key(conn, key, types=("SYSTEM_UNAVAILABLE",), actor="queue",
                        note=f"{state.system} answers again", now=now)
        return
    since = state.failing_since or now
    minutes = int((now - since).total_seconds() // 60)
    raise_exception(
        conn, type="SYSTEM_UNAVAILABLE", owner="operations", business_key=key,
        message=(f"{state.system} has failed the jobs that need it for {minutes} min (since "
                 f"{since.isoformat(timespec='seconds')}); the jobs that need it wait and "
                 f"resume by themselves when it answers. Last error: {state.last_error}"),
        details={"system": state.system, "since": since.isoformat(),
                 "failed_tries": state.failures, "last_error": state.last_error},
        now=now,
    )


def queue_hooks() -> QueueHooks:
    """The queue's hooks, wired to the exception store: a job that gives up opens an exception
    for its business key; a job that succeeds resolves them; a system down too long opens one
    for the system, resolved when it is back. The queue itself knows no business."""
    return QueueHooks(on_give_up=_raise_for_failed_job, on_success=_resolve_for_succeeded_job,
                      on_outage=_system_outage)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The queue's retry policy from ``[queues]`` (and ``[orders].max_attempts``)."""
    return RetryPolicy.from_settings(settings.queues, max_attempts=settings.orders.max_attempts)


@dataclass
class Container:
    """Everything a Seamline process needs, built once."""

    settings: Settings
    db: Database
    queue: JobQueue
    registry: TaskRegistry
    exceptions: ExceptionService
    #: Units of work on the store (the services' only way to it).
    store: SqlStore
    #: Overrides for tests and the demo (in-memory fakes); built from settings when None.
    centra_override: CentraGateway | None = None
    erp_override: BlueCherryGateway | None = None
    notifier_override: Notifier | None = None
    _built: dict[str, object] = field(default_factory=dict, repr=False)

    # -- adapters and services, built on first use (nothing connects at build time) ---------

    @property
    def centra(self) -> CentraGateway:
        """The Centra gateway: the GraphQL client, its limiter shared through the store."""
        if self.centra_override is not None:
            return self.centra_override
        if "centra" not in self._built:
            from seamline.adapters.centra.client import CentraClient  # noqa: PLC0415
            self._built["centra"] = CentraClient(self.settings.centra,
                                                 limiter=self.centra_budget,
                                                 counter=self.call_counter)
        return self._built["centra"]  # type: ignore[return-value]

    @property
    def centra_budget(self) -> BudgetGovernor:
        """The one Centra budget of every flow and process (buckets, demand, back-off and
        calibrated quotas in the store's ``rate_buckets`` table)."""
        if "centra_budget" not in self._built:
            from seamline.adapters.centra.budget import BudgetGovernor  # noqa: PLC0415
            from seamline.adapters.centra.limiter import LeasedBucketStore  # noqa: PLC0415
            from seamline.adapters.store.buckets import (  # noqa: PLC0415
                SqlBucketStore,
                SqlBudgetBoard,
            )

            shared = SqlBucketStore(self.db.engine, lock=self.db.write_lock)
            board = SqlBudgetBoard(self.db.engine, lock=self.db.write_lock)
            self._built["centra_budget"] = BudgetGovernor(
                self.settings.centra.rate_limits, LeasedBucketStore(shared), board,
                settings=self.settings.centra.budget,
                max_wait_s=self.settings.queues.max_inline_wait_s)
        return self._built["centra_budget"]  # type: ignore[return-value]

    @property
    def erp(self) -> BlueCherryGateway:
        """The BlueCherry gateway (REST contract v1)."""
        if self.erp_override is not None:
            return self.erp_override
        if "erp" not in self._built:
            from seamline.adapters.bluecherry.client import BlueCherryClient  # noqa: PLC0415

            self._built["erp"] = BlueCherryClient(
                self.settings.bluecherry,
                max_inline_wait_s=self.settings.queues.max_inline_wait_s,
                counter=self.call_counter)
        return self._built["erp"]  # type: ignore[return-value]

    @property
    def orders(self) -> OrderFlow:
        """The order flow (intake, posting, write-back, cancels, changes)."""
        flow = self._built.get("orders")
        if flow is None:
            from seamline.services.orders import OrderFlow  # noqa: PLC0415

            flow = self._built["orders"] = OrderFlow.from_settings(
                self.settings, store=self.store, centra=self.centra, erp=self.erp,
                clock=self.queue.clock)
        return flow  # type: ignore[return-value]

    @property
    def budget_watch(self) -> BudgetWatch:
        """The Centra budget's dispatch-delay watch (``centra.budget``)."""
        if "budget_watch" not in self._built:
            from seamline.services.budget import BudgetWatch  # noqa: PLC0415

            self._built["budget_watch"] = BudgetWatch(
                self.store, self.centra_budget, self.settings.centra.budget,
                clock=self.queue.clock)
        return self._built["budget_watch"]  # type: ignore[return-value]

    @property
    def stock(self) -> StockSync:
        """The stock flow (BlueCherry ATS into Centra)."""
        sync = self._built.get("stock")
        if sync is None:
            from seamline.services.stock import StockPlan, StockSync  # noqa: PLC0415

            sync = self._built["stock"] = StockSync(
                store=self.store, centra=self.centra, erp=self.erp,
                plan=StockPlan.from_settings(self.settings), clock=self.queue.clock)
        return sync  # type: ignore[return-value]

    @property
    def shipments(self) -> ShipmentFlow:
        """The shipment flow (BlueCherry shipments into Centra, the watchdog)."""
        flow = self._built.get("shipments")
        if flow is None:
            from seamline.services.shipments import ShipmentFlow  # noqa: PLC0415

            flow = self._built["shipments"] = ShipmentFlow.from_settings(
                self.settings, store=self.store, centra=self.centra, erp=self.erp,
                clock=self.queue.clock)
        return flow  # type: ignore[return-value]

    #: The services built from the settings that a reload rebuilds (the clients stay).
    RELOADED = ("orders", "stock", "shipments", "payments", "drift", "missing_in_erp")

    def apply_settings(self, settings: Settings) -> None:
        """Run with new settings from the next job on: the flows are rebuilt from them when
        next used (a job already running finishes with the ones it started with). The
        database, the clients and the queue keep theirs until a restart."""
        self.settings = settings
        for name in self.RELOADED:
            self._built.pop(name, None)

    def config_reloader(self, path: Path) -> ConfigReloader:
        """The reloader a long-running process runs each poll interval (see
        ``seamline.services.config_reload``)."""
        from seamline.config import load_settings  # noqa: PLC0415

        return ConfigReloader(
            path=path, store=self.store, current=self.settings,
            load=lambda p: load_settings(p, require_file=True),
            apply=self.apply_settings,
            # Late-bound: the order flow rebuilt from the new settings.
            requeue=lambda uow: self.orders.requeue_parked(uow),  # noqa: PLW0108
            clock=self.queue.clock)

    @property
    def finance(self) -> FinanceGateway:
        """BlueCherry's finance calls: the same client (or fake) as ``erp``, which implements
        both ports."""
        return cast("FinanceGateway", self.erp)

    @property
    def payments(self) -> PaymentFlow:
        """The payment flow (captures into cash receipts, refunds into credit memos)."""
        if "payments" not in self._built:
            from seamline.services.payments import PaymentFlow  # noqa: PLC0415

            self._built["payments"] = PaymentFlow.from_settings(
                self.settings, store=self.store, centra=self.centra, finance=self.finance,
                clock=self.queue.clock)
        return self._built["payments"]  # type: ignore[return-value]

    @property
    def drift(self) -> DriftService:
        """Drift detection on BlueCherry's sales orders, accept and correct."""
        if "drift" not in self._built:
            from seamline.services.drift import DriftService  # noqa: PLC0415

            self._built["drift"] = DriftService(
                store=self.store, erp=self.erp, clock=self.queue.clock,
                first_lookback=timedelta(hours=self.settings.drift.first_scan_lookback_h))
        return self._built["drift"]  # type: ignore[return-value]

    @property
    def missing_in_erp(self) -> MissingInErp:
        """The missing-in-ERP watchdog."""
        if "missing_in_erp" not in self._built:
            from seamline.services.drift import MissingInErp  # noqa: PLC0415
            from seamline.services.rules import market_codes_from_settings  # noqa: PLC0415

            self._built["missing_in_erp"] = MissingInErp(
                store=self.store, markets=market_codes_from_settings(self.settings),
                after=timedelta(minutes=self.settings.watchdogs.missing_in_erp_after_min),
                clock=self.queue.clock)
        return self._built["missing_in_erp"]  # type: ignore[return-value]

    @property
    def call_counter(self) -> StoreCallCounter:
        """API calls per system and outcome, shared through the store (``/metrics``)."""
        if "counter" not in self._built:
            from seamline.adapters.store.counters import StoreCallCounter  # noqa: PLC0415

            self._built["counter"] = StoreCallCounter(self.db)
        return self._built["counter"]  # type: ignore[return-value]

    @property
    def notifier(self) -> Notifier:
        """Notifications through apprise (email, Slack, Teams, webhooks)."""
        if self.notifier_override is not None:
            return self.notifier_override
        if "notifier" not in self._built:
            from seamline.adapters.notify import AppriseNotifier  # noqa: PLC0415

            self._built["notifier"] = AppriseNotifier(
                routes=[u for urls in self.settings.alerts.routes.values() for u in urls])
        return self._built["notifier"]  # type: ignore[return-value]

    @property
    def alerts(self) -> AlertService:
        """Alerts to the owner teams (``[alerts]``)."""
        if "alerts" not in self._built:
            from seamline.services.alerts import AlertService  # noqa: PLC0415

            self._built["alerts"] = AlertService.for_settings(
                self.settings.alerts, store=self.store, notifier=self.notifier,
                clock=self.queue.clock)
        return self._built["alerts"]  # type: ignore[return-value]

    def metrics_collectors(self) -> list[Collector]:
        """What ``/metrics`` reads from the store besides the services' gauges: API calls per
        system and outcome (every process's), job events (retries, outage waits)."""
        from seamline.adapters.store.counters import StoreCounters  # noqa: PLC0415

        return [StoreCounters(self.db)]

    def web_options(self) -> dict[str, Any]:
        """What every web app of this process serves besides the store's pages (``create_app``
        keyword arguments): readiness, the store's counters, the Centra budget's view and the
        reconciliation reports."""
        from seamline.services.reconcile.reports import ReconcileReports  # noqa: PLC0415

        return {"readiness": self.readiness, "collectors": self.metrics_collectors(),
                "budget": self.centra_budget.view,
                "reconciliation": ReconcileReports(self.reconcile)}

    @property
    def reconcile(self) -> Reconciler:
        """The daily reconciliation report (BlueCherry's orders and finance side)."""
        if "reconcile" not in self._built:
            from seamline.services.reconcile import MarketScope, Reconciler  # noqa: PLC0415

            self._built["reconcile"] = Reconciler(
                store=self.store, erp=self.erp,  # type: ignore[arg-type]
                markets=MarketScope.from_settings(self.settings), clock=self.queue.clock)
        return self._built["reconcile"]  # type: ignore[return-value]

    def readiness(self) -> Readiness:
        """``/readyz``: database migrated, both systems answered lately, no flow parked."""
        return assess(self.db, self.store, clock=self.queue.clock,
                      max_age=timedelta(minutes=self.settings.web.ready_max_age_min))

    def replay_guard(self) -> ReplayGuard:
        """The webhook's replay memory, in the store (every web process on one database)."""
        from seamline.adapters.store.replays import StoreReplayGuard  # noqa: PLC0415

        return StoreReplayGuard(self.db)

    def health_probes(self) -> dict[str, Callable[[], object]]:
        """One small read of each system, through the gateways the flows use."""
        centra = self.centra
        erp = self.erp
        centra_probe = getattr(centra, "rate_limits", None)
        return {
            "centra": centra_probe if callable(centra_probe) else (lambda: centra.get_order(0)),
            "bluecherry": lambda: erp.find_by_external_reference("seamline:health-ping"),
        }

    def close(self) -> None:
        """Close the HTTP clients, flush the API-call counters, close the database pool."""
        counter = self._built.pop("counter", None)
        for obj in [*self._built.values(), counter]:
            close = getattr(obj, "close", None)
            if callable(close):
                close()
        self._built.clear()
        self.db.dispose()

    def known_queues(self) -> set[str]:
        """Queues a worker may be asked to serve: configured or used by a registered task."""
        return set(self.settings.queues.concurrency) | self.registry.queues() | {"default"}

    def worker(
        self,
        queues: Iterable[str] | None = None,
        concurrency: int | Mapping[str, int] | None = None,
        *,
        batch: int = 1,
    ) -> Worker:
        """A worker for ``queues`` (default: every configured queue). ``concurrency`` is one
        number for every queue, or per queue; default ``[queues].concurrency`` (a registered
        task's queue that it does not name is served too, one job at a time)."""
        configured = dict(self.settings.queues.concurrency)
        names = (list(queues) if queues
                 else [*configured, *sorted(self.registry.queues() - set(configured))])
        if isinstance(concurrency, int):
            conc = dict.fromkeys(names, concurrency)
        elif concurrency is not None:
            conc = {q: int(concurrency.get(q, configured.get(q, 1))) for q in names}
        else:
            conc = {q: int(configured.get(q, 1)) for q in names}
        return Worker(
            self.db, self.queue, self.registry, concurrency=conc,
            lease_s=self.settings.queues.lease_s,
            poll_interval_s=self.settings.queues.poll_interval_s,
            batch=batch, known_queues=self.known_queues(),
        )

    def scheduler(self) -> Scheduler:
        """The scheduler for ``[schedules]`` (each task must be registered)."""
        unknown = sorted(
            f"schedules.{name}: task {entry.task!r}"
            for name, entry in schedules_with_defaults(self.settings).items()
            if entry.task not in self.registry
        )
        if unknown:
            known = ", ".join(self.registry.names()) or "(none)"
            raise ConfigError(f"{'; '.join(unknown)} is not a known task; known tasks: {known}")
        return Scheduler(self.db, self.queue, schedules_with_defaults(self.settings),
                         self.queue.clock,
                         poll_interval_s=min(1.0, self.settings.queues.poll_interval_s * 2))


def open_database(settings: Settings, *, check: bool = True) -> Database:
    """The ``Database`` for ``[store].database_url``; with ``check`` it must answer now."""
    db = Database(settings.store.database_url)
    if check:
        db.check()
    return db


def store_for(db: Database, queue: JobQueue | None = None) -> SqlStore:
    """Units of work on ``db`` (jobs enqueued on ``queue``, by default a plain one on ``db``)."""
    return SqlStore(db, queue if queue is not None else JobQueue(db, hooks=queue_hooks()))


def dashboard_for(settings: Settings, db: Database, queue: JobQueue | None = None, *,
                  reconciliation: ReconciliationProvider | None = None) -> DashboardService:
    """The dashboard's service on ``db``: its SQL reads, the exceptions service, and the order
    flow's re-queue for a person's retry (orders held by an exception are posted again with the
    configuration as it is now)."""
    from seamline.adapters.store.dashboard import SqlDashboardReads  # noqa: PLC0415
    from seamline.services.dashboard import DashboardService  # noqa: PLC0415

    store = store_for(db, queue)
    clock = queue.clock if queue is not None else None
    return DashboardService(SqlDashboardReads(db), store, ExceptionService(store, clock=clock),
                            settings,
                            reconciliation=reconciliation, clock=clock)


def build(
    settings: Settings,
    *,
    registry: TaskRegistry | None = None,
    clock: Callable[[], datetime] | None = None,
    centra: CentraGateway | None = None,
    erp: BlueCherryGateway | None = None,
    notifier: Notifier | None = None,
) -> Container:
    """Build the container (no connection is opened: call ``db.check()``/``db.upgrade()``)."""
    db = Database(settings.store.database_url)
    registry = registry if registry is not None else TaskRegistry()
    queue = JobQueue(db, clock=clock, policy=retry_policy(settings), registry=registry,
                     hooks=queue_hooks(),
                     circuits=Circuits(CircuitSettings.from_settings(settings.queues)))
    store = SqlStore(db, queue)
    container = Container(settings, db, queue, registry, ExceptionService(store, clock=clock),
                          store, centra_override=centra, erp_override=erp,
                          notifier_override=notifier)
    if "orders.post" not in registry:
        from seamline.services.orders import register_order_tasks  # noqa: PLC0415

        register_order_tasks(registry, lambda: container.orders)
    if "stock.sync" not in registry:
        from seamline.services.stock import register_stock_tasks  # noqa: PLC0415

        register_stock_tasks(registry, lambda: container.stock)
    if "shipments.apply" not in registry:
        from seamline.services.shipments import register_shipment_tasks  # noqa: PLC0415

        register_shipment_tasks(registry, lambda: container.shipments)
    if "payments.batch" not in registry:
        from seamline.services.payments import register_payment_tasks  # noqa: PLC0415

        register_payment_tasks(registry, lambda: container.payments)
    if "drift.scan" not in registry:
        from seamline.services.drift import register_drift_tasks  # noqa: PLC0415

        register_drift_tasks(registry, lambda: container.drift,
                             lambda: container.missing_in_erp)
    if "reconcile.daily" not in registry:
        from seamline.services.reconcile import register_reconcile_tasks  # noqa: PLC0415

        register_reconcile_tasks(registry, lambda: container.reconcile,
                                 settings.reconcile.run_time)
    if "centra.budget" not in registry:
        from seamline.services.budget import register_budget_tasks  # noqa: PLC0415

        register_budget_tasks(registry, lambda: container.budget_watch)
    if "centra.schema" not in registry:
        from seamline.services.centra_guard import (  # noqa: PLC0415
            CentraSchemaGuard,
            register_guard_tasks,
        )

        register_guard_tasks(registry, lambda: CentraSchemaGuard(container.centra, store=store,
                                                                 clock=queue.clock))
    if "alerts.send" not in registry:
        from seamline.services.alerts import register_alert_tasks  # noqa: PLC0415

        register_alert_tasks(registry, lambda: container.alerts)
    if "health.ping" not in registry:
        from seamline.services.health import register_health_tasks  # noqa: PLC0415

        register_health_tasks(registry, container.store, container.health_probes,
                              clock=queue.clock)
    return container
