"""Short shipments: the units BlueCherry cancelled (could not ship) are cancelled on the Centra
order lines with ``updateDirectToConsumerOrder`` ``cancelLines`` (the published schema's line
cancel), and finance gets the refund to decide (``SHORT_SHIPPED``).

The units to cancel are BlueCherry's cancelled units per line less Centra's, computed from both
systems as they are now, so a repeat after a crash or an ambiguous answer cancels nothing twice.
The published line cancel has no email option: the customer learns of it from the dispatch
email's lines and customer service, not from a cancellation email.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seamline.domain.erp import ErpShipment
from seamline.domain.exception_keys import OrderKey
from seamline.domain.money import Money
from seamline.domain.orders import CentraOrder
from seamline.domain.shipments import ShipmentState, short_cancels
from seamline.exceptions import AmbiguousWrite, Rejected
from seamline.services.shipments.core import ShipmentCore, Tx

__all__ = ["ShortShipments"]


class ShortShipments(ShipmentCore):
    """Cancel short-shipped units in Centra; tell finance."""

    def _short_units(self, number: int, order_no: str,
                     line_map: Mapping[int, int]) -> tuple[CentraOrder | None,
                                                             tuple[tuple[int, int], ...]]:
        order = self.centra.get_order(number)
        if order is None:
            return None, ()
        return order, short_cancels(self.erp.get_sales_order(order_no), line_map, order)

    def cancel_shorts(self, tx: Tx, shipment: ErpShipment, data: Mapping[str, Any]) -> None:
        """On the shipment that leaves nothing open: cancel in Centra what BlueCherry cancelled
        and Centra has not, then raise ``SHORT_SHIPPED`` for finance naming the units."""
        number = int(data["order"])
        line_map = {int(k): int(v) for k, v in (data.get("line_map") or {}).items()}
        order, cancels = self._short_units(number, shipment.order_no, line_map)
        planned = tuple((int(a), int(b)) for a, b in data.get("shorts_planned") or ())
        refused = ""
        if order is not None and cancels:
            # Recorded first: a crash after Centra applied the cancel still tells finance.
            self._save(tx, shipment.shipment_no, ShipmentState.COMPLETED,
                       {"shorts_planned": [list(c) for c in cancels]})
            try:
                self.centra.cancel_order_lines(
                    number, cancels,
                    comment=f"Short-shipped in BlueCherry (shipment {shipment.shipment_no})")
            except AmbiguousWrite:
                _, left = self._short_units(number, shipment.order_no, line_map)
                if left:
                    raise  # not applied: the queue retries, reading both systems again
            except Rejected as exc:
                refused = exc.message
        elif planned:
            cancels = planned  # cancelled by an attempt that died before telling finance
        with tx() as uow:
            if order is not None and cancels:
                units = _describe(order, cancels)
                uow.exceptions.raise_(
                    type="SHORT_SHIPPED", owner="finance", severity="warning",
                    business_key=str(OrderKey(number).about("short")),
                    message=(f"Centra order {number}: BlueCherry short-shipped {units}"
                             + (f"; Centra refused the line cancel ({refused}): cancel them "
                                "by hand" if refused else "; cancelled on the Centra lines")
                             + ". Refund what was captured for them."),
                    details={"shipment_no": shipment.shipment_no,
                             "units": [list(c) for c in cancels],
                             "value": str(_value(order, cancels)),
                             "cancelled_in_centra": not refused},
                    now=self.clock())
            row = uow.ledger.get("shipment", shipment.shipment_no, for_update=True)
            merged = dict(row.data) if row is not None else dict(data)
            merged.update(shorts_done=True, shorts=[list(c) for c in cancels],
                          shorts_refused=refused or None)
            uow.ledger.save("shipment", shipment.shipment_no,
                            state=ShipmentState.COMPLETED.value, data=merged, now=self.clock())


def _describe(order: CentraOrder, cancels: tuple[tuple[int, int], ...]) -> str:
    lines = {ln.id: ln for ln in order.lines}
    return ", ".join(f"{q} x {lines[lid].sku} (line {lid})" if lid in lines else f"{q} x line {lid}"
                     for lid, q in cancels)


def _value(order: CentraOrder, cancels: tuple[tuple[int, int], ...]) -> Money:
    lines = {ln.id: ln for ln in order.lines}
    total = Money.zero(order.currency)
    for lid, q in cancels:
        if lid in lines:
            total = total + lines[lid].unit_price.times(q)
    return total
