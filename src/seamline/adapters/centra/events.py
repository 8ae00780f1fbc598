"""Centra's events queue (pull): read, record durably, then confirm.

Centra keeps returning an event until it is confirmed, and every event must be confirmed, the
ones we ignore included. ``drain_events`` therefore confirms a batch only after ``record`` has
returned (i.e. after the caller committed it to the store): a crash between the two re-delivers
the batch, which intake de-duplicates by order number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from seamline.domain.events import CentraEvent
from seamline.exceptions import InvalidRecord

__all__ = ["EventSource", "drain_events", "event_from_json"]


class EventSource(Protocol):
    def fetch_events(self, limit: int = 100) -> list[CentraEvent]: ...

    def confirm_events(self, ids: list[int]) -> None: ...


def event_from_json(node: Mapping[str, Any]) -> CentraEvent:
    """One ``events`` item → ``CentraEvent``."""
    try:
        return CentraEvent(
            id=int(node["id"]),
            object_type=str(node["objectType"]),
            change_type=str(node["changeType"]),
            object_reference=str(node.get("objectReference") or ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRecord(f"centra event is malformed: {exc}") from exc


def drain_events(
    gateway: EventSource,
    record: Callable[[list[CentraEvent]], None],
    *,
    limit: int = 100,
    max_batches: int = 50,
) -> int:
    """Fetch → ``record`` → confirm, batch after batch, until the queue is empty (or
    ``max_batches`` were done). Returns how many events were recorded and confirmed.

    If ``record`` raises, nothing of that batch is confirmed and the error propagates.
    """
    total = 0
    for _ in range(max_batches):
        events = gateway.fetch_events(limit)
        if not events:
            break
        record(events)
        gateway.confirm_events([e.id for e in events])
        total += len(events)
        if len(events) < limit:
            break
    return total
