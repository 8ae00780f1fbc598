"""Feed cursors (ATS cycle, shipments, invoices) that advance only after what they cover is
durably recorded.

The store's cursors table sits behind the tiny ``CursorStore`` protocol (``get``/``set`` by
name). ``advance_cursor`` reads the stored position, fetches what is new since it, hands that to
the caller's ``record`` callback, and moves the cursor *only* when ``record`` returns ``True``
(it has committed what it was given). A crash or an exception between fetch and record leaves the
cursor where it was, so the next run reads the same items again; the recorders are idempotent
(applying a shipment twice changes nothing), so nothing is lost and nothing doubles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from seamline.domain.erp import AtsCycle, AtsItem, ErpInvoice, ErpShipment

__all__ = [
    "ATS_CURSOR",
    "INVOICES_CURSOR",
    "SHIPMENTS_CURSOR",
    "Advance",
    "CursorStore",
    "InMemoryCursorStore",
    "advance_ats",
    "advance_cursor",
    "advance_feed",
]

T = TypeVar("T")

SHIPMENTS_CURSOR = "bluecherry.shipments"
INVOICES_CURSOR = "bluecherry.invoices"
ATS_CURSOR = "bluecherry.ats.{warehouse}"


class CursorStore(Protocol):
    def get(self, name: str) -> str | None:
        """The stored position of a cursor (``None`` before the first run)."""
        ...

    def set(self, name: str, value: str) -> None:
        """Store a cursor's position durably."""
        ...


class InMemoryCursorStore:
    """A ``CursorStore`` in a dict (tests, the demo)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value


@dataclass(frozen=True, kw_only=True, slots=True)
class Advance(Generic[T]):
    """What one run did: the batch it read, where the cursor was and where it is now."""

    batch: T
    before: str | None
    after: str | None
    advanced: bool


def advance_cursor(
    store: CursorStore,
    name: str,
    fetch: Callable[[str | None], tuple[T, str | None]],
    record: Callable[[T], bool],
) -> Advance[T]:
    """Fetch from the stored position, let ``record`` commit the batch, then move the cursor.

    ``fetch(position) -> (batch, next_position)``; ``record(batch) -> True`` once the batch is
    durably recorded. ``False`` or an exception leaves the cursor unchanged. A ``None`` or
    unchanged ``next_position`` is never stored.
    """
    before = store.get(name)
    batch, after = fetch(before)
    if not record(batch):
        return Advance(batch=batch, before=before, after=before, advanced=False)
    if after is None or after == before:
        return Advance(batch=batch, before=before, after=before, advanced=False)
    store.set(name, after)
    return Advance(batch=batch, before=before, after=after, advanced=True)


class _Feed(Protocol):
    def iter_shipments(self, since: str | None = None) -> tuple[list[ErpShipment], str]: ...

    def iter_invoices(self, since: str | None = None) -> tuple[list[ErpInvoice], str]: ...

    def iter_ats(self, warehouse: str, changed_since_cycle: int | None = None
                 ) -> tuple[AtsCycle, list[AtsItem]]: ...


def advance_feed(
    erp: _Feed, store: CursorStore, feed: str, record: Callable[[list[T]], bool]
) -> Advance[list[T]]:
    """One run of the ``shipments`` or ``invoices`` feed with ``record`` as the committer."""
    if feed == "shipments":
        fetch = erp.iter_shipments
        name = SHIPMENTS_CURSOR
    elif feed == "invoices":
        fetch = erp.iter_invoices  # type: ignore[assignment]
        name = INVOICES_CURSOR
    else:
        raise ValueError(f"unknown feed {feed!r}; shipments or invoices")
    return advance_cursor(store, name, fetch, record)  # type: ignore[arg-type]


def advance_ats(
    erp: _Feed, store: CursorStore, warehouse: str,
    record: Callable[[tuple[AtsCycle, list[AtsItem]]], bool], *, full: bool = False,
) -> Advance[tuple[AtsCycle, list[AtsItem]]]:
    """One ATS read for a warehouse: the delta since the recorded cycle (or everything when
    ``full`` or on the first run); the cycle cursor moves once ``record`` committed it."""

    def fetch(position: str | None) -> tuple[tuple[AtsCycle, list[AtsItem]], str]:
        since = None if full or position is None else int(position)
        cycle, items = erp.iter_ats(warehouse, since)
        return (cycle, items), str(cycle.id)

    return advance_cursor(store, ATS_CURSOR.format(warehouse=warehouse), fetch, record)
