"""Centra's rate-limit buckets kept in the store, shared by every process on the database.

``SqlBucketStore`` implements ``seamline.ports.BucketStore`` on the ``rate_buckets (name PK,
tokens, updated_at)`` table: a take is one conditional ``UPDATE … WHERE tokens_after_refill >=
cost`` per bucket inside one transaction, so concurrent takers can never overdraw a bucket
(SQLite serialises writers; PostgreSQL row-locks the updated rows). The Centra adapter's
``RateLimiter`` meters against it (usually through its ``LeasedBucketStore``); the composition
root plugs the two together, so neither adapter imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from seamline.adapters.store.repos import dialect_insert
from seamline.adapters.store.schema import rate_buckets
from seamline.exceptions import StoreError
from seamline.ports import Bucket

__all__ = ["SqlBucketStore", "SqlBudgetBoard"]


class SqlBucketStore:
    """Buckets in the store's ``rate_buckets`` table, shared by every process on the database.

    ``tokens``/``updated_at`` are plain floats (token counts and Unix seconds): this is metering,
    not money. Missing rows are created full.
    """

    def __init__(self, engine: sa.Engine, *, table: sa.Table | None = None,
                 create_table: bool = False,
                 lock: AbstractContextManager[Any] | None = None) -> None:
        self.engine = engine
        #: The store's write lock (``Database.write_lock``), so this process's threads queue
        #: for SQLite's write lock in one place.
        self._lock: AbstractContextManager[Any] = lock if lock is not None else nullcontext()
        self.table = table if table is not None else rate_buckets
        if create_table:
            self.table.create(engine, checkfirst=True)
        self._known: set[str] = set()

    def _ensure(self, conn: sa.Connection, buckets: Mapping[Bucket, float],
                now: float) -> list[str]:
        """Create the missing rows (full); returns their names, which count as known only
        once the transaction commits (a rolled-back take must create them again)."""
        missing = [b for b in buckets if b.name not in self._known]
        for b in missing:
            values = {"name": b.name, "tokens": b.capacity, "updated_at": now}
            conn.execute(dialect_insert(conn.dialect.name)(self.table).values(**values)
                         .on_conflict_do_nothing())
        return [b.name for b in missing]

    def _refilled(self, b: Bucket, now: float) -> sa.ColumnElement[float]:
        t = self.table
        elapsed = sa.case((t.c.updated_at < now, now - t.c.updated_at), else_=0.0)
        raw = t.c.tokens + elapsed * b.rate
        return sa.case((raw > b.capacity, b.capacity), else_=raw)

    def take(self, costs: Mapping[Bucket, float], now: float) -> float:
        t = self.table
        try:
            with self._lock, self.engine.connect() as conn:
                trans = conn.begin()
                created = self._ensure(conn, costs, now)
                short: list[Bucket] = []
                for b, c in costs.items():
                    level = self._refilled(b, now)
                    result = conn.execute(
                        t.update()
                        .where(t.c.name == b.name, level >= min(c, b.capacity))
                        .values(tokens=level - c, updated_at=now)
                    )
                    if result.rowcount != 1:
                        short.append(b)
                        break
                if not short:
                    trans.commit()
                    self._known.update(created)
                    return 0.0
                # Not enough: undo what this transaction took and work out the wait.
                trans.rollback()
                wait = 0.0
                for b, c in costs.items():
                    found = conn.execute(
                        sa.select(self._refilled(b, now)).where(t.c.name == b.name)
                    ).scalar_one_or_none()
                    current = b.capacity if found is None else float(found)
                    if current < min(c, b.capacity):
                        wait = max(wait, b.wait_for(current, c))
                conn.rollback()
                return max(wait, 0.001)
        except SQLAlchemyError as exc:
            raise StoreError(f"rate limiter: the store failed ({type(exc).__name__})") from exc

    def debit(self, costs: Mapping[Bucket, float], now: float) -> None:
        t = self.table
        try:
            with self._lock, self.engine.begin() as conn:
                created = self._ensure(conn, costs, now)
                for b, c in costs.items():
                    level = self._refilled(b, now)
                    conn.execute(t.update().where(t.c.name == b.name)
                                 .values(tokens=level - c, updated_at=now))
            self._known.update(created)
        except SQLAlchemyError as exc:
            raise StoreError(f"rate limiter: {type(exc).__name__}") from exc

    def level(self, bucket: Bucket, now: float) -> float:
        try:
            with self.engine.connect() as conn:
                found = conn.execute(sa.select(self._refilled(bucket, now))
                                     .where(self.table.c.name == bucket.name)).scalar_one_or_none()
        except SQLAlchemyError as exc:
            raise StoreError(f"rate limiter: {type(exc).__name__}") from exc
        return bucket.capacity if found is None else float(found)


class SqlBudgetBoard:
    """``seamline.ports.BudgetBoard`` on the same ``rate_buckets`` table (``tokens`` holds the
    figure, ``updated_at`` its stamp), under names of their own (``centra:board:…``), so the
    Centra budget's demand records, back-off and calibrated quotas need no table of their own."""

    def __init__(self, engine: sa.Engine, *, table: sa.Table | None = None,
                 create_table: bool = False,
                 lock: AbstractContextManager[Any] | None = None) -> None:
        self.engine = engine
        self._lock: AbstractContextManager[Any] = lock if lock is not None else nullcontext()
        self.table = table if table is not None else rate_buckets
        if create_table:
            self.table.create(engine, checkfirst=True)

    def put(self, name: str, value: float, now: float) -> None:
        t = self.table
        try:
            with self._lock, self.engine.begin() as conn:
                stmt = dialect_insert(conn.dialect.name)(t).values(
                    name=name, tokens=float(value), updated_at=float(now))
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=[t.c.name],
                    set_={"tokens": stmt.excluded.tokens, "updated_at": stmt.excluded.updated_at}))
        except SQLAlchemyError as exc:
            raise StoreError(f"centra budget: the store failed ({type(exc).__name__})") from exc

    def read(self, prefix: str) -> dict[str, tuple[float, float]]:
        t = self.table
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(t.c.name, t.c.tokens, t.c.updated_at)
                                    .where(t.c.name.startswith(prefix, autoescape=True))).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"centra budget: the store failed ({type(exc).__name__})") from exc
        return {str(n): (float(v), float(at)) for n, v, at in rows}
