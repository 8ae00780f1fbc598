"""Centra's six token buckets: REQUEST_COUNT, MUTATION_COUNT, QUERY_COMPLEXITY × 10 s and 1 h.

Each bucket holds ``quota`` tokens and refills continuously at ``quota / interval`` per second.
A request takes 1 request token, a mutation also 1 mutation token, and its complexity in
complexity tokens. Sizes default to Centra's Growth tier; :meth:`RateLimiter.configure` shrinks
them for tests (with a short fixed ``Retry-After``) or lifts them for benchmarks.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GROWTH", "Bucket", "RateLimiter"]

#: (type, interval name, seconds) → quota, Centra's Growth tier.
GROWTH: dict[tuple[str, str], int] = {
    ("REQUEST_COUNT", "TEN_SECONDS"): 60,
    ("REQUEST_COUNT", "ONE_HOUR"): 5_000,
    ("MUTATION_COUNT", "TEN_SECONDS"): 20,
    ("MUTATION_COUNT", "ONE_HOUR"): 1_800,
    ("QUERY_COMPLEXITY", "TEN_SECONDS"): 250_000,
    ("QUERY_COMPLEXITY", "ONE_HOUR"): 30_000_000,
}
SECONDS = {"TEN_SECONDS": 10.0, "ONE_HOUR": 3600.0}
#: GraphQL's ``Int`` is 32-bit signed.
INT_MAX = 2**31 - 1


@dataclass(slots=True)
class Bucket:
    type: str
    interval: str
    quota: int
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        rate = self.quota / SECONDS[self.interval]
        self.tokens = min(float(self.quota), self.tokens + (now - self.stamp) * rate)
        self.stamp = now

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` tokens are there (inf if the bucket can never hold them)."""
        if cost > self.quota:
            return math.inf
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing * SECONDS[self.interval] / self.quota


class RateLimiter:
    """Thread-safe token buckets with an injectable monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.enabled = True
        #: Fixed Retry-After seconds for tests (configure -1 to clear); None: the real wait.
        self.retry_after: float | None = None
        #: "delta" (seconds) or "timestamp" (Unix epoch, as Centra's older doc describes).
        self.retry_after_format = "delta"
        self.throttled = 0
        now = clock()
        self._buckets = {k: Bucket(k[0], k[1], q, float(q), now) for k, q in GROWTH.items()}

    def configure(self, *, sizes: dict[str, int] | None = None, enabled: bool | None = None,
                  retry_after: float | None = None, retry_after_format: str | None = None,
                  reset: bool = True) -> None:
        """``sizes`` keys are ``"REQUEST_COUNT:TEN_SECONDS"`` etc. (or ``"requests_10s"``...)."""
        aliases = {"requests": "REQUEST_COUNT", "mutations": "MUTATION_COUNT",
                   "complexity": "QUERY_COMPLEXITY", "10s": "TEN_SECONDS", "1h": "ONE_HOUR"}
        with self._lock:
            now = self._clock()
            for key, quota in (sizes or {}).items():
                sep = ":" if ":" in key else "_"
                t, _, i = key.partition(sep) if sep == ":" else key.rpartition("_")
                k = (aliases.get(t, t), aliases.get(i, i))
                if k not in self._buckets or int(quota) < 1:
                    raise ValueError(f"unknown bucket or bad quota: {key}={quota}")
                self._buckets[k].quota = int(quota)
            if enabled is not None:
                self.enabled = enabled
            if retry_after is not None:
                self.retry_after = retry_after if retry_after >= 0 else None
            if retry_after_format is not None:
                if retry_after_format not in ("delta", "timestamp"):
                    raise ValueError("retry_after_format is 'delta' or 'timestamp'")
                self.retry_after_format = retry_after_format
            if reset:
                for b in self._buckets.values():
                    b.tokens = float(b.quota)
                    b.stamp = now

    def lift(self) -> None:
        """No limits at all (benchmarks of raw capacity)."""
        self.configure(enabled=False)

    def take(self, *, mutation: bool, complexity: int) -> float | None:
        """Charge one request; ``None`` if allowed, else the seconds to wait (nothing charged)."""
        with self._lock:
            if not self.enabled:
                return None
            now = self._clock()
            costs = {"REQUEST_COUNT": 1.0, "MUTATION_COUNT": 1.0 if mutation else 0.0,
                     "QUERY_COMPLEXITY": float(complexity)}
            wait = 0.0
            for b in self._buckets.values():
                b.refill(now)
                wait = max(wait, b.wait_for(costs[b.type]))
            if wait > 0:
                self.throttled += 1
                return self.retry_after if self.retry_after is not None else \
                    min(wait, 3600.0)
            for b in self._buckets.values():
                b.tokens -= costs[b.type]
            return None

    def retry_after_header(self, wait: float) -> str:
        """Delta seconds (an integer, rounded up) or a Unix timestamp."""
        if self.retry_after_format == "timestamp":
            return str(math.ceil(time.time() + wait))
        return str(max(0, math.ceil(wait)))

    def snapshot(self) -> list[dict[str, Any]]:
        """The ``rateLimits`` answer. With the limits lifted every quota is the largest a
        GraphQL ``Int`` holds, none of it used, so a client calibrating from it is not held to
        limits nobody enforces."""
        with self._lock:
            now = self._clock()
            out = []
            if not self.enabled:
                return [{"type": t, "intervalSeconds": i, "quota": INT_MAX, "usedQuota": 0,
                         "remainingQuota": INT_MAX} for t, i in self._buckets]
            for b in self._buckets.values():
                b.refill(now)
                remaining = max(0, math.floor(b.tokens))
                out.append({"type": b.type, "intervalSeconds": b.interval, "quota": b.quota,
                            "usedQuota": b.quota - remaining, "remainingQuota": remaining})
            return out
