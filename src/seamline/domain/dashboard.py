"""What the dashboard reads, as plain records: queue figures, exception rows and filters, and
the lines of an order's trace. The store adapter fills them; the dashboard service shapes them
for people (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "AGE_BUCKETS",
    "ExceptionFilter",
    "ExceptionRow",
    "JobLine",
    "LedgerLine",
    "QueueFigures",
    "StateFigures",
    "TraceLine",
    "age_bucket",
]

#: Age buckets of open exceptions, by hours since first seen (upper bound, label).
AGE_BUCKETS: tuple[tuple[float, str], ...] = (
    (1.0, "< 1 h"), (24.0, "1–24 h"), (24.0 * 7, "1–7 d"), (float("inf"), "> 7 d"),
)


def age_bucket(hours: float) -> str:
    """The label of the bucket an age in hours falls in."""
    for upper, label in AGE_BUCKETS:
        if hours < upper:
            return label
    return AGE_BUCKETS[-1][1]


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """One queue's jobs: waiting and running now, failed for good, recent outcomes."""

    queue: str
    todo: int = 0
    doing: int = 0
    failed: int = 0
    #: Jobs that ended (succeeded / failed) since the window's start.
    succeeded_recent: int = 0
    failed_recent: int = 0
    #: The earliest ``run_at`` of a waiting job that is already due (its lag), if any.
    oldest_due: datetime | None = None
    last_success: datetime | None = None


@dataclass(frozen=True, slots=True)
class StateFigures:
    """Ledger rows of one kind in one state: how many, and the oldest one's last change."""

    state: str
    count: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class ExceptionFilter:
    """The exceptions list's filters (``None``: any)."""

    state: str | None = "open"
    owner: str | None = None
    type: str | None = None
    #: Only those first seen at least this many hours ago.
    older_than_h: float | None = None
    #: An order number, SKU, shipment number or any part of the key or message.
    q: str | None = None


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    """One exception as the list shows it."""

    id: int
    type: str
    owner: str
    severity: str
    business_key: str
    state: str
    count: int
    message: str
    first_seen: datetime
    last_seen: datetime
    #: How many orders it holds (parked on it).
    held: int = 0


@dataclass(frozen=True, slots=True)
class JobLine:
    """A job of the order's (or an exception's) with its events."""

    id: int
    queue: str
    task: str
    status: str
    attempts: int
    max_attempts: int
    created_at: datetime
    updated_at: datetime
    last_error: str | None
    events: tuple[TraceLine, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One thing that happened, from any source (job event, audit log, exception history)."""

    at: datetime
    source: str
    what: str
    actor: str = ""
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One ledger row as a list shows it: its key, state, last change and why it waits."""

    key: str
    state: str
    updated_at: datetime
    reason: str | None = None
