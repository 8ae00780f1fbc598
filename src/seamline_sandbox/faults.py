"""Fault injection shared by the sandboxes: the next N matching requests fail in a chosen way.

A :class:`FaultPlan` holds queued faults ("the next 3 mutations answer 429") and optional random
rates ("20% of requests answer 500"). A sandbox asks :meth:`FaultPlan.next_for` once per request
with the request's *operation kind* (a free-form string such as ``"mutation:createShipment"``,
``"query:orders"`` or ``"POST /sales-orders"``) and acts on the :class:`Fault` it gets back.
Matching is by :mod:`fnmatch` pattern (``"mutation:*"``, ``"query:orders"``, ``"*"``); ``None``
matches every operation. The plan is thread-safe.

Kinds (:class:`FaultKind`):

- ``"429"``: answer 429 with ``Retry-After`` (``retry_after`` seconds);
- ``"500"`` / ``"503"``: answer that status without doing anything;
- ``"timeout"``: sleep ``delay_s`` and then drop the connection without answering (nothing is
  applied);
- ``"latency"``: sleep ``delay_s`` and then serve the request normally;
- ``"commit_then_drop"``: apply the request, then drop the connection with no answer.

:func:`abort_connection` drops the HTTP connection of an ASGI request (served by uvicorn) with no
bytes written, which is what a client sees when a server or proxy dies mid-request.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

__all__ = ["Fault", "FaultKind", "FaultPlan", "abort_connection"]


class FaultKind(StrEnum):
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    TIMEOUT = "timeout"
    LATENCY = "latency"
    COMMIT_THEN_DROP = "commit_then_drop"


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to apply to one request."""

    kind: FaultKind
    #: Seconds for the ``Retry-After`` header of a 429.
    retry_after: float = 1.0
    #: Seconds to sleep for ``timeout`` (before dropping) and ``latency`` (before serving).
    delay_s: float = 0.0

    @property
    def status(self) -> int | None:
        """The HTTP status to answer with, for the kinds that answer at all."""
        return {FaultKind.RATE_LIMITED: 429, FaultKind.SERVER_ERROR: 500,
                FaultKind.UNAVAILABLE: 503}.get(self.kind)

    @property
    def drops(self) -> bool:
        return self.kind in (FaultKind.TIMEOUT, FaultKind.COMMIT_THEN_DROP)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "retry_after": self.retry_after, "delay_s": self.delay_s}


@dataclass(slots=True)
class _Queued:
    fault: Fault
    remaining: int
    match: str | None


@dataclass(frozen=True, slots=True)
class _Rate:
    fault: Fault
    probability: float
    match: str | None


def _matches(pattern: str | None, op: str) -> bool:
    return pattern is None or fnmatchcase(op, pattern)


class FaultPlan:
    """Queued and random faults, consulted once per request. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._rates: list[_Rate] = []
        self._rng = random.Random(0)
        self._fired: dict[str, int] = {}

    def add(self, kind: FaultKind | str, count: int = 1, *, match: str | None = None,
            retry_after: float = 1.0, delay_s: float = 0.0) -> None:
        """Make the next ``count`` requests matching ``match`` fail with ``kind``."""
        fault = self._fault(kind, retry_after, delay_s)
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._queue.append(_Queued(fault, count, match))

    def set_rates(self, rates: Mapping[str, float], seed: int | None = None, *,
                  match: str | None = None, retry_after: float = 1.0,
                  delay_s: float = 0.0) -> None:
        """Random mode: each request matching ``match`` fails with ``kind`` at the given rate.

        ``rates`` maps a kind (``"500"``, ``"429"``...) to a probability in [0, 1]; their sum must
        not exceed 1. Replaces earlier rates; an empty mapping turns random faults off.
        """
        parsed = [_Rate(self._fault(k, retry_after, delay_s), float(p), match)
                  for k, p in rates.items()]
        if any(not 0.0 <= r.probability <= 1.0 for r in parsed):
            raise ValueError("rates must be between 0 and 1")
        if sum(r.probability for r in parsed) > 1.0 + 1e-9:
            raise ValueError("rates must not add up to more than 1")
        with self._lock:
            self._rates = parsed
            if seed is not None:
                self._rng = random.Random(seed)

    def next_for(self, op: str) -> Fault | None:
        """The fault to apply to this request, if any (consumes one queued fault)."""
        with self._lock:
            for i, q in enumerate(self._queue):
                if _matches(q.match, op):
                    q.remaining -= 1
                    if q.remaining <= 0:
                        del self._queue[i]
                    return self._fire(q.fault)
            if self._rates:
                roll = self._rng.random()
                acc = 0.0
                for r in self._rates:
                    if not _matches(r.match, op):
                        continue
                    acc += r.probability
                    if roll < acc:
                        return self._fire(r.fault)
            return None

    def clear(self) -> None:
        """Drop every queued fault and every rate."""
        with self._lock:
            self._queue.clear()
            self._rates = []

    def pending(self) -> int:
        with self._lock:
            return sum(q.remaining for q in self._queue)

    def fired(self) -> dict[str, int]:
        """How many faults of each kind have been applied so far."""
        with self._lock:
            return dict(self._fired)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "queued": [{**q.fault.to_dict(), "remaining": q.remaining, "match": q.match}
                           for q in self._queue],
                "rates": [{**r.fault.to_dict(), "probability": r.probability, "match": r.match}
                          for r in self._rates],
                "fired": dict(self._fired),
            }

    def _fire(self, fault: Fault) -> Fault:
        self._fired[fault.kind.value] = self._fired.get(fault.kind.value, 0) + 1
        return fault

    @staticmethod
    def _fault(kind: FaultKind | str, retry_after: float, delay_s: float) -> Fault:
        try:
            k = FaultKind(kind)
        except ValueError as exc:
            raise ValueError(f"unknown fault kind {kind!r}; one of "
                             f"{', '.join(x.value for x in FaultKind)}") from exc
        if retry_after < 0 or delay_s < 0:
            raise ValueError("retry_after and delay_s must not be negative")
        return Fault(k, retry_after=float(retry_after), delay_s=float(delay_s))


async def abort_connection(receive: Callable[..., Any]) -> bool:
    """Drop the client connection of the current ASGI request with no bytes written.

    Written by hand because no ASGI server exposes "close without answering": uvicorn's
    ``receive`` is a bound method of its request cycle, which holds the asyncio transport. The
    app must be called with uvicorn's own ``receive`` (wrap the app outermost). After the abort
    the cycle is marked disconnected, so uvicorn writes nothing more. Returns False when the
    transport cannot be reached (the caller then answers with a 502-like failure instead).
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        return False
    transport.abort()
    # Let connection_lost run so the cycle knows the client is gone.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return True
