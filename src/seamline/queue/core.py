"""The durable job queue (a transactional outbox) on SQLAlchemy Core, SQLite or PostgreSQL.

Written by hand rather than taken from a library: it must share the ledger's transaction on
both SQLite and PostgreSQL (pgqueuer and procrastinate are PostgreSQL-only).

- ``enqueue`` runs in the caller's transaction; a live job with the same dedupe key makes it a
  no-op (a partial unique index over ``todo``/``doing`` rows, ``ON CONFLICT DO NOTHING``).
- ``claim`` leases up to ``limit`` due jobs in one statement: ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, one ``BEGIN IMMEDIATE`` transaction on SQLite. A ``doing`` job whose lease expired
  is claimable again; every claim counts an attempt.
- Every write on a claimed job is fenced by its lease token (``WHERE id = ? AND lease_token = ?
  AND status = 'doing'``); a worker that lost its lease gets ``LeaseLost`` and applies nothing.
- ``job_events`` records what is not on the job row: failures, retries, releases, give-ups and
  manual actions (not every claim and completion, to keep the hot path at two statements).
- The queue knows no business: what a give-up or a success means (an exception opened for the
  job's business key, the key's open exceptions resolved) is given to it as ``QueueHooks``,
  which the composition root wires to the exception service. Both hooks run in the same
  transaction as the job's own update.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline import reachability
from seamline.adapters.store.db import Database
from seamline.adapters.store.repos import requeue_job, utcnow
from seamline.adapters.store.schema import JOB_STATUSES, job_events, jobs
from seamline.exceptions import LeaseLost
from seamline.logging import get_logger
from seamline.queue.circuit import Circuits, SystemState, outage_system
from seamline.queue.hooks import GiveUpHook, OutageHook, QueueHooks, SuccessHook
from seamline.queue.models import Job, JobStatus, Lease
from seamline.queue.policy import RetryDecision, RetryPolicy, describe_error
from seamline.queue.statements import (
    COMPLETE_MANY,
    COMPLETE_ONE,
    FENCE,
    claim_stmt,
    enqueue_stmt,
)

if TYPE_CHECKING:
    from seamline.queue.registry import TaskRegistry

__all__ = ["GiveUpHook", "JobQueue", "OutageHook", "QueueHooks", "SuccessHook"]


class JobQueue:
    """Enqueue, claim, complete, fail and inspect jobs."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] | None = None,
        policy: RetryPolicy | None = None,
        registry: TaskRegistry | None = None,
        hooks: QueueHooks | None = None,
        circuits: Circuits | None = None,
    ) -> None:
        self.db = db
        self.clock = clock or utcnow
        self.policy = policy or RetryPolicy()
        self.hooks = hooks or QueueHooks()
        #: Centra's and BlueCherry's outages, shared through the store (``queue.circuit``).
        self.circuits = circuits or Circuits()
        self.log = get_logger("seamline.queue")
        #: Optional: lets ``enqueue`` default the queue name from the task's registration.
        self.registry = registry

    # -- producing ------------------------------------------------------------------------

    def enqueue(
        self,
        conn: Connection,
        task: str,
        args: Mapping[str, Any],
        *,
        queue: str | None = None,
        dedupe_key: str | None = None,
        business_key: str | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        priority: int = 0,
    ) -> int | None:
        """Add a job in the caller's transaction; None when a live job has ``dedupe_key``.

        Job args are JSON: amounts travel as strings (``Decimal`` is written as a string).
        ``queue`` defaults to the task's registered queue, else ``"default"``.
        """
        if queue is None:
            spec = self.registry.find(task) if self.registry is not None else None
            queue = spec.queue if spec is not None else "default"
        if max_attempts is None:
            spec = self.registry.find(task) if self.registry is not None else None
            max_attempts = (spec.max_attempts if spec is not None else None) or (
                self.policy.max_attempts
            )
        now = self.clock()
        values = {
            "queue": queue, "task": task, "args": dict(args), "status": "todo",
            "priority": priority, "dedupe_key": dedupe_key, "business_key": business_key,
            "attempts": 0, "max_attempts": max_attempts, "run_at": run_at or now,
            "created_at": now, "updated_at": now,
        }
        new_id = conn.execute(
            enqueue_stmt(conn.dialect.name if dedupe_key is not None else None),
            {f"p_{name}": value for name, value in values.items()},
        ).scalar()
        return None if new_id is None else int(new_id)

    def enqueue_many(
        self,
        conn: Connection,
        task: str,
        args_list: Iterable[Mapping[str, Any]],
        *,
        queue: str | None = None,
        business_keys: Sequence[str | None] | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
        priority: int = 0,
    ) -> builtins.list[int]:
        """Add many jobs of one task in one statement (no dedupe keys); returns their ids in
        order. Same transaction rules as ``enqueue``."""
        spec = self.registry.find(task) if self.registry is not None else None
        queue = queue or (spec.queue if spec is not None else "default")
        max_attempts = max_attempts or (spec.max_attempts if spec else None) or (
            self.policy.max_attempts
        )
        now = self.clock()
        rows = [
            {
                "queue": queue, "task": task, "args": dict(args), "status": "todo",
                "priority": priority, "dedupe_key": None,
                "business_key": business_keys[i] if business_keys is not None else None,
                "attempts": 0, "max_attempts": max_attempts, "run_at": run_at or now,
                "created_at": now, "updated_at": now,
            }
            for i, args in enumerate(args_list)
        ]
        if not rows:
            return []
        stmt = sa.insert(jobs).returning(jobs.c.id, sort_by_parameter_order=True)
        return [int(i) for i in conn.execute(stmt, rows).scalars()]

    # -- consuming ------------------------------------------------------------------------

    def claim(
        self, queues: Sequence[str], worker_id: str, *, lease_s: float, limit: int = 1,
    ) -> list[Lease]:
        """Lease up to ``limit`` due jobs from ``queues`` (priority, then run_at order)."""
        now = self.clock()
        token = uuid.uuid4().hex
        skip = self._waiting_tasks(now)
        with self.db.begin() as conn:
            rows = conn.execute(claim_stmt(self.db.dialect), {
                "queues": list(queues), "now": now, "limit": limit, "skip": skip,
                "candidates": limit * 4 + 32, "token": token,
                "expires": now + timedelta(seconds=lease_s), "worker": worker_id,
            }).all()
        found = sorted((Job.from_row(r) for r in rows), key=lambda j: (-j.priority, j.run_at, j.id))
        return [Lease(job, token) for job in found]

    def _needs(self, job: Job) -> tuple[str, ...]:
        spec = self.registry.find(job.task) if self.registry is not None else None
        return spec.needs if spec is not None else ()

    def _waiting_tasks(self, now: datetime) -> builtins.list[str]:
        """The tasks not to claim now: they need a system that is down until its next probe."""
        if self.registry is None:
            return []
        down = self.circuits.blocked(self.db, now)
        if not down:
            return []
        return [spec.name for spec in self.registry if down.intersection(spec.needs)]

    def _systems_answered(self, conn: Connection, now: datetime, ran: Iterable[Job]) -> None:
        """The systems that answered this thread's jobs (``seamline.reachability``) and that
        those jobs' tasks need are up: an outage of any of them is over. (Only what a task
        needs: the health ping's look-up answered during a partial outage proves nothing about
        posting.)"""
        up = set(reachability.answers())
        if up and self.registry is not None:
            up &= {system for job in ran for system in self._needs(job)}
        if not up:
            return
        for st in self.circuits.succeeded(conn, up, now):
            gone = (now - st.failing_since).total_seconds() if st.failing_since else 0.0
            self.log.info(f"{st.system} is back: the jobs that need it run again",
                          system=st.system, outage_s=round(gone, 1),
                          failed_tries=st.failures)
            if self.hooks.on_outage is not None:
                self.hooks.on_outage(conn, st, ended=True, now=now)

    def heartbeat(self, lease: Lease, lease_s: float) -> bool:
        """Extend the lease; False when it is no longer ours."""
        return not self.heartbeat_many([lease], lease_s)

    def heartbeat_many(self, leases: Iterable[Lease], lease_s: float) -> set[int]:
        """Extend many leases in one transaction; returns the ids whose lease was lost."""
        leases = list(leases)
        if not leases:
            return set()
        now = self.clock()
        lost: set[int] = set()
        by_token: dict[str, list[int]] = {}
        for lease in leases:
            by_token.setdefault(lease.token, []).append(lease.job.id)
        with self.db.begin() as conn:
            for token, ids in by_token.items():
                kept = conn.execute(
                    sa.update(jobs)
                    .where(jobs.c.id.in_(ids), jobs.c.lease_token == token,
                           jobs.c.status == "doing")
                    .values(lease_expires_at=now + timedelta(seconds=lease_s))
                    .returning(jobs.c.id)
                ).scalars().all()
                lost.update(set(ids) - {int(i) for i in kept})
        return lost

    def fence(self, conn: Connection, lease: Lease) -> None:
        """Prove, inside the caller's transaction, that the lease is still ours (and hold the
        job row until commit); raise ``LeaseLost`` otherwise."""
        done = conn.execute(FENCE, {"jid": lease.job.id, "token": lease.token,
                                     "now": self.clock()}).rowcount
        if not done:
            raise LeaseLost(f"job {lease.job.id}: lease lost (expired or taken over)")

    def _finish(self, conn: Connection, lease: Lease, **values: Any) -> None:
        done = conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == lease.job.id, jobs.c.lease_token == lease.token,
                   jobs.c.status == "doing")
            .values(updated_at=self.clock(), lease_token=None, lease_expires_at=None, **values)
        ).rowcount
        if not done:
            raise LeaseLost(f"job {lease.job.id}: lease lost (expired or taken over)")

    def complete(self, lease: Lease, conn: Connection | None = None) -> None:
        """Mark the job succeeded (fenced) and run ``hooks.on_success`` in the same transaction
        (the composition root resolves the open exceptions for the job's key there)."""
        if conn is None:
            with self.db.begin() as own:
                self._complete(own, lease)
        else:
            self._complete(conn, lease)

    def complete_many(self, leases: Sequence[Lease]) -> builtins.list[Lease]:
        """Complete many jobs in one transaction (fenced each); returns the leases that were
        lost (those jobs are left to their new owner)."""
        lost: builtins.list[Lease] = []
        if not leases:
            return lost
        now = self.clock()
        with self.db.begin() as conn:
            by_token: dict[str, builtins.list[Lease]] = {}
            for lease in leases:
                by_token.setdefault(lease.token, []).append(lease)
            for token, group in by_token.items():
                done = {
                    int(i) for i in conn.execute(COMPLETE_MANY, {
                        "ids": [g.job.id for g in group], "token": token, "now": now,
                    }).scalars()
                }
                lost.extend(g for g in group if g.job.id not in done)
                if self.hooks.on_success is not None:
                    for g in group:
                        if g.job.id in done:
                            self.hooks.on_success(conn, g.job, now=now)
                self._systems_answered(conn, now, (g.job for g in group if g.job.id in done))
        return lost

    def _complete(self, conn: Connection, lease: Lease) -> None:
        done = conn.execute(COMPLETE_ONE, {"jid": lease.job.id, "token": lease.token,
                                            "now": self.clock()}).rowcount
        if not done:
            raise LeaseLost(f"job {lease.job.id}: lease lost (expired or taken over)")
        now = self.clock()
        if self.hooks.on_success is not None:
            self.hooks.on_success(conn, lease.job, now=now)
        self._systems_answered(conn, now, (lease.job,))

    def fail(
        self, lease: Lease, exc: BaseException, *, exception_type: str | None = None,
    ) -> RetryDecision:
        """Record a failure (fenced) and apply the retry policy; on give-up the job is marked
        failed and ``hooks.on_give_up`` runs in the same transaction (the composition root
        opens an exception for the job's business key there).

        A failure of Centra or BlueCherry is first reported to the system's circuit: when the
        system's outage explains it, the job waits without counting an attempt
        (``seamline.queue.circuit``)."""
        now = self.clock()
        job = lease.job
        decision = self.policy.decide(job, exc, now, exception_type=exception_type)
        error = describe_error(exc)
        system = outage_system(exc)
        opened: SystemState | None = None
        with self.db.begin() as conn:
            self.fence(conn, lease)  # the job row first, then the circuits: one lock order
            # What answered this job is up; an answer, then a failure from the same system: the
            # failure follows a success, so it is the job's own (it counts).
            self._systems_answered(conn, now, (job,))
            if system is not None and decision.action != "release":
                verdict = self.circuits.failed(conn, system, error, now)
                if not verdict.counted:
                    decision = self.policy.wait(exc, now, verdict.delay_s, system)
                    opened = verdict.state if verdict.opened else None
                    if verdict.alert and self.hooks.on_outage is not None:
                        self.hooks.on_outage(conn, verdict.state, ended=False, now=now)
            decision = self._record(conn, lease, exc, decision, error, now)
        if opened is not None:
            self.log.error(f"{system} is down: the jobs that need it wait (not counted as "
                           "attempts) and are tried again as it is probed", system=system,
                           failing_s=round((now - (opened.failing_since or now))
                                           .total_seconds(), 1),
                           failed_tries=opened.failures, error=opened.last_error)
        return decision

    def _uncount(self) -> Any:
        """``attempts - 1`` (not below 0): a release or a wait is not an attempt."""
        if self.db.dialect == "sqlite":
            return sa.func.max(jobs.c.attempts - 1, 0)
        return sa.func.greatest(jobs.c.attempts - 1, 0)

    def _record(  # noqa: PLR0917 - private, called in one shape
        self, conn: Connection, lease: Lease, exc: BaseException, decision: RetryDecision,
        error: str, now: datetime,
    ) -> RetryDecision:
        job = lease.job
        if decision.action == "retry":
            self._finish(conn, lease, status="todo", run_at=decision.run_at,
                         worker_id=None, last_error=error)
        elif decision.action in {"release", "wait"}:
            self._finish(conn, lease, status="todo", run_at=decision.run_at,
                         worker_id=None, last_error=error, attempts=self._uncount())
        else:
            self._finish(conn, lease, status="failed", last_error=error)
            exc_id = (
                self.hooks.on_give_up(conn, job, exc, decision, error=error, now=now)
                if self.hooks.on_give_up is not None else None
            )
            decision = RetryDecision(
                decision.action, decision.reason, decision.run_at, decision.delay_s,
                decision.exception_type, decision.owner, exc_id,
            )
        self._event(conn, job.id, decision.action, job.attempts, job.worker_id, {
            "error": error, "delay_s": round(decision.delay_s, 3),
            "exception_id": decision.exception_id,
        }, now)
        return decision

    def release(self, lease: Lease, run_at: datetime | None = None, *, reason: str = "") -> None:
        """Put a claimed job back (not counted as an attempt), due at ``run_at`` (default now)."""
        now = self.clock()
        with self.db.begin() as conn:
            self._finish(conn, lease, status="todo", run_at=run_at or now, worker_id=None,
                         attempts=self._uncount())
            self._event(conn, lease.job.id, "released", lease.job.attempts,
                        lease.job.worker_id, {"reason": reason} if reason else None, now)

    # -- operators --------------------------------------------------------------------------

    def retry(self, job_id: int, *, actor: str = "operator") -> bool:
        """Manually re-queue a failed or cancelled job (attempts reset). False if not possible."""
        now = self.clock()
        with self.db.begin() as conn:
            if not requeue_job(conn, job_id, now=now):
                return False
            self._event(conn, job_id, "retried", 0, None, {"actor": actor}, now)
        return True

    def cancel(self, job_id: int, *, actor: str = "operator") -> bool:
        """Cancel a job that has not started (``todo``). False if it is not waiting."""
        now = self.clock()
        with self.db.begin() as conn:
            done = conn.execute(
                sa.update(jobs).where(jobs.c.id == job_id, jobs.c.status == "todo")
                .values(status="cancelled", updated_at=now)
            ).rowcount
            if done:
                self._event(conn, job_id, "cancelled", 0, None, {"actor": actor}, now)
        return bool(done)

    def get(self, job_id: int) -> Job | None:
        """One job, or None."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return Job.from_row(row) if row is not None else None

    def list(
        self,
        status: str | JobStatus | None = None,
        queue: str | None = None,
        task: str | None = None,
        limit: int = 50,
        *,
        business_key: str | None = None,
    ) -> list[Job]:
        """Jobs, newest first."""
        q = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if status is not None:
            q = q.where(jobs.c.status == str(status))
        if queue is not None:
            q = q.where(jobs.c.queue == queue)
        if task is not None:
            q = q.where(jobs.c.task == task)
        if business_key is not None:
            q = q.where(jobs.c.business_key == business_key)
        with self.db.read() as conn:
            return [Job.from_row(r) for r in conn.execute(q)]

    def counts(self, *, by_queue: bool = False) -> dict[str, Any]:
        """``{status: n}`` for every status; with ``by_queue``, ``{queue: {status: n}}``."""
        q = sa.select(jobs.c.queue, jobs.c.status, sa.func.count()).group_by(
            jobs.c.queue, jobs.c.status
        )
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        if by_queue:
            out: dict[str, Any] = {}
            for queue, status, n in rows:
                out.setdefault(queue, dict.fromkeys(JOB_STATUSES, 0))[status] = int(n)
            return out
        totals = dict.fromkeys(JOB_STATUSES, 0)
        for _queue, status, n in rows:
            totals[status] += int(n)
        return totals

    def events(self, job_id: int) -> builtins.list[dict[str, Any]]:
        """The job's event history, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(job_events).where(job_events.c.job_id == job_id)
                .order_by(job_events.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def _event(  # noqa: PLR0917 - private, called in one shape
        self, conn: Connection, job_id: int, event: str, attempt: int, worker_id: str | None,
        detail: Mapping[str, Any] | None, now: datetime,
    ) -> None:
        conn.execute(
            sa.insert(job_events).values(
                job_id=job_id, at=now, event=event, attempt=attempt, worker_id=worker_id,
                detail=dict(detail) if detail is not None else None,
            )
        )
