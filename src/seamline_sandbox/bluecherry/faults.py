"""Fault injection for the BlueCherry sandbox: planned faults for the next N requests of an
operation, random fault rates, fixed latency and a request-rate limit.

Fault kinds (``Fault.kind``):

``"429"``
    answer ``429`` with ``Retry-After: <retry_after>`` (nothing is applied);
``"500"``, ``"502"``, ``"503"``, ``"504"``
    answer that status with the error envelope (nothing is applied);
``"latency"``
    sleep ``seconds`` first, then handle the request normally;
``"timeout"``
    nothing is applied; the request is held until the client gives up (or ``seconds`` pass)
    and the connection is then dropped without a response;
``"commit_then_drop"``
    the request **is applied** (the order is created, the receipt stored...), then the response
    is held back exactly as for ``"timeout"``: the client sees a timeout or a dropped
    connection although the write happened. This is the fault that makes naive integrations post
    twice; the cure is the read-back by ``external_reference``.

How the response "never arrives" (see :func:`hold_then_drop`): after the work is done the app
waits on the ASGI ``receive`` channel for ``http.disconnect`` — which the server delivers when the
client closes the socket after its own timeout — for at most ``seconds`` (default 30). If the
client went away, nothing is sent. If the hold expires first, the app starts a response whose
body never completes and returns, and uvicorn closes the connection mid-response: the client sees
a protocol error (a dropped connection). Either way no usable response reaches the client.

Operations are the names the app gives its routes (``create_order``, ``get_order``,
``lookup_orders``, ``cancel_order``, ``ats``, ``shipments``, ``invoices``, ``cash_receipt``,
``list_cash_receipts``, ``credit_memo``, ``master_data``, ``skus``); ``"*"`` matches every one.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Receive, Scope, Send

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultPlan",
    "RateLimiter",
    "hold_then_drop",
]

FAULT_KINDS = frozenset(
    {"429", "500", "502", "503", "504", "latency", "timeout", "commit_then_drop"}
)


@dataclass(slots=True)
class Fault:
    """One planned fault: applies to the next ``count`` requests of ``operation``."""

    kind: str
    operation: str = "*"
    count: int = 1
    #: Seconds: ``Retry-After`` for 429; the delay for latency; the hold for timeouts.
    retry_after: int = 1
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(FAULT_KINDS)}")
        if self.count < 1:
            raise ValueError("count must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "operation": self.operation, "count": self.count,
                "retry_after": self.retry_after, "seconds": self.seconds}


@dataclass
class FaultPlan:
    """Planned faults (consumed in order) plus random rates, per operation."""

    planned: list[Fault] = field(default_factory=list)
    #: kind → probability per request, for ``rate_operations`` (all when empty).
    rates: dict[str, float] = field(default_factory=dict)
    rate_operations: frozenset[str] = frozenset()
    rate_seconds: float = 30.0
    rate_retry_after: int = 1
    #: Fixed added latency (seconds) per operation ("*" for all).
    latency: dict[str, float] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    #: How many faults were served, by kind (for tests and the control API).
    served: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, *, operation: str = "*", count: int = 1, retry_after: int = 1,
            seconds: float = 0.0) -> Fault:
        fault = Fault(kind=kind, operation=operation, count=count, retry_after=retry_after,
                      seconds=seconds)
        self.planned.append(fault)
        return fault

    def set_rates(self, rates: dict[str, float], *, operations: Iterable[str] = (),
                  seconds: float = 30.0, retry_after: int = 1, seed: int = 0) -> None:
        for kind, p in rates.items():
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"rate for {kind} must be within [0, 1]")
        self.rates = dict(rates)
        self.rate_operations = frozenset(operations)
        self.rate_seconds = seconds
        self.rate_retry_after = retry_after
        self.rng = random.Random(seed)

    def clear(self) -> None:
        self.planned.clear()
        self.rates.clear()
        self.rate_operations = frozenset()
        self.latency.clear()

    def take(self, operation: str) -> Fault | None:
        """The fault to apply to this request of ``operation``, if any (consumes one)."""
        for i, fault in enumerate(self.planned):
            if fault.operation in ("*", operation):
                fault.count -= 1
                if fault.count <= 0:
                    del self.planned[i]
                self.served[fault.kind] = self.served.get(fault.kind, 0) + 1
                return Fault(kind=fault.kind, operation=operation, count=1,
                             retry_after=fault.retry_after, seconds=fault.seconds)
        if self.rates and (not self.rate_operations or operation in self.rate_operations):
            roll = self.rng.random()
            acc = 0.0
            for kind, p in sorted(self.rates.items()):
                acc += p
                if roll < acc:
                    self.served[kind] = self.served.get(kind, 0) + 1
                    return Fault(kind=kind, operation=operation, retry_after=self.rate_retry_after,
                                 seconds=self.rate_seconds)
        return None

    def delay_for(self, operation: str) -> float:
        return self.latency.get(operation, self.latency.get("*", 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "planned": [f.to_dict() for f in self.planned],
            "rates": dict(self.rates),
            "rate_operations": sorted(self.rate_operations),
            "latency": dict(self.latency),
            "served": dict(self.served),
        }


class RateLimiter:
    """A token bucket: ``per_second`` requests on average, bursts up to ``burst``."""

    def __init__(self, per_second: float | None = None, burst: int | None = None) -> None:
        self.configure(per_second, burst)

    def configure(self, per_second: float | None, burst: int | None = None) -> None:
        self.per_second = per_second if per_second and per_second > 0 else None
        self.burst = float(burst or max(1, math.ceil(self.per_second or 1)))
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def acquire(self) -> int:
        """0 when the request may pass, else the seconds to put in ``Retry-After``."""
        if self.per_second is None:
            return 0
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - self.tokens) / self.per_second))


async def hold_then_drop(receive: Receive, send: Send, seconds: float) -> None:
    """Send no usable response: wait for the client to disconnect (its timeout), at most
    ``seconds``; if it is still there, start a response and abandon it mid-body so the server
    closes the connection."""
    try:
        deadline = time.monotonic() + max(seconds, 0.0)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            message = await asyncio.wait_for(receive(), timeout=remaining)
            if message.get("type") == "http.disconnect":
                return
    except TimeoutError:
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})
    await send({"type": "http.response.body", "body": b'{"order_no": ', "more_body": True})


class DropResponse:
    """An ASGI response that never completes (see :func:`hold_then_drop`)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await hold_then_drop(receive, send, self.seconds)
