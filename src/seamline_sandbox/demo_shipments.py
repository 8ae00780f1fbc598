"""The demo's shipping morning: BlueCherry's warehouse ships the day's orders (some in part,
some short), Seamline brings every shipment into Centra, and the summary counts them from both
sandboxes.

Kept apart from ``demo.py`` so each stays readable; ``run_demo`` calls :func:`ship_next_day`
after the daily batches and :func:`summarise_shipments` in its summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from seamline_sandbox.harness import Sandboxes
from seamline_sandbox.shipping import bluecherry_shipments, centra_shipments, ship

if TYPE_CHECKING:
    from seamline.bootstrap import Container

__all__ = ["CARRIERS", "ship_next_day", "summarise_shipments"]

#: The carrier names customers see, per BlueCherry ship via (``[shipments.carriers]``).
CARRIERS = {"PNORD": {"carrier": "PostNord", "service": "MyPack Home"},
            "UPSG": {"carrier": "UPS", "service": "Ground"},
            "DHLP": {"carrier": "DHL", "service": "Paket"}}

#: The first pick wave's shipments are partial or short this often.
PARTIAL, SHORT = 0.5, 0.15


def ship_next_day(sb: Sandboxes, day: date, at: Callable[[date, tuple[int, int]], Any],
                  drive: Callable[[str], None], out: Console, *, orders: int) -> None:
    """The next morning BlueCherry's warehouse ships its first pick wave (``orders`` orders,
    some in part, some short) and, later, the rest of the orders it shipped in part; after
    each run Seamline reads the feed until quiet. Faults on both sides: Centra's shipment
    mutations commit and drop (and one 500), BlueCherry's feed answers 503 and 429.

    The wave is kept small because every shipment costs two Centra mutations and the Centra
    sandbox enforces the Growth tier's 20 mutations per 10 s (see benchmarks/shipments_sync.py
    for the shipments per hour that allows)."""
    sb.centra_fault("commit_then_drop", 2, match="mutation:createShipment")
    sb.centra_fault("commit_then_drop", 2, match="mutation:completeShipment")
    sb.centra_fault("500", 1, match="mutation:completeShipment")
    sb.bluecherry_fault("503", 1, match="shipments")
    sb.bluecherry_fault("429", 1, match="shipments", retry_after=1.0)
    out.print("  faults injected: Centra: 2× createShipment and 2× completeShipment committed "
              "then dropped, 1× 500 on completeShipment; BlueCherry: 503 and 429 on the "
              "shipment feed")
    sb.clock.advance_to(at(day, (8, 0)))
    made = ship(sb, orders=orders, partial_probability=PARTIAL, short_probability=SHORT,
                   seed=1).get("shipments", [])
    drive(f"08:00 next day: the warehouse's first pick wave, {len(made)} shipment(s) of "
          f"{orders} orders")
    last: dict[str, dict[str, Any]] = {}
    for s in bluecherry_shipments(sb):
        last[str(s["order_no"])] = s
    rest = sorted(no for no, s in last.items() if not s["complete"])
    if rest:
        sb.clock.advance_to(at(day, (11, 0)))
        made = ship(sb, order_nos=rest, seed=2).get("shipments", [])
        drive(f"11:00 next day: the rest of {len(rest)} partly shipped order(s), "
              f"{len(made)} shipment(s)")


def _checks(bc: list[dict[str, Any]], centra: list[dict[str, Any]],
            emails: Counter[str], orders: list[dict[str, Any]],
            check: Callable[[str, bool, str], None]) -> None:
    by_ext = Counter(s["external_id"] for s in centra)
    missing = [s["shipment_no"] for s in bc if by_ext[s["shipment_no"]] == 0]
    doubled = [s["shipment_no"] for s in bc if by_ext[s["shipment_no"]] > 1]
    check("every BlueCherry shipment is in Centra exactly once", not missing and not doubled,
          f"missing {missing[:5]}, doubled {doubled[:5]}" if missing or doubled
          else f"{len(bc)} shipments")
    mine = {s["external_id"]: s for s in centra}
    untracked = [s["shipment_no"] for s in bc if s["shipment_no"] in mine and
                 [t for t in (mine[s["shipment_no"]]["tracking"] or "").split(",") if t]
                 != [c["tracking_number"] for c in s["cartons"]]]
    check("every carton's tracking number is on its Centra shipment", not untracked,
          str(untracked[:5]))
    shipped = {s["number"] for s in centra if s["is_shipped"]}
    extra = [n for n, c in emails.items() if c != 1]
    check("one dispatch email per shipment", not extra and set(emails) == shipped,
          f"{len(emails)} email(s) for {len(shipped)} shipped")
    open_done = [o["number"] for o in orders if o["shipments"] and o["status"] != "SHIPPED"
                 and all(ln["shipped"] >= ln["quantity"] for ln in o["lines"])]
    check("orders whose every unit shipped or was cancelled are SHIPPED in Centra",
          not open_done, str(open_done[:5]))


def summarise_shipments(sb: Sandboxes, container: Container, out: Console,
                        check: Callable[[str, bool, str], None]) -> None:
    """Counts from both sandboxes and the shipment checks."""
    bc = bluecherry_shipments(sb)
    centra = centra_shipments(sb)
    emails = Counter(str(e["shipment"]) for e in sb.centra_emails()
                     if e.get("kind") == "shipping_confirmation")
    orders = sb.centra_orders()
    per_order = Counter(s["order_no"] for s in bc)
    shorts = [o for o in orders if any(ln["cancelled"] for ln in o["lines"]) and o["shipments"]]
    table = Table(title="Shipments (read from both sandboxes)", show_edge=False,
                  header_style="bold")
    for col in ("", "BlueCherry", "Centra"):
        table.add_column(col, justify="left" if not col else "right")
    table.add_row("shipments", str(len(bc)), str(len(centra)))
    table.add_row("  partial (order not complete yet)",
                  str(sum(1 for s in bc if not s["complete"])), "")
    table.add_row("  complete", str(sum(1 for s in bc if s["complete"])), "")
    table.add_row("orders shipped in several shipments",
                  str(sum(1 for n in per_order.values() if n > 1)), "")
    table.add_row("cartons / tracking numbers", str(sum(len(s["cartons"]) for s in bc)),
                  str(sum(len([t for t in (s["tracking"] or "").split(",") if t])
                          for s in centra)))
    table.add_row("shipped, with a dispatch email", "",
                  f"{sum(1 for s in centra if s['is_shipped'])}, {sum(emails.values())}")
    table.add_row("orders SHIPPED", "",
                  str(sum(1 for o in orders if o["status"] == "SHIPPED")))
    table.add_row("orders short-shipped (units cancelled in Centra)", "", str(len(shorts)))
    with container.store.read() as uow:
        lags = [int(e.data.get("lag_s") or 0)
                for e in uow.ledger.in_state("shipment", "completed")]
    out.print()
    out.print(table)
    if lags:
        out.print(f"  shipment lag (BlueCherry confirmed → Centra shipped, simulated clock): "
                  f"median {sorted(lags)[len(lags) // 2]} s, max {max(lags)} s")
    _checks(bc, centra, emails, orders, check)
