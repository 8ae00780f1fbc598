"""Run Seamline against both sandboxes in one process: tests, the demo and benchmarks.

::

    with Sandboxes(seed=7) as sb:                       # Centra + BlueCherry on free ports
        settings = settings_for(sb, "sqlite:///" + str(tmp / "s.db"))
        container = build_seamline(sb, settings)        # db upgraded, clock shared
        orders = sb.place_orders(200)                   # GeneratedOrder list (expected outcomes)
        sb.bluecherry_fault("commit_then_drop", count=3, match="create_order")
        run_until_quiet(container, timeout_s=120)
        counts = sb.bluecherry_reference_counts()       # over the WHOLE BlueCherry sandbox
        assert all(counts.get(sb.reference(g), 0) == 1 for g in orders if g.postable)

One simulated clock (:class:`SimClock`: wall time plus an offset) is shared by the Centra sandbox,
the BlueCherry sandbox and — through :func:`build_seamline` — Seamline's queue, ledger and daily
batches, so :meth:`Sandboxes.advance_clock` moves a whole trading day forward (a daily batch's
cut-off passing) without waiting for it. Advance it only when Seamline is quiet: a jump longer
than the queue's lease expires the leases of jobs still running.

Control goes in-process where the sandbox's state is thread-safe (Centra: its state lock) and
over the sandbox's HTTP control API otherwise (BlueCherry runs on its server's event loop).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import httpx
import sqlalchemy as sa

from seamline.config import Settings
from seamline.exceptions import SeamlineError
from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY
from seamline_sandbox.bluecherry.app import create_app as create_bluecherry
from seamline_sandbox.centra.app import CentraSandbox
from seamline_sandbox.centra.control import ExplicitOrder
from seamline_sandbox.centra.state import CentraState, Clock
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.serve import ServerThread
from seamline_sandbox.world import MARKET_CODES, MARKETS, SHIPPING_CODES, build_world

if TYPE_CHECKING:
    from seamline.bootstrap import Container

__all__ = [
    "BLUECHERRY_KEY",
    "CENTRA_TOKEN",
    "NotQuiet",
    "QuietReport",
    "Sandboxes",
    "SimClock",
    "build_seamline",
    "run_until_quiet",
    "settings_for",
]

CENTRA_TOKEN = "harness-centra-token"  # noqa: S105 - a sandbox token, not a secret
BLUECHERRY_KEY = DEFAULT_API_KEY
#: Centra's client-side buckets when the sandbox's limits are lifted (effectively none).
LIFTED_RATE_LIMITS = {
    "requests_per_10s": 1_000_000, "requests_per_hour": 100_000_000,
    "mutations_per_10s": 1_000_000, "mutations_per_hour": 100_000_000,
    "complexity_per_10s": 1_000_000_000, "complexity_per_hour": 1_000_000_000_000,
}


class SimClock(Clock):
    """Wall-clock time plus an offset that only moves forward (shared by every part)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            super().advance(seconds)

    def advance_to(self, when: datetime) -> float:
        """Move forward to ``when`` (aware); returns the seconds moved (0 if already past)."""
        delta = (when - self.now()).total_seconds()
        if delta > 0:
            self.advance(delta)
        return max(0.0, delta)


class Sandboxes:
    """The Centra and BlueCherry sandboxes, in-process on free loopback ports.

    ``lift_rate_limits`` turns Centra's Growth-tier buckets off (and
    :func:`settings_for` then gives the client no buckets either); BlueCherry has no rate limit
    unless ``bluecherry_rate_limit`` (requests/s) is given. ``bluecherry_latency_s`` is added to
    every BlueCherry call. ``hold_seconds`` is how long a BlueCherry ``timeout`` /
    ``commit_then_drop`` fault keeps the request before dropping it (short, so tests are fast).
    ``centra_hide_fields`` (``Type.field`` names) starts Centra without those fields, as a
    Centra lacking them would answer; ``self.centra.set_hidden_fields`` changes it later.
    ``styles`` sizes the shared catalogue (× 15 SKUs: 40 → 600, 6,667 → 100,005).
    """

    def __init__(self, *, seed: int = 1, lift_rate_limits: bool = False,
                 bluecherry_latency_s: float = 0.0, bluecherry_rate_limit: float | None = None,
                 hold_seconds: float = 1.0, centra_token: str = CENTRA_TOKEN,
                 bluecherry_key: str = BLUECHERRY_KEY, clock: SimClock | None = None,
                 centra_hide_fields: Iterable[str] = (), styles: int = 40) -> None:
        self.seed = seed
        self.clock = clock or SimClock()
        self.rate_limits_lifted = lift_rate_limits
        self.centra_token = centra_token
        self.bluecherry_key = bluecherry_key
        self.centra = CentraSandbox(state=CentraState(seed=seed, token=centra_token,
                                                      clock=self.clock,
                                                      world=build_world(seed, styles)),
                                    hide_fields=centra_hide_fields)
        if lift_rate_limits:
            self.centra.limiter.configure(enabled=False)
        self.bluecherry_app = create_bluecherry(seed=seed, api_key=bluecherry_key,
                                                rate_limit=bluecherry_rate_limit,
                                                hold_seconds=hold_seconds, clock=self.clock.now,
                                                styles=styles)
        self.bluecherry = self.bluecherry_app.state.sandbox
        if bluecherry_latency_s:
            self.bluecherry.latency["*"] = bluecherry_latency_s
        self._centra_server = ServerThread(self.centra)
        self._bluecherry_server = ServerThread(self.bluecherry_app)
        self._http: httpx.Client | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Sandboxes:
        self._centra_server.start()
        try:
            self._bluecherry_server.start()
        except BaseException:
            self._centra_server.stop()
            raise
        self._http = httpx.Client(timeout=60.0)
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        self._bluecherry_server.stop()
        self._centra_server.stop()

    def __enter__(self) -> Sandboxes:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def centra_root(self) -> str:
        return self._centra_server.url

    @property
    def bluecherry_root(self) -> str:
        return self._bluecherry_server.url

    @property
    def centra_url(self) -> str:
        """Centra's GraphQL endpoint (``[centra].base_url``)."""
        return f"{self.centra_root}/graphql"

    @property
    def bluecherry_url(self) -> str:
        """BlueCherry's REST base (``[bluecherry].base_url``)."""
        return f"{self.bluecherry_root}/api/v1"

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("the sandboxes are not started")
        return self._http

    def _bc(self, method: str, path: str, body: Any = None,
            params: Mapping[str, str] | None = None) -> Any:
        resp = self._client().request(method, f"{self.bluecherry_root}/_sandbox{path}",
                                      json=body, params=params)
        resp.raise_for_status()
        return resp.json()

    # -- the simulated clock -----------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def advance_clock(self, seconds: float) -> datetime:
        """Move the shared clock forward (only while Seamline is quiet); returns the new now."""
        self.clock.advance(seconds)
        return self.clock.now()

    # -- Centra: orders ----------------------------------------------------------------------

    def place_orders(self, n: int, *, seed: int | None = None,
                     start: datetime | None = None, **knobs: Any) -> list[GeneratedOrder]:
        """Generate and place ``n`` orders (knobs of ``generate_orders``: ``hold_rate``,
        ``waiting_payment_rate``, ``unknown_sku_rate``, ``pickup_point_rate``,
        ``inconsistent_rate``, ``markets``...). Each carries its expected outcome and, once
        placed, its Centra ``number``."""
        return self.centra.state.generate(n, seed=seed, start=start, **knobs)

    def place_order(self, spec: ExplicitOrder | Mapping[str, Any]) -> GeneratedOrder:
        """Place one explicit order (the body of ``POST /_sandbox/orders``)."""
        body = spec if isinstance(spec, ExplicitOrder) else ExplicitOrder.model_validate(spec)
        return self.centra.place_explicit(body)

    def release_hold(self, number: int) -> None:
        st = self.centra.state
        st.set_hold(st.orders[number], False)

    def mark_paid(self, number: int) -> None:
        st = self.centra.state
        st.mark_paid(st.orders[number])

    def release(self, orders: Iterable[GeneratedOrder]) -> list[GeneratedOrder]:
        """Release every order that waits (hold → released, unpaid → paid); returns them."""
        released = []
        for g in orders:
            if g.number is None or g.waits_for is None:
                continue
            if g.waits_for == "hold":
                self.release_hold(g.number)
            else:
                self.mark_paid(g.number)
            released.append(g)
        return released

    def cancel_order(self, number: int) -> None:
        st = self.centra.state
        st.cancel_order(st.orders[number])

    def centra_orders(self) -> list[dict[str, Any]]:
        """Every Centra order as the control API shows it (status, externalId, lines...)."""
        from seamline_sandbox.centra.control import order_state  # noqa: PLC0415

        st = self.centra.state
        with st.lock:
            return [order_state(self.centra, o) for o in st.orders.values()]

    def centra_external_ids(self) -> dict[int, str | None]:
        """Centra order number → the external id written back (None where none is)."""
        st = self.centra.state
        with st.lock:
            return {n: o.external_id for n, o in st.orders.items()}

    def centra_statuses(self) -> dict[int, str]:
        st = self.centra.state
        with st.lock:
            return {n: o.status for n, o in st.orders.items()}

    def centra_emails(self) -> list[dict[str, Any]]:
        st = self.centra.state
        with st.lock:
            return list(st.emails)

    # -- BlueCherry: what it holds -----------------------------------------------------------

    @staticmethod
    def reference(order: GeneratedOrder | int, store: int = 1) -> str:
        """The ``external_reference`` Seamline posts an order under (``centra:<store>:<n>``)."""
        number = order if isinstance(order, int) else order.number
        return f"centra:{store}:{number}"

    def bluecherry_orders(self, external_reference: str | None = None) -> list[dict[str, Any]]:
        """Every BlueCherry sales order (all customers), or those with one reference."""
        params = None if external_reference is None else {
            "external_reference": external_reference}
        return list(self._bc("GET", "/orders", params=params)["orders"])

    def bluecherry_reference_counts(self) -> dict[str, int]:
        """``external_reference`` → how many BlueCherry orders carry it, over the WHOLE
        sandbox (a duplicate shows as 2)."""
        data = self._bc("GET", "/orders")
        return {str(k): int(v) for k, v in data["external_reference_counts"].items()}

    def bluecherry_state(self) -> dict[str, Any]:
        return dict(self._bc("GET", "/state"))

    def edit_bluecherry_order(self, order_no: str, *, login: str = "anna",
                              **changes: Any) -> dict[str, Any]:
        """A person edits a sales order in BlueCherry (``POST /_sandbox/orders/{no}/edit``:
        ``lines``, ``warehouse``, ``hold``, ``ship_via``, ``ship_to``, ``cancel``); the order
        after it."""
        return dict(self._bc("POST", f"/orders/{order_no}/edit", {"login": login, **changes}))

    def ats_cycle(self, lag_seconds: float = 0.0) -> dict[str, Any]:
        """Run a BlueCherry ATS cycle now (published ``lag_seconds`` after it read its data);
        ``{"cycle": {...}, "changed": n}``."""
        return dict(self._bc("POST", "/ats/cycle", {"lag_seconds": lag_seconds}))

    def set_bluecherry_stock(self, sku: str, warehouse: str, on_hand: int) -> None:
        """Physical stock of a SKU in a BlueCherry warehouse (a stock-take)."""
        self._bc("POST", "/stock", {"sku": sku, "warehouse": warehouse, "on_hand": on_hand})

    def centra_free_to_allocate(self, warehouse: int, sku: str) -> int:
        st = self.centra.state
        with st.lock:
            size = next(i.size_id for i in st.world.catalogue if i.sku == sku)
            return int(st.fta(warehouse, size))

    # -- faults and limits -------------------------------------------------------------------

    def centra_fault(self, kind: str, count: int = 1, *, match: str | None = None,
                     retry_after: float = 1.0, delay_s: float = 0.0) -> None:
        """The next ``count`` Centra calls matching ``match`` (``"mutation:*"``,
        ``"mutation:setIdConversions"``, ``"query:orders"``...) fail as ``kind`` (``429``,
        ``500``, ``503``, ``timeout``, ``latency``, ``commit_then_drop``)."""
        self.centra.faults.add(kind, count, match=match, retry_after=retry_after,
                               delay_s=delay_s)

    def centra_fault_rates(self, rates: Mapping[str, float], *, match: str | None = None,
                           seed: int | None = None, retry_after: float = 1.0,
                           delay_s: float = 0.0) -> None:
        self.centra.faults.set_rates(dict(rates), seed, match=match, retry_after=retry_after,
                                     delay_s=delay_s)

    def bluecherry_fault(self, kind: str, count: int = 1, *, match: str | None = None,
                         retry_after: float = 1.0, delay_s: float = 0.0) -> None:
        """The next ``count`` BlueCherry calls whose operation matches ``match``
        (``create_order``, ``lookup_orders``, ``get_order``, ``skus``...) fail as ``kind``."""
        self._bc("POST", "/faults", {"kind": kind, "count": count, "match": match,
                                     "retry_after": retry_after, "delay_s": delay_s})

    def bluecherry_fault_rates(self, rates: Mapping[str, float], *, match: str | None = None,
                               seed: int | None = None, retry_after: float = 1.0,
                               delay_s: float = 0.0) -> None:
        self._bc("POST", "/faults/rates", {"rates": dict(rates), "match": match, "seed": seed,
                                           "retry_after": retry_after, "delay_s": delay_s})

    def clear_faults(self) -> None:
        """No more injected faults on either side (BlueCherry's fixed latency is cleared too)."""
        self.centra.faults.clear()
        self._bc("DELETE", "/faults")

    def faults_snapshot(self) -> dict[str, Any]:
        return {"centra": self.centra.faults.snapshot(),
                "bluecherry": self._bc("GET", "/state")["faults"]}

    def set_bluecherry_latency(self, seconds: float, operation: str = "*") -> None:
        self._bc("POST", "/latency", {"seconds": seconds, "operation": operation})

    def set_centra_rate_limits(self, *, enabled: bool) -> None:
        self.centra.limiter.configure(enabled=enabled)


# -- Seamline's settings for the sandboxes ---------------------------------------------------

Mode = Literal["realtime", "daily", "mixed"]


def _market_entries(mode: Mode) -> list[dict[str, Any]]:
    entries = []
    for m in MARKETS:
        codes = MARKET_CODES.get(m.id)
        if codes is None:  # NO stays unmapped on purpose: MAPPING_MISSING
            continue
        market_mode = mode if mode != "mixed" else ("daily" if m.id in (1, 2) else "realtime")
        entries.append({
            "centra_market": m.id, "currency": m.currency, **codes,
            "order_type": "ECOM", "terms": "PREPAID", "season": "FW26",
            "prices_include_tax": m.prices_include_tax,
            "mode": market_mode, "cutoff": "23:00", "timezone": m.time_zone,
            "confirm_after_post": True,
        })
    return entries


def settings_for(sandboxes: Sandboxes, database_url: str, *, mode: Mode = "realtime",
                 overrides: Mapping[str, Any] | None = None) -> Settings:
    """Settings with ``examples/seamline.toml``'s mapping, pointed at ``sandboxes``.

    ``mode``: every mapped market ``"realtime"`` or ``"daily"`` (cut-off 23:00 in the market's
    time zone), or ``"mixed"`` (as the example: SE and DE daily, the rest realtime). Market 6
    (NO) and the ``pickup-point`` shipping option stay unmapped on purpose. The queue runs at a
    test tempo (short poll interval and backoff). ``overrides`` replaces whole top-level
    sections (as ``load_settings(overrides=...)``), e.g. ``{"orders": {"max_attempts": 40}}``.
    """
    centra: dict[str, Any] = {"base_url": sandboxes.centra_url,
                              "token": sandboxes.centra_token, "timeout_s": 10.0}
    if sandboxes.rate_limits_lifted:
        centra["rate_limits"] = dict(LIFTED_RATE_LIMITS)
    data: dict[str, Any] = {
        "store": {"database_url": database_url},
        "centra": centra,
        "bluecherry": {"base_url": sandboxes.bluecherry_url,
                       "api_key": sandboxes.bluecherry_key, "timeout_s": 10.0},
        "orders": {"post_statuses": ["PENDING", "CONFIRMED"], "max_attempts": 12},
        "markets": _market_entries(mode),
        "shipping_options": dict(SHIPPING_CODES),
        "warehouses": {"1": ["W01"], "2": ["W02"], "3": ["W03"]},
        "queues": {"lease_s": 60, "poll_interval_s": 0.05, "backoff_base_s": 0.2,
                   "backoff_max_s": 5.0, "max_inline_wait_s": 5.0,
                   "concurrency": {"orders": 4, "writeback": 1, "intake": 1, "default": 1}},
        "web": {"host": "127.0.0.1", "port": 0},
    }
    for section, value in (overrides or {}).items():
        data[section] = value
    return Settings.model_validate(data)


def build_seamline(sandboxes: Sandboxes, settings: Settings, *,
                   upgrade: bool = True) -> Container:
    """The composition root's container on the sandboxes' shared clock (database upgraded)."""
    from seamline.bootstrap import build  # noqa: PLC0415

    container = build(settings, clock=sandboxes.clock.now)
    if upgrade:
        container.db.upgrade()
    return container


# -- driving Seamline until nothing is left to do --------------------------------------------


class NotQuiet(TimeoutError):
    """Seamline still had work when the time ran out."""

    def __init__(self, message: str, counts: Mapping[str, int]) -> None:
        super().__init__(message)
        self.counts = dict(counts)


@dataclass
class QuietReport:
    """What :func:`run_until_quiet` did."""

    rounds: int = 0
    elapsed_s: float = 0.0
    jobs: dict[str, int] = field(default_factory=dict)
    ledger: dict[str, int] = field(default_factory=dict)
    intake_errors: list[str] = field(default_factory=list)


def _ledger_counts(container: Container) -> dict[str, int]:
    from seamline.adapters.store.schema import ledger  # noqa: PLC0415

    with container.db.read() as conn:
        rows = conn.execute(
            sa.select(ledger.c.state, sa.func.count()).where(ledger.c.kind == "order")
            .group_by(ledger.c.state)).all()
    return {str(s): int(n) for s, n in rows}


def _fingerprint(container: Container) -> tuple[Any, ...]:
    from seamline.adapters.store.schema import exceptions, ledger  # noqa: PLC0415

    with container.db.read() as conn:
        led = conn.execute(sa.select(sa.func.count(), sa.func.max(ledger.c.updated_at))).one()
        exc = conn.execute(sa.select(sa.func.count(),
                                     sa.func.coalesce(sa.func.sum(exceptions.c.count), 0))).one()
    jobs = container.queue.counts()
    return (tuple(sorted(jobs.items())), tuple(led), tuple(exc))


def _unfinished(container: Container, limit: int = 10) -> str:
    """The first unfinished jobs, for a NotQuiet message."""
    from seamline.adapters.store.schema import jobs  # noqa: PLC0415

    with container.db.read() as conn:
        rows = conn.execute(
            sa.select(jobs.c.id, jobs.c.task, jobs.c.status, jobs.c.attempts, jobs.c.run_at,
                      jobs.c.lease_expires_at, jobs.c.business_key, jobs.c.last_error)
            .where(jobs.c.status.in_(("todo", "doing"))).order_by(jobs.c.id).limit(limit)
        ).all()
    now = container.queue.clock()
    return "; ".join(
        f"job {r.id} {r.task} {r.status} key={r.business_key} attempts={r.attempts} "
        f"run_at={(r.run_at - now).total_seconds():+.0f}s"
        + (f" lease={(r.lease_expires_at - now).total_seconds():+.0f}s"
           if r.lease_expires_at is not None else "")
        + (f" error={str(r.last_error)[:120]!r}" if r.last_error else "")
        for r in rows)


def runnable(container: Container) -> int:
    """Jobs still to run: due or not (a retry's later ``run_at`` included) and running."""
    counts = container.queue.counts()
    return int(counts.get("todo", 0)) + int(counts.get("doing", 0))


def run_until_quiet(container: Container, *, timeout_s: float = 120.0,
                    poll: bool = True, batches: bool = True, catalogue: bool = True,
                    shipments: bool = False,
                    concurrency: int | Mapping[str, int] | None = None,
                    on_round: Callable[[int, dict[str, int]], None] | None = None) -> QuietReport:
    """Drive Seamline in-process until no job is left and a further round changes nothing.

    Each round: poll Centra (``orders.poll``), release due daily batches, then let a worker
    (threads, ``[queues].concurrency`` or ``concurrency``) run until no job is ``todo`` or
    ``doing`` — jobs waiting for a later ``run_at`` (retries, ``Retry-After``) are waited for.
    With ``shipments``, each round also reads BlueCherry's shipment feed (``shipments.sync``).
    Quiet = a round that changes neither the jobs, the ledger nor the exceptions. The catalogue
    is synced once first (``catalogue``). Raises :class:`NotQuiet` after ``timeout_s``.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    report = QuietReport()
    flow = container.orders

    def attempt(what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except SeamlineError as exc:  # a fault on intake: the next round tries again
            report.intake_errors.append(f"{what}: {exc.message}")

    def batch_release() -> None:
        with container.store.begin() as uow:
            flow.run_batches(uow)

    if catalogue:
        attempt("catalogue", flow.sync_catalogue)
    stop = threading.Event()
    worker = container.worker(concurrency=concurrency)
    thread = threading.Thread(target=worker.run, args=(stop,), name="harness-worker",
                              daemon=True)
    thread.start()
    previous: tuple[Any, ...] | None = None
    try:
        while True:
            report.rounds += 1
            errors_before = len(report.intake_errors)
            if poll:
                attempt("poll", flow.poll)
            if batches:
                attempt("batches", batch_release)
            if shipments:
                attempt("shipments", container.shipments.sync)
            while runnable(container):
                if time.monotonic() > deadline:
                    counts = container.queue.counts()
                    raise NotQuiet(f"still {runnable(container)} job(s) to run after "
                                   f"{timeout_s:.0f}s: {counts}; {_unfinished(container)}",
                                   counts)
                time.sleep(0.05)
            current = _fingerprint(container)
            if on_round is not None:
                on_round(report.rounds, _ledger_counts(container))
            if current == previous and len(report.intake_errors) == errors_before:
                break
            previous = current
            if time.monotonic() > deadline:
                raise NotQuiet(f"not quiet after {timeout_s:.0f}s", container.queue.counts())
    finally:
        stop.set()
        thread.join(timeout=30)
    report.elapsed_s = time.monotonic() - started
    report.jobs = container.queue.counts()
    report.ledger = _ledger_counts(container)
    return report
