"""What Centra may sell against what BlueCherry can ship, read from both sandboxes' own state.

For each (Centra warehouse, SKU): Centra's free-to-allocate, and the bound the stock flow must
keep it under —

    max(ATS − buffer, 0) − web demand the latest published cycle did not count

where ATS is that cycle's, summed over the BlueCherry warehouses feeding the Centra warehouse,
and the uncounted web demand is every unit (allocated, or shipped by Centra since) of the Centra
orders BlueCherry had not created by the cycle's ``as_of`` (not posted yet, or posted after it).
The tests, the demo and the benchmarks use it; Seamline never does (it is the referee).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seamline_sandbox.harness import Sandboxes

__all__ = ["SizeBound", "stock_bounds"]


@dataclass(frozen=True, slots=True)
class SizeBound:
    free_to_allocate: int
    bound: int
    buffer: int

    @property
    def excess(self) -> int:
        """How many units Centra may sell beyond what BlueCherry can ship (a negative bound is
        a past oversell: Centra can then sell nothing, which is all an integration can do)."""
        return self.free_to_allocate - max(self.bound, 0)


def stock_bounds(sb: Sandboxes, warehouses: Mapping[int, Sequence[str]],
                 buffer_for: Callable[[int, str], int],
                 skus: Iterable[str] | None = None) -> dict[tuple[int, str], SizeBound]:
    """The bound of every (Centra warehouse, SKU) asked for (every BlueCherry SKU if None)."""
    bc = sb.bluecherry.state
    cycle = bc.ats.latest
    if cycle is None:
        return {}
    by_ref = {o.external_reference: o for o in list(bc.orders) if o.external_reference}
    centra = sb.centra.state
    with centra.lock:
        orders = list(centra.orders.values())
        inventory = {k: (v[0], v[1]) for k, v in centra.inventory.items()}
        size_of = {i.sku: i.size_id for i in centra.world.catalogue}
    uncounted: Counter[tuple[int, str]] = Counter()
    for o in orders:
        if o.status == "CANCELLED":
            continue
        erp = by_ref.get(sb.reference(o.number, o.store_id))
        if erp is not None and erp.created_at <= cycle.as_of:
            continue
        for ln in o.lines:
            uncounted[(o.warehouse_id, ln.item.sku)] += ln.quantity
    wanted = sorted({i.sku for i in bc.items}) if skus is None else list(skus)
    out: dict[tuple[int, str], SizeBound] = {}
    for cwh, feeds in warehouses.items():
        for sku in wanted:
            if sku not in size_of:
                continue
            ats = sum(cycle.figures.get((w, sku), (0, 0, 0, 0))[3] for w in feeds)
            buffer = buffer_for(cwh, sku)
            phys, allocated = inventory.get((cwh, size_of[sku]), (0, 0))
            out[(cwh, sku)] = SizeBound(phys - allocated,
                                        max(ats - buffer, 0) - uncounted[(cwh, sku)], buffer)
    return out
