"""The scheduler: enqueue each schedule's task once per tick, with exactly one active.

Leadership: a PostgreSQL advisory lock held on a dedicated connection, or a file lock next to
the SQLite database. Even if two schedulers ever ran at once, a tick is recorded in
``schedule_ticks`` (unique per schedule and tick time) in the same transaction that enqueues its
job with the dedupe key ``schedule:<name>:<tick>``, so a tick never runs twice — across
restarts too. Ticks are aligned to multiples of ``every_s`` since the epoch; missed ticks are
not replayed (the next one covers them).

A lost database never ends the scheduler: a failed step is retried with backoff, logged once
per outage, and ticking resumes when the database returns (``seamline.queue.outage``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection

from seamline.adapters.store.db import Database
from seamline.adapters.store.repos import upsert_insert, utcnow
from seamline.adapters.store.schema import schedule_ticks
from seamline.exceptions import StoreError
from seamline.logging import get_logger
from seamline.queue.core import JobQueue
from seamline.queue.outage import Outage

__all__ = ["ADVISORY_LOCK_KEY", "Schedule", "Scheduler"]

#: PostgreSQL advisory lock key for the scheduler ("seamline" in hex-ish).
ADVISORY_LOCK_KEY = 0x5EA_1173


class Schedule(Protocol):
    """What a schedule needs (``seamline.config.ScheduleEntry`` fits)."""

    @property
    def task(self) -> str: ...
    @property
    def every_s(self) -> int: ...
    @property
    def args(self) -> Mapping[str, Any]: ...


class Scheduler:
    """Enqueues scheduled tasks; only the leader ticks."""

    def __init__(
        self,
        db: Database,
        queue: JobQueue,
        schedules: Mapping[str, Schedule],
        clock: Callable[[], datetime] | None = None,
        *,
        poll_interval_s: float = 1.0,
        lock_path: Path | None = None,
    ) -> None:
        self.db = db
        self.queue = queue
        self.schedules = dict(schedules)
        self.clock = clock or utcnow
        self.poll_interval_s = poll_interval_s
        self.log = get_logger("seamline.scheduler")
        self._pg_conn: Connection | None = None
        self._file_lock: FileLock | None = None
        if lock_path is None and db.sqlite_path is not None:
            lock_path = db.sqlite_path.with_name(db.sqlite_path.name + ".scheduler.lock")
        self.lock_path = lock_path
        self.leader = False

    # -- leadership -------------------------------------------------------------------------

    def try_lead(self) -> bool:
        """Become the active scheduler if no other is; True when this one leads."""
        if self.leader:
            if self._pg_conn is not None:
                try:
                    self._pg_conn.exec_driver_sql("SELECT 1")
                except sa.exc.DBAPIError:
                    self.log.warning("lost the scheduler lock connection")
                    self._drop_pg()
                    return False
            return True
        if self.db.dialect == "postgresql":
            conn = self.db.connect()
            try:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                got = bool(conn.execute(
                    sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
                ).scalar())
            except sa.exc.DBAPIError as exc:
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.close()
                raise StoreError(f"could not take the scheduler lock: {exc.orig}") from exc
            if not got:
                conn.close()
                return False
            self._pg_conn = conn
        elif self.lock_path is not None:
            lock = FileLock(str(self.lock_path), timeout=0)
            try:
                lock.acquire()
            except Timeout:
                return False
            self._file_lock = lock
        self.leader = True
        self.log.info("scheduler is active", schedules=sorted(self.schedules))
        return True

    def _drop_pg(self) -> None:
        if self._pg_conn is not None:
            with contextlib.suppress(sa.exc.DBAPIError):  # the connection may be gone
                self._pg_conn.close()
            self._pg_conn = None
        self.leader = False

    def step_down(self) -> None:
        """Give up leadership (another scheduler may take over)."""
        if self._pg_conn is not None:
            with contextlib.suppress(sa.exc.DBAPIError):
                self._pg_conn.execute(
                    sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY}
                )
            self._drop_pg()
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None
        self.leader = False

    # -- ticking ----------------------------------------------------------------------------

    @staticmethod
    def tick_time(now: datetime, every_s: int) -> datetime:
        """The start of the tick ``now`` falls in (multiples of ``every_s`` since the epoch)."""
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % every_s, UTC)

    def tick(self) -> dict[str, int | None]:
        """Record and enqueue every schedule's current tick not yet recorded.

        Returns ``{schedule: job_id}`` for the ticks this call enqueued (None if the job was
        deduped against a live one).
        """
        now = self.clock()
        out: dict[str, int | None] = {}
        for name, sched in self.schedules.items():
            at = self.tick_time(now, sched.every_s)
            with self.db.begin() as conn:
                ins = upsert_insert(conn)(schedule_ticks).values(
                    schedule=name, tick=at, created_at=now
                ).on_conflict_do_nothing().returning(schedule_ticks.c.id)
                tick_id = conn.execute(ins).scalar()
                if tick_id is None:
                    continue
                job_id = self.queue.enqueue(
                    conn, sched.task, dict(sched.args),
                    dedupe_key=f"schedule:{name}:{at.isoformat()}",
                    business_key=f"schedule:{name}",
                )
                conn.execute(
                    sa.update(schedule_ticks).where(schedule_ticks.c.id == tick_id)
                    .values(job_id=job_id)
                )
            out[name] = job_id
            self.log.info("tick", schedule=name, tick=at.isoformat(), job_id=job_id)
        return out

    def run(self, stop_event: threading.Event) -> None:
        """Tick every ``poll_interval_s`` while leading (standby otherwise) until stopped."""
        outage = Outage(self.log, "scheduler")
        try:
            while not stop_event.is_set():
                try:
                    if self.try_lead():
                        self.tick()
                except (StoreError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                    # The database went away: keep standing by, logged once per outage; the
                    # leadership connection is checked (and dropped if dead) on the next try.
                    stop_event.wait(outage.failed(exc))
                    continue
                outage.recovered()
                stop_event.wait(self.poll_interval_s)
        finally:
            self.step_down()


