"""Where the CLI meets the store, the queue and the composition root.

Every import of those layers is lazy and lives here, so ``seamline --help`` and
``seamline config check`` start fast and work without a database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seamline.logging import redact_text

if TYPE_CHECKING:
    from seamline.config import Settings

__all__ = ["display_url", "open_database"]


def display_url(url: str) -> str:
    """A database URL fit to print (the password masked)."""
    return redact_text(url)


def open_database(settings: Settings, *, check: bool = True) -> Any:
    """The ``Database`` for ``[store].database_url``; with ``check`` it must answer now.

    An unreachable database raises ``StoreError`` with a one-line message (exit code 3).
    """
    from seamline.adapters.store import Database  # noqa: PLC0415 - lazy: keep CLI start-up light

    db = Database(settings.store.database_url)
    if check:
        db.check()
    return db


class Runtime:
    """The store, queue and task registry one process runs with (built by bootstrap)."""

    def __init__(self, settings: Settings, db: Any, queue: Any, registry: Any) -> None:
        self.settings = settings
        self.db = db
        self.queue = queue
        self.registry = registry

    def known_queues(self) -> set[str]:
        """Queue names from ``[queues.concurrency]`` and from the registered tasks."""
        names = set(self.settings.queues.concurrency)
        names.update(_registry_queues(self.registry))
        return names

    def worker(self, *, queues: list[str] | None = None, concurrency: int | None = None) -> Any:
        from seamline.queue import Worker  # noqa: PLC0415 - lazy: keep CLI start-up light

        return Worker(
            self.db, self.queue, self.registry,
            queues=queues,
            concurrency=concurrency,
            lease_s=self.settings.queues.lease_s,
            poll_interval_s=self.settings.queues.poll_interval_s,
        )

    def scheduler(self) -> Any:
        from seamline.queue import Scheduler  # noqa: PLC0415 - lazy: keep CLI start-up light

        return Scheduler(self.db, self.queue, self.settings.schedules)


def _registry_queues(registry: Any) -> set[str]:
    queues = getattr(registry, "queues", None)
    if callable(queues):
        queues = queues()
    return {str(q) for q in queues or ()}


def build_runtime(settings: Settings) -> Runtime:
    """Open (and check) the database and build the queue and registry for a process."""
    from seamline.queue import JobQueue, TaskRegistry  # noqa: PLC0415 - lazy: keep CLI start-up light

    db = open_database(settings)
    queue = JobQueue(db)
    registry = TaskRegistry()
    return Runtime(settings, db, queue, registry)
