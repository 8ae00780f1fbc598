"""Client-side token buckets that keep every Seamline process inside Centra's rate limits.

Centra meters an environment with six token buckets (requests, mutations and complexity, each
per 10 seconds and per hour). A request is only sent once it fits in all of them here; the state
lives in a ``BucketStore`` so that N worker processes on one database share one budget:

- ``MemoryBucketStore``: one process (unit tests, the fake);
- ``SqlBucketStore``: the ``rate_buckets (name PK, tokens, updated_at)`` table, taken with one
  conditional ``UPDATE … WHERE tokens_after_refill >= cost`` per bucket inside one transaction,
  so concurrent takers can never overdraw a bucket (SQLite serialises writers; PostgreSQL row
  locks the updated rows);
- ``LeasedBucketStore``: in front of a shared store, takes a small slab of a roomy bucket at once
  and serves the next requests from it for at most a second, so a busy process writes the shared
  table once per slab instead of once per request.

Written by hand because the well-known limiter libraries (``limits``, ``pyrate-limiter``) keep
state in Redis or process memory, not in our own SQL store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from seamline.config import RateLimitSettings
from seamline.exceptions import RateLimited, StoreError

__all__ = [
    "Bucket",
    "BucketStore",
    "LeasedBucketStore",
    "MemoryBucketStore",
    "RateLimiter",
    "SqlBucketStore",
    "buckets_from_settings",
    "rate_buckets_table",
]


@dataclass(frozen=True, slots=True)
class Bucket:
    """One token bucket: ``capacity`` tokens, refilled at ``capacity / interval_s`` per second."""

    name: str
    capacity: float
    interval_s: float

    @property
    def rate(self) -> float:
        return self.capacity / self.interval_s


#: The kinds of token a request costs.
REQUESTS, MUTATIONS, COMPLEXITY = "requests", "mutations", "complexity"


def buckets_from_settings(
    limits: RateLimitSettings, *, prefix: str = "centra", headroom: float = 0.9
) -> dict[str, list[Bucket]]:
    """The six buckets, grouped by kind, shrunk by ``headroom`` so that clock skew and other
    integrations on the same environment do not push us into Centra's 429s."""

    def b(kind: str, window: str, quota: int, interval: float) -> Bucket:
        return Bucket(f"{prefix}:{kind}:{window}", max(1.0, quota * headroom), interval)

    return {
        REQUESTS: [b(REQUESTS, "10s", limits.requests_per_10s, 10.0),
                   b(REQUESTS, "1h", limits.requests_per_hour, 3600.0)],
        MUTATIONS: [b(MUTATIONS, "10s", limits.mutations_per_10s, 10.0),
                    b(MUTATIONS, "1h", limits.mutations_per_hour, 3600.0)],
        COMPLEXITY: [b(COMPLEXITY, "10s", limits.complexity_per_10s, 10.0),
                     b(COMPLEXITY, "1h", limits.complexity_per_hour, 3600.0)],
    }


class BucketStore(Protocol):
    """Where bucket levels live."""

    def take(self, costs: Mapping[Bucket, float], now: float) -> float:
        """Take every cost at once, or nothing. Returns 0.0 on success, else the seconds until
        the emptiest bucket would hold its cost."""
        ...

    def debit(self, costs: Mapping[Bucket, float], now: float) -> None:
        """Take unconditionally (a bucket may go negative: later takers wait it off)."""
        ...


def _wait_for(bucket: Bucket, level: float, cost: float) -> float:
    cost = min(cost, bucket.capacity)
    return max(0.0, (cost - level) / bucket.rate)


class MemoryBucketStore:
    """Buckets in this process's memory (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._levels: dict[str, tuple[float, float]] = {}

    def _level(self, bucket: Bucket, now: float) -> float:
        tokens, updated = self._levels.get(bucket.name, (bucket.capacity, now))
        return min(bucket.capacity, tokens + max(0.0, now - updated) * bucket.rate)

    def take(self, costs: Mapping[Bucket, float], now: float) -> float:
        with self._lock:
            levels = {b: self._level(b, now) for b in costs}
            wait = max((_wait_for(b, levels[b], min(c, b.capacity)) for b, c in costs.items()
                        if levels[b] < min(c, b.capacity)), default=0.0)
            if wait > 0:
                return wait
            for b, c in costs.items():
                self._levels[b.name] = (levels[b] - c, now)
            return 0.0

    def debit(self, costs: Mapping[Bucket, float], now: float) -> None:
        with self._lock:
            for b, c in costs.items():
                self._levels[b.name] = (self._level(b, now) - c, now)

    def level(self, bucket: Bucket, now: float) -> float:
        """The bucket's level at ``now`` (tests)."""
        with self._lock:
            return self._level(bucket, now)


def rate_buckets_table(metadata: sa.MetaData | None = None) -> sa.Table:
    """``rate_buckets``: the store's shared limiter state (same shape as the store schema's)."""
    return sa.Table(
        "rate_buckets",
        metadata if metadata is not None else sa.MetaData(),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def _insert_ignore(conn: sa.Connection, table: sa.Table,
                   values: dict[str, object]) -> sa.Executable:
    """``INSERT … ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).values(**values).on_conflict_do_nothing()
    return sa.insert(table).values(**values)  # pragma: no cover - other databases unsupported


def _store_table() -> sa.Table:
    """The store schema's ``rate_buckets`` table (a same-shaped stand-in if it is absent)."""
    try:
        from seamline.adapters.store.schema import rate_buckets  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the store schema ships with the package
        return rate_buckets_table()
    return rate_buckets


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
        self.table = table if table is not None else _store_table()
        if create_table:
            self.table.create(engine, checkfirst=True)
        self._known: set[str] = set()

    def _ensure(self, conn: sa.Connection, buckets: Mapping[Bucket, float], now: float) -> None:
        missing = [b for b in buckets if b.name not in self._known]
        if not missing:
            return
        for b in missing:
            values = {"name": b.name, "tokens": b.capacity, "updated_at": now}
            conn.execute(_insert_ignore(conn, self.table, values))
            self._known.add(b.name)

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
                self._ensure(conn, costs, now)
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
                        wait = max(wait, _wait_for(b, current, c))
                conn.rollback()
                return max(wait, 0.001)
        except SQLAlchemyError as exc:
            raise StoreError(f"rate limiter: the store failed ({type(exc).__name__})") from exc

    def debit(self, costs: Mapping[Bucket, float], now: float) -> None:
        t = self.table
        try:
            with self._lock, self.engine.begin() as conn:
                self._ensure(conn, costs, now)
                for b, c in costs.items():
                    level = self._refilled(b, now)
                    conn.execute(t.update().where(t.c.name == b.name)
                                 .values(tokens=level - c, updated_at=now))
        except SQLAlchemyError as exc:
            raise StoreError(f"rate limiter: {type(exc).__name__}") from exc


class LeasedBucketStore:
    """Serves takes from per-process slabs of a shared store's buckets.

    A take that the slabs cannot cover asks the shared store for its cost plus a slab of each
    bucket (``share`` of its capacity, whole tokens, none for a bucket too small to spare one)
    and keeps the slab for at most ``hold_s`` seconds; what is unused then is given up (it was
    already counted as spent, which errs on the safe side), and a debt (``debit`` past the slab)
    is paid to the shared store. Centra may see a request up to ``hold_s`` after its token was
    counted; ``share`` stays far below the limiter's headroom, so that cannot breach a window.
    """

    def __init__(self, shared: BucketStore, *, share: float = 0.02, hold_s: float = 1.0) -> None:
        self.shared = shared
        self.share = share
        self.hold_s = hold_s
        self._lock = threading.Lock()
        self._local: dict[Bucket, float] = {}
        self._since = 0.0

    def _slab(self, bucket: Bucket) -> float:
        return float(int(bucket.capacity * self.share))

    def _expire(self, now: float) -> None:
        # Only age expires a slab: a thread that read the clock just before another one took
        # the slab must not throw it away.
        if self._local and now - self._since >= self.hold_s:
            debt = {b: -v for b, v in self._local.items() if v < 0}
            self._local.clear()
            if debt:
                self.shared.debit(debt, now)

    def take(self, costs: Mapping[Bucket, float], now: float) -> float:
        with self._lock:
            self._expire(now)
            if all(self._local.get(b, 0.0) >= c for b, c in costs.items()):
                for b, c in costs.items():
                    self._local[b] -= c
                return 0.0
            slabs = {b: self._slab(b) for b in costs}
            if any(slabs.values()):
                wants = {b: max(0.0, c - self._local.get(b, 0.0)) + slabs[b]
                         for b, c in costs.items()}
                if self.shared.take(wants, now) <= 0:
                    if not self._local:
                        self._since = now
                    for b, c in costs.items():
                        self._local[b] = self._local.get(b, 0.0) + wants[b] - c
                    return 0.0
            return self.shared.take(costs, now)

    def debit(self, costs: Mapping[Bucket, float], now: float) -> None:
        with self._lock:
            self._expire(now)
            rest: dict[Bucket, float] = {}
            for b, c in costs.items():
                if b in self._local:
                    self._local[b] -= c
                else:
                    rest[b] = c
            if rest:
                self.shared.debit(rest, now)


class RateLimiter:
    """Waits until a request fits in every bucket, or raises ``RateLimited`` when the wait
    would be longer than ``max_wait_s`` (the queue then reschedules instead of sleeping)."""

    def __init__(
        self,
        limits: RateLimitSettings,
        store: BucketStore | None = None,
        *,
        max_wait_s: float = 5.0,
        headroom: float = 0.9,
        prefix: str = "centra",
        time_fn: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.buckets = buckets_from_settings(limits, prefix=prefix, headroom=headroom)
        self.store: BucketStore = store if store is not None else MemoryBucketStore()
        self.max_wait_s = max_wait_s
        self._time = time_fn
        self._sleep = sleep

    def _costs(self, *, mutation: bool, complexity: float) -> dict[Bucket, float]:
        costs: dict[Bucket, float] = dict.fromkeys(self.buckets[REQUESTS], 1.0)
        if mutation:
            costs.update(dict.fromkeys(self.buckets[MUTATIONS], 1.0))
        if complexity > 0:
            costs.update({b: float(complexity) for b in self.buckets[COMPLEXITY]})
        return costs

    def acquire(self, *, mutation: bool = False, complexity: float = 0.0) -> float:
        """Take one request (and one mutation) plus the estimated complexity; returns the
        seconds slept. Raises ``RateLimited`` rather than wait past ``max_wait_s`` in total."""
        costs = self._costs(mutation=mutation, complexity=complexity)
        waited = 0.0
        while True:
            wait = self.store.take(costs, self._time())
            if wait <= 0:
                return waited
            if waited + wait > self.max_wait_s:
                raise RateLimited(
                    f"centra: client-side rate limit, next slot in {wait:.1f}s",
                    system="centra", retry_after=wait,
                )
            self._sleep(wait)
            waited += wait

    def settle_complexity(self, estimated: float, actual: float) -> None:
        """Charge the difference once Centra has reported a request's real complexity."""
        extra = float(actual) - float(estimated)
        if extra > 0:
            self.store.debit(dict.fromkeys(self.buckets[COMPLEXITY], extra), self._time())
