"""An outage is not a job's fault: one shared circuit per external system (Centra, BlueCherry).

A job that fails with a ``RetriableError`` naming its ``system`` (5xx, timeout, refused
connection, 429, an ambiguous write) reports it here, in the transaction that records the
failure. The circuit's state lives in the store (cursor ``outage:<system>``, changed under
``lock_name``), so every worker process on the database sees one outage:

- **the first failure after a success counts** toward the job's ``max_attempts``: the system
  was answering, so this job may be what it cannot take (an order BlueCherry answers 500 to
  while it answers every other one exhausts its attempts, as before);
- **every further failure before the next success is the outage's**, not the job's: the job
  waits (backoff from ``probe_base_s``, capped at ``probe_max_s``) without spending an attempt;
- when failures (at least ``OPEN_MIN_FAILURES``) have lasted ``open_after_s`` with no success
  between them the system is **down** (the circuit opens; one log line): the tasks that
  declared they need it (``TaskSpec.needs``) are not claimed until the next probe time, which
  backs off to ``probe_max_s``; then the jobs claimed are the probe;
- once failing for ``alert_after_s`` (and down) the queue's outage hook opens one exception
  for the system (the cap that surfaces a system that never returns);
- the first real answer the system gives a job that needs it (any status but a 5xx or 429, as
  the clients report it to ``seamline.reachability``) resets the circuit: when it was down,
  one log line says it is back and the hook resolves the exception. An answer and then a
  failure in one job make that failure the first after a success, so it counts.

Only a task that declares the system in ``needs`` ends its outage (a health ping's look-up
answered proves nothing about posting); a task that declares none still waits out its outage
failures.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.db import Database
from seamline.adapters.store.repos import get_cursor, lock_name, set_cursor
from seamline.adapters.store.schema import cursors
from seamline.config import QueueSettings
from seamline.exceptions import RetriableError

__all__ = ["CircuitSettings", "Circuits", "SystemState", "Verdict", "outage_system"]

_PREFIX = "outage:"
#: Fewest failures in a row that can make a system down (two failures around a database cut,
#: whose successes could not be recorded, are not an outage).
OPEN_MIN_FAILURES = 3


def outage_system(exc: BaseException) -> str | None:
    """The external system a failure says is unavailable, or None (the job's own failure)."""
    if isinstance(exc, RetriableError) and exc.system:
        return str(exc.system)
    return None


@dataclass(frozen=True, slots=True)
class CircuitSettings:
    """How outages are told from a job's own failures (``[queues].outage_*``)."""

    open_after_s: float = 10.0
    probe_base_s: float = 1.0
    probe_max_s: float = 30.0
    alert_after_s: float = 900.0
    #: How stale a process's view of the circuits may be (it re-reads them this often).
    refresh_s: float = 1.0

    @classmethod
    def from_settings(cls, q: QueueSettings) -> CircuitSettings:
        return cls(open_after_s=q.outage_after_s,
                   probe_base_s=min(q.backoff_base_s, q.outage_probe_max_s),
                   probe_max_s=q.outage_probe_max_s, alert_after_s=q.outage_alert_after_min * 60)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class SystemState:
    """One system's circuit as stored."""

    system: str
    #: Failures since the system last succeeded (0: it is answering).
    failures: int = 0
    failing_since: datetime | None = None
    #: When the failures had lasted ``open_after_s``: the system is down.
    down_since: datetime | None = None
    #: While down: no job that needs the system is claimed before this.
    probe_at: datetime | None = None
    probes: int = 0
    alerted: bool = False
    last_error: str = ""

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def to_json(self) -> str:
        return json.dumps({
            "failures": self.failures, "failing_since": _iso(self.failing_since),
            "down_since": _iso(self.down_since), "probe_at": _iso(self.probe_at),
            "probes": self.probes, "alerted": self.alerted, "last_error": self.last_error,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, system: str, value: str | None) -> SystemState:
        try:
            raw = json.loads(value) if value else {}
        except ValueError:
            raw = {}
        if not isinstance(raw, dict):
            raw = {}
        return cls(system, failures=int(raw.get("failures") or 0),
                   failing_since=_dt(raw.get("failing_since")),
                   down_since=_dt(raw.get("down_since")), probe_at=_dt(raw.get("probe_at")),
                   probes=int(raw.get("probes") or 0), alerted=bool(raw.get("alerted")),
                   last_error=str(raw.get("last_error") or ""))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one outage failure means for its job and for the system."""

    #: The job's own failure: it counts toward ``max_attempts`` (the policy decides).
    counted: bool
    #: When not counted: how long the job waits.
    delay_s: float
    state: SystemState
    #: This failure found the system down (the circuit opened now).
    opened: bool = False
    #: This failure crossed ``alert_after_s``: the outage hook opens its exception.
    alert: bool = False


@dataclass
class _View:
    states: dict[str, SystemState] = field(default_factory=dict)
    read_at: float = float("-inf")


class Circuits:
    """Every system's circuit, read and changed through the store (thread-safe)."""

    def __init__(self, settings: CircuitSettings | None = None, *,
                 rng: random.Random | None = None) -> None:
        self.settings = settings or CircuitSettings()
        self.rng = rng or random.Random()
        self._view = _View()
        self._lock = threading.Lock()

    # -- changes (in the caller's transaction) ----------------------------------------------

    def failed(self, conn: Connection, system: str, error: str, now: datetime) -> Verdict:
        """Record an outage failure of ``system``; say whether it is the job's own."""
        s = self.settings
        key = _PREFIX + system
        lock_name(conn, key)
        st = SystemState.from_json(system, get_cursor(conn, key))
        counted = st.failures == 0
        since = now if counted or st.failing_since is None else st.failing_since
        st = replace(st, failures=st.failures + 1, failing_since=since,
                     last_error=error[:300])
        opened = (not st.down and st.failures >= OPEN_MIN_FAILURES
                  and (now - since).total_seconds() >= s.open_after_s)
        if opened:
            st = replace(st, down_since=now)
        if st.down:
            interval = min(s.probe_max_s, s.probe_base_s * 2.0 ** min(st.probes, 20))
            probe_at = now + timedelta(seconds=interval)
            st = replace(st, probes=st.probes + 1, probe_at=max(probe_at, st.probe_at or now))
        alert = (st.down and not st.alerted
                 and (now - since).total_seconds() >= s.alert_after_s)
        if alert:
            st = replace(st, alerted=True)
        set_cursor(conn, key, st.to_json(), now=now)
        self._remember(st)
        return Verdict(counted, 0.0 if counted else self._wait_s(st, now), st, opened, alert)

    def succeeded(self, conn: Connection, systems: Iterable[str],
                  now: datetime) -> list[SystemState]:
        """A job that needs ``systems`` succeeded: reset each one that was failing (as far as
        this process knows); returns the states of the outages this ended (down ones)."""
        ended: list[SystemState] = []
        for system in sorted(set(systems)):
            known = self._known(conn, system)
            if known is None or known.failures == 0:
                continue
            key = _PREFIX + system
            lock_name(conn, key)
            st = SystemState.from_json(system, get_cursor(conn, key))
            if st.failures == 0:
                self._remember(st)
                continue
            set_cursor(conn, key, SystemState(system).to_json(), now=now)
            self._remember(SystemState(system))
            if st.down:
                ended.append(st)
        return ended

    # -- reads --------------------------------------------------------------------------------

    def blocked(self, db: Database, now: datetime) -> frozenset[str]:
        """The systems known down whose next probe time is still ahead."""
        self._refresh(db)
        with self._lock:
            states = list(self._view.states.values())
        return frozenset(st.system for st in states
                         if st.down and st.probe_at is not None and st.probe_at > now)

    def states(self, db: Database) -> dict[str, SystemState]:
        """Every system's circuit as this process last read it (re-read when stale)."""
        self._refresh(db)
        with self._lock:
            return dict(self._view.states)

    def forget(self) -> None:
        """Drop this process's view (the next read goes to the store)."""
        with self._lock:
            self._view = _View()

    # -- internals ------------------------------------------------------------------------------

    def _wait_s(self, st: SystemState, now: datetime) -> float:
        s = self.settings
        delay = min(s.probe_max_s, s.probe_base_s * 2.0 ** min(st.failures - 1, 20))
        if st.probe_at is not None and st.down:
            delay = max(delay, (st.probe_at - now).total_seconds())
        return delay * (0.5 + self.rng.random())

    def _remember(self, st: SystemState) -> None:
        with self._lock:
            self._view.states[st.system] = st

    def _stale(self) -> bool:
        return time.monotonic() - self._view.read_at >= self.settings.refresh_s

    def _known(self, conn: Connection, system: str) -> SystemState | None:
        if self._stale():
            self._load(conn)
        with self._lock:
            return self._view.states.get(system)

    def _refresh(self, db: Database) -> None:
        if not self._stale():
            return
        with db.read() as conn:
            self._load(conn)

    def _load(self, conn: Connection) -> None:
        rows = conn.execute(sa.select(cursors.c.name, cursors.c.value)
                            .where(cursors.c.name.startswith(_PREFIX))).all()
        states = {str(n)[len(_PREFIX):]: SystemState.from_json(str(n)[len(_PREFIX):], str(v))
                  for n, v in rows}
        with self._lock:
            self._view = _View(states, time.monotonic())
