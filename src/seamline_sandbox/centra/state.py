"""The Centra sandbox's state: orders, shipments, inventory, events, id conversions, emails.

Everything is ``Decimal`` inside; only the GraphQL serialiser turns money into a Float. All
mutation methods take the lock, so the ASGI app, the control API and tests in other threads can
use one :class:`CentraState` at once.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from seamline_sandbox.generator import (
    GeneratedLine,
    GeneratedOrder,
    OrderTotalsCalc,
    VoucherSpec,
    centra_totals,
    generate_orders,
)
from seamline_sandbox.world import CENTRA_WAREHOUSES, CatalogueItem, Market, World, build_world

__all__ = ["CentraState", "Clock", "IdConversionRec", "OrderRec", "SandboxError", "ShipmentRec"]

HUNDRED = Decimal(100)


class SandboxError(Exception):
    """A refused operation (becomes a userError, or a 4xx on the control API)."""

    def __init__(self, message: str, path: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = list(path)


class Clock:
    """Wall clock with an offset the control API can advance (``updatedAt``, bucket refill)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(slots=True)
class LineRec:
    id: int
    item: CatalogueItem
    quantity: int
    tax_percent: Decimal
    unit_original_price: Decimal
    unit_price: Decimal
    cancelled: int = 0
    #: Units on shipments (created) and on completed shipments.
    in_shipments: int = 0
    shipped: int = 0

    @property
    def line_value(self) -> Decimal:
        return self.unit_price * self.quantity

    def as_generated(self) -> GeneratedLine:
        return GeneratedLine(item=self.item, quantity=self.quantity, tax_percent=self.tax_percent,
                             unit_original_price=self.unit_original_price,
                             unit_price=self.unit_price)


@dataclass(slots=True)
class PaymentRec:
    id: int
    entry_type: str
    status: str
    value: Decimal
    external_reference: str
    created_at: datetime


@dataclass(slots=True)
class ShipmentRec:
    id: int
    number: str
    order_number: int
    lines: list[tuple[int, int]]  # (order line id, quantity)
    #: The shipment lines' own ids, one per entry of ``lines`` (the link to the order line is
    #: kept here only: the published ShipmentLine has no field for it).
    line_ids: list[int]
    created_at: datetime
    updated_at: datetime
    is_good_to_go: bool = True
    is_paid: bool = False
    is_captured: bool = False
    is_shipped: bool = False
    shipped_at: datetime | None = None
    paid_at: datetime | None = None
    captured_at: datetime | None = None
    carrier: str | None = None
    service: str | None = None
    packages: int | None = None
    tracking: str | None = None
    return_tracking: str | None = None
    additional_message: str | None = None
    external_id: str | None = None
    #: (amount, currency) from ShipmentInfoInput.internalShippingCost.
    internal_shipping_cost: tuple[Decimal, str] | None = None


@dataclass(slots=True)
class IdConversionRec:
    """One ID-conversion entry of one integration (for orders ``internal_id`` is the number)."""

    id: int
    integration: str
    object_type: str
    internal_id: int
    external_id: str


@dataclass(slots=True)
class OrderRec:
    id: str
    number: int
    market: Market
    store_id: int
    status: str
    is_on_hold: bool
    is_waiting_for_payment: bool
    created_at: datetime
    updated_at: datetime
    order_date: datetime
    customer: dict[str, str]
    shipping_address: dict[str, str]
    billing_address: dict[str, str]
    lines: list[LineRec]
    vouchers: list[VoucherSpec]
    shipping_option: str
    shipping_option_name: str
    shipping_price: Decimal
    totals: OrderTotalsCalc
    grand_total: Decimal
    payment_method: str
    warehouse_id: int
    is_locked: bool = False
    #: The external id last set for the order through setIdConversions (any integration); the
    #: per-integration entries are in ``CentraState.id_conversions``.
    external_id: str | None = None
    #: Handling fee (price mode) and a tax-exempt customer, kept for recomputation.
    handling: Decimal = Decimal(0)
    tax_exempt: bool = False
    payments: list[PaymentRec] = field(default_factory=list)
    shipment_ids: list[int] = field(default_factory=list)
    internal_comment: str = ""
    #: Offset of Centra's grand total from the computed one (kept across recomputation).
    mismatch: Decimal = Decimal(0)

    @property
    def currency(self) -> str:
        return self.market.currency

    def line(self, line_id: int) -> LineRec:
        for ln in self.lines:
            if ln.id == line_id:
                return ln
        raise SandboxError(f"Order line {line_id} not found on order {self.number}.",
                           ["orderLine", "id"])


@dataclass(slots=True)
class EventRec:
    id: int
    integration: str
    object_type: str
    change_type: str
    reference: str
    created_at: datetime
    store_id: int | None
    market_id: int | None


@dataclass(slots=True)
class TokenRec:
    token: str
    permissions: frozenset[str] | None  # None: every permission
    integration: str = "seamline"


ALL_PERMISSIONS = frozenset({
    "Order:read", "Order:write", "Order.isLocked:write", "Order.shippingAddress:read",
    "Order.billingAddress:read", "Order.internalComment:read", "PaymentHistory:read",
    "Payment.capture:write", "Shipment:read", "Shipment:write", "Warehouse:read",
    "Product:read", "StockChange:write", "Event:read", "Event:write", "IdConversion:read",
    "IdConversion:write", "Market:read", "Store:read", "Currency:read",
})


class CentraState:
    """One Centra environment."""

    def __init__(self, *, seed: int = 1, world: World | None = None,
                 token: str = "sandbox-centra-token",  # noqa: S107 (the documented default)
                 initial_stock: tuple[int, int] = (20, 60),
                 clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.world = world or build_world(seed)
        self.clock = clock or Clock()
        self.tokens: dict[str, TokenRec] = {token: TokenRec(token, None)}
        self.orders: dict[int, OrderRec] = {}
        self.orders_by_id: dict[str, OrderRec] = {}
        self.generated: dict[int, GeneratedOrder] = {}
        self.shipments: dict[int, ShipmentRec] = {}
        self.emails: list[dict[str, Any]] = []
        self.id_conversions: dict[tuple[str, str, int], IdConversionRec] = {}
        self.listeners: dict[str, dict[str, frozenset[str] | None]] = {}
        self.events: list[EventRec] = []
        self.stock_changes: list[dict[str, Any]] = []
        self.inventory: dict[tuple[int, int], list[int]] = {}
        self.items_by_size = {i.size_id: i for i in self.world.catalogue}
        self._next_order = 1000
        self._next_line = 1
        self._next_shipment = 1
        self._next_payment = 1
        self._next_event = 1
        self._next_shipment_line = 1
        self._next_id_conversion = 1
        self._gen_batches = 0
        self.event_hooks: list[Callable[[EventRec], None]] = []
        rng = random.Random(seed)
        for wh in CENTRA_WAREHOUSES:
            for item in self.world.catalogue:
                self.inventory[(wh, item.size_id)] = [rng.randint(*initial_stock), 0]

    # -- helpers -------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def fta(self, warehouse: int, size_id: int) -> int:
        phys, alloc = self.inventory.get((warehouse, size_id), [0, 0])
        return phys - alloc

    def order_by_external_id(self, integration: str | None, external: str) -> OrderRec | None:
        """The order whose ID conversion (of ``integration``; any when None) is ``external``."""
        for (integ, otype, internal), rec in self.id_conversions.items():
            if otype == "Order" and rec.external_id == external and (
                    integration is None or integ == integration):
                return self.orders.get(internal)
        return None

    def find_order(self, ref: dict[str, Any] | None,
                   integration: str | None = None) -> OrderRec:
        ref = ref or {}
        if ref.get("number") is not None:
            o = self.orders.get(int(ref["number"]))
        elif ref.get("id") is not None:
            o = self.orders_by_id.get(str(ref["id"]))
        elif ref.get("externalId") is not None:
            o = self.order_by_external_id(integration, str(ref["externalId"]))
        else:
            raise SandboxError("Order input needs id, number or externalId.", ["order"])
        if o is None:
            raise SandboxError("Order not found.", ["order"])
        return o

    def find_size(self, ref: dict[str, Any]) -> CatalogueItem:
        w = self.world
        item: CatalogueItem | None = None
        if ref.get("id") is not None:
            item = self.items_by_size.get(int(ref["id"]))
        elif ref.get("SKU"):
            item = w.by_sku.get(str(ref["SKU"]))
        elif ref.get("EAN"):
            item = w.by_ean.get(str(ref["EAN"]))
        elif ref.get("UPC"):
            item = w.by_ean.get("0" + str(ref["UPC"]))
        elif ref.get("any"):
            a = str(ref["any"])
            item = w.by_sku.get(a) or w.by_ean.get(a) or w.by_ean.get("0" + a)
        if item is None:
            raise SandboxError(f"Product size not found: {ref}.", ["productSize"])
        return item

    def emit(self, object_type: str, change_type: str, reference: str, *,
             store_id: int | None = None, market_id: int | None = None) -> None:
        for integration, listeners in self.listeners.items():
            if object_type not in listeners:
                continue
            types = listeners[object_type]
            if types is not None and change_type not in types:
                continue
            ev = EventRec(self._next_event, integration, object_type, change_type, reference,
                          self.now(), store_id, market_id)
            self._next_event += 1
            self.events.append(ev)
        for hook in self.event_hooks:
            hook(EventRec(0, "", object_type, change_type, reference, self.now(), store_id,
                          market_id))

    def touch(self, o: OrderRec) -> None:
        o.updated_at = max(self.now(), o.updated_at + timedelta(microseconds=1))
        self.emit("Order", "UPDATED", str(o.number), store_id=o.store_id, market_id=o.market.id)

    # -- orders --------------------------------------------------------------------------------

    def generate(self, n: int, *, seed: int | None = None, start: datetime | None = None,
                 **knobs: Any) -> list[GeneratedOrder]:
        """Generate ``n`` orders that the current stock can serve, and place them."""
        with self.lock:
            self._gen_batches += 1
            s = seed if seed is not None else self.seed * 1000 + self._gen_batches
            orders = generate_orders(self.world, n, seed=s, start=start or self.now(),
                                     available=self.fta, **knobs)
            for g in orders:
                self.place(g)
            return orders

    def place(self, g: GeneratedOrder) -> OrderRec:
        """Place a generated order: allocate its stock (refused if not free) and store it."""
        with self.lock:
            wh = g.market.centra_warehouse
            need: dict[int, int] = {}
            for ln in g.lines:
                need[ln.item.size_id] = need.get(ln.item.size_id, 0) + ln.quantity
            for size_id, qty in need.items():
                if self.fta(wh, size_id) < qty:
                    raise SandboxError(f"Not enough free stock of size {size_id} in warehouse "
                                       f"{wh} ({self.fta(wh, size_id)} < {qty}).")
            for size_id, qty in need.items():
                self.inventory.setdefault((wh, size_id), [0, 0])[1] += qty
            number = g.number if g.number is not None and g.number not in self.orders \
                else self._next_order
            self._next_order = max(self._next_order, number) + 1
            g.number = number
            now = self.now()
            lines = []
            for ln in g.lines:
                lines.append(LineRec(self._next_line, ln.item, ln.quantity, ln.tax_percent,
                                     ln.unit_original_price, ln.unit_price))
                self._next_line += 1
            oid = hashlib.md5(f"centra-order-{self.seed}-{number}".encode(),
                              usedforsecurity=False).hexdigest()
            o = OrderRec(
                id=oid, number=number, market=g.market, store_id=g.store_id, status=g.status,
                is_on_hold=g.is_on_hold, is_waiting_for_payment=g.is_waiting_for_payment,
                created_at=now, updated_at=now, order_date=g.order_date, customer=g.customer,
                shipping_address=dict(g.shipping_address),
                billing_address=dict(g.billing_address), lines=lines, vouchers=list(g.vouchers),
                shipping_option=g.shipping_option, shipping_option_name=g.shipping_option_name,
                shipping_price=g.shipping_price, totals=g.totals, grand_total=g.grand_total,
                payment_method=g.payment_method, warehouse_id=wh,
                mismatch=g.grand_total - g.totals.grand_total,
                handling=g.totals.handling, tax_exempt=g.tax_exempt,
            )
            if not g.is_waiting_for_payment:
                o.payments.append(self._payment("AUTHORIZATION", "SUCCESS", o.grand_total,
                                                f"auth-{number}"))
            self.orders[number] = o
            self.orders_by_id[oid] = o
            self.generated[number] = g
            self.emit("Order", "CREATED", str(number), store_id=o.store_id,
                      market_id=o.market.id)
            return o

    def _payment(self, entry_type: str, status: str, value: Decimal, ref: str) -> PaymentRec:
        p = PaymentRec(self._next_payment, entry_type, status, value, ref, self.now())
        self._next_payment += 1
        return p

    def recompute(self, o: OrderRec) -> None:
        """Centra recomputes totals after a line change (vouchers, shipping, tax per rate)."""
        o.totals = centra_totals(o.market, [ln.as_generated() for ln in o.lines], o.vouchers,
                                 shipping_price=o.shipping_price, handling=o.handling,
                                 tax_exempt=o.tax_exempt)
        o.grand_total = o.totals.grand_total + o.mismatch

    def confirm(self, o: OrderRec) -> None:
        with self.lock:
            if o.status != "PENDING":
                raise SandboxError(f"Order {o.number} is {o.status}, not PENDING.", ["order"])
            o.status = "CONFIRMED"
            self.touch(o)

    def set_hold(self, o: OrderRec, on_hold: bool) -> None:
        with self.lock:
            if o.is_on_hold != on_hold:
                o.is_on_hold = on_hold
                self.touch(o)

    def mark_paid(self, o: OrderRec) -> None:
        with self.lock:
            if o.is_waiting_for_payment:
                o.is_waiting_for_payment = False
                o.payments.append(self._payment("AUTHORIZATION", "SUCCESS", o.grand_total,
                                                f"auth-{o.number}"))
                self.touch(o)

    def cancel_lines(self, o: OrderRec, cancels: list[tuple[int, int, str]]) -> None:
        """(line id, quantity, stock action) — quantity ≤ unshipped units not on shipments."""
        with self.lock:
            if o.status in ("CANCELLED", "SHIPPED", "ARCHIVED"):
                raise SandboxError(f"Order {o.number} is {o.status}.", ["order"])
            for i, (line_id, qty, _action) in enumerate(cancels):
                ln = o.line(line_id)
                if qty < 1 or qty > ln.quantity - ln.in_shipments:
                    raise SandboxError(
                        f"Cannot cancel {qty} of line {line_id}: "
                        f"{ln.quantity - ln.in_shipments} cancellable.",
                        ["input", "cancelLines", str(i), "quantity"])
            for line_id, qty, action in cancels:
                ln = o.line(line_id)
                ln.quantity -= qty
                ln.cancelled += qty
                inv = self.inventory.setdefault((o.warehouse_id, ln.item.size_id), [0, 0])
                inv[1] -= qty
                if action == "REMOVE_FROM_STOCK":
                    inv[0] -= qty
            self.recompute(o)
            if all(ln.quantity == 0 for ln in o.lines):
                o.status = "CANCELLED"
            else:
                self._maybe_shipped(o)
            self.touch(o)

    def cancel_order(self, o: OrderRec, *, remove_from_stock: bool = False) -> list[str]:
        with self.lock:
            if o.status == "CANCELLED":
                return ["Order is already cancelled."]
            if any(p.entry_type == "CAPTURE" and p.status == "SUCCESS" for p in o.payments):
                raise SandboxError("Order has captured payments; create a return instead.",
                                   ["id"])
            if any(self.shipments[s].is_shipped for s in o.shipment_ids):
                raise SandboxError("Order has shipped shipments.", ["id"])
            for ln in o.lines:
                inv = self.inventory.setdefault((o.warehouse_id, ln.item.size_id), [0, 0])
                inv[1] -= ln.quantity - ln.shipped
                if remove_from_stock:
                    inv[0] -= ln.quantity - ln.shipped
            o.status = "CANCELLED"
            o.payments.append(self._payment("CANCEL", "SUCCESS", o.grand_total,
                                            f"cancel-{o.number}"))
            self.touch(o)
            return []

    def edit_address(self, o: OrderRec, which: str, fields: dict[str, str]) -> None:
        with self.lock:
            target = o.shipping_address if which == "shipping" else o.billing_address
            for k, v in fields.items():
                if k == "country":
                    raise SandboxError("The country of an address cannot be changed.",
                                       [f"{which}Address", "country"])
                target[k] = str(v)
            self.touch(o)

    def edit_line_quantity(self, o: OrderRec, line_id: int, quantity: int) -> None:
        """Customer service edit: change a line's quantity (allocating or releasing stock)."""
        with self.lock:
            ln = o.line(line_id)
            if quantity < max(ln.in_shipments, 0) or quantity < 0:
                raise SandboxError("Quantity below what is on shipments.", ["quantity"])
            delta = quantity - ln.quantity
            if delta > 0 and self.fta(o.warehouse_id, ln.item.size_id) < delta:
                raise SandboxError("Not enough free stock.", ["quantity"])
            self.inventory.setdefault((o.warehouse_id, ln.item.size_id), [0, 0])[1] += delta
            ln.quantity = quantity
            self.recompute(o)
            self.touch(o)

    def set_lock(self, o: OrderRec, locked: bool) -> None:
        with self.lock:
            if o.is_locked != locked:
                o.is_locked = locked
                o.updated_at = max(self.now(), o.updated_at)

    # -- shipments -----------------------------------------------------------------------------

    def create_shipment(self, o: OrderRec, lines: list[tuple[int, int]] | None, *,
                        good_to_go: bool, paid: bool, capture: bool,
                        info: dict[str, Any] | None, external_id: str | None,
                        message: str | None) -> ShipmentRec:
        with self.lock:
            if o.status not in ("CONFIRMED", "PROCESSING"):
                raise SandboxError(f"Order {o.number} is {o.status}; only confirmed orders can "
                                   "get shipments.", ["input", "order"])
            if lines is None:
                lines = [(ln.id, ln.quantity - ln.in_shipments) for ln in o.lines
                         if ln.quantity - ln.in_shipments > 0]
            if not lines:
                raise SandboxError("Nothing left to ship.", ["input", "lines"])
            seen: dict[int, int] = {}
            for i, (line_id, qty) in enumerate(lines):
                ln = o.line(line_id)
                seen[line_id] = seen.get(line_id, 0) + qty
                left = ln.quantity - ln.in_shipments
                if qty < 1 or seen[line_id] > left:
                    raise SandboxError(f"Quantity {qty} for line {line_id} exceeds the "
                                       f"unshipped quantity {left}.",
                                       ["input", "lines", str(i), "quantity"])
            for line_id, qty in lines:
                o.line(line_id).in_shipments += qty
            now = self.now()
            seq = len(o.shipment_ids) + 1
            line_ids = list(range(self._next_shipment_line, self._next_shipment_line + len(lines)))
            self._next_shipment_line += len(lines)
            s = ShipmentRec(self._next_shipment, f"{o.number}-{seq}", o.number, list(lines),
                            line_ids, now, now, is_good_to_go=good_to_go,
                            is_paid=paid or capture, additional_message=message,
                            external_id=external_id)
            self._next_shipment += 1
            if paid or capture:
                s.paid_at = now
            self._apply_info(s, info)
            self.shipments[s.id] = s
            o.shipment_ids.append(s.id)
            if capture:
                self._capture_shipment(o, s)
            o.status = "PROCESSING"
            self.touch(o)
            self.emit("Shipment", "CREATED", str(s.id), store_id=o.store_id,
                      market_id=o.market.id)
            return s

    @staticmethod
    def _apply_info(s: ShipmentRec, info: dict[str, Any] | None) -> None:
        if not info:
            return
        s.carrier = info.get("carrier", s.carrier)
        s.service = info.get("service", s.service)
        s.packages = info.get("packagesNumber", s.packages)
        s.tracking = info.get("trackingNumber", s.tracking)
        s.return_tracking = info.get("returnTrackingNumber", s.return_tracking)
        cost = info.get("internalShippingCost")
        if cost is not None:
            s.internal_shipping_cost = (Decimal(repr(cost["value"])),
                                        str(cost["currencyIsoCode"]))

    def update_shipment(self, s: ShipmentRec, data: dict[str, Any]) -> None:
        with self.lock:
            if s.is_shipped and (data.get("shipmentInfo") or data.get("isGoodToGo") is not None):
                raise SandboxError("Shipment is shipped; its info can no longer change.",
                                   ["input"])
            self._apply_info(s, data.get("shipmentInfo"))
            if data.get("isGoodToGo") is not None:
                s.is_good_to_go = bool(data["isGoodToGo"])
            if data.get("isPaid") and not s.is_paid:
                s.is_paid = True
                s.paid_at = self.now()
            if data.get("additionalMessage") is not None:
                s.additional_message = data["additionalMessage"]
            if data.get("externalId") is not None:
                s.external_id = data["externalId"]
            s.updated_at = self.now()

    def complete_shipment(self, s: ShipmentRec, *, send_email: bool,
                          info: dict[str, Any] | None, shipped_at: datetime | None) -> None:
        with self.lock:
            if s.is_shipped:
                raise SandboxError(f"Shipment {s.number} is already shipped.", ["id"])
            if not (s.is_good_to_go and s.is_paid):
                raise SandboxError("Shipment must be good to go and paid before it ships.",
                                   ["id"])
            o = self.orders[s.order_number]
            self._apply_info(s, info)
            s.is_shipped = True
            s.shipped_at = shipped_at or self.now()
            s.updated_at = self.now()
            for line_id, qty in s.lines:
                ln = o.line(line_id)
                ln.shipped += qty
                inv = self.inventory.setdefault((o.warehouse_id, ln.item.size_id), [0, 0])
                inv[0] -= qty
                inv[1] -= qty
            if send_email:
                self.emails.append({
                    "kind": "shipping_confirmation", "order": o.number, "shipment": s.number,
                    "to": o.customer.get("email", ""), "carrier": s.carrier,
                    "service": s.service, "tracking": s.tracking,
                    "sent_at": self.now().isoformat(),
                })
            self._maybe_shipped(o)
            self.touch(o)
            self.emit("Shipment", "COMPLETED", str(s.id), store_id=o.store_id,
                      market_id=o.market.id)

    def _maybe_shipped(self, o: OrderRec) -> None:
        if o.shipment_ids and all(ln.shipped >= ln.quantity for ln in o.lines) and all(
                self.shipments[i].is_shipped for i in o.shipment_ids):
            o.status = "SHIPPED"

    def shipment_value(self, s: ShipmentRec) -> Decimal:
        o = self.orders[s.order_number]
        return sum((o.line(lid).unit_price * qty for lid, qty in s.lines), Decimal(0))

    @staticmethod
    def captured(o: OrderRec) -> Decimal:
        return sum((p.value for p in o.payments
                    if p.entry_type == "CAPTURE" and p.status == "SUCCESS"), Decimal(0))

    def _capture_shipment(self, o: OrderRec, s: ShipmentRec) -> PaymentRec:
        """Capture what the shipment is worth, as a PSP does: its lines' value (shipping and
        handling on the first captured shipment only), never past the order's grand total; the
        shipment that leaves nothing to ship captures the rest of the grand total (tax added on
        top in sales-tax markets and order-level vouchers included), so an order's captures
        add up to its grand total once it has shipped."""
        value = self.shipment_value(s)
        if not any(self.shipments[i].is_captured for i in o.shipment_ids):
            # shipping and handling are captured on one shipment only
            value += o.totals.shipping + o.totals.handling
        left = max(o.grand_total - self.captured(o), Decimal(0))
        last = all(ln.in_shipments >= ln.quantity for ln in o.lines)
        value = left if last else min(value, left)
        p = self._payment("CAPTURE", "SUCCESS", value, f"capture-{s.number}")
        o.payments.append(p)
        s.is_captured = True
        s.captured_at = self.now()
        s.is_paid = True
        s.paid_at = s.paid_at or self.now()
        return p

    def capture_shipment(self, s: ShipmentRec) -> PaymentRec:
        with self.lock:
            if s.is_captured:
                raise SandboxError(f"Shipment {s.number} is already captured.", ["id"])
            o = self.orders[s.order_number]
            p = self._capture_shipment(o, s)
            self.touch(o)
            return p

    def refund(self, o: OrderRec, amount: Decimal) -> PaymentRec:
        """A person refunds captured money in Centra's admin (a return, a goodwill refund): a
        ``REFUND`` entry on the payment history. Centra's Integration API has no refund
        mutation in the shared schema, so only the sandbox's control API makes one."""
        with self.lock:
            refunded = sum((p.value for p in o.payments
                            if p.entry_type == "REFUND" and p.status == "SUCCESS"), Decimal(0))
            if amount <= 0 or amount > self.captured(o) - refunded:
                raise SandboxError(f"Order {o.number}: cannot refund {amount}; "
                                   f"{self.captured(o) - refunded} captured and not refunded.",
                                   ["amount"])
            n = sum(1 for p in o.payments if p.entry_type == "REFUND") + 1
            p = self._payment("REFUND", "SUCCESS", amount, f"refund-{o.number}-{n}")
            o.payments.append(p)
            self.touch(o)
            return p

    def capture_order(self, o: OrderRec) -> PaymentRec:
        with self.lock:
            captured = sum((p.value for p in o.payments
                            if p.entry_type == "CAPTURE" and p.status == "SUCCESS"), Decimal(0))
            left = o.grand_total - captured
            if left <= 0:
                raise SandboxError(f"Order {o.number} is fully captured.", ["order"])
            if o.is_waiting_for_payment or o.status == "CANCELLED":
                raise SandboxError(f"Order {o.number} has no authorisation to capture.",
                                   ["order"])
            p = self._payment("CAPTURE", "SUCCESS", left, f"capture-{o.number}")
            o.payments.append(p)
            for sid in o.shipment_ids:
                sh = self.shipments[sid]
                sh.is_captured = sh.is_paid = True
                sh.captured_at = sh.paid_at = sh.paid_at or self.now()
            self.touch(o)
            return p

    # -- stock ---------------------------------------------------------------------------------

    def set_stock(self, warehouse: int, entries: list[tuple[CatalogueItem, int]], *,
                  free_to_allocate: bool, description: str
                  ) -> tuple[int, list[tuple[int, str]]]:
        """Absolute stock; returns (stock change id, warnings as (entry index, message)).

        Physical stock below what orders hold allocated is raised to the allocation (the
        orders keep their units; free-to-allocate is 0) with a warning for that entry.
        """
        with self.lock:
            warnings: list[tuple[int, str]] = []
            for i, (item, qty) in enumerate(entries):
                inv = self.inventory.setdefault((warehouse, item.size_id), [0, 0])
                target = inv[1] + qty if free_to_allocate else qty
                if target < inv[1]:
                    warnings.append((i, f"Physical stock of {item.sku} raised to allocated "
                                        f"{inv[1]} (asked {qty})."))
                    target = inv[1]
                inv[0] = target
            return self._stock_change(description, warehouse, len(entries)), warnings

    def change_stock(self, into: int | None, out: int | None,
                     entries: list[tuple[CatalogueItem, int]], description: str) -> int:
        with self.lock:
            for item, qty in entries:
                if out is not None and self.fta(out, item.size_id) < qty:
                    raise SandboxError(f"Only {self.fta(out, item.size_id)} of {item.sku} free "
                                       f"in warehouse {out}.", ["input", "outFromWarehouse"])
            for item, qty in entries:
                if out is not None:
                    self.inventory.setdefault((out, item.size_id), [0, 0])[0] -= qty
                if into is not None:
                    self.inventory.setdefault((into, item.size_id), [0, 0])[0] += qty
            return self._stock_change(description, into or out or 0, len(entries))

    def _stock_change(self, description: str, warehouse: int, sizes: int) -> int:
        sc_id = len(self.stock_changes) + 1
        self.stock_changes.append({"id": sc_id, "description": description,
                                   "warehouse": warehouse, "sizes": sizes,
                                   "createdAt": self.now()})
        return sc_id

    # -- id conversions ------------------------------------------------------------------------

    def set_id_conversion(self, integration: str, object_type: str, internal: int,
                          external: str) -> IdConversionRec:
        """Set (or overwrite) one entry; for orders ``internal`` is the order NUMBER."""
        with self.lock:
            if not external or len(external) > 255:
                raise SandboxError("externalId must be 1-255 characters.", ["externalId"])
            o: OrderRec | None = None
            if object_type == "Order":
                o = self.orders.get(internal)
                if o is None:
                    raise SandboxError(f"Order with number {internal} not found.",
                                       ["internalId"])
            elif object_type == "Shipment" and internal not in self.shipments:
                raise SandboxError(f"Shipment {internal} not found.", ["internalId"])
            elif object_type == "ProductSize" and internal not in self.items_by_size:
                raise SandboxError(f"Product size {internal} not found.", ["internalId"])
            key = (integration, object_type, internal)
            rec = self.id_conversions.get(key)
            if rec is None:
                rec = IdConversionRec(self._next_id_conversion, integration, object_type,
                                      internal, external)
                self._next_id_conversion += 1
                self.id_conversions[key] = rec
            rec.external_id = external
            if o is not None and o.external_id != external:
                o.external_id = external
                o.updated_at = max(self.now(), o.updated_at)
            return rec

    def find_id_conversion(self, integration: str, object_type: str,
                           ref: dict[str, Any]) -> IdConversionRec:
        """The entry named by exactly one of ``id``, ``internalId``, ``externalId``."""
        given = [k for k in ("id", "internalId", "externalId") if ref.get(k) is not None]
        if len(given) != 1:
            raise SandboxError("Give exactly one of id, internalId or externalId.",
                               ["idConversion"])
        key, value = given[0], ref[given[0]]
        for rec in self.id_conversions.values():
            if rec.integration != integration or rec.object_type != object_type:
                continue
            if (key == "id" and rec.id == value) or (
                    key == "internalId" and rec.internal_id == value) or (
                    key == "externalId" and rec.external_id == value):
                return rec
        raise SandboxError(f"ID conversion not found: {object_type} {key} {value}.",
                           ["idConversion", key])

    def unset_id_conversion(self, rec: IdConversionRec) -> None:
        with self.lock:
            self.id_conversions.pop((rec.integration, rec.object_type, rec.internal_id), None)
            if rec.object_type == "Order" and rec.internal_id in self.orders:
                o = self.orders[rec.internal_id]
                if o.external_id == rec.external_id:
                    o.external_id = None

    # -- snapshots for the control API ---------------------------------------------------------

    def stock_row(self, warehouse: int, size_id: int) -> dict[str, Any]:
        phys, alloc = self.inventory.get((warehouse, size_id), [0, 0])
        item = self.items_by_size[size_id]
        return {"warehouse": warehouse, "sizeId": size_id, "sku": item.sku, "ean": item.ean,
                "physical": phys, "allocated": alloc, "freeToAllocate": phys - alloc}
