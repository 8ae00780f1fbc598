"""The stock repository in memory (part of ``seamline.testing.store``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from seamline.domain.stock import DemandLine, LevelRow, StockTarget

__all__ = ["InMemoryStock", "StockState"]


@dataclass
class StockState:
    #: (warehouse, sku) → (upc, ats, cycle id)
    ats: dict[tuple[str, str], tuple[str, int, int]] = field(default_factory=dict)
    #: (centra warehouse, sku) → row
    levels: dict[tuple[int, str], LevelRow] = field(default_factory=dict)
    #: (order number, line no) → (line, changed at)
    demand: dict[tuple[int, int], tuple[DemandLine, datetime]] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, object]) -> StockState:
        # Every value is immutable (tuples, frozen dataclasses): copying the dicts is enough,
        # and keeps a unit of work's rollback copy cheap at simulation volumes.
        return StockState(dict(self.ats), dict(self.levels), dict(self.demand))


class InMemoryStock:
    """``StockRepository`` over a ``StockState``."""

    def __init__(self, state: StockState) -> None:
        self.s = state

    def save_ats(self, rows: Iterable[tuple[str, str, str, int]], *, cycle_id: int) -> int:
        n = 0
        for warehouse, sku, upc, ats in rows:
            self.s.ats[(warehouse, sku)] = (upc, ats, cycle_id)
            n += 1
        return n

    def ats(self, warehouses: Sequence[str],
            skus: Iterable[str] | None = None) -> dict[str, tuple[str, int]]:
        wanted = None if skus is None else set(skus)
        out: dict[str, tuple[str, int]] = {}
        for (warehouse, sku), (upc, ats, _) in self.s.ats.items():
            if warehouse in warehouses and (wanted is None or sku in wanted):
                before = out.get(sku, ("", 0))
                out[sku] = (max(before[0], upc), before[1] + ats)
        return out

    def counted(self, as_of: Mapping[str, datetime],
                skus: Iterable[str] | None = None) -> dict[str, int]:
        wanted = None if skus is None else set(skus)
        out: dict[str, int] = {}
        for line, _ in self.s.demand.values():
            cut = as_of.get(line.warehouse)
            if cut is None or (line.units <= 0 and line.shipped <= 0):
                continue
            if wanted is None or line.sku in wanted:
                net = line.units if line.created_at <= cut else -line.shipped
                out[line.sku] = out.get(line.sku, 0) + net
        return out

    def set_demand(self, number: int, lines: Sequence[DemandLine], *,
                   now: datetime) -> list[tuple[str, str]]:
        old = {k[1]: v[0] for k, v in self.s.demand.items() if k[0] == number}
        changed: set[tuple[str, str]] = set()
        for ln in lines:
            before = old.pop(ln.line_no, None)
            if before is not None and (before.warehouse, before.sku, before.units,
                                       before.shipped) == (ln.warehouse, ln.sku, ln.units,
                                                           ln.shipped):
                continue
            if before is not None:
                changed.add((before.warehouse, before.sku))
            changed.add((ln.warehouse, ln.sku))
            if ln.shipped > (before.shipped if before is not None else 0):
                for key, row in list(self.s.levels.items()):
                    if row.sku == ln.sku:
                        self.s.levels[key] = dataclasses.replace(row, pushed=None)
            self.s.demand[(number, ln.line_no)] = (ln, now)
        for line_no, before in old.items():
            if before.units:
                changed.add((before.warehouse, before.sku))
                self.s.demand[(number, line_no)] = (dataclasses.replace(before, units=0), now)
        return sorted(changed)

    def prune_demand(self, as_of: Mapping[str, datetime]) -> int:
        gone = [k for k, (ln, _) in self.s.demand.items() if ln.units <= 0
                and ln.warehouse in as_of and ln.created_at <= as_of[ln.warehouse]]
        for k in gone:
            del self.s.demand[k]
        return len(gone)

    def demand_created_between(self, warehouse: str, after: datetime,
                               upto: datetime) -> set[str]:
        return {ln.sku for ln, _ in self.s.demand.values()
                if ln.warehouse == warehouse and after < ln.created_at <= upto}

    def demand_changed_since(self, since: datetime) -> set[tuple[str, str]]:
        return {(ln.warehouse, ln.sku) for ln, at in self.s.demand.values() if at >= since}

    def save_targets(self, targets: Iterable[StockTarget], *, published_at: datetime | None,
                     now: datetime, resend: bool = False) -> int:
        n = 0
        for x in targets:
            key = (x.centra_warehouse, x.sku)
            before = self.s.levels.get(key)
            self.s.levels[key] = LevelRow(
                centra_warehouse=x.centra_warehouse, sku=x.sku, centra_key=x.centra_key,
                ats=x.ats, buffer=x.buffer, counted=x.counted, target=x.physical,
                pushed=before.pushed if before and not resend else None, cycle_id=x.cycle_id,
                published_at=published_at, pushed_at=before.pushed_at if before else None,
                unknown=bool(before and before.unknown and not resend))
            n += 1
        return n

    def pending(self, centra_warehouse: int | None = None, *,
                limit: int | None = None) -> list[LevelRow]:
        rows = [r for k, r in sorted(self.s.levels.items())
                if r.pending and (centra_warehouse is None or k[0] == centra_warehouse)]
        return rows if limit is None else rows[:limit]

    def levels(self, centra_warehouse: int, skus: Iterable[str]) -> dict[str, LevelRow]:
        return {s: self.s.levels[(centra_warehouse, s)] for s in skus
                if (centra_warehouse, s) in self.s.levels}

    def mark_pushed(self, centra_warehouse: int, pushed: Iterable[tuple[str, int]], *,
                    now: datetime) -> None:
        for sku, qty in pushed:
            key = (centra_warehouse, sku)
            if key in self.s.levels:
                self.s.levels[key] = dataclasses.replace(self.s.levels[key], pushed=qty,
                                                         pushed_at=now)

    def mark_unknown(self, centra_warehouse: int, skus: Iterable[str], *,
                     now: datetime) -> None:
        for sku in skus:
            key = (centra_warehouse, sku)
            if key in self.s.levels:
                self.s.levels[key] = dataclasses.replace(self.s.levels[key], unknown=True)

    def summary(self) -> dict[str, int]:
        rows = list(self.s.levels.values())
        return {"sizes": len(rows), "pending": sum(r.pending for r in rows),
                "unknown": sum(r.unknown for r in rows),
                "demand_units": sum(max(ln.units, 0) for ln, _ in self.s.demand.values())}
