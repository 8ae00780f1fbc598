"""The events-queue reader confirms only what has been durably recorded."""

from __future__ import annotations

import pytest

from seamline.adapters.centra.events import drain_events
from seamline.domain.events import CentraEvent


class Queue:
    def __init__(self, n: int) -> None:
        self.pending = [CentraEvent(id=i, object_type="Order", change_type="CREATED",
                                    object_reference=str(1000 + i)) for i in range(1, n + 1)]
        self.confirmed: list[int] = []

    def fetch_events(self, limit: int = 100) -> list[CentraEvent]:
        return self.pending[:limit]

    def confirm_events(self, ids: list[int]) -> None:
        self.confirmed.extend(ids)
        self.pending = [e for e in self.pending if e.id not in set(ids)]


def test_every_event_is_recorded_then_confirmed_in_batches() -> None:
    """Five events in batches of two: all recorded, all confirmed, in order."""
    q = Queue(5)
    recorded: list[int] = []

    def record(events: list[CentraEvent]) -> None:
        assert not {e.id for e in events} & set(q.confirmed)
        recorded.extend(e.id for e in events)

    assert drain_events(q, record, limit=2) == 5
    assert recorded == [1, 2, 3, 4, 5]
    assert q.confirmed == [1, 2, 3, 4, 5]


def test_nothing_is_confirmed_when_recording_fails() -> None:
    """A crash while recording leaves the batch in Centra's queue for next time."""
    q = Queue(3)

    def record(events: list[CentraEvent]) -> None:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError):
        drain_events(q, record)
    assert q.confirmed == []
    assert len(q.pending) == 3
