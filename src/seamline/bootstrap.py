"""The composition root: build the store, the queue and the task registry from ``Settings``.

Every entry point (CLI, web, tests) builds its objects here; adapters and services are added by
their own modules as the project grows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from seamline.adapters.store.db import Database
from seamline.config import Settings
from seamline.exceptions import ConfigError
from seamline.queue.core import JobQueue
from seamline.queue.policy import RetryPolicy
from seamline.queue.registry import TaskRegistry
from seamline.queue.scheduler import Scheduler
from seamline.queue.worker import Worker
from seamline.services.exceptions import ExceptionService

__all__ = ["Container", "build", "retry_policy"]


def retry_policy(settings: Settings) -> RetryPolicy:
    """The queue's retry policy from ``[queues]`` (and ``[orders].max_attempts``)."""
    return RetryPolicy.from_settings(settings.queues, max_attempts=settings.orders.max_attempts)


@dataclass
class Container:
    """Everything a Seamline process needs, built once."""

    settings: Settings
    db: Database
    queue: JobQueue
    registry: TaskRegistry
    exceptions: ExceptionService

    def known_queues(self) -> set[str]:
        """Queues a worker may be asked to serve: configured or used by a registered task."""
        return set(self.settings.queues.concurrency) | self.registry.queues() | {"default"}

    def worker(
        self,
        queues: Iterable[str] | None = None,
        concurrency: int | Mapping[str, int] | None = None,
        *,
        batch: int = 1,
    ) -> Worker:
        """A worker for ``queues`` (default: every configured queue). ``concurrency`` is one
        number for every queue, or per queue; default ``[queues].concurrency``."""
        configured = dict(self.settings.queues.concurrency)
        names = list(queues) if queues else list(configured)
        if isinstance(concurrency, int):
            conc = dict.fromkeys(names, concurrency)
        elif concurrency is not None:
            conc = {q: int(concurrency.get(q, configured.get(q, 1))) for q in names}
        else:
            conc = {q: int(configured.get(q, 1)) for q in names}
        return Worker(
            self.db, self.queue, self.registry, concurrency=conc,
            lease_s=self.settings.queues.lease_s,
            poll_interval_s=self.settings.queues.poll_interval_s,
            batch=batch, known_queues=self.known_queues(),
        )

    def scheduler(self) -> Scheduler:
        """The scheduler for ``[schedules]`` (each task must be registered)."""
        unknown = sorted(
            f"schedules.{name}: task {entry.task!r}"
            for name, entry in self.settings.schedules.items()
            if entry.task not in self.registry
        )
        if unknown:
            known = ", ".join(self.registry.names()) or "(none)"
            raise ConfigError(f"{'; '.join(unknown)} is not a known task; known tasks: {known}")
        return Scheduler(self.db, self.queue, self.settings.schedules, self.queue.clock,
                         poll_interval_s=min(1.0, self.settings.queues.poll_interval_s * 2))


def build(
    settings: Settings,
    *,
    registry: TaskRegistry | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Container:
    """Build the container (no connection is opened: call ``db.check()``/``db.upgrade()``)."""
    db = Database(settings.store.database_url)
    registry = registry if registry is not None else TaskRegistry()
    queue = JobQueue(db, clock=clock, policy=retry_policy(settings), registry=registry)
    return Container(settings, db, queue, registry, ExceptionService(db, clock=clock))
