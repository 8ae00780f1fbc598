"""Available-to-sell in batch cycles.

A cycle takes one snapshot, *as of* its ``as_of`` time, of every SKU in every warehouse:

- ``on_hand``: physical units in the warehouse;
- ``allocated``: picked, not yet shipped units of the warehouse's orders;
- ``open_demand``: the open quantity (ordered − cancelled − picked − shipped) of every sales order
  created at or before ``as_of``, whatever its status (zero on cancelled and fully shipped ones);
- ``ats = max(on_hand − allocated − open_demand, 0)``.

Published figures move only when a cycle is published; between cycles they stay put however
many orders arrive. A cycle may be published ``lag_seconds`` after it read its data (``as_of``),
as a batch does that runs a while: everything that happens in between (orders created, units
shipped or received) is in the next cycle, not in this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seamline_sandbox.bluecherry.state import BlueCherryState

__all__ = ["AtsBook", "Cycle"]

Key = tuple[str, str]  # (warehouse, sku)
Figures = tuple[int, int, int, int]  # on_hand, allocated, open_demand, ats

#: How many cycles keep their full snapshot (older cursors get 410 CURSOR_EXPIRED).
KEEP_SNAPSHOTS = 64


@dataclass(slots=True)
class Cycle:
    id: int
    as_of: datetime
    published_at: datetime
    figures: dict[Key, Figures]
    keys: list[Key]
    changed: frozenset[Key] = field(default_factory=frozenset)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "as_of": self.as_of.isoformat(),
                "published_at": self.published_at.isoformat()}


class AtsBook:
    """The cycles run so far (latest published last; cycles still running wait in
    ``running`` until their ``published_at``)."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock
        self.cycles: dict[int, Cycle] = {}
        self._latest: Cycle | None = None
        self._computed: Cycle | None = None
        self.running: list[Cycle] = []
        #: cycle id → keys changed in that cycle (kept for every cycle: deltas are cheap)
        self.changes: dict[int, frozenset[Key]] = {}
        #: key → when its figures last changed (the published_at of that cycle)
        self.changed_at: dict[Key, datetime] = {}

    @property
    def latest(self) -> Cycle | None:
        """The latest published cycle (cycles whose publication time has come are published
        first)."""
        if self.running and self.clock is not None:
            self.publish_due(self.clock())
        return self._latest

    def publish_due(self, now: datetime) -> None:
        while self.running and self.running[0].published_at <= now:
            self._latest = self.running.pop(0)

    def run_cycle(self, state: BlueCherryState, *, lag_seconds: float = 0.0) -> Cycle:
        """Read the figures now (``as_of``); publish them now, or ``lag_seconds`` later."""
        when = state.now()
        published = when + timedelta(seconds=lag_seconds)
        allocated: dict[Key, int] = {}
        demand: dict[Key, int] = {}
        for order in state.orders:
            if order.status in ("CANCELLED", "INVOICED"):
                continue  # nothing open or picked left on it
            counts_demand = order.created_at <= when
            wh = order.warehouse
            for ln in order.lines:
                if ln.picked:
                    k = (wh, ln.sku)
                    allocated[k] = allocated.get(k, 0) + ln.picked
                if counts_demand:
                    open_qty = ln.open
                    if open_qty > 0:
                        k = (wh, ln.sku)
                        demand[k] = demand.get(k, 0) + open_qty
        figures: dict[Key, Figures] = {}
        for (sku, wh), on_hand in state.on_hand.items():
            k = (wh, sku)
            a = allocated.get(k, 0)
            d = demand.get(k, 0)
            figures[k] = (on_hand, a, d, max(on_hand - a - d, 0))
        prev = self._computed
        if prev is None:
            changed = frozenset(figures)
        else:
            changed = frozenset(k for k, f in figures.items() if prev.figures.get(k) != f)
        cycle_id = (prev.id + 1) if prev else 1
        keys = sorted(figures)
        cycle = Cycle(id=cycle_id, as_of=when, published_at=published, figures=figures,
                      keys=keys, changed=changed)
        self.cycles[cycle_id] = cycle
        self.changes[cycle_id] = changed
        for k in changed:
            self.changed_at[k] = published
        self._computed = cycle
        self.running.append(cycle)
        self.publish_due(when)
        for old in [c for c in self.cycles if c <= cycle_id - KEEP_SNAPSHOTS]:
            del self.cycles[old]
        return cycle

    def changed_since(self, since: int, upto: int) -> set[Key]:
        out: set[Key] = set()
        for cid in range(max(since + 1, 1), upto + 1):
            out |= self.changes.get(cid, frozenset())
        return out
