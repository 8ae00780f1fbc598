"""Task registry: task name → handler, queue and the exception type it gives up into."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seamline.exceptions import ConfigError

if TYPE_CHECKING:
    from seamline.queue.worker import JobContext

__all__ = ["Handler", "TaskRegistry", "TaskSpec"]

#: ``handler(ctx, args)``; return normally to complete the job, raise to fail it.
Handler = Callable[["JobContext", dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One registered task."""

    name: str
    handler: Handler
    queue: str = "default"
    #: Exception type recorded when retriable failures run out (default: the error's own).
    exception_type: str | None = None
    #: Attempts before giving up (default: the policy's).
    max_attempts: int | None = None
    #: The external systems the task calls (``centra``, ``bluecherry``): while one is down its
    #: jobs wait unclaimed, and its success tells the queue the system answers again.
    needs: tuple[str, ...] = ()


class TaskRegistry:
    """Holds the tasks a worker can run."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskSpec] = {}

    def task(
        self,
        name: str,
        *,
        queue: str = "default",
        exception_type: str | None = None,
        max_attempts: int | None = None,
        needs: Iterable[str] = (),
    ) -> Callable[[Handler], Handler]:
        """Decorator: ``@registry.task("orders.post", queue="orders")``."""

        def register(handler: Handler) -> Handler:
            self.register(name, handler, queue=queue, exception_type=exception_type,
                          max_attempts=max_attempts, needs=needs)
            return handler

        return register

    def register(
        self,
        name: str,
        handler: Handler,
        *,
        queue: str = "default",
        exception_type: str | None = None,
        max_attempts: int | None = None,
        needs: Iterable[str] = (),
    ) -> TaskSpec:
        """Register ``handler`` as task ``name``; a second registration of a name is an error."""
        if name in self._tasks:
            raise ConfigError(f"task {name!r} is registered twice")
        spec = TaskSpec(name, handler, queue, exception_type, max_attempts, tuple(needs))
        self._tasks[name] = spec
        return spec

    def find(self, name: str) -> TaskSpec | None:
        """The task named ``name``, or None."""
        return self._tasks.get(name)

    def get(self, name: str) -> TaskSpec:
        """The task named ``name``; ``ConfigError`` naming the known tasks if it is unknown."""
        spec = self._tasks.get(name)
        if spec is None:
            known = ", ".join(sorted(self._tasks)) or "(none)"
            raise ConfigError(f"no handler registered for task {name!r}; known tasks: {known}")
        return spec

    def queues(self) -> set[str]:
        """The queue names the registered tasks use."""
        return {spec.queue for spec in self._tasks.values()}

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[TaskSpec]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)
