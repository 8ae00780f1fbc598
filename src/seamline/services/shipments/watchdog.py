"""The shipment watchdog: a BlueCherry shipment not shipped in Centra N hours after BlueCherry
confirmed it is ``SHIPMENT_NOT_IN_CENTRA`` for customer experience (the customer has had no
dispatch email). It resolves itself when the shipment's job later succeeds (same key).

The report of orders posted to BlueCherry N days ago of which no shipment has come yet
(:meth:`Watchdog.unshipped_orders`, ``seamline shipments unshipped``) is for operations to
chase with the warehouse; it is a list, not an exception (nothing is wrong on Seamline's side).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from seamline.domain.ledger import OrderState
from seamline.domain.shipments import PENDING_STATES, ShipmentState, erp_shipment_from_dict
from seamline.services.shipments.core import KIND, ShipmentCore, Tx, shipment_key

__all__ = ["LateShipment", "UnshippedOrder", "Watchdog"]


@dataclass(frozen=True, slots=True)
class LateShipment:
    shipment_no: str
    order_no: str
    state: str
    hours: float


@dataclass(frozen=True, slots=True)
class UnshippedOrder:
    number: int
    order_no: str
    posted_at: str
    days: float


class Watchdog(ShipmentCore):
    """``shipments.watchdog``."""

    def late_shipments(self) -> list[LateShipment]:
        """Shipments BlueCherry confirmed more than ``not_in_centra_after_h`` ago that Centra
        has not shipped, oldest first."""
        now = self.clock()
        limit = timedelta(hours=self.not_in_centra_after_h)
        late = []
        with self.store.read() as uow:
            for state in PENDING_STATES:
                for row in uow.ledger.in_state(KIND, state.value):
                    shipment = erp_shipment_from_dict(row.data["shipment"])
                    age = now - shipment.shipped_at
                    if age >= limit:
                        late.append(LateShipment(shipment.shipment_no, shipment.order_no,
                                                 state.value, age.total_seconds() / 3600))
        return sorted(late, key=lambda s: -s.hours)

    def watch(self, tx: Tx | None = None) -> int:
        """Raise (or count again) ``SHIPMENT_NOT_IN_CENTRA`` for each late shipment."""
        late = self.late_shipments()
        with (tx or self.store.begin)() as uow:
            for s in late:
                uow.exceptions.raise_(
                    type="SHIPMENT_NOT_IN_CENTRA", owner="cx", severity="warning",
                    business_key=shipment_key(s.shipment_no),
                    message=(f"BlueCherry shipment {s.shipment_no} (sales order {s.order_no}) "
                             f"shipped {s.hours:.1f} h ago and is not shipped in Centra "
                             f"({s.state}): the customer has had no dispatch email"),
                    details={"shipment_no": s.shipment_no, "order_no": s.order_no,
                             "state": s.state, "hours": round(s.hours, 2)},
                    now=self.clock())
        return len(late)

    def unshipped_orders(self, days: float) -> list[UnshippedOrder]:
        """Orders in BlueCherry for more than ``days`` days of which no shipment has been read
        yet, oldest first."""
        now = self.clock()
        with self.store.read() as uow:
            shipped = {int(e.data["order"]) for s in ShipmentState
                       for e in uow.ledger.in_state(KIND, s.value) if e.data.get("order")}
            rows = [r for state in (OrderState.POSTED, OrderState.SYNCED)
                    for r in uow.orders.in_state(state)]
        out = []
        for r in rows:
            posted = r.data.posted_at
            if r.number in shipped or not posted:
                continue
            age = (now - datetime.fromisoformat(posted)).total_seconds() / 86400
            if age >= days:
                out.append(UnshippedOrder(r.number, r.data.order_no or "", posted, age))
        return sorted(out, key=lambda o: -o.days)
