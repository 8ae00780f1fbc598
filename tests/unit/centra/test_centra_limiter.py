"""The client-side limiter: buckets refill, waits are bounded, and N threads or processes
sharing one SQLite file never exceed the budget."""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
import sqlalchemy as sa

from seamline.adapters.centra.limiter import (
    Bucket,
    LeasedBucketStore,
    MemoryBucketStore,
    RateLimiter,
    buckets_from_settings,
)
from seamline.adapters.store.buckets import SqlBucketStore
from seamline.config import RateLimitSettings
from seamline.exceptions import RateLimited

SMALL = RateLimitSettings(requests_per_10s=10, requests_per_hour=1000, mutations_per_10s=4,
                          mutations_per_hour=100, complexity_per_10s=1000,
                          complexity_per_hour=100_000)


class ManualTime:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_requests_beyond_the_bucket_wait_for_the_refill() -> None:
    """With 9 tokens (10 × 0.9 headroom) per 10 s the tenth request waits about 1.1 s."""
    clock = ManualTime()
    lim = RateLimiter(SMALL, MemoryBucketStore(), time_fn=clock, sleep=clock.sleep)
    waited = [lim.acquire() for _ in range(10)]
    assert waited[:9] == [0.0] * 9
    assert 1.0 < waited[9] < 1.2


def test_a_wait_longer_than_the_limit_is_raised_with_the_delay() -> None:
    """The queue reschedules instead of the worker sleeping on it."""
    clock = ManualTime()
    lim = RateLimiter(SMALL, MemoryBucketStore(), time_fn=clock, sleep=clock.sleep,
                      max_wait_s=0.5)
    for _ in range(3):
        lim.acquire(mutation=True)
    with pytest.raises(RateLimited) as err:
        lim.acquire(mutation=True)
    assert err.value.retry_after is not None
    assert err.value.retry_after > 0.5


def test_reported_complexity_beyond_the_estimate_is_charged() -> None:
    """Settling a request's real complexity drains the complexity buckets."""
    clock = ManualTime()
    store = MemoryBucketStore()
    lim = RateLimiter(SMALL, store, time_fn=clock, sleep=clock.sleep)
    lim.acquire(complexity=10)
    lim.settle_complexity(10, 800)
    ten_s = buckets_from_settings(SMALL)["complexity"][0]
    assert store.level(ten_s, clock.t) == pytest.approx(900 - 800)


def _sql_store(path: Path) -> SqlBucketStore:
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    return SqlBucketStore(engine, create_table=True)


def test_threads_sharing_one_sqlite_file_never_overdraw() -> None:
    """8 threads racing for 9 request tokens get exactly 9 between them."""
    with tempfile.TemporaryDirectory() as d:
        store = _sql_store(Path(d) / "rl.db")
        lim_settings = RateLimitSettings(requests_per_10s=10, requests_per_hour=10_000)
        buckets = buckets_from_settings(lim_settings)["requests"]
        now = 5_000_000.0  # frozen: no refill during the race
        granted: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            n = 0
            for _ in range(5):
                if store.take(dict.fromkeys(buckets, 1.0), now) == 0.0:
                    n += 1
            with lock:
                granted.append(n)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(granted) == 9
        store.engine.dispose()


def _proc(path: str, now: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = _sql_store(Path(path))
    buckets = buckets_from_settings(RateLimitSettings(requests_per_10s=20,
                                                      requests_per_hour=10_000))["requests"]
    n = 0
    for _ in range(10):
        if store.take(dict.fromkeys(buckets, 1.0), now) == 0.0:
            n += 1
    store.engine.dispose()
    out.put(n)


def test_processes_sharing_one_sqlite_file_stay_inside_one_budget(tmp_path: Path) -> None:
    """4 processes × 10 attempts against 18 tokens (20 × 0.9) are granted exactly 18."""
    path = tmp_path / "shared.db"
    _sql_store(path).engine.dispose()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    now = 6_000_000.0
    procs = [ctx.Process(target=_proc, args=(str(path), now, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sum(got) == 18


def test_the_sql_store_refills_over_time(tmp_path: Path) -> None:
    """An emptied bucket is usable again after its refill time."""
    store = _sql_store(tmp_path / "r.db")
    b = buckets_from_settings(SMALL)["mutations"][0]  # 3.6 tokens / 10 s
    t = 7_000_000.0
    for _ in range(3):
        assert store.take({b: 1.0}, t) == 0.0
    wait = store.take({b: 1.0}, t)
    assert wait > 0
    assert store.take({b: 1.0}, t + wait + 0.01) == 0.0
    store.engine.dispose()


class CountingStore(MemoryBucketStore):
    def __init__(self) -> None:
        super().__init__()
        self.takes = 0
        self.debits = 0

    def take(self, costs: Mapping[Bucket, float], now: float) -> float:
        self.takes += 1
        return super().take(costs, now)

    def debit(self, costs: Mapping[Bucket, float], now: float) -> None:
        self.debits += 1
        super().debit(costs, now)


ROOMY = Bucket("roomy", 1000.0, 10.0)  # 2% slab = 20 tokens
TIGHT = Bucket("tight", 18.0, 10.0)  # too small to spare a slab


def test_a_leased_store_serves_a_roomy_bucket_from_slabs() -> None:
    """21 takes of one token cost the shared store one write: 1 + a slab of 20."""
    shared = CountingStore()
    store = LeasedBucketStore(shared)
    now = 100.0
    assert all(store.take({ROOMY: 1.0}, now) == 0.0 for _ in range(21))
    assert shared.takes == 1
    assert shared.level(ROOMY, now) == pytest.approx(1000 - 21)
    assert store.take({ROOMY: 1.0}, now) == 0.0
    assert shared.takes == 2


def test_a_leased_store_never_grants_more_than_the_shared_bucket_holds() -> None:
    """A tight bucket gets no slab: every take goes to the shared store, which refuses the 19th."""
    shared = CountingStore()
    store = LeasedBucketStore(shared)
    granted = sum(store.take({ROOMY: 1.0, TIGHT: 1.0}, 5.0) == 0.0 for _ in range(30))
    assert granted == 18
    assert shared.level(TIGHT, 5.0) == pytest.approx(0.0)


def test_a_slab_is_given_up_after_its_hold_time_and_a_debt_is_paid() -> None:
    """Unused slab tokens stay spent (the safe side); a debit past the slab reaches the shared
    store when the slab expires."""
    shared = CountingStore()
    store = LeasedBucketStore(shared, hold_s=1.0)
    assert store.take({ROOMY: 1.0}, 10.0) == 0.0
    store.debit({ROOMY: 50.0}, 10.5)  # 20 left locally → -30
    assert shared.debits == 0
    assert store.take({ROOMY: 1.0}, 11.5) == 0.0  # expired: the 30 owed are debited first
    assert shared.debits == 1
    # refilled to the brim (100 tokens/s), then the 30 owed, then 1 + a new slab of 20
    assert shared.level(ROOMY, 11.5) == pytest.approx(1000 - 30 - 21)


def test_a_leased_store_falls_back_to_the_exact_cost_when_the_slab_does_not_fit() -> None:
    """With 5 tokens left a take of 1 + slab 20 is refused; the take of 1 alone still passes."""
    shared = MemoryBucketStore()
    shared.debit({ROOMY: 995.0}, 0.0)
    store = LeasedBucketStore(shared)
    assert store.take({ROOMY: 1.0}, 0.0) == 0.0
    assert shared.level(ROOMY, 0.0) == pytest.approx(4.0)


def test_a_take_stamped_just_before_the_slab_was_taken_still_uses_it() -> None:
    """Threads read the clock before they queue for the lock: a slightly older ``now`` must
    not throw the slab away."""
    shared = CountingStore()
    store = LeasedBucketStore(shared)
    assert store.take({ROOMY: 1.0}, 10.0) == 0.0
    assert store.take({ROOMY: 1.0}, 9.99) == 0.0
    assert shared.takes == 1


def test_a_slab_left_unused_goes_back_so_isolated_calls_cost_only_their_own_tokens() -> None:
    """One mutation every two seconds through a leased store: each takes a slab of the
    hourly bucket (2 % of it) with it, and what it did not use is given back when the slab
    expires, so five mutations spend five tokens of the hour, not five slabs."""
    clock = ManualTime()
    shared = MemoryBucketStore()
    lim = RateLimiter(RateLimitSettings(), LeasedBucketStore(shared), time_fn=clock,
                      sleep=clock.sleep)
    hour = next(b for b in lim.buckets["mutations"] if b.interval_s == 3600.0)
    for _ in range(5):
        lim.acquire(mutation=True)
        clock.t += 2.0
    lim.acquire()  # a read: the last slab expires and is settled
    refill = 10.0 * hour.rate
    assert shared.level(hour, clock.t) == pytest.approx(hour.capacity - 5 + refill, abs=1.0)
