"""The system clock: the one implementation of ``seamline.ports.Clock`` that reads real time.

Tests and the sandboxes pass their own clocks (anything with ``now()``, or for the queue a
``Callable[[], datetime]`` such as ``SystemClock().now``); production code that needs "now" and
was given no clock uses this one.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["SystemClock", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class SystemClock:
    """``seamline.ports.Clock`` on the system's real time (UTC, timezone-aware)."""

    def now(self) -> datetime:
        return utcnow()

    def __repr__(self) -> str:
        return "SystemClock()"
