"""The Centra budget shared by several worker processes through the store (SQLite and
PostgreSQL): a shipment waiting in one process makes a sweep in another yield; a 429 seen by one
holds every other back; a calibrated quota reaches them all; the buckets are never overdrawn."""

from __future__ import annotations

import multiprocessing

import pytest

from seamline.adapters.centra.budget import BudgetGovernor
from seamline.adapters.centra.limiter import LeasedBucketStore
from seamline.adapters.centra.types import RateLimitStatus
from seamline.adapters.store.buckets import SqlBucketStore, SqlBudgetBoard
from seamline.adapters.store.db import Database
from seamline.config import BudgetSettings, RateLimitSettings
from seamline.exceptions import RateLimited

LIMITS = RateLimitSettings(requests_per_10s=1000, requests_per_hour=100_000,
                           mutations_per_10s=10, mutations_per_hour=1000)
T0 = 7_000_000.0


def _governor(url: str, now: list[float], *, max_wait_s: float = 0.0) -> BudgetGovernor:
    """A governor as a worker process builds it (bootstrap's wiring) on a fixed clock."""
    db = Database(url)
    return BudgetGovernor(
        LIMITS, LeasedBucketStore(SqlBucketStore(db.engine, lock=db.write_lock)),
        SqlBudgetBoard(db.engine, lock=db.write_lock),
        settings=BudgetSettings(headroom=1.0), max_wait_s=max_wait_s,
        time_fn=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s), refresh_s=0.0)


def _shipper(url: str, at: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Another worker process: its shipment finds the mutation bucket empty and waits."""
    gov = _governor(url, [at])
    try:
        gov.acquire(mutation=True, flow="shipments")
        out.put("sent")
    except RateLimited:
        out.put("waiting")


def test_a_shipment_waiting_in_another_process_makes_the_sweep_yield(db: Database) -> None:
    now = [T0]
    sweeper = _governor(db.url, now)
    for _ in range(10):
        sweeper.acquire(mutation=True, flow="stock_sweep")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_shipper, args=(db.url, T0, out))
    proc.start()
    assert out.get(timeout=120) == "waiting"
    proc.join(timeout=30)
    now[0] += 1.5  # tokens are back, but the shipment's demand record is still valid
    with pytest.raises(RateLimited, match="yielding"):
        sweeper.acquire(mutation=True, flow="stock_sweep")
    assert sweeper.view().backlog["shipments"] >= 1
    shipper = _governor(db.url, now)
    assert shipper.acquire(mutation=True, flow="shipments") == 0.0
    now[0] += 5.0  # the record has lapsed (3 s): the sweep goes on
    assert sweeper.acquire(mutation=True, flow="stock_sweep") == 0.0


def test_a_429_in_one_process_holds_back_the_others(db: Database) -> None:
    now = [T0]
    one, other = _governor(db.url, now), _governor(db.url, now)
    one.throttled(4.0)
    with pytest.raises(RateLimited, match="429"):
        other.acquire(flow="stock_delta")
    now[0] += 4.1
    assert other.calibration_due()
    assert other.acquire(flow="stock_delta") == 0.0


def test_a_calibrated_quota_reaches_every_process(db: Database) -> None:
    now = [T0]
    one, other = _governor(db.url, now), _governor(db.url, now)
    one.calibrate([RateLimitStatus(type="MUTATION_COUNT", interval="TEN_SECONDS", quota=4,
                                   used=0, remaining=4)])
    ten = next(b for b in other.view().buckets if b.name == "centra:mutations:10s")
    assert ten.capacity == 4.0
    assert not other.calibration_due()


def test_two_processes_never_overdraw_the_shared_mutation_bucket(db: Database) -> None:
    now = [T0]
    one, other = _governor(db.url, now), _governor(db.url, now)
    sent = 0
    for gov in (one, other) * 10:
        try:
            gov.acquire(mutation=True, flow="stock_delta")
            sent += 1
        except RateLimited:
            pass
    assert sent == 10


def test_a_bucket_first_met_in_a_take_that_fell_short_is_still_created(db: Database) -> None:
    """A take that falls short rolls back the rows it created; the store must create them
    again next time instead of metering against a row that is not there (a bucket met first
    beside an empty one used to be short for ever)."""
    from seamline.ports import Bucket  # noqa: PLC0415

    store = SqlBucketStore(db.engine, lock=db.write_lock)
    empty, fresh = Bucket("t:empty", 1.0, 3600.0), Bucket("t:fresh", 10.0, 10.0)
    assert store.take({empty: 1.0}, T0) == 0.0
    assert store.take({empty: 1.0, fresh: 1.0}, T0) > 0  # empty is short: nothing taken
    assert store.take({fresh: 1.0}, T0) == 0.0
    assert store.level(fresh, T0) == 9.0
