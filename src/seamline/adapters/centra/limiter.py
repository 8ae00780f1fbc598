"""Client-side token buckets that keep every Seamline process inside Centra's rate limits.

Centra meters an environment with six token buckets (requests, mutations and complexity, each
per 10 seconds and per hour). A request is only sent once it fits in all of them here; the state
lives in a ``BucketStore`` so that N worker processes on one database share one budget:

- ``MemoryBucketStore``: one process (unit tests, the fake);
- ``seamline.adapters.store.buckets.SqlBucketStore``: the store's ``rate_buckets`` table, shared
  by every process on the database (the composition root plugs it in; this adapter knows no SQL);
- ``LeasedBucketStore``: in front of a shared store, takes a small slab of a roomy bucket at once
  and serves the next requests from it for at most a second, so a busy process writes the shared
  table once per slab instead of once per request.

Written by hand because the well-known limiter libraries (``limits``, ``pyrate-limiter``) keep
state in Redis or process memory, not in our own SQL store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from seamline.adapters.centra.types import RateLimitStatus
from seamline.config import RateLimitSettings
from seamline.exceptions import RateLimited
from seamline.ports import Bucket, BucketStore

__all__ = [
    "Bucket",
    "BucketStore",
    "LeasedBucketStore",
    "MemoryBucketStore",
    "RateLimiter",
    "buckets_from_settings",
]


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
            wait = max((b.wait_for(levels[b], min(c, b.capacity)) for b, c in costs.items()
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


class LeasedBucketStore:
    """Serves takes from per-process slabs of a shared store's buckets.

    A take that the slabs cannot cover asks the shared store for its cost plus a slab of each
    bucket (``share`` of its capacity, whole tokens, none for a bucket too small to spare one)
    and keeps the slab for at most ``hold_s`` seconds; what is unused then is given back to the
    shared store, and a debt (``debit`` past the slab) is paid to it. (Giving it up instead, as
    this once did, charged an hourly bucket a whole slab — 2 % of it — for every isolated call:
    a worker making one mutation every few seconds spent the hour's mutations ~30× too fast.)
    Centra may see a request up to ``hold_s`` after its token was counted; ``share`` stays far
    below the limiter's headroom, so that cannot breach a window.
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
            # Leftovers go back (a negative debit), debts are paid.
            settle = {b: -v for b, v in self._local.items() if v}
            self._local.clear()
            if settle:
                self.shared.debit(settle, now)

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

    def level(self, bucket: Bucket, now: float) -> float:
        """The shared level plus what this process still holds in its slab."""
        with self._lock:
            held = self._local.get(bucket, 0.0)
        return min(bucket.capacity, self.shared.level(bucket, now) + held)


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

    def calibration_due(self) -> bool:
        """Whether Centra's ``rateLimits`` should be read first (the governor's; never here)."""
        return False

    def calibrate(self, statuses: Sequence[RateLimitStatus]) -> None:
        """Follow Centra's ``rateLimits`` answer (the governor does; the plain limiter not)."""

    def throttled(self, retry_after: float | None) -> None:
        """Centra answered 429 (the governor backs every process off; the plain limiter not)."""

    def settle_complexity(self, estimated: float, actual: float) -> None:
        """Charge the difference once Centra has reported a request's real complexity."""
        extra = float(actual) - float(estimated)
        if extra > 0:
            self.store.debit(dict.fromkeys(self.buckets[COMPLEXITY], extra), self._time())
