"""The composition root: build the store, the queue and the task registry from ``Settings``.

Every entry point (CLI, web, tests) builds its objects here; adapters and services are added by
their own modules as the project grows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

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
from seamline.services.exceptions import ExceptionService
from seamline.services.health import Readiness, assess

if TYPE_CHECKING:
    from seamline.adapters.centra.budget import BudgetGovernor
    from seamline.adapters.centra.webhooks import ReplayGuard
    from seamline.ports import BlueCherryGateway, CentraGateway
    from seamline.services.budget import BudgetWatch
    from seamline.services.orders import OrderFlow
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
                                                 limiter=self.centra_budget)
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
                max_inline_wait_s=self.settings.queues.max_inline_wait_s)
        return self._built["erp"]  # type: ignore[return-value]

    @property
    def orders(self) -> OrderFlow:
        """The order flow (intake, posting, write-back, cancels, changes)."""
        if "orders" not in self._built:
            from seamline.services.orders import OrderFlow  # noqa: PLC0415

            self._built["orders"] = OrderFlow.from_settings(
                self.settings, store=self.store, centra=self.centra, erp=self.erp,
                clock=self.queue.clock)
        return self._built["orders"]  # type: ignore[return-value]

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
        if "stock" not in self._built:
            from seamline.services.stock import StockPlan, StockSync  # noqa: PLC0415

            self._built["stock"] = StockSync(
                store=self.store, centra=self.centra, erp=self.erp,
                plan=StockPlan.from_settings(self.settings), clock=self.queue.clock)
        return self._built["stock"]  # type: ignore[return-value]

    @property
    def shipments(self) -> ShipmentFlow:
        """The shipment flow (BlueCherry shipments into Centra, the watchdog)."""
        if "shipments" not in self._built:
            from seamline.services.shipments import ShipmentFlow  # noqa: PLC0415

            self._built["shipments"] = ShipmentFlow.from_settings(
                self.settings, store=self.store, centra=self.centra, erp=self.erp,
                clock=self.queue.clock)
        return self._built["shipments"]  # type: ignore[return-value]

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
        """Close the HTTP clients and the database pool."""
        for obj in self._built.values():
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


def build(
    settings: Settings,
    *,
    registry: TaskRegistry | None = None,
    clock: Callable[[], datetime] | None = None,
    centra: CentraGateway | None = None,
    erp: BlueCherryGateway | None = None,
) -> Container:
    """Build the container (no connection is opened: call ``db.check()``/``db.upgrade()``)."""
    db = Database(settings.store.database_url)
    registry = registry if registry is not None else TaskRegistry()
    queue = JobQueue(db, clock=clock, policy=retry_policy(settings), registry=registry,
                     hooks=queue_hooks(),
                     circuits=Circuits(CircuitSettings.from_settings(settings.queues)))
    store = SqlStore(db, queue)
    container = Container(settings, db, queue, registry, ExceptionService(store, clock=clock),
                          store, centra_override=centra, erp_override=erp)
    if "orders.post" not in registry:
        from seamline.services.orders import register_order_tasks  # noqa: PLC0415

        register_order_tasks(registry, lambda: container.orders)
    if "stock.sync" not in registry:
        from seamline.services.stock import register_stock_tasks  # noqa: PLC0415

        register_stock_tasks(registry, lambda: container.stock)
    if "shipments.apply" not in registry:
        from seamline.services.shipments import register_shipment_tasks  # noqa: PLC0415

        register_shipment_tasks(registry, lambda: container.shipments)
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
    if "health.ping" not in registry:
        from seamline.services.health import register_health_tasks  # noqa: PLC0415

        register_health_tasks(registry, container.store, container.health_probes,
                              clock=queue.clock)
    return container
