"""Stock: the figure Seamline sets in Centra for each (Centra warehouse, size). Pure, no I/O.

The rule (``docs/adr-0001-stock-figure.md`` has it with a worked example)::

    physical = max(ATS − buffer, 0) + counted

- ``ATS`` is BlueCherry's available-to-sell of the latest published cycle, summed over the
  BlueCherry warehouses that feed the Centra warehouse;
- ``buffer`` is the most specific buffer rule (never makes the figure negative);
- ``counted`` is the web demand that the cycle already took off ``ATS`` and that Centra still
  holds allocated — the units, not yet shipped by Centra, of web orders BlueCherry created at or
  before the cycle's ``as_of`` — less the units Centra has shipped of web orders BlueCherry
  created after it (the cycle still has those on hand; Centra's physical stock has lost them).

Centra subtracts every allocation it holds from the physical figure it is given, so its
free-to-allocate becomes ``max(ATS − buffer, 0) − uncounted``: each unit of web demand is taken
off exactly once — by BlueCherry's cycle when the cycle counted it, by Centra's allocation when
it did not.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

__all__ = [
    "BufferRule",
    "Buffers",
    "DemandLine",
    "LevelRow",
    "StockPush",
    "StockTarget",
    "batches",
    "centra_key",
    "demand_lines",
    "target_physical",
]

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class BufferRule:
    """Units kept back from Centra: for one Centra warehouse (``warehouse``), for SKUs matching
    a shell pattern (``sku``, e.g. ``"ST1001-*"``), or both. Neither: every size."""

    units: int
    warehouse: int | None = None
    sku: str | None = None

    def matches(self, warehouse: int, sku: str) -> bool:
        if self.warehouse is not None and self.warehouse != warehouse:
            return False
        return self.sku is None or fnmatch.fnmatchcase(sku, self.sku)

    @property
    def tier(self) -> int:
        """How specific: warehouse and SKU 3, SKU 2, warehouse 1, neither 0."""
        return (2 if self.sku is not None else 0) + (1 if self.warehouse is not None else 0)


class Buffers:
    """The buffer rules in force: the most specific matching rule wins (warehouse and SKU
    pattern, then SKU pattern, then warehouse, then the default); among equally specific ones,
    the first listed."""

    def __init__(self, rules: Sequence[BufferRule] = (), default: int = 0) -> None:
        if default < 0 or any(r.units < 0 for r in rules):
            raise ValueError("a stock buffer cannot be negative")
        self.default = default
        # Stable sort: most specific first, the listed order kept among equals.
        self.rules = sorted(rules, key=lambda r: -r.tier)
        self._cache: dict[tuple[int, str], int] = {}

    def for_size(self, warehouse: int, sku: str) -> int:
        key = (warehouse, sku)
        found = self._cache.get(key)
        if found is None:
            found = next((r.units for r in self.rules if r.matches(warehouse, sku)),
                         self.default)
            if len(self._cache) < 500_000:
                self._cache[key] = found
        return found

    def describe(self) -> list[dict[str, Any]]:
        """The rules in the order they are tried (for the dashboard and ``config check``)."""
        rows: list[dict[str, Any]] = [
            {"warehouse": r.warehouse, "sku": r.sku, "units": r.units} for r in self.rules]
        rows.append({"warehouse": None, "sku": None, "units": self.default})
        return rows


def target_physical(ats: int, buffer: int, counted: int) -> int:
    """The physical figure to set: ``max(ats − buffer, 0) + counted``, never negative
    (``counted`` is negative when Centra shipped units the cycle still has on hand)."""
    return max(max(ats - buffer, 0) + counted, 0)


@dataclass(frozen=True, kw_only=True, slots=True)
class StockTarget:
    """What one (Centra warehouse, BlueCherry SKU) should hold, and why."""

    centra_warehouse: int
    sku: str
    centra_key: str
    ats: int
    buffer: int
    counted: int
    cycle_id: int

    @property
    def physical(self) -> int:
        return target_physical(self.ats, self.buffer, self.counted)


@dataclass(frozen=True, kw_only=True, slots=True)
class DemandLine:
    """One posted web order line's units that Centra still holds allocated.

    ``created_at`` is when BlueCherry created the order: a cycle whose ``as_of`` is at or after
    it counted these units in its open demand (or allocation, once picked).
    """

    order_number: int
    line_no: int
    warehouse: str
    sku: str
    units: int
    created_at: datetime
    #: Units Centra has shipped: gone from Centra's physical stock, and from BlueCherry's
    #: on hand only in cycles whose ``as_of`` is at or after the order's creation.
    shipped: int = 0


def demand_lines(number: int, frozen: Mapping[str, Any], created_at: datetime,
                 current_quantities: Mapping[int, int],
                 shipped: Mapping[int, int] | None = None) -> list[DemandLine]:
    """The demand lines of a posted order from its frozen payload (``SalesOrder.to_dict``).

    ``current_quantities``: Centra line id → the line's quantity now (cancelled units
    excluded); a line missing from it keeps the posted quantity. ``shipped``: BlueCherry line
    no → units Centra has shipped (no longer allocated).
    """
    shipped = shipped or {}
    warehouse = str(frozen.get("warehouse", ""))
    out: list[DemandLine] = []
    for line in frozen.get("lines", []):
        line_no = int(line["line_no"])
        centra_id = int(line.get("centra_line_id", 0))
        quantity = int(current_quantities.get(centra_id, int(line["quantity"])))
        done = min(int(shipped.get(line_no, 0)), quantity)
        out.append(DemandLine(order_number=number, line_no=line_no, warehouse=warehouse,
                              sku=str(line["sku"]), units=quantity - done,
                              created_at=created_at, shipped=done))
    return out


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True, kw_only=True, slots=True)
class LevelRow:
    """A size's stored figures: the target, and what Centra last confirmed (``pushed``)."""

    centra_warehouse: int
    sku: str
    centra_key: str
    ats: int
    buffer: int
    counted: int
    target: int
    pushed: int | None
    cycle_id: int
    published_at: datetime | None
    pushed_at: datetime | None
    unknown: bool = False

    @property
    def pending(self) -> bool:
        return not self.unknown and self.pushed != self.target


@dataclass(frozen=True, kw_only=True, slots=True)
class StockPush:
    """What one ``setStock`` batch did: the mutations it took, the keys Centra refused as
    sizes it does not know (the rest were set), and the keys it set to another figure than
    asked, with a warning (physical raised to what orders hold allocated: sold beyond stock)."""

    mutations: int
    unknown: tuple[str, ...] = ()
    adjusted: tuple[str, ...] = ()


def centra_key(sku: str, upc: str, *, mode: str = "sku",
               reverse_overrides: Mapping[str, str] | None = None) -> str:
    """How a BlueCherry SKU is named to Centra's ``setStock``: the Centra SKU or GTIN an
    override maps to it, else the SKU itself (``mode="sku"``) or its UPC-A as an EAN-13
    (``mode="ean"``; the SKU when it has no UPC)."""
    if reverse_overrides and sku in reverse_overrides:
        return reverse_overrides[sku]
    if mode == "ean" and upc.isdigit():
        return upc.zfill(13) if len(upc) <= 13 else upc
    return sku
