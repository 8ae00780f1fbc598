"""The dashboard's reads (``seamline.services.dashboard.DashboardReads``) on SQLite and
PostgreSQL: every figure is counted by the database (``COUNT``/``MIN``/``MAX`` on indexed
columns) and every list is one page (``LIMIT``/``OFFSET``), so the pages stay fast with a large
ledger. Read-only: each call is one short read transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.db import Database
from seamline.adapters.store.schema import (
    exception_orders,
    exceptions,
    job_events,
    jobs,
    ledger,
)
from seamline.domain.dashboard import (
    ExceptionFilter,
    ExceptionRow,
    JobLine,
    LedgerLine,
    QueueFigures,
    StateFigures,
    TraceLine,
)

__all__ = ["SqlDashboardReads"]

#: Characters LIKE treats specially, escaped in a search term.
_LIKE_ESCAPE = "\\"


def _like(term: str) -> str:
    escaped = (term.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", _LIKE_ESCAPE + "%")
               .replace("_", _LIKE_ESCAPE + "_"))
    return f"%{escaped}%"


#: Jobs of one queue that ended in one status since a time (a range of the index).
_ENDED = sa.select(sa.func.count()).select_from(jobs).where(
    jobs.c.status == sa.bindparam("status"), jobs.c.queue == sa.bindparam("queue"),
    jobs.c.updated_at >= sa.bindparam("since", type_=jobs.c.updated_at.type))
#: The latest end of one queue's jobs in one status (the index range's last entry).
_LAST = sa.select(sa.func.max(jobs.c.updated_at)).where(
    jobs.c.status == sa.bindparam("status"), jobs.c.queue == sa.bindparam("queue"))


class SqlDashboardReads:
    """The dashboard's queries on ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- overview ---------------------------------------------------------------------------

    def queue_figures(self, *, since: datetime, now: datetime,
                      queues: Sequence[str] = ()) -> list[QueueFigures]:
        """Per queue (``queues`` and every queue with a live or failed job): waiting, running,
        failed; outcomes since ``since``; the oldest due job; the last success. Per queue the
        figures are ranges of ``ix_jobs_status_queue_updated`` and ``ix_jobs_claim``."""
        figures: dict[str, dict[str, Any]] = {q: {} for q in queues}
        with self.db.read() as conn:
            for queue, status, n in conn.execute(
                    sa.select(jobs.c.queue, jobs.c.status, sa.func.count())
                    .where(jobs.c.status.in_(("todo", "doing", "failed")))
                    .group_by(jobs.c.queue, jobs.c.status)):
                figures.setdefault(queue, {})[status] = int(n)
            for queue, at in conn.execute(
                    sa.select(jobs.c.queue, sa.func.min(jobs.c.run_at))
                    .where(jobs.c.status == "todo", jobs.c.run_at <= now)
                    .group_by(jobs.c.queue)):
                figures.setdefault(queue, {})["oldest_due"] = _aware(at)
            for queue, f in figures.items():
                for status in ("succeeded", "failed"):
                    n = conn.execute(_ENDED, {"status": status, "queue": queue,
                                              "since": since}).scalar_one()
                    if n:
                        f[f"{status}_recent"] = int(n)
                f["last_success"] = _aware(conn.execute(
                    _LAST, {"status": "succeeded", "queue": queue}).scalar())
        return [QueueFigures(queue=q, **f) for q, f in sorted(figures.items())]

    def ledger_states(self, kind: str, states: Sequence[str]) -> list[StateFigures]:
        """Ledger rows of ``kind`` in each of ``states`` (those with any), with the oldest
        row's last change: ranges of ``ix_ledger_kind_state_updated``."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(ledger.c.state, sa.func.count(), sa.func.min(ledger.c.updated_at))
                .where(ledger.c.kind == kind, ledger.c.state.in_(list(states)))
                .group_by(ledger.c.state)).all()
        return [StateFigures(str(s), int(n), _aware(oldest)) for s, n, oldest in rows]

    def ledger_page(self, kind: str, state: str, *, offset: int,
                    limit: int) -> tuple[list[LedgerLine], int]:
        """Rows of ``kind`` in ``state``, longest waiting first (a range of
        ``ix_ledger_kind_state_updated``), and how many there are."""
        where = (ledger.c.kind == kind, ledger.c.state == state)
        with self.db.read() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(ledger)
                                     .where(*where)).scalar_one())
            rows = conn.execute(
                sa.select(ledger.c.business_key, ledger.c.state, ledger.c.updated_at,
                          ledger.c.data)
                .where(*where).order_by(ledger.c.updated_at, ledger.c.id)
                .offset(offset).limit(limit)).all()
        return [LedgerLine(str(k), str(st), _aware_req(at),
                           _reason(data)) for k, st, at, data in rows], total

    def open_exception_ages(self) -> list[tuple[str, datetime, int]]:
        """``(owner, first_seen, held orders)`` of each open exception (a few thousand at
        most; the service buckets them by age)."""
        held = (sa.select(sa.func.count()).where(exception_orders.c.exception_id
                                                 == exceptions.c.id).scalar_subquery())
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(exceptions.c.owner, exceptions.c.first_seen, held)
                .where(exceptions.c.state == "open")).all()
        return [(str(o), _aware_req(f), int(h)) for o, f, h in rows]

    # -- exceptions ------------------------------------------------------------------------

    def exception_types(self) -> list[str]:
        with self.db.read() as conn:
            return [str(t) for t in conn.execute(
                sa.select(exceptions.c.type).distinct().order_by(exceptions.c.type)).scalars()]

    def find_exceptions(self, f: ExceptionFilter, *, now: datetime, offset: int,
                        limit: int) -> tuple[list[ExceptionRow], int]:
        """One page of the exceptions matching ``f`` (most recently seen first), and how many
        match in all."""
        where = self._where(f, now)
        held = (sa.select(sa.func.count()).where(exception_orders.c.exception_id
                                                 == exceptions.c.id).scalar_subquery())
        with self.db.read() as conn:
            total = int(conn.execute(
                sa.select(sa.func.count()).select_from(exceptions).where(*where)).scalar_one())
            rows = conn.execute(
                sa.select(exceptions.c.id, exceptions.c.type, exceptions.c.owner,
                          exceptions.c.severity, exceptions.c.business_key,
                          exceptions.c.state, exceptions.c.count, exceptions.c.message,
                          exceptions.c.first_seen, exceptions.c.last_seen, held.label("held"))
                .where(*where)
                .order_by(exceptions.c.last_seen.desc(), exceptions.c.id.desc())
                .offset(offset).limit(limit)).all()
        return [ExceptionRow(int(r.id), r.type, r.owner, r.severity, r.business_key, r.state,
                             int(r._mapping["count"]), r.message, _aware_req(r.first_seen),
                             _aware_req(r.last_seen), int(r.held)) for r in rows], total

    def exception_ids(self, f: ExceptionFilter, *, now: datetime, limit: int) -> list[int]:
        """The ids matching ``f`` (oldest first), at most ``limit``."""
        with self.db.read() as conn:
            return [int(i) for i in conn.execute(
                sa.select(exceptions.c.id).where(*self._where(f, now))
                .order_by(exceptions.c.id).limit(limit)).scalars()]

    @staticmethod
    def _where(f: ExceptionFilter, now: datetime) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if f.state is not None:
            where.append(exceptions.c.state == f.state)
        if f.owner is not None:
            where.append(exceptions.c.owner == f.owner)
        if f.type is not None:
            where.append(exceptions.c.type == f.type)
        if f.older_than_h is not None:
            where.append(exceptions.c.first_seen <= now - timedelta(hours=f.older_than_h))
        if f.q:
            term = f.q.strip()
            holding = sa.select(exception_orders.c.exception_id).where(
                exception_orders.c.order_key == term)
            where.append(sa.or_(
                exceptions.c.business_key.like(_like(term), escape=_LIKE_ESCAPE),
                exceptions.c.message.like(_like(term), escape=_LIKE_ESCAPE),
                exceptions.c.id.in_(holding)))
        return where

    def jobs(self, ids: Iterable[int]) -> list[JobLine]:
        """Those jobs with their events (oldest first)."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        with self.db.read() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.id.in_(wanted))
                                .order_by(jobs.c.id)).all()
            return self._with_events(conn, rows)

    # -- one order --------------------------------------------------------------------------

    def order_jobs(self, business_key: str) -> list[JobLine]:
        """The jobs with that business key (``order:<n>``), with their events."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.business_key == business_key)
                                .order_by(jobs.c.id)).all()
            return self._with_events(conn, rows)

    def order_exceptions(self, business_key: str, order_key: str,
                         also_keys: Sequence[str] = ()) -> list[ExceptionRow]:
        """Exceptions about the order (its key, or ``also_keys``: what it was parked on) or
        holding it now, any state, oldest first (at most 50)."""
        holding = sa.select(exception_orders.c.exception_id).where(
            exception_orders.c.order_key == order_key)
        keys = [business_key, *also_keys]
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(exceptions).where(sa.or_(
                    exceptions.c.business_key.in_(keys), exceptions.c.id.in_(holding)))
                .order_by(exceptions.c.id).limit(50)).all()
        return [ExceptionRow(int(r.id), r.type, r.owner, r.severity, r.business_key, r.state,
                             int(r._mapping["count"]), r.message, _aware_req(r.first_seen),
                             _aware_req(r.last_seen)) for r in rows]

    def shipments_for(self, order_number: int, *, limit: int = 50) -> list[dict[str, Any]]:
        """Shipment ledger rows whose data names the order (``order``)."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(ledger.c.business_key, ledger.c.state, ledger.c.data,
                          ledger.c.updated_at)
                .where(ledger.c.kind == "shipment").order_by(ledger.c.id)).all()
        out = []
        for key, state, data, updated in rows:
            if isinstance(data, dict) and str(data.get("order")) == str(order_number):
                out.append({"shipment": key, "state": state, "data": data,
                            "updated_at": _aware(updated)})
                if len(out) >= limit:
                    break
        return out

    @staticmethod
    def _with_events(conn: Connection, rows: Sequence[Any]) -> list[JobLine]:
        ids = [int(r.id) for r in rows]
        events: dict[int, list[TraceLine]] = {}
        if ids:
            for e in conn.execute(sa.select(job_events).where(job_events.c.job_id.in_(ids))
                                  .order_by(job_events.c.id)):
                events.setdefault(int(e.job_id), []).append(TraceLine(
                    at=_aware_req(e.at), source="job", what=str(e.event),
                    actor=str(e.worker_id or ""),
                    detail=dict(e.detail) if isinstance(e.detail, dict) else None))
        return [JobLine(int(r.id), r.queue, r.task, r.status, int(r.attempts),
                        int(r.max_attempts), _aware_req(r.created_at), _aware_req(r.updated_at),
                        r.last_error, tuple(events.get(int(r.id), ()))) for r in rows]


def _reason(data: Any) -> str | None:
    reason = data.get("reason") if isinstance(data, dict) else None
    return None if reason is None else str(reason)


def _aware(value: Any) -> datetime | None:
    """Aggregates (MIN/MAX) bypass the column type: SQLite hands back naive UTC or text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a time: {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _aware_req(value: Any) -> datetime:
    out = _aware(value)
    assert out is not None
    return out
