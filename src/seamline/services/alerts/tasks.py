"""The alert tasks on the job queue: ``alerts.evaluate`` (the ``alerts`` schedule) and
``alerts.send`` (args ``delivery``), both on queue ``alerts``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.alerts.service import AlertService

__all__ = ["register_alert_tasks"]

#: Tries per delivery (with the queue's backoff between them) before it is ``failed``.
SEND_ATTEMPTS = 6


def register_alert_tasks(registry: TaskRegistry,
                         service_factory: Callable[[], AlertService]) -> None:
    def evaluate(ctx: JobContext, args: dict[str, Any]) -> None:
        service = service_factory()
        service.evaluate(lambda: service.store.for_job(ctx))

    def send(ctx: JobContext, args: dict[str, Any]) -> None:
        service = service_factory()
        service.send(int(args["delivery"]), lambda: service.store.for_job(ctx),
                     attempt=ctx.job.attempts, max_attempts=ctx.job.max_attempts)

    registry.register("alerts.evaluate", evaluate, queue="alerts")
    registry.register("alerts.send", send, queue="alerts", exception_type="ALERT_FAILED",
                      max_attempts=SEND_ATTEMPTS)
