"""The reconciliation's task on the job queue: ``reconcile.daily`` (the ``reconcile-daily``
schedule, checked every minute)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from typing import Any

from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.reconcile.service import Reconciler

__all__ = ["QUEUE", "register_reconcile_tasks"]

QUEUE = "reconcile"


def register_reconcile_tasks(registry: TaskRegistry, factory: Callable[[], Reconciler],
                             run_at: time) -> None:
    """Register ``reconcile.daily``: every market's previous business day, once, after
    ``run_at`` in its time zone."""

    def daily(ctx: JobContext, args: dict[str, Any]) -> None:
        for report in factory().daily(run_at):
            ctx.log.info("reconciled", day=report.day.isoformat(), market=report.market,
                         currency=report.currency, orders=report.totals.orders,
                         differences=len(report.rows))

    registry.register("reconcile.daily", daily, queue=QUEUE, needs=("bluecherry",))
