"""The stock flow's task on the job queue: ``stock.sync`` (args ``full``, ``sku``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seamline.ports import working_for
from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.stock.sync import StockSync

__all__ = ["register_stock_tasks"]


def register_stock_tasks(registry: TaskRegistry, sync_factory: Callable[[], StockSync]) -> None:
    """Register ``stock.sync`` on queue ``stock`` (one run at a time: its schedules and the
    CLI share the dedupe key ``stock.sync``)."""

    def sync(ctx: JobContext, args: dict[str, Any]) -> None:
        service = sync_factory()
        full = bool(args.get("full"))
        # A full sweep spends Centra's budget last: it yields while any other flow waits.
        with working_for("stock_sweep" if full else "stock_delta"):
            service.run(lambda: service.store.for_job(ctx), full=full,
                        sku_pattern=args.get("sku") or None, heartbeat=ctx.heartbeat)

    # While either system is down the sync waits, not failing (queue.circuit); a run that
    # cannot finish keeps its sizes pending and says so itself (services.stock.watch).
    registry.register("stock.sync", sync, queue="stock", exception_type="STOCK_SYNC_FAILED",
                      needs=("centra", "bluecherry"))
