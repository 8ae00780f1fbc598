"""Riding out a store outage in a loop: back off, log once per outage, say when it is over.

A loop (the scheduler's tick, a worker slot's claim, the heartbeat) that meets a ``StoreError``
calls :meth:`Outage.failed`, which logs the first failure of an outage as one error line and
returns how long to wait before the next try (exponential with jitter, capped); the first
success afterwards calls :meth:`Outage.recovered`, which logs one line with how long it lasted.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

__all__ = ["Outage"]


class Outage:
    """The state of one loop's outage (thread-safe: a worker's slots may share one)."""

    def __init__(self, log: Any, what: str, *, base_s: float = 0.5, cap_s: float = 30.0) -> None:
        self.log = log
        self.what = what
        self.base_s = base_s
        self.cap_s = cap_s
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0

    @property
    def active(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> float:
        """Record a failure; returns the seconds to wait before trying again."""
        with self._lock:
            first = self._since is None
            if first:
                self._since = time.monotonic()
            self._failures += 1
            n = self._failures
        if first:
            message = getattr(exc, "message", None) or " ".join(str(exc).split())[:300]
            self.log.error(f"{self.what}: the database is unavailable; retrying with backoff "
                           "until it returns", error=message)
        delay = min(self.cap_s, self.base_s * 2.0 ** min(n - 1, 16))
        return delay * (0.5 + random.random() / 2)

    def recovered(self) -> None:
        """Record a success; logs once when it ends an outage."""
        if self._since is None:
            return
        with self._lock:
            since, failures = self._since, self._failures
            self._since, self._failures = None, 0
        if since is not None:
            self.log.info(f"{self.what}: the database is back", outage_s=round(
                time.monotonic() - since, 1), failed_tries=failures)
