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
    """The store, queue and task registry one process runs with."""

    def __init__(self, settings: Settings, db: Any, queue: Any, registry: Any) -> None:
        self.settings = settings
        self.db = db
        self.queue = queue
        self.registry = registry

    def known_queues(self) -> set[str]:
        """Queue names from ``[queues.concurrency]``, the registered tasks, and ``default``."""
        names = set(self.settings.queues.concurrency) | {"default"}
        names.update(str(q) for q in self.registry.queues())
        return names

    def concurrency(self, queues: list[str] | None, per_queue: int | None) -> dict[str, int]:
        """Slots per queue: the named queues (default: every known queue), each with
        ``per_queue`` slots or its ``[queues.concurrency]`` figure (1 when not configured)."""
        configured = self.settings.queues.concurrency
        names = queues if queues is not None else sorted(self.known_queues())
        return {q: per_queue if per_queue is not None else configured.get(q, 1) for q in names}

    def worker(self, *, queues: list[str] | None = None, concurrency: int | None = None) -> Any:
        from seamline.queue import Worker  # noqa: PLC0415 - lazy: keep CLI start-up light

        return Worker(
            self.db, self.queue, self.registry,
            concurrency=self.concurrency(queues, concurrency),
            lease_s=self.settings.queues.lease_s,
            poll_interval_s=self.settings.queues.poll_interval_s,
            known_queues=self.known_queues(),
        )

    def scheduler(self) -> Any:
        from seamline.queue import Scheduler  # noqa: PLC0415 - lazy: keep CLI start-up light

        return Scheduler(self.db, self.queue, self.settings.schedules)


def build_runtime(settings: Settings) -> Runtime:
    """Open (and check) the database and build the queue and registry for a process."""
    from seamline.queue import JobQueue, TaskRegistry  # noqa: PLC0415 - lazy: keep start-up light

    db = open_database(settings)
    registry = TaskRegistry()
    queue = JobQueue(db, registry=registry)
    return Runtime(settings, db, queue, registry)
