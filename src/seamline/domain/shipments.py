"""Shipments: a BlueCherry dispatch and the Centra shipment it becomes. No I/O.

BlueCherry is the master of shipments (partial and complete, carrier, tracking); Centra's
shipment sends the customer's dispatch email. The link from a BlueCherry shipment line to a
Centra order line is what Seamline posted (the order's ``line_map``: Centra line id →
BlueCherry line number); Centra publishes no link from a shipment line to its order line, so
the lines Seamline sent with ``createShipment`` are kept on the shipment's ledger row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from seamline.domain.erp import ErpCarton, ErpSalesOrder, ErpShipment, ErpShipmentLine
from seamline.domain.erp import normalise_gtin as _gtin
from seamline.domain.orders import CentraOrder
from seamline.exceptions import InvalidRecord, ShipmentUnmatched

__all__ = [
    "CarrierName",
    "CentraShipment",
    "ShipmentKey",
    "ShipmentLine",
    "ShipmentRules",
    "ShipmentState",
    "erp_shipment_from_dict",
    "erp_shipment_to_dict",
    "match_line_map",
    "order_number_from_po",
    "plan_lines",
    "short_cancels",
    "tracking_numbers",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ShipmentLine:
    """A shipment line as Centra publishes it: its own id and quantity. Centra's schema has no
    link from a shipment line back to the order line: the caller keeps which order lines it
    sent (``createShipment`` lines, in order) alongside the shipment."""

    id: int
    quantity: int


@dataclass(frozen=True, kw_only=True, slots=True)
class CentraShipment:
    id: int
    #: ``"<order number>-<seq>"``.
    number: str
    order_number: int
    #: The BlueCherry shipment number kept on the shipment (read-back key of createShipment).
    external_id: str | None = None
    lines: tuple[ShipmentLine, ...] = ()
    is_good_to_go: bool = False
    is_paid: bool = False
    is_shipped: bool = False
    shipped_at: datetime | None = None
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""

    @property
    def tracking_numbers(self) -> tuple[str, ...]:
        """The tracking numbers (Centra keeps one field; several are comma-separated)."""
        return tuple(t.strip() for t in self.tracking_number.split(",") if t.strip())

    @property
    def quantity(self) -> int:
        """Units in the shipment."""
        return sum(line.quantity for line in self.lines)


class ShipmentState(StrEnum):
    """Where a BlueCherry shipment is on the ledger (``kind='shipment'``, key = its number).

    ``new`` (read from the feed) → ``creating`` (``createShipment`` may have been sent: read
    back by external id before any retry) → ``created`` (in Centra, id known) →
    ``completing`` (``completeShipment`` may have been sent: read ``isShipped`` first) →
    ``completed``. ``held``: an exception names it (unknown order or line, too many units,
    Centra refused it); a retry of its job starts again from what the ledger knows.
    """

    NEW = "new"
    CREATING = "creating"
    CREATED = "created"
    COMPLETING = "completing"
    COMPLETED = "completed"
    HELD = "held"

    @property
    def in_centra(self) -> bool:
        """Shipped in Centra (the dispatch email sent where the market says so)."""
        return self is ShipmentState.COMPLETED


#: The states of a shipment that is not (yet) shipped in Centra.
PENDING_STATES = tuple(s for s in ShipmentState if not s.in_centra)


@dataclass(frozen=True, slots=True)
class ShipmentKey:
    """A BlueCherry shipment's business key: ``shipment:<shipment number>``."""

    shipment_no: str

    def __str__(self) -> str:
        return f"shipment:{self.shipment_no}"


@dataclass(frozen=True, slots=True)
class CarrierName:
    """The carrier and service names customers see (in Centra and its dispatch email)."""

    carrier: str
    service: str = ""


@dataclass(frozen=True, kw_only=True)
class ShipmentRules:
    """How BlueCherry shipments become Centra shipments (from ``[shipments]`` and markets)."""

    #: BlueCherry ship via, SCAC or carrier code (upper case) → the names customers see.
    carriers: Mapping[str, CarrierName] = field(default_factory=dict)
    #: Send the dispatch email unless the market says otherwise.
    send_email: bool = True
    #: ``(Centra market, currency or None)`` → send the dispatch email.
    email_by_market: Mapping[tuple[int, str | None], bool] = field(default_factory=dict)
    #: Capture the shipment's value through Centra's PSP when it is created (else mark it paid:
    #: captured outside Centra).
    capture: bool = True
    #: The ``customer_po`` prefix the order flow posts with (the Centra number follows it).
    customer_po_prefix: str = ""
    #: Cancel short-shipped units on the Centra lines (``updateDirectToConsumerOrder``).
    cancel_short: bool = True

    def email_for(self, market_id: int, currency: str) -> bool:
        """Whether the market's customers get the dispatch email (a currency entry wins)."""
        by_currency = self.email_by_market.get((market_id, currency.upper()))
        if by_currency is not None:
            return by_currency
        return self.email_by_market.get((market_id, None), self.send_email)

    def carrier_for(self, shipment: ErpShipment) -> CarrierName:
        """The mapped names for the shipment's ship via, else its SCAC/carrier code, else what
        BlueCherry says (its carrier and service as they are)."""
        for code in (shipment.ship_via, shipment.carrier):
            mapped = self.carriers.get(code.strip().upper()) if code else None
            if mapped is not None:
                return CarrierName(mapped.carrier, mapped.service or shipment.service)
        return CarrierName(shipment.carrier or shipment.ship_via, shipment.service)


def tracking_numbers(shipment: ErpShipment) -> tuple[str, ...]:
    """Every carton's tracking number, in carton order, each once."""
    seen: dict[str, None] = {}
    for carton in shipment.cartons:
        number = carton.tracking_number.strip()
        if number:
            seen.setdefault(number, None)
    return tuple(seen)


def order_number_from_po(customer_po: str, prefix: str = "") -> int | None:
    """The Centra order number in a ``customer_po`` (``<prefix><number>``), or None."""
    po = customer_po.strip()
    if prefix and po.startswith(prefix):
        po = po[len(prefix):]
    return int(po) if po.isdigit() else None


def match_line_map(erp_order: ErpSalesOrder, order: CentraOrder) -> dict[int, int]:
    """Centra line id → BlueCherry line number for an order whose ledger row keeps no line map
    (posted before Seamline, or by hand): each BlueCherry line to the one Centra line with its
    GTIN, else its SKU; a line with no single match is left out (and stays unknown)."""
    out: dict[int, int] = {}
    for bc in erp_order.lines:
        gtin = _gtin(bc.upc)
        hits = [ln.id for ln in order.lines if gtin and _gtin(ln.ean) == gtin]
        if not hits:
            hits = [ln.id for ln in order.lines if bc.sku and ln.sku == bc.sku]
        if len(hits) == 1 and hits[0] not in out:
            out[hits[0]] = bc.line_no
    return out


def plan_lines(shipment: ErpShipment, line_map: Mapping[int, int],
               order: CentraOrder) -> tuple[tuple[int, int], ...]:
    """The ``(Centra order line id, quantity)`` pairs of a BlueCherry shipment.

    ``line_map`` is the order's Centra line id → BlueCherry line number. Raises
    ``ShipmentUnmatched`` naming the shipment for a line Centra's order lacks
    (``line``) or more units than the Centra line holds (``quantity``).
    """
    by_line_no = {bc: centra for centra, bc in line_map.items()}
    lines = {ln.id: ln for ln in order.lines}
    wanted: dict[int, int] = {}
    for ln in shipment.lines:
        centra_id = by_line_no.get(ln.line_no)
        if centra_id is None or centra_id not in lines:
            raise ShipmentUnmatched(
                f"BlueCherry shipment {shipment.shipment_no}: line {ln.line_no} ({ln.sku}) is "
                f"not a line of Centra order {order.number}", kind="line",
                shipment_no=shipment.shipment_no, line_no=ln.line_no, sku=ln.sku,
                order=order.number)
        wanted[centra_id] = wanted.get(centra_id, 0) + ln.quantity
    over = [(lid, q) for lid, q in wanted.items() if q > lines[lid].quantity or q <= 0]
    if over:
        lid, q = over[0]
        raise ShipmentUnmatched(
            f"BlueCherry shipment {shipment.shipment_no} ships {q} of Centra order "
            f"{order.number} line {lid} ({lines[lid].sku}), which holds "
            f"{lines[lid].quantity}", kind="quantity", shipment_no=shipment.shipment_no,
            line=lid, shipped=q, ordered=lines[lid].quantity, order=order.number)
    if not wanted:
        raise ShipmentUnmatched(
            f"BlueCherry shipment {shipment.shipment_no} has no lines", kind="line",
            shipment_no=shipment.shipment_no, order=order.number)
    return tuple(sorted(wanted.items()))


def short_cancels(erp_order: ErpSalesOrder, line_map: Mapping[int, int],
                  order: CentraOrder) -> tuple[tuple[int, int], ...]:
    """``(Centra line id, units)`` BlueCherry cancelled (short-shipped) that Centra has not
    cancelled yet: BlueCherry's cancelled units per line less Centra's. Comparing the two
    systems as they are makes it safe to repeat: once Centra cancelled them, nothing is left.
    """
    cancelled = {ln.line_no: ln.cancelled_quantity for ln in erp_order.lines}
    lines = {ln.id: ln for ln in order.lines}
    out = []
    for centra_id, line_no in sorted(line_map.items()):
        line = lines.get(centra_id)
        if line is None:
            continue
        units = min(cancelled.get(line_no, 0) - line.cancelled_quantity, line.quantity)
        if units > 0:
            out.append((centra_id, units))
    return tuple(out)


def erp_shipment_to_dict(s: ErpShipment) -> dict[str, Any]:
    """The shipment as the ledger keeps it (JSON-safe)."""
    return {
        "shipment_no": s.shipment_no, "order_no": s.order_no, "customer_po": s.customer_po,
        "warehouse": s.warehouse, "shipped_at": s.shipped_at.isoformat(),
        "ship_via": s.ship_via, "carrier": s.carrier, "service": s.service,
        "cartons": [{"sscc": c.sscc, "tracking_number": c.tracking_number}
                    for c in s.cartons],
        "lines": [{"line_no": ln.line_no, "sku": ln.sku, "upc": ln.upc,
                   "quantity": ln.quantity} for ln in s.lines],
        "complete": s.complete,
    }


def erp_shipment_from_dict(d: Mapping[str, Any]) -> ErpShipment:
    """Read back :func:`erp_shipment_to_dict`."""
    try:
        return ErpShipment(
            shipment_no=str(d["shipment_no"]), order_no=str(d["order_no"]),
            customer_po=str(d["customer_po"]), warehouse=str(d.get("warehouse", "")),
            shipped_at=datetime.fromisoformat(str(d["shipped_at"])),
            ship_via=str(d.get("ship_via", "")), carrier=str(d.get("carrier", "")),
            service=str(d.get("service", "")),
            cartons=tuple(ErpCarton(sscc=str(c.get("sscc", "")),
                                    tracking_number=str(c.get("tracking_number", "")))
                          for c in _rows(d, "cartons")),
            lines=tuple(ErpShipmentLine(line_no=int(ln["line_no"]), sku=str(ln.get("sku", "")),
                                        upc=str(ln.get("upc", "")),
                                        quantity=int(ln["quantity"]))
                        for ln in _rows(d, "lines")),
            complete=bool(d.get("complete", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRecord(f"shipment on the ledger is malformed ({exc!r})") from exc


def _rows(d: Mapping[str, Any], name: str) -> Sequence[Mapping[str, Any]]:
    value = d.get(name) or ()
    return [r for r in value if isinstance(r, Mapping)]
