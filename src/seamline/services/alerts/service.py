"""The alert service: find what needs an alert, record one delivery per route, send them.

One design, the outbox: every minute the ``alerts`` schedule runs :meth:`AlertService.evaluate`
(task ``alerts.evaluate``), which, in one unit of work under the lock ``alerts``, decides what
needs an alert (``seamline.domain.alerts``), records a delivery per (alert key, route) — a key
already recorded is never recorded again — and enqueues an ``alerts.send`` job per new delivery,
committed together. ``alerts.send`` (:meth:`AlertService.send`) delivers one and marks it sent
in the job's fenced unit of work; a refusal is recorded and retried by the queue with backoff
until ``max_attempts``, then the delivery is ``failed`` and an ``ALERT_FAILED`` exception (owner
integrator, never itself alerted) says so. So restarts and several workers send each alert
once (a crash between the send and its record can repeat that one send: at least once).

Routes are stored by a hash of the URL and shown redacted; the URL itself is read from the
configuration at send time and never stored, logged or put in a job.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from seamline.config import AlertSettings
from seamline.domain.alerts import (
    Alert,
    AlertDelivery,
    AlertRules,
    SystemOutage,
    digest_alerts,
    exception_alerts,
    group_alerts,
    outage_alerts,
    stuck_orders_alert,
)
from seamline.domain.ledger import OrderState
from seamline.exceptions import AlertNotDelivered
from seamline.ports import Notifier
from seamline.queue.circuit import SystemState
from seamline.services.unit_of_work import Store, Tx, UnitOfWork

__all__ = ["SYSTEMS", "AlertService", "Evaluation", "TestOutcome", "route_hash"]

SYSTEMS = ("centra", "bluecherry")
#: Orders in these states wait for nothing named: past ``order_stuck_min`` they are stuck.
STUCK_STATES = (OrderState.NEW, OrderState.POSTING)
LOCK = "alerts"
_OUTAGES = "alerts:outages"
_STUCK = "alerts:stuck"


def route_hash(url: str) -> str:
    """Identifies a route without keeping its URL (which holds its secrets)."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def rules_from(settings: AlertSettings) -> AlertRules:
    at = None
    if settings.digest_at:
        hh, mm = settings.digest_at.split(":")
        at = time(int(hh), int(mm))
    return AlertRules(after_min=settings.after_min, thresholds=dict(settings.thresholds),
                      min_severity=settings.min_severity,
                      order_stuck_min=settings.order_stuck_min, digest_at=at,
                      timezone=settings.timezone)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one evaluation decided: the alerts and the deliveries recorded (new ones)."""

    alerts: tuple[Alert, ...]
    deliveries: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TestOutcome:
    owner: str
    destination: str
    ok: bool
    error: str = ""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlertService:
    def __init__(self, *, store: Store, notifier: Notifier, settings: AlertSettings,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.store = store
        self.notifier = notifier
        self.settings = settings
        self.rules = rules_from(settings)
        self.clock = clock

    @classmethod
    def for_settings(cls, settings: AlertSettings, *, store: Store, notifier: Notifier,
                     clock: Callable[[], datetime] | None = None) -> AlertService:
        return cls(store=store, notifier=notifier, settings=settings, clock=clock or _utcnow)

    # -- deciding ---------------------------------------------------------------------------

    def evaluate(self, tx: Tx | None = None) -> Evaluation:
        """Record and enqueue what needs sending now (one unit of work)."""
        now = self.clock()
        with (tx or self.store.begin)() as uow:
            uow.cursors.lock(LOCK)
            outages = [self._outage(uow, s) for s in SYSTEMS]
            announced: dict[str, str] = json.loads(uow.cursors.get(_OUTAGES) or "{}")
            alerts, announced_now = outage_alerts(
                outages, announced, now,
                after=timedelta(minutes=self.settings.outage_after_min))
            down = [o.system for o in outages if o.down_since is not None]
            open_now = uow.exceptions.find(state="open", limit=1_000_000, newest_first=False,
                                           with_orders=False)
            candidates = exception_alerts(open_now, self.rules, now, down=down)
            sent_before = uow.alerts.has(a.key for a in candidates)
            fresh, grouped = group_alerts([a for a in candidates if a.key not in sent_before],
                                          limit=self.settings.max_per_run)
            alerts += fresh
            stuck_before = uow.cursors.get(_STUCK) or None
            stuck_now = stuck_before
            if not down:  # while a system is down its outage alert speaks for the orders
                stuck, stuck_now = stuck_orders_alert(
                    self._unposted_since(uow), self.rules, now, announced=stuck_before)
                if stuck is not None:
                    alerts.append(stuck)
            digests = digest_alerts(open_now, self._routed_owners(), self.rules, now)
            done = uow.alerts.has(d.key for d in digests)
            alerts += [d for d in digests if d.key not in done]
            ids = [i for a in alerts for i in self._record(uow, a, now)]
            for a in grouped:  # told in their owner's summary: never sent one by one
                self._record(uow, a, now, status="grouped")
            if announced_now != announced:
                uow.cursors.set(_OUTAGES, json.dumps(announced_now, sort_keys=True), now=now)
            if stuck_now != stuck_before:
                uow.cursors.set(_STUCK, stuck_now or "", now=now)
        return Evaluation(tuple(alerts), tuple(ids))

    def _outage(self, uow: UnitOfWork, system: str) -> SystemOutage:
        st = SystemState.from_json(system, uow.cursors.get(f"outage:{system}"))
        return SystemOutage(system, st.down_since, st.last_error)

    def _unposted_since(self, uow: UnitOfWork) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for state in STUCK_STATES:
            for row in uow.orders.in_state(state):
                seen = row.data.first_seen
                if seen:
                    found[row.number] = datetime.fromisoformat(seen)
        return found

    def _routed_owners(self) -> list[str]:
        return [o for o, urls in self.settings.routes.items() if urls]

    def _record(self, uow: UnitOfWork, alert: Alert, now: datetime, *,
                status: str = "pending") -> list[int]:
        ids: list[int] = []
        for url in self.settings.routes.get(alert.owner, []):
            i = uow.alerts.add(alert, self.notifier.describe(url), route_hash(url), now=now,
                               status=status)
            if i is not None and status == "pending":
                uow.outbox.enqueue("alerts.send", {"delivery": i}, queue="alerts",
                                   dedupe_key=f"alert:{i}", business_key=f"alert:{i}")
                ids.append(i)
        return ids

    # -- sending ----------------------------------------------------------------------------

    def _url_for(self, d: AlertDelivery) -> str | None:
        for url in self.settings.routes.get(d.owner, []):
            if route_hash(url) == d.destination_hash:
                return url
        return None

    def send(self, delivery_id: int, tx: Tx, *, attempt: int = 1,
             max_attempts: int = 5) -> str:
        """Deliver one; returns its status. A refusal is recorded and raised (the queue
        retries with backoff) until the last attempt, which marks it ``failed``."""
        with self.store.read() as uow:
            d = uow.alerts.get(delivery_id)
        if d is None or d.status != "pending":
            return "gone" if d is None else d.status
        url = self._url_for(d)
        if url is None:
            with tx() as uow:
                uow.alerts.attempted(delivery_id, status="failed", now=self.clock(),
                                     error="the route is no longer configured")
            return "failed"
        try:
            self.notifier.send(url, d.title, d.body)
        except AlertNotDelivered as exc:
            last = attempt >= max_attempts or bool(exc.details.get("permanent"))
            with self.store.begin() as uow:
                uow.alerts.attempted(delivery_id, status="failed" if last else "pending",
                                     error=exc.message, now=self.clock())
            raise
        with tx() as uow:
            uow.alerts.attempted(delivery_id, status="sent", now=self.clock())
        return "sent"

    def test(self, owner: str | None = None) -> list[TestOutcome]:
        """Send a test notification to every route (of ``owner``) now; say how each went.
        Each is recorded as a ``test`` delivery."""
        now = self.clock()
        run = uuid.uuid4().hex[:8]  # each test run is its own alert, even within one instant
        out: list[TestOutcome] = []
        for who, urls in sorted(self.settings.routes.items()):
            if owner is not None and who != owner:
                continue
            for url in urls:
                alert = Alert(key=f"test:{now.isoformat()}:{run}", owner=who, kind="test",
                              title=f"Seamline: test alert for {who}",
                              body=(f"This is a test from Seamline: alerts for {who} reach "
                                    "this route."))
                with self.store.begin() as uow:
                    i = uow.alerts.add(alert, self.notifier.describe(url), route_hash(url),
                                       now=now)
                try:
                    self.notifier.send(url, alert.title, alert.body)
                except AlertNotDelivered as exc:
                    out.append(TestOutcome(who, self.notifier.describe(url), False,
                                           exc.message))
                    status, error = "failed", exc.message
                else:
                    out.append(TestOutcome(who, self.notifier.describe(url), True))
                    status, error = "sent", ""
                if i is not None:
                    with self.store.begin() as uow:
                        uow.alerts.attempted(i, status=status, error=error, now=self.clock())
        return out

    def recent(self, *, limit: int = 50, owner: str | None = None) -> Sequence[AlertDelivery]:
        with self.store.read() as uow:
            return uow.alerts.recent(limit=limit, owner=owner)

    def counts(self) -> Mapping[tuple[str, str], int]:
        with self.store.read() as uow:
            return uow.alerts.counts()
