"""The demo's last step: the day's reconciliation report, with one difference planted.

A person edits one posted order's first line price by hand in BlueCherry (the sandbox's
manual-edit control, ``updated_by: user:…``); the real reconciliation then reads the ledger and
BlueCherry over HTTP. The summary prints the report's totals per market and currency and the
planted difference it found; the check holds only if that one difference is the only one of
the classes finance acts on (orders still waiting for a named reason are listed apart).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from seamline_sandbox.harness import Sandboxes

if TYPE_CHECKING:
    from seamline.bootstrap import Container

__all__ = ["reconcile_day"]


def reconcile_day(sb: Sandboxes, container: Container, day: date, *, out: Console,
                  check: Callable[..., None]) -> None:
    """Plant one hand edit in BlueCherry, reconcile ``day`` and print the report's totals."""
    reconciler = container.reconcile
    scopes = {s.customer: s for s in reconciler.scopes()}
    posted = [o for o in sb.bluecherry_orders()
              if o["customer"] in scopes and o["order_date"] == day.isoformat()
              and o["customer_po"].isdigit()]
    if not posted:
        check("reconciliation: the day has posted orders to reconcile", False)
        return
    victim = sorted(posted, key=lambda o: int(o["customer_po"]))[len(posted) // 2]
    line = victim["lines"][0]
    new_price = Decimal(line["unit_price"]) + 10
    sb._bc("POST", f"/orders/{victim['order_no']}/edit",
           {"login": "lisa.finance", "lines": [{"line_no": line["line_no"],
                                                "unit_price": str(new_price)}]})
    planted = victim["customer_po"]
    reports = reconciler.run(day)
    table = Table(title=Text(f"Reconciliation {day.isoformat()} (read from the store and the "
                             "BlueCherry sandbox)"), show_edge=False, header_style="bold")
    for col in ("market", "cur", "orders", "Centra", "BlueCherry", "invoiced", "rows",
                "rows' sum"):
        table.add_column(Text(col), justify="left" if col in ("market", "cur") else "right")
    for r in reports:
        t = r.totals.to_dict()
        table.add_row(*(Text(str(v)) for v in (
            r.market, r.currency, t["orders"], t["centra_total"], t["bluecherry_total"],
            t["invoiced"], t["differences"], t["rows_difference"])))
    out.print()
    out.print(table)
    rows: list[tuple[str, Any]] = [(r.market, d) for r in reports for d in r.rows]
    acted = [(m, d) for m, d in rows if d.kind.value != "not_posted"]
    waiting = [d for _, d in rows if d.kind.value == "not_posted"]
    for market, d in acted:
        out.print(f"  {d.kind.value} ({d.owner}): order {d.order} in {market}, {d.component}: "
                  f"Centra {d.centra} {d.currency}, BlueCherry {d.bluecherry}, difference "
                  f"{d.difference} {d.note}".rstrip(), markup=False)
    if waiting:
        out.print(f"  not posted yet, each with its reason (open exceptions or waits): "
                  f"{len(waiting)} orders", markup=False)
    found = [d for _, d in acted if d.order == planted]
    check("reconciliation: the planted hand edit is found as a total mismatch in its lines",
          len(found) == 1 and found[0].kind.value == "total_mismatch"
          and found[0].component.startswith("lines"),
          f"order {planted} edited by user:lisa.finance")
    check("reconciliation: nothing else for finance", len(acted) == 1,
          f"{len(acted)} difference(s)")
    check("reconciliation: the totals are the sums of the rows",
          all(r.totals.ties_out(r.rows) for r in reports))
