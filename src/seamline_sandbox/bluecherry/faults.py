"""Fault plumbing of the BlueCherry sandbox on top of the shared
:mod:`seamline_sandbox.faults` plan: the request-rate limit and the "response never arrives"
mechanism of the ``timeout`` and ``commit_then_drop`` faults.

Operations (what a planned fault's ``match`` pattern is matched against, by fnmatch):
``create_order``, ``get_order``, ``lookup_orders``, ``cancel_order``, ``ats``, ``shipments``,
``invoices``, ``cash_receipt``, ``list_cash_receipts``, ``credit_memo``,
``list_credit_memos``, ``master_data``, ``skus``. ``None`` (or ``"*"``) matches every one.

How the response never arrives (:func:`hold_then_drop`): ``commit_then_drop`` first applies the
request (the order is created, the receipt stored), ``timeout`` applies nothing. Then the app waits
on the ASGI ``receive`` channel for ``http.disconnect`` — which uvicorn delivers when the client
closes the socket after its own read timeout — for at most the fault's ``delay_s`` (or the app's
``hold_seconds`` when that is 0). If the client is still connected when the hold ends, the
connection is aborted with no bytes written (:func:`seamline_sandbox.faults.abort_connection`);
where that is not possible, a response is started and abandoned mid-body, so uvicorn closes the
connection. Either way the client never gets a usable answer, although a ``commit_then_drop``
write did happen: the read-back by ``external_reference`` is the cure.
"""

from __future__ import annotations

import asyncio
import math
import time

from starlette.types import Receive, Send

from seamline_sandbox.faults import abort_connection

__all__ = ["RateLimiter", "hold_then_drop"]


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
        """0 when the request may pass, else the whole seconds to put in ``Retry-After``."""
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
    """Send no usable response (see the module docstring)."""
    deadline = time.monotonic() + max(seconds, 0.0)
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            message = await asyncio.wait_for(receive(), timeout=remaining)
            if message.get("type") == "http.disconnect":
                return
    except TimeoutError:
        pass
    if await abort_connection(receive):
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})
    await send({"type": "http.response.body", "body": b'{"order_no": ', "more_body": True})
