"""The in-memory BlueCherry's warehouse: ships units of a sales order onto the shipment feed
(cartons with tracking numbers; ``short`` cancels what is left open), as the sandbox's warehouse
does over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from seamline.domain.erp import ErpCarton, ErpShipment, ErpShipmentLine
from seamline.exceptions import Rejected
from seamline.testing.bluecherry import SYSTEM, FakeBlueCherry

__all__ = ["dispatch"]


def dispatch(erp: FakeBlueCherry, order_no: str,
             lines: Sequence[tuple[int, int]] | None = None, *, cartons: int = 1,
             short: bool = False, carrier: str = "UPS", service: str = "Ground") -> ErpShipment:
    """The warehouse ships ``(line_no, units)`` (None: every open unit) in ``cartons``
    cartons, each with a tracking number; ``short`` cancels every unit left open (a short
    shipment). Appends the shipment to the feed and returns it."""
    with erp._lock:
        order = erp.get_sales_order(order_no)
        plan = dict(lines) if lines is not None else {
            ln.line_no: ln.open_quantity for ln in order.lines if ln.open_quantity > 0}
        new_lines = []
        for ln in order.lines:
            q = plan.get(ln.line_no, 0)
            if q > ln.open_quantity:
                raise Rejected(f"line {ln.line_no}: {q} > {ln.open_quantity} open",
                               system=SYSTEM)
            moved = replace(ln, shipped_quantity=ln.shipped_quantity + q)
            if short:
                moved = replace(moved, cancelled_quantity=moved.cancelled_quantity
                                + moved.open_quantity)
            new_lines.append(moved)
        updated = erp._update(order_no, "system:warehouse", lines=tuple(new_lines),
                              status="SHIPPED")
        erp.state.seq += 1
        no = f"SH-{erp.state.seq:06d}"
        shipment = ErpShipment(
            shipment_no=no, order_no=order_no, customer_po=order.customer_po,
            warehouse=order.warehouse, shipped_at=erp.clock.now(),
            ship_via=order.ship_via, carrier=carrier, service=service,
            cartons=tuple(ErpCarton(sscc=f"{erp.state.seq:09d}{i:09d}",
                                    tracking_number=f"1Z{erp.state.seq:06d}{i:04d}")
                          for i in range(1, cartons + 1)),
            lines=tuple(ErpShipmentLine(line_no=ln.line_no, sku=ln.sku, upc=ln.upc,
                                        quantity=plan[ln.line_no])
                        for ln in order.lines if plan.get(ln.line_no, 0) > 0),
            complete=all(ln.open_quantity == 0 for ln in updated.lines))
        erp.state.shipments.append(shipment)
        return shipment

