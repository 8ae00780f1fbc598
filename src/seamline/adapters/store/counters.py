"""Counters shared by every process: ``StoreCallCounter`` (the ``CallCounter`` port) adds in
memory and flushes the sums to the ``counters`` table every few seconds (and on close), so a
worker's API calls show on the web process's ``/metrics``; ``read_counters`` reads them.

Why not per-process Prometheus counters: ``seamline worker`` serves no HTTP, so the calls a
worker makes would never be scraped; and a multi-process directory only works on one host.
A flush every ``flush_every_s`` is one upsert per changed counter, not one write per call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection

from seamline.adapters.store.db import Database
from seamline.adapters.store.schema import counters, job_events, jobs
from seamline.exceptions import SeamlineError
from seamline.logging import get_logger

__all__ = ["StoreCallCounter", "StoreCounters", "add_counters", "read_counters"]

log = get_logger("seamline.counters")


def _now() -> datetime:
    return datetime.now(UTC)


def add_counters(conn: Connection, deltas: dict[str, int], *, now: datetime) -> None:
    """Add ``deltas`` to the named counters (created at 0)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # noqa: PLC0415
    for name, n in sorted(deltas.items()):
        stmt = insert(counters).values(name=name, value=n, updated_at=now)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[counters.c.name],
            set_={"value": counters.c.value + stmt.excluded.value, "updated_at": now}))


def read_counters(conn: Connection, prefix: str) -> dict[str, int]:
    rows = conn.execute(sa.select(counters.c.name, counters.c.value)
                        .where(counters.c.name.startswith(prefix)))
    return {str(n): int(v) for n, v in rows}


class StoreCallCounter:
    """Counts API calls as ``api:<system>:<outcome>``; flushed by a daemon thread."""

    def __init__(self, db: Database, *, flush_every_s: float = 5.0,
                 clock: Callable[[], datetime] = _now) -> None:
        self.db = db
        self.flush_every_s = flush_every_s
        self.clock = clock
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, system: str, outcome: str) -> None:
        name = f"api:{system}:{outcome}"
        with self._lock:
            self._pending[name] = self._pending.get(name, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="counter-flush",
                                                daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._lock:
            deltas, self._pending = self._pending, {}
        if not deltas:
            return
        try:
            with self.db.begin() as conn:
                add_counters(conn, deltas, now=self.clock())
        except SeamlineError as exc:  # the store is down: keep the counts for the next flush
            log.warning("counters not flushed", error=exc.message)
            with self._lock:
                for k, v in deltas.items():
                    self._pending[k] = self._pending.get(k, 0) + v

    def _run(self) -> None:
        while not self._stop.wait(self.flush_every_s):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.flush_every_s + 5)
        self.flush()


class StoreCounters(Collector):
    """``/metrics`` counters read from the store at scrape time, so every process counts:

    - ``seamline_api_calls_total{system,outcome}``: calls to Centra and BlueCherry by outcome
      (``ok``, ``client_error``, ``rate_limited`` = 429, ``server_error``, ``no_answer``);
    - ``seamline_job_events_total{queue,event}``: the queue's job events (``retry``,
      ``wait`` = an outage's wait, ``release``, ``failed`` = gave up, ...).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[CounterMetricFamily]:
        calls = CounterMetricFamily("seamline_api_calls",
                                    "Calls to Centra and BlueCherry by outcome.",
                                    labels=["system", "outcome"])
        events = CounterMetricFamily("seamline_job_events", "Job events by queue and event "
                                     "(retry, wait, release, failed, ...).",
                                     labels=["queue", "event"])
        try:
            with self.db.read() as conn:
                for name, n in sorted(read_counters(conn, "api:").items()):
                    _, system, outcome = name.split(":", 2)
                    calls.add_metric([system, outcome], n)
                rows = conn.execute(
                    sa.select(jobs.c.queue, job_events.c.event, sa.func.count())
                    .select_from(job_events.join(jobs, jobs.c.id == job_events.c.job_id))
                    .group_by(jobs.c.queue, job_events.c.event))
                for queue, event, n in rows:
                    events.add_metric([str(queue), str(event)], int(n))
        except SeamlineError:
            return  # seamline_store_up says why
        yield calls
        yield events
