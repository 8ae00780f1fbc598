"""The worker: named queues, each with its own number of slot threads, plus a heartbeat.

Each slot claims (``limit=batch``) from its queue, runs the handler, and completes or fails the
job. A heartbeat thread renews the leases of every job this process holds (running or waiting
in a claimed batch). On stop (the CLI sets the event on SIGTERM) every slot finishes the job it
is running, releases the claimed jobs it has not started, and ``run`` returns. A lost
database never ends a slot: claiming is retried with backoff, logged once per outage.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from seamline import reachability
from seamline.adapters.store.db import Database
from seamline.exceptions import ConfigError, LeaseLost, SeamlineError, StoreError
from seamline.logging import get_logger, job_context
from seamline.queue.core import JobQueue
from seamline.queue.models import Job, Lease
from seamline.queue.outage import Outage
from seamline.queue.registry import TaskRegistry

__all__ = ["JobAbandoned", "JobContext", "Worker", "default_worker_id"]


class JobAbandoned(SeamlineError):
    """The job's lease kept expiring: its worker crashed or stalled every time it ran it."""

    exception_type = "JOB_ABANDONED"
    owner = "operations"


def default_worker_id() -> str:
    """``host:pid:random`` — unique per worker process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class JobContext:
    """What a handler gets besides its args."""

    job: Job
    lease: Lease
    db: Database
    queue: JobQueue
    log: Any
    lease_s: float = 60.0
    #: True once the handler completed the job itself (``transaction(complete=True)``).
    completed: bool = field(default=False)

    @contextmanager
    def transaction(self, *, complete: bool = False) -> Iterator[Connection]:
        """``db.begin()`` fenced by the lease at the start and again before commit: what is
        written here commits only if the job is still ours. With ``complete=True`` the job is
        marked succeeded in the same transaction (effects and completion commit together)."""
        with self.db.begin() as conn:
            self.queue.fence(conn, self.lease)
            yield conn
            if complete:
                self.queue.complete(self.lease, conn)
            else:
                self.queue.fence(conn, self.lease)
        if complete:
            self.completed = True

    def heartbeat(self) -> bool:
        """Renew the lease now (long handlers between steps); False if it was lost."""
        return self.queue.heartbeat(self.lease, self.lease_s)


class Worker:
    """Runs jobs from named queues until told to stop."""

    def __init__(
        self,
        db: Database,
        queue: JobQueue,
        registry: TaskRegistry,
        *,
        concurrency: Mapping[str, int],
        lease_s: float = 60.0,
        poll_interval_s: float = 0.5,
        worker_id: str | None = None,
        batch: int = 1,
        known_queues: Iterable[str] | None = None,
        heartbeat_s: float | None = None,
        batch_complete: bool = False,
    ) -> None:
        known = set(known_queues) if known_queues is not None else registry.queues() | {
            "default"
        }
        unknown = sorted(q for q in concurrency if q not in known)
        if unknown:
            raise ConfigError(
                f"unknown queue(s) {', '.join(unknown)}; known queues: {', '.join(sorted(known))}"
            )
        bad = sorted(q for q, n in concurrency.items() if n < 1)
        if bad:
            raise ConfigError(f"queue(s) {', '.join(bad)}: concurrency must be at least 1")
        if not concurrency:
            raise ConfigError(f"no queues to work; known queues: {', '.join(sorted(known))}")
        self.db = db
        self.queue = queue
        self.registry = registry
        self.concurrency = dict(concurrency)
        self.lease_s = lease_s
        self.poll_interval_s = poll_interval_s
        self.worker_id = worker_id or default_worker_id()
        self.batch = max(1, batch)
        #: Complete a claimed batch's successes in one transaction at the end of the batch
        #: (fewer commits; jobs stay leased and heart-beaten until then; at-least-once holds).
        self.batch_complete = batch_complete
        self.heartbeat_s = heartbeat_s or max(0.2, lease_s / 3)
        self.log = get_logger("seamline.worker", worker_id=self.worker_id)
        self._held: dict[int, Lease] = {}
        self._held_lock = threading.Lock()
        #: Jobs run by this worker (handy for tests and the benchmark).
        self.processed = 0
        self._count_lock = threading.Lock()
        #: One outage state for every slot and the heartbeat: a lost database is logged once.
        self._outage = Outage(self.log, "worker")

    # -- running --------------------------------------------------------------------------

    def run(self, stop_event: threading.Event) -> None:
        """Work until ``stop_event`` is set; then finish or release held jobs and return."""
        self.log.info("worker started", queues=self.concurrency)
        slots = [
            threading.Thread(
                target=self._slot, args=(name, stop_event), name=f"slot-{name}-{i}", daemon=True
            )
            for name, n in self.concurrency.items()
            for i in range(n)
        ]
        hb_stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(hb_stop,), name="heartbeat",
                                daemon=True)
        beat.start()
        for t in slots:
            t.start()
        for t in slots:
            t.join()
        hb_stop.set()
        beat.join()
        self.log.info("worker stopped", processed=self.processed)

    def run_once(self, queues: Iterable[str] | None = None, *, limit: int | None = None) -> int:
        """Claim once and run what was claimed, in this thread; returns how many ran."""
        leases = self.queue.claim(list(queues or self.concurrency), self.worker_id,
                                  lease_s=self.lease_s, limit=limit or self.batch)
        self._hold(leases)
        self._run_batch(leases, None)
        return len(leases)

    def drain(self, queues: Iterable[str] | None = None) -> int:
        """Run until nothing is due; returns how many ran (tests, one-shot commands)."""
        total = 0
        while n := self.run_once(queues):
            total += n
        return total

    def _slot(self, name: str, stop: threading.Event) -> None:
        idle = self.poll_interval_s
        while not stop.is_set():
            try:
                leases = self.queue.claim([name], self.worker_id, lease_s=self.lease_s,
                                          limit=self.batch)
            except StoreError as exc:
                stop.wait(self._outage.failed(exc))
                continue
            self._outage.recovered()
            if not leases:
                stop.wait(idle * (0.5 + random.random()))
                continue
            self._hold(leases)
            self._run_batch(leases, stop)

    def _run_batch(self, leases: list[Lease], stop: threading.Event | None) -> None:
        # Which systems answered these jobs tells the queue an outage is over.
        with reachability.watch():
            self._run_leases(leases, stop)

    def _run_leases(self, leases: list[Lease], stop: threading.Event | None) -> None:
        done: list[Lease] = []
        pending = done if self.batch_complete else None
        try:
            for i, lease in enumerate(leases):
                if stop is not None and stop.is_set():
                    self._release(leases[i:])
                    break
                self._execute(lease, pending)
        finally:
            if done:
                try:
                    lost = self.queue.complete_many(done)
                except StoreError as exc:
                    self.log.error("could not complete a batch; the leases will expire",
                                   error=str(exc))
                    lost = []
                for lease in lost:
                    self.log.warning("lease lost before completion", job_id=lease.job.id)
                for lease in done:
                    self._drop(lease)

    def _hold(self, leases: Iterable[Lease]) -> None:
        with self._held_lock:
            for lease in leases:
                self._held[lease.job.id] = lease

    def _drop(self, lease: Lease) -> None:
        with self._held_lock:
            self._held.pop(lease.job.id, None)

    def _release(self, leases: Iterable[Lease]) -> None:
        for lease in leases:
            try:
                self.queue.release(lease, reason="worker stopping")
            except (LeaseLost, StoreError) as exc:
                self.log.warning("release failed", job_id=lease.job.id, error=str(exc))
            finally:
                self._drop(lease)

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            with self._held_lock:
                held = list(self._held.values())
            if not held:
                continue
            try:
                lost = self.queue.heartbeat_many(held, self.lease_s)
            except StoreError as exc:
                self._outage.failed(exc)  # logged once per outage; the next beat retries
                continue
            for job_id in lost:
                self.log.warning("lease lost", job_id=job_id)

    def _execute(self, lease: Lease, pending: list[Lease] | None = None) -> None:
        job = lease.job
        with job_context(job_id=job.id, business_key=job.business_key, attempt=job.attempts,
                         task=job.task):
            self._execute_in_context(lease, pending)

    def _execute_in_context(self, lease: Lease, pending: list[Lease] | None) -> None:
        job = lease.job
        log = self.log.bind(job_id=job.id, task=job.task, business_key=job.business_key,
                            attempt=job.attempts)
        spec = self.registry.find(job.task)
        started = time.perf_counter()
        try:
            if spec is None:
                self.registry.get(job.task)  # raises ConfigError naming the known tasks
                return
            if job.attempts > job.max_attempts:
                raise JobAbandoned(
                    f"job {job.id} was claimed {job.attempts} times without finishing "
                    "(its worker crashed or stalled past the lease each time)"
                )
            ctx = JobContext(job, lease, self.db, self.queue, log, self.lease_s)
            spec.handler(ctx, dict(job.args))
            if not ctx.completed:
                if pending is not None:
                    pending.append(lease)
                    return  # completed (and dropped) with the rest of the batch
                self.queue.complete(lease)
            log.debug("job succeeded", ms=round((time.perf_counter() - started) * 1000, 1))
        except LeaseLost as exc:
            log.warning("lease lost; nothing applied", error=str(exc))
        except Exception as exc:
            self._fail(lease, exc, spec.exception_type if spec else None, log)
        finally:
            if pending is None or lease not in pending:
                self._drop(lease)
            with self._count_lock:
                self.processed += 1

    def _fail(self, lease: Lease, exc: BaseException, exception_type: str | None, log: Any) -> None:
        try:
            decision = self.queue.fail(lease, exc, exception_type=exception_type)
        except LeaseLost:
            log.warning("lease lost before the failure was recorded", error=str(exc))
            return
        except StoreError as store_exc:
            log.error("could not record failure; the lease will expire", error=str(store_exc))
            return
        # A wait is the system's outage, said once by the queue, not once per job.
        emit = log.debug if decision.action == "wait" else log.warning
        emit("job failed", error=decision.reason, action=decision.action,
             retry_in_s=round(decision.delay_s, 3), exception_id=decision.exception_id)
