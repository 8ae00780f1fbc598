"""Rows many writers change at once, on SQLite and on PostgreSQL under READ COMMITTED (issue 17):
exception repeat counts, the shared Centra rate-limit buckets, cursors that only move forward,
and an order's ledger row patched field by field. Eight threads start together each time; no
write may be lost and no bucket overdrawn."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from seamline.adapters.store.buckets import SqlBucketStore
from seamline.adapters.store.db import Database
from seamline.adapters.store.exceptions import raise_exception
from seamline.adapters.store.repos import get_cursor, get_ledger, lock_name, set_cursor
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.domain.ledger import OrderState
from seamline.ports import Bucket
from seamline.services.exceptions import ExceptionService
from seamline.services.orders import OrderFlow

THREADS = 8


def _at_once(work: Callable[[int], Any], per_thread: int) -> None:
    start = threading.Barrier(THREADS)

    def run(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            work(t * per_thread + i)

    with ThreadPoolExecutor(THREADS) as pool:
        for f in [pool.submit(run, t) for t in range(THREADS)]:
            f.result()


def test_repeats_of_one_exception_raised_at_once_count_every_one(db: Database) -> None:
    """200 raises of one (type, key) at once: one open exception counting 200."""
    def raise_one(i: int) -> None:
        with db.begin() as conn:
            raise_exception(conn, type="POST_FAILED", owner="operations",
                            business_key="order:1", message=f"attempt {i}")

    _at_once(raise_one, 25)
    found = ExceptionService(SqlStore(db)).list(type="POST_FAILED")
    assert [(e.business_key, e.count) for e in found] == [("order:1", 200)]


def test_processes_sharing_the_rate_limit_table_never_overdraw_a_bucket(db: Database) -> None:
    """8 threads × 10 takes of one token from a 30-token bucket that does not refill meanwhile:
    exactly 30 are granted (one conditional UPDATE per bucket, re-checked on the row it waited
    for)."""
    store = SqlBucketStore(db.engine)
    bucket = Bucket(name="requests_10s", capacity=30, interval_s=10_000_000.0)
    now = 5_000_000.0
    granted: list[int] = []

    def take(_: int) -> None:
        if store.take({bucket: 1.0}, now) == 0.0:
            granted.append(1)

    _at_once(take, 10)
    assert len(granted) == 30


def test_a_cursor_advanced_by_many_writers_at_once_ends_at_the_latest(db: Database) -> None:
    """Compare-then-write under the cursor's lock: the largest value wins whatever the order
    (a lost update would leave an earlier one)."""
    base = datetime(2026, 11, 28, tzinfo=UTC)

    def advance(i: int) -> None:
        mark = base + timedelta(seconds=(i * 37) % 200)
        with db.begin() as conn:
            lock_name(conn, "centra.orders.updated_at")
            current = get_cursor(conn, "centra.orders.updated_at")
            if current is None or datetime.fromisoformat(current) < mark:
                set_cursor(conn, "centra.orders.updated_at", mark.isoformat())

    _at_once(advance, 25)
    with db.begin() as conn:
        assert get_cursor(conn, "centra.orders.updated_at") == \
            (base + timedelta(seconds=199)).isoformat()


def test_fields_patched_onto_one_ledger_row_at_once_are_all_kept(db: Database) -> None:
    """The order flow's ``_patch`` re-reads the row under lock before it writes: 200 patches of
    different fields at once keep all 200."""
    flow: Any = OrderFlow.__new__(OrderFlow)
    flow.clock = lambda: datetime.now(UTC)
    store = SqlStore(db)

    def patch(i: int) -> None:
        with store.begin() as uow:
            OrderFlow._patch(flow, uow, 1, state=OrderState.NEW, set_={f"f{i}": i})

    with store.begin() as uow:
        OrderFlow._patch(flow, uow, 1, state=OrderState.NEW, set_={})
    _at_once(patch, 25)
    with db.begin() as conn:
        row = get_ledger(conn, "order", "1")
    assert row is not None
    assert {k for k in row.data if k.startswith("f")} == {f"f{i}" for i in range(200)}
