"""``centra.budget``: the dispatch-delay watch on the job queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.budget.watch import BudgetWatch

__all__ = ["register_budget_tasks"]


def register_budget_tasks(registry: TaskRegistry, watch_factory: Callable[[], BudgetWatch]) -> None:
    def watch(ctx: JobContext, args: dict[str, Any]) -> None:
        service = watch_factory()
        service.run(lambda: service.store.for_job(ctx))

    registry.register("centra.budget", watch, queue="shipments")
