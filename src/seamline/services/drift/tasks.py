"""The drift scan and the missing-in-ERP watchdog on the job queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.drift.missing import MissingInErp
from seamline.services.drift.service import DriftService

__all__ = ["QUEUE", "register_drift_tasks"]

#: The queue both run on.
QUEUE = "default"


def register_drift_tasks(registry: TaskRegistry, drift: Callable[[], DriftService],
                         missing: Callable[[], MissingInErp]) -> None:
    """Register ``drift.scan`` (BlueCherry orders changed since the cursor) and
    ``watchdogs.missing_in_erp``."""

    def scan(ctx: JobContext, args: dict[str, Any]) -> None:
        service = drift()
        result = service.scan(lambda: service.store.for_job(ctx))
        ctx.log.info("drift scan", read=result.read, compared=result.compared,
                     raised=result.raised, updated=result.updated, resolved=result.resolved)

    def watch(ctx: JobContext, args: dict[str, Any]) -> None:
        dog = missing()
        dog.watch(lambda: dog.store.for_job(ctx))

    registry.register("drift.scan", scan, queue=QUEUE, needs=("bluecherry",))
    registry.register("watchdogs.missing_in_erp", watch, queue=QUEUE)
