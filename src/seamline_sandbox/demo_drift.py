"""The demo's drift story: after the daily batches, a clerk changes one posted order's ship-to
address by hand in BlueCherry; Seamline's drift scan (``GET /sales-orders?updated_since=``) finds
exactly that order and raises one ``ORDER_DRIFT`` with the field-by-field diff, and the
missing-in-ERP watchdog runs over the day.

An address, not a quantity or a price: the rest of the day (the next morning's shipments, the
totals check of the summary) stays about what Seamline posted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from seamline.bootstrap import Container
    from seamline_sandbox.harness import Sandboxes

__all__ = ["DriftStory", "drift_step"]

CLERK = "demo.clerk"


@dataclass
class DriftStory:
    order_no: str = ""
    compared: int = 0
    exception_id: int | None = None
    owner: str = ""
    diff: list[dict[str, Any]] = field(default_factory=list)
    others: int = 0
    missing_alarmed: int = 0
    missing_waiting: int = 0

    def summary(self) -> str:
        if self.exception_id is None:
            return f"Drift: {self.order_no or 'no order'} edited by hand, but no ORDER_DRIFT"
        shown = "; ".join(f"{d['field']}: Centra {d['centra']!r} / BlueCherry "
                          f"{d['bluecherry']!r}" for d in self.diff)
        return (f"Drift: BlueCherry order {self.order_no} edited by user:{CLERK} → ORDER_DRIFT "
                f"#{self.exception_id} for {self.owner} ({shown}); {self.compared} posted "
                f"orders compared, {self.others} other drift(s). Missing in BlueCherry: "
                f"{self.missing_alarmed} alarmed, {self.missing_waiting} waiting for a named "
                "reason")


def drift_step(sb: Sandboxes, container: Container, out: Console) -> DriftStory:
    """Edit one posted, still open order by hand in BlueCherry; scan; watch for missing
    orders. Returns the story for the summary and its check."""
    story = DriftStory()
    candidates = sorted((o for o in sb.bluecherry_orders()
                         if o["status"] == "OPEN" and o["external_reference"].startswith(
                             "centra:")), key=lambda o: o["order_no"])
    if not candidates:
        out.print("  drift: no open order to edit")
        return story
    target = candidates[0]
    story.order_no = target["order_no"]
    sb.edit_bluecherry_order(story.order_no, login=CLERK,
                             ship_to={"line1": "Lagerplan 7", "city": "Uppsala"})
    result = container.drift.scan()
    story.compared = result.compared
    mine = [e for e in container.drift.open_drifts()
            if (e.details or {}).get("order_no") == story.order_no]
    story.others = len(container.drift.open_drifts()) - len(mine)
    if mine:
        story.exception_id = mine[0].id
        story.owner = mine[0].owner
        story.diff = list((mine[0].details or {}).get("diff", []))
    alarmed, _ = container.missing_in_erp.watch()
    story.missing_alarmed = alarmed
    story.missing_waiting = sum(1 for m in container.missing_in_erp.report() if m.reason)
    out.print(f"  drift: {CLERK} changed the ship-to of {story.order_no} in BlueCherry; the "
              f"scan compared {story.compared} posted orders and raised {result.raised}")
    return story
