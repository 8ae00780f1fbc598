"""The payment flow's task on the job queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.payments.core import QUEUE
from seamline.services.payments.flow import PaymentFlow

__all__ = ["register_payment_tasks"]


def register_payment_tasks(registry: TaskRegistry,
                           flow_factory: Callable[[], PaymentFlow]) -> None:
    """Register ``payments.batch``: the days due now (the ``payments-batch`` schedule, every
    minute), or ``{"day": "YYYY-MM-DD", "market": "1/SEK"}`` explicitly."""

    def batch(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        day = date.fromisoformat(str(args["day"])) if args.get("day") else None
        market = str(args["market"]) if args.get("market") else None
        result = flow.run(lambda: flow.store.for_job(ctx), day=day, market=market,
                          keep_alive=ctx.heartbeat)
        if result.days or result.receipts or result.memos:
            ctx.log.info("payment batch", **result.as_dict())

    # Reads Centra and writes BlueCherry: while either is down the job waits (queue.circuit).
    registry.register("payments.batch", batch, queue=QUEUE, needs=("centra", "bluecherry"))
