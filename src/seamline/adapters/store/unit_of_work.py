"""The unit of work on SQLite and PostgreSQL: the repositories of one connection's transaction.

Each repository is a thin typed face over the statement functions of ``repos`` and
``exceptions`` (their hot-path statements are built once and cached); the outbox is the job
queue's ``enqueue`` on the same connection. The locks stay what they were: ``for_update`` rows
(``FOR UPDATE`` on PostgreSQL), named advisory locks (``cursors.lock``), open exceptions locked
in key order; SQLite serialises writers at ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store import exceptions as exc_sql
from seamline.adapters.store import repos
from seamline.adapters.store.alerts import SqlAlerts
from seamline.adapters.store.payments import SqlPayments
from seamline.adapters.store.schema import audit_log, jobs, ledger
from seamline.adapters.store.stock import SqlStock
from seamline.domain.exception_records import ExceptionRecord
from seamline.domain.ledger import KEEP, Hold, LedgerEntry, OrderRecord, OrderState
from seamline.queue.models import Job

if TYPE_CHECKING:
    from seamline.adapters.store.db import Database
    from seamline.queue.core import JobQueue
    from seamline.services.unit_of_work import JobScope

__all__ = ["SqlStore", "SqlUnitOfWork"]

ORDER = "order"
_B = sa.bindparam
_IN_STATE = (sa.select(ledger).where(ledger.c.kind == _B("kind"), ledger.c.state == _B("state"))
             .order_by(ledger.c.id))
_IN_STATE_LIMIT = _IN_STATE.limit(_B("limit"))
_PAGE = (sa.select(ledger).where(ledger.c.kind == _B("kind"), ledger.c.id > _B("after"))
         .order_by(ledger.c.id).limit(_B("limit")))


def _in_state(conn: Connection, kind: str, state: str, limit: int | None) -> list[LedgerEntry]:
    if limit is None:
        rows = conn.execute(_IN_STATE, {"kind": kind, "state": state})
    else:
        rows = conn.execute(_IN_STATE_LIMIT, {"kind": kind, "state": state, "limit": limit})
    return [LedgerEntry.from_row(r) for r in rows]


class SqlOrderLedger:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, number: int, *, for_update: bool = False) -> OrderRecord | None:
        e = repos.get_ledger(self.conn, ORDER, str(number), for_update=for_update)
        return None if e is None else OrderRecord.from_entry(e)

    def get_many(self, numbers: Iterable[int], *,
                 for_update: bool = False) -> dict[int, OrderRecord]:
        found = repos.get_ledgers(self.conn, ORDER, [str(n) for n in numbers],
                                  for_update=for_update)
        return {int(k): OrderRecord.from_entry(e) for k, e in found.items()}

    def save(self, number: int, *, state: OrderState, data: Mapping[str, Any],
             now: datetime, posted_hash: Any = KEEP) -> OrderRecord:
        return OrderRecord.from_entry(repos.upsert_ledger(
            self.conn, ORDER, str(number), state=state.value, data=data, now=now,
            posted_hash=posted_hash))

    def mark(self, numbers: Iterable[int], patch: Mapping[str, Any], *, state: OrderState,
             now: datetime) -> int:
        return repos.merge_ledger_data(self.conn, ORDER, [str(n) for n in numbers], patch,
                                       state=state.value, now=now)

    def in_state(self, state: OrderState, *, limit: int | None = None) -> list[OrderRecord]:
        return [OrderRecord.from_entry(e) for e in _in_state(self.conn, ORDER, state.value, limit)]

    def count_by_state(self) -> dict[str, int]:
        rows = self.conn.execute(sa.select(ledger.c.state, sa.func.count())
                                 .where(ledger.c.kind == ORDER).group_by(ledger.c.state))
        return {str(s): int(n) for s, n in rows}


class SqlLedger:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, kind: str, key: str, *, for_update: bool = False) -> LedgerEntry | None:
        return repos.get_ledger(self.conn, kind, key, for_update=for_update)

    def save(self, kind: str, key: str, *, state: str, data: Mapping[str, Any],
             now: datetime) -> LedgerEntry:
        return repos.upsert_ledger(self.conn, kind, key, state=state, data=data, now=now)

    def in_state(self, kind: str, state: str) -> list[LedgerEntry]:
        return _in_state(self.conn, kind, state, None)

    def page(self, kind: str, *, after_id: int, limit: int) -> list[LedgerEntry]:
        rows = self.conn.execute(_PAGE, {"kind": kind, "after": after_id, "limit": limit})
        return [LedgerEntry.from_row(r) for r in rows]


class SqlCursors:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, name: str) -> str | None:
        return repos.get_cursor(self.conn, name)

    def set(self, name: str, value: str, *, now: datetime | None = None) -> None:
        repos.set_cursor(self.conn, name, value, now=now)

    def lock(self, name: str) -> None:
        repos.lock_name(self.conn, name)


class SqlAuditLog:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def append(self, kind: str, key: str, action: str, actor: str,
               detail: Mapping[str, Any] | None = None, *,
               now: datetime | None = None) -> None:
        repos.audit(self.conn, kind, key, action, actor, detail, now=now)

    def for_entity(self, kind: str, key: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(audit_log).where(
            audit_log.c.entity_kind == kind, audit_log.c.business_key == key)
            .order_by(audit_log.c.id))
        return [{"at": a.at, "action": a.action, "actor": a.actor, "detail": a.detail}
                for a in rows]


class SqlExceptions:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def raise_(self, **kw: Any) -> int:
        return exc_sql.raise_exception(self.conn, **kw)

    def resolve_for_key(self, business_key: str, **kw: Any) -> list[int]:
        return exc_sql.resolve_for_key(self.conn, business_key, **kw)

    def resolve_ids(self, ids: Iterable[int], **kw: Any) -> list[int]:
        return exc_sql.resolve_ids(self.conn, ids, **kw)

    def close(self, exception_id: int, *, state: str, actor: str, note: str,
              now: datetime) -> ExceptionRecord:
        return exc_sql.close_exception(self.conn, exception_id, state=state, actor=actor,
                                       note=note, now=now)

    def note(self, exception_id: int, action: str, actor: str, note: str, *,
             detail: Mapping[str, Any] | None = None, now: datetime) -> None:
        exc_sql.note_exception(self.conn, exception_id, action, actor, note, detail=detail,
                               now=now)

    def get(self, exception_id: int) -> ExceptionRecord | None:
        return exc_sql.get_exception(self.conn, exception_id)

    def find(self, **kw: Any) -> list[ExceptionRecord]:
        return exc_sql.list_exceptions(self.conn, **kw)

    def hold_order(self, exception_id: int, order_key: str, *,
                   now: datetime | None = None) -> bool:
        return repos.hold_order(self.conn, exception_id, order_key, now=now)

    def release_order(self, order_key: str, *, keep: Iterable[int] = ()) -> list[int]:
        return repos.release_held_order(self.conn, order_key, keep=keep)

    def lock_open(self, business_keys: Iterable[str] | None, *,
                  types: Iterable[str] | None = None) -> list[tuple[int, str, str]]:
        return repos.lock_open_exceptions(self.conn, business_keys, types=types)

    def open_holds(self, *, types: Iterable[str] | None = None) -> list[Hold]:
        return repos.open_holds(self.conn, types=types)


class SqlOutbox:
    __slots__ = ("conn", "queue")

    def __init__(self, conn: Connection, queue: JobQueue | None) -> None:
        self.conn = conn
        self.queue = queue

    def _queue(self) -> JobQueue:
        if self.queue is None:
            raise RuntimeError("this store was built without a job queue: nothing to enqueue on")
        return self.queue

    def enqueue(self, task: str, args: Mapping[str, Any], *, queue: str | None = None,
                dedupe_key: str | None = None, business_key: str | None = None) -> int | None:
        return self._queue().enqueue(self.conn, task, args, queue=queue, dedupe_key=dedupe_key,
                                     business_key=business_key)

    def requeue(self, job_id: int, *, now: datetime | None = None) -> bool:
        return repos.requeue_job(self.conn, job_id, now=now)

    def next_due(self, queues: Sequence[str]) -> datetime | None:
        first: datetime | None = self.conn.execute(sa.select(sa.func.min(jobs.c.run_at)).where(
            jobs.c.queue.in_(list(queues)), jobs.c.status.in_(("todo", "doing")))).scalar()
        return first

    def jobs_for(self, business_key: str, dedupe_keys: Sequence[str]) -> list[Job]:
        rows = self.conn.execute(sa.select(jobs).where(sa.or_(
            jobs.c.business_key == business_key, jobs.c.dedupe_key.in_(list(dedupe_keys)),
        )).order_by(jobs.c.id))
        return [Job.from_row(r) for r in rows]


class SqlUnitOfWork:
    """The repositories of one transaction on ``conn``."""

    __slots__ = ("alerts", "audit", "conn", "cursors", "exceptions", "ledger", "orders",
                 "outbox", "payments", "stock")

    def __init__(self, conn: Connection, queue: JobQueue | None = None) -> None:
        self.conn = conn
        self.orders = SqlOrderLedger(conn)
        self.ledger = SqlLedger(conn)
        self.exceptions = SqlExceptions(conn)
        self.cursors = SqlCursors(conn)
        self.audit = SqlAuditLog(conn)
        self.outbox = SqlOutbox(conn, queue)
        self.stock = SqlStock(conn)
        self.payments = SqlPayments(conn)
        self.alerts = SqlAlerts(conn)


class SqlStore:
    """Opens units of work on a ``Database``; jobs go to ``queue`` (the outbox)."""

    def __init__(self, db: Database, queue: JobQueue | None = None) -> None:
        self.db = db
        self.queue = queue

    @contextmanager
    def begin(self) -> Iterator[SqlUnitOfWork]:
        with self.db.begin() as conn:
            yield SqlUnitOfWork(conn, self.queue)

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        with self.db.read() as conn:
            yield SqlUnitOfWork(conn, self.queue)

    @contextmanager
    def for_job(self, ctx: JobScope, *, complete: bool = False) -> Iterator[SqlUnitOfWork]:
        transaction = getattr(ctx, "transaction", None)
        if transaction is None:
            raise TypeError(f"{type(ctx).__name__} is not a job context of the SQL queue")
        with transaction(complete=complete) as conn:
            yield SqlUnitOfWork(conn, self.queue)
