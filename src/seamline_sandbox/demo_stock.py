"""The demo's stock story: BlueCherry's ATS cycles reach Centra, and Centra refuses the sale that
would have oversold.

At the start of the day a stock-take leaves BlueCherry with only 2 units of one item (the "last
units"), a cycle publishes it and a full sync sets every size in Centra (until then Centra held
its own, much larger figure). A customer buys the 2; the next one asks for 1 more and Centra
refuses. After each wave a cycle runs and the delta sync pushes the sizes that changed. At the
end every size is checked against what BlueCherry can ship (``stock_check.stock_bounds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console

from seamline.exceptions import SeamlineError
from seamline_sandbox.centra.state import SandboxError
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.stock_check import stock_bounds
from seamline_sandbox.world import build_world

if TYPE_CHECKING:
    from seamline.bootstrap import Container
    from seamline_sandbox.harness import Sandboxes

__all__ = ["StockStory", "stock_check", "stock_start", "stock_wave"]

#: The market (Sweden) and Centra warehouse (EU Main ← BlueCherry W01) of the story.
MARKET, CENTRA_WAREHOUSE, WAREHOUSE = 1, 1, "W01"
LAST_UNITS = 2


@dataclass
class StockStory:
    sku: str = ""
    centra_before: int = 0
    after_sync: int = 0
    sold: bool = False
    refused: bool = False
    runs: int = 0
    cycles: list[int] = field(default_factory=list)
    pushed: int = 0
    mutations: int = 0
    worst_lag_s: float = 0.0
    #: The orders the story placed (the demo's summary counts them with the others).
    orders: list[GeneratedOrder] = field(default_factory=list)


def _sync(container: Container, story: StockStory, *, full: bool = False) -> Any:
    report = container.stock.run(full=full)
    story.runs += 1
    story.pushed += report.pushed
    story.mutations += report.mutations
    story.worst_lag_s = max(story.worst_lag_s, report.lag_s or 0.0)
    return report


def stock_start(sb: Sandboxes, container: Container, out: Console) -> StockStory:
    """The stock-take, the first cycle and full sync, and the oversell attempt."""
    story = StockStory()
    item = [i for i in build_world(sb.seed).catalogue if not i.centra_only][60]
    story.sku = item.sku
    story.centra_before = sb.centra_free_to_allocate(CENTRA_WAREHOUSE, item.sku)
    sb.set_bluecherry_stock(item.sku, WAREHOUSE, LAST_UNITS)
    cycle = sb.ats_cycle()["cycle"]
    story.cycles.append(int(cycle["id"]))
    report = _sync(container, story, full=True)
    story.after_sync = sb.centra_free_to_allocate(CENTRA_WAREHOUSE, item.sku)
    out.print(f"  Stock: BlueCherry cycle {cycle['id']} published; the full sync set "
              f"{report.pushed} sizes in Centra in {report.mutations} setStock mutations")
    try:
        story.orders.append(sb.place_order(
            {"market_id": MARKET, "lines": [{"sku": item.sku, "quantity": LAST_UNITS}]}))
        story.sold = True
    except SandboxError:
        story.sold = False
    try:
        story.orders.append(sb.place_order(
            {"market_id": MARKET, "lines": [{"sku": item.sku, "quantity": 1}]}))
    except SandboxError:
        story.refused = True
    out.print(f"  Last units: BlueCherry has {LAST_UNITS} of {item.sku} (Centra offered "
              f"{story.centra_before} before the sync, {story.after_sync} after); a customer "
              f"bought {LAST_UNITS}, the next one asked for 1 more and Centra "
              + ("refused it" if story.refused else "ACCEPTED it"))
    return story


def stock_wave(sb: Sandboxes, container: Container, story: StockStory, *,
               receive: int = 0) -> str:
    """A BlueCherry cycle after a wave (``receive`` SKUs restocked first: a delivery), and the
    delta sync; one line saying what moved."""
    delivered = ""
    if receive:
        items = [i for i in build_world(sb.seed).catalogue if not i.centra_only][100:]
        for item in items[:receive]:
            on_hand = int(sb.bluecherry.state.on_hand.get((item.sku, WAREHOUSE), 0))
            sb.set_bluecherry_stock(item.sku, WAREHOUSE, on_hand + 10)
        delivered = f"a delivery of 10 units each of {receive} SKUs into {WAREHOUSE}; "
    try:
        cycle = sb.ats_cycle()["cycle"]
        story.cycles.append(int(cycle["id"]))
        report = _sync(container, story)
    except SeamlineError as exc:
        return f"stock sync failed: {exc.message}"
    lag = f", {report.lag_s:.1f}s after the cycle" if report.lag_s is not None else ""
    return (f"{delivered}cycle {cycle['id']}: {report.sizes_read} SKU figure(s) changed in "
            "BlueCherry, "
            f"{report.pushed} size(s) pushed in {report.mutations} mutation(s){lag} (the web "
            "orders BlueCherry now counts stay held by Centra: none is taken off twice)")


def stock_check(sb: Sandboxes, container: Container, story: StockStory,
                out: Console) -> list[tuple[str, bool, str]]:
    """The summary lines and the checks: nothing on offer beyond what BlueCherry can ship."""
    plan = container.stock.plan
    bounds = stock_bounds(sb, plan.warehouses, plan.buffers.for_size)
    over = {k: b for k, b in bounds.items() if b.excess > 0}
    out.print(f"Stock (read from both sandboxes): {len(story.cycles)} BlueCherry cycles, "
              f"{story.runs} syncs, {story.pushed} sizes pushed in {story.mutations} setStock "
              f"mutations (worst lag {story.worst_lag_s:.1f}s after a cycle); "
              f"{len(bounds)} Centra sizes checked against BlueCherry's ATS")
    return [
        ("no Centra size offers more than BlueCherry can ship", not over,
         f"{len(bounds)} sizes" if not over else
         "; ".join(f"{k[1]} in {k[0]}: {b.free_to_allocate} > {max(b.bound, 0)}"
                   for k, b in list(over.items())[:5])),
        ("the order that would have oversold the last units was refused by Centra",
         story.sold and story.refused, story.sku),
    ]
