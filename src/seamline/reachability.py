"""Which external systems answered during the job this thread runs.

The Centra and BlueCherry clients call :func:`answered` whenever the other side gives a real
answer (any status but a 5xx or a 429; a 404 or a 422 is an answer too). The worker runs each
batch of jobs inside :func:`watch`, and the queue reads :func:`answers` when a job completes or
fails: a system that answered is up, whatever the job's outcome, and any outage the queue
recorded for it is over (``seamline.queue.circuit``). Outside :func:`watch` nothing is kept.

Per thread, because each worker slot runs its jobs, and their HTTP calls, in its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["answered", "answers", "watch"]

_local = threading.local()


def answered(system: str) -> None:
    """``system`` (``centra``, ``bluecherry``) gave a real answer in this thread."""
    seen: set[str] | None = getattr(_local, "seen", None)
    if seen is not None:
        seen.add(system)


def answers() -> frozenset[str]:
    """The systems that answered since this thread's :func:`watch` began."""
    seen: set[str] | None = getattr(_local, "seen", None)
    return frozenset(seen or ())


@contextmanager
def watch() -> Iterator[set[str]]:
    """Collect :func:`answered` calls in this thread until the block ends (nests: an inner
    block shares the outer one's set)."""
    outer: set[str] | None = getattr(_local, "seen", None)
    if outer is not None:
        yield outer
        return
    _local.seen = set()
    try:
        yield _local.seen
    finally:
        _local.seen = None
