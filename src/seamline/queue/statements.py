"""The queue's hot-path statements, built once with bound parameters (SQLAlchemy reuses their
compiled form and cache key instead of rebuilding both per call)."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from seamline.adapters.store.repos import dialect_insert
from seamline.adapters.store.schema import jobs

__all__ = ["COMPLETE_MANY", "COMPLETE_ONE", "FENCE", "B", "claim_stmt", "enqueue_stmt"]

B = sa.bindparam
OWNED = (jobs.c.id == B("jid"), jobs.c.lease_token == B("token"), jobs.c.status == "doing")
FENCE = sa.update(jobs).where(*OWNED).values(updated_at=B("now"))
DONE: dict[str, Any] = {"status": "succeeded", "last_error": None, "updated_at": B("now"),
                         "lease_token": None, "lease_expires_at": None}
COMPLETE_ONE = sa.update(jobs).where(*OWNED).values(**DONE)
COMPLETE_MANY = (
    sa.update(jobs)
    .where(jobs.c.id.in_(B("ids", expanding=True)), jobs.c.lease_token == B("token"),
           jobs.c.status == "doing")
    .values(**DONE).returning(jobs.c.id)
)
JOB_VALUES = ("queue", "task", "args", "status", "priority", "dedupe_key", "business_key",
               "attempts", "max_attempts", "run_at", "created_at", "updated_at")


@functools.cache
def enqueue_stmt(dedupe_dialect: str | None) -> Any:
    """The job insert; with a dialect, ``ON CONFLICT DO NOTHING`` (a live dedupe key wins)."""
    values: dict[str, Any] = {name: B(f"p_{name}") for name in JOB_VALUES}
    if dedupe_dialect is None:
        return sa.insert(jobs).values(**values).returning(jobs.c.id)
    return (dialect_insert(dedupe_dialect)(jobs).values(**values).on_conflict_do_nothing()
            .returning(jobs.c.id))


@functools.cache
def claim_stmt(dialect: str) -> Any:
    due = sa.or_(
        sa.and_(jobs.c.status == "todo", jobs.c.run_at <= B("now")),
        sa.and_(jobs.c.status == "doing", jobs.c.lease_expires_at < B("now")),
    )
    order = (jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id)
    values = {
        "status": "doing", "lease_token": B("token"), "lease_expires_at": B("expires"),
        "worker_id": B("worker"), "attempts": jobs.c.attempts + 1, "updated_at": B("now"),
    }
    in_queues = jobs.c.queue.in_(B("queues", expanding=True))
    # Candidates first, each branch by its own index: due ``todo`` jobs in claim order
    # (``ix_jobs_due``: no sort of the whole backlog), but none of a task in ``skip`` (it needs
    # a system that is down), and jobs whose lease expired.
    branches = [
        sa.select(jobs.c.id, jobs.c.priority, jobs.c.run_at)
        .where(in_queues, *where).order_by(*order).limit(B("candidates")).subquery()
        for where in ((jobs.c.status == "todo", jobs.c.run_at <= B("now"),
                       jobs.c.task.not_in(B("skip", expanding=True))),
                      (jobs.c.status == "doing", jobs.c.lease_expires_at < B("now")))
    ]
    cand = sa.union_all(*(sa.select(b.c.id, b.c.priority, b.c.run_at) for b in branches)
                        ).subquery("cand")
    best = (sa.select(jobs.c.id).join(cand, cand.c.id == jobs.c.id).where(due)
            .order_by(cand.c.priority.desc(), cand.c.run_at, cand.c.id).limit(B("limit")))
    if dialect == "postgresql":
        # Lock the best candidates with SKIP LOCKED; a few times ``limit`` candidates leave
        # room for the ones other workers are claiming at the same moment. A locking CTE runs
        # exactly once. (``id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)`` may be
        # re-evaluated per row by the planner and lease far more than n.)
        picked = best.with_for_update(of=jobs, skip_locked=True).cte("picked")
        return sa.update(jobs).where(jobs.c.id == picked.c.id).values(**values).returning(*jobs.c)
    # SQLite: one writer at a time (BEGIN IMMEDIATE); the IN list is computed once.
    return (sa.update(jobs).where(jobs.c.id.in_(best.scalar_subquery()), due)
            .values(**values).returning(*jobs.c))
