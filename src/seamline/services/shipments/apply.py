"""One BlueCherry shipment into Centra, exactly once: create, complete (the dispatch email),
then cancel the units BlueCherry short-shipped.

Neither Centra write may be repeated blindly (DESIGN, "Writes that cannot be repeated
blindly"). The ledger row records that a write *may* have been sent before it is sent
(``creating``, ``completing``, with an attempt count), so every later attempt — a retry after
an ambiguous 5xx or a dropped answer, or a new worker after a crash — reads Centra back first:
the order's shipment with this BlueCherry number as external id (and the same units), and the
shipment's ``isShipped``. A shipment found is taken as it is; nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seamline.domain.erp import ErpShipment
from seamline.domain.orders import CentraOrder, OrderStatus
from seamline.domain.shipments import (
    CentraShipment,
    ShipmentState,
    erp_shipment_from_dict,
    match_line_map,
    order_number_from_po,
    plan_lines,
    tracking_numbers,
)
from seamline.exceptions import AmbiguousWrite, Rejected, ShipmentUnmatched
from seamline.services.shipments.core import ShipmentCore, Tx
from seamline.services.shipments.metrics import observe_lag
from seamline.services.shipments.shorts import ShortShipments
from seamline.services.stock.demand import record_shipped
from seamline.services.unit_of_work import JobScope, UnitOfWork

__all__ = ["Apply"]

Pairs = tuple[tuple[int, int], ...]


class Apply(ShortShipments, ShipmentCore):
    """The ``shipments.apply`` job."""

    def apply(self, ctx: JobScope, shipment_no: str) -> None:
        """Bring one shipment to ``completed`` in Centra from wherever the ledger says it is."""
        self.apply_with(lambda: self.store.for_job(ctx), shipment_no)

    def apply_with(self, tx: Tx, shipment_no: str) -> None:
        row = self._row(shipment_no)
        if row is None:
            return
        data = dict(row.data)
        shipment = erp_shipment_from_dict(data["shipment"])
        state = ShipmentState(row.state)
        if state is ShipmentState.COMPLETED and not self._shorts_due(shipment, data):
            return
        try:
            if data.get("centra_id") is None:
                data = self._create(tx, shipment, data)
            if state is not ShipmentState.COMPLETED and not data.get("completed_at"):
                data = self._complete(tx, shipment, data)
        except ShipmentUnmatched as exc:
            self._save(tx, shipment_no, ShipmentState.HELD, {"problem": exc.message})
            raise
        if self._shorts_due(shipment, data):
            self.cancel_shorts(tx, shipment, data)

    def _shorts_due(self, shipment: ErpShipment, data: Mapping[str, Any]) -> bool:
        return (shipment.complete and self.rules.cancel_short
                and not data.get("shorts_done") and data.get("order") is not None)

    # -- which Centra order and lines ------------------------------------------------------------

    def _target(self, shipment: ErpShipment) -> tuple[CentraOrder, dict[int, int]]:
        """The Centra order (through the ledger's order row, keyed by the number in
        ``customer_po``) and its line map (the ledger's, else matched by GTIN/SKU)."""
        number = order_number_from_po(shipment.customer_po, self.rules.customer_po_prefix)
        row = None
        if number is not None:
            with self.store.read() as uow:
                row = uow.orders.get(number)
        if row is not None and row.data.order_no not in (None, shipment.order_no):
            number = None  # the PO names another sales order than the one shipped
        order = self.centra.get_order(number) if number is not None else None
        if order is None:
            raise ShipmentUnmatched(
                f"BlueCherry shipment {shipment.shipment_no} (sales order {shipment.order_no}, "
                f"customer PO {shipment.customer_po!r}) matches no Centra order",
                kind="order", shipment_no=shipment.shipment_no, order_no=shipment.order_no,
                customer_po=shipment.customer_po)
        line_map = row.data.line_map if row is not None else {}
        if not line_map:
            line_map = match_line_map(self.erp.get_sales_order(shipment.order_no), order)
        return order, line_map

    # -- create ---------------------------------------------------------------------------------

    def _create(self, tx: Tx, shipment: ErpShipment, data: dict[str, Any]) -> dict[str, Any]:
        order, line_map = self._target(shipment)
        lines = plan_lines(shipment, line_map, order)
        no = shipment.shipment_no
        if data.get("create_attempts"):
            found = self._read_back(order.number, no, lines)
            if found is not None:
                return self._created(tx, no, found)
        if order.status is OrderStatus.PENDING:
            # BlueCherry shipped it: the order is confirmed (Centra ships confirmed orders only).
            self.centra.confirm_order(order.number)
        self._save(tx, no, ShipmentState.CREATING, {
            "order": order.number, "market": order.market_id, "currency": order.currency,
            "lines": [list(p) for p in lines],
            "line_map": {str(k): v for k, v in line_map.items()},
            "create_attempts": int(data.get("create_attempts", 0)) + 1, "problem": None})
        try:
            made = self.centra.create_shipment(order.number, lines, external_id=no,
                                               capture=self.rules.capture,
                                               paid=not self.rules.capture)
        except AmbiguousWrite:
            found = self._read_back(order.number, no, lines)
            if found is None:
                raise  # not applied: the queue retries, reading back first again
            made = found
        except Rejected as exc:
            found = self._read_back(order.number, no, lines)
            if found is None:
                raise ShipmentUnmatched(
                    f"Centra refused BlueCherry shipment {no} for order {order.number}: "
                    f"{exc.message}", kind="refused", shipment_no=no,
                    order=order.number) from exc
            made = found
        return self._created(tx, no, made)

    def _read_back(self, order: int, shipment_no: str, lines: Pairs) -> CentraShipment | None:
        """The order's Centra shipment keyed by this BlueCherry number; one with other units is
        not ours to complete (someone made it by hand): an exception names it."""
        found = self.centra.find_shipment(order, shipment_no)
        if found is None:
            return None
        if sorted(ln.quantity for ln in found.lines) != sorted(q for _, q in lines):
            raise ShipmentUnmatched(
                f"Centra shipment {found.number} carries BlueCherry shipment {shipment_no} "
                f"with other units than BlueCherry shipped", kind="refused",
                shipment_no=shipment_no, centra_shipment=found.number)
        return found

    def _created(self, tx: Tx, shipment_no: str, made: CentraShipment) -> dict[str, Any]:
        state = ShipmentState.COMPLETED if made.is_shipped else ShipmentState.CREATED
        changes: dict[str, Any] = {"centra_id": made.id, "centra_number": made.number}
        if made.is_shipped:  # shipped meanwhile (by hand in Centra): no second email
            changes.update(self._shipped(made, email=False))
        return self._save(tx, shipment_no, state, changes)

    # -- complete (the dispatch email) ----------------------------------------------------------

    def _complete(self, tx: Tx, shipment: ErpShipment, data: dict[str, Any]) -> dict[str, Any]:
        no, sid = shipment.shipment_no, int(data["centra_id"])
        if data.get("complete_attempts"):
            current = self.centra.get_shipment(sid)
            if current is not None and current.is_shipped:
                return self._completed(tx, shipment, current, bool(data.get("email")))
        carrier = self.rules.carrier_for(shipment)
        tracking = tracking_numbers(shipment)
        email = self.rules.email_for(int(data.get("market") or 0), str(data.get("currency", "")))
        self._save(tx, no, ShipmentState.COMPLETING, {
            "complete_attempts": int(data.get("complete_attempts", 0)) + 1, "email": email,
            "carrier": carrier.carrier, "service": carrier.service,
            "tracking": list(tracking)})
        try:
            done = self.centra.complete_shipment(
                sid, carrier.carrier, carrier.service, tracking, email,
                packages=len(shipment.cartons) or None)
        except (AmbiguousWrite, Rejected) as exc:
            current = self.centra.get_shipment(sid)
            if current is None or not current.is_shipped:
                if isinstance(exc, Rejected):
                    raise ShipmentUnmatched(
                        f"Centra refused to ship {data.get('centra_number')} (BlueCherry "
                        f"shipment {no}): {exc.message}", kind="refused",
                        shipment_no=no) from exc
                raise
            done = current
            # Refused because it was already shipped (by hand in Centra): our email never went.
            email = email and not isinstance(exc, Rejected)
        return self._completed(tx, shipment, done, email)

    def _shipped(self, done: CentraShipment, *, email: bool) -> dict[str, Any]:
        return {"completed_at": self.clock().isoformat(), "email_sent": email,
                "centra_tracking": list(done.tracking_numbers)}

    def _completed(self, tx: Tx, shipment: ErpShipment, done: CentraShipment,
                   email: bool) -> dict[str, Any]:
        now = self.clock()
        lag = max(0, round((now - shipment.shipped_at).total_seconds()))

        def stock(uow: UnitOfWork, merged: dict[str, Any]) -> None:
            # Centra lowered its physical stock by these units: the stock figure follows in
            # the same unit of work (services.stock.demand).
            if merged.get("order") is not None:
                record_shipped(uow, int(merged["order"]), shipment.shipment_no,
                               {ln.line_no: ln.quantity for ln in shipment.lines}, now=now)

        data = self._save(tx, shipment.shipment_no, ShipmentState.COMPLETED,
                          {**self._shipped(done, email=email), "lag_s": lag}, also=stock)
        observe_lag(lag)
        return data


