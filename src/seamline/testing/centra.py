"""``FakeCentra``: an in-memory Centra that passes the same contract suite as ``CentraClient``.

State is plain and inspectable (``orders``, ``external_ids``, ``shipments``, ``stock``,
``emails``, ``events``, ``calls``) and ``reset()`` empties it. Tests seed it with ``add_order``
and change orders with ``update_order`` (which bumps ``updatedAt`` and queues an ``UPDATED``
event, as Centra does).

Faults mirror what a caller of ``CentraClient`` observes (``inject``):

- ``"429"``: a ``Retry-After`` of at most ``max_inline_wait_s`` is absorbed (the client retries
  in-process); a longer one raises ``RateLimited``;
- ``"500"``: reads and idempotent writes are retried (absorbed); other writes raise
  ``AmbiguousWrite`` *without* applying;
- ``"commit_then_drop"``: the write is applied, then idempotent writes (and ``confirm_order``,
  which reads back) succeed, other writes raise ``AmbiguousWrite``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from seamline.adapters.centra.types import RateLimitStatus, StockLevel
from seamline.domain.events import CentraEvent
from seamline.domain.money import Money
from seamline.domain.orders import CentraOrder, OrderStatus, PaymentEntry
from seamline.domain.shipments import CentraShipment, ShipmentLine
from seamline.domain.stock import StockPush
from seamline.exceptions import (
    AmbiguousWrite,
    NotFound,
    RateLimited,
    Rejected,
)
from seamline.ports import Clock

__all__ = ["EmailSent", "FakeCentra"]

#: Writes that are safe to repeat (the client retries them after an ambiguous failure).
IDEMPOTENT = frozenset({"set_external_ids", "set_orders_lock", "ensure_event_listeners",
                        "confirm_events", "set_stock", "confirm_order"})


@dataclass(frozen=True, slots=True)
class EmailSent:
    order_number: int
    shipment_id: int
    kind: str = "shipping_confirmation"


@dataclass(slots=True)
class _Fault:
    kind: str
    remaining: int
    match: str
    retry_after: float


@dataclass
class _Clock:
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    step: timedelta = timedelta(seconds=1)
    ticks: int = 0

    def now(self) -> datetime:
        self.ticks += 1
        return self.start + self.step * self.ticks


class FakeCentra:
    """In-memory ``CentraGateway`` plus the later-flow methods of ``CentraClient``."""

    def __init__(self, *, clock: Clock | None = None, max_inline_wait_s: float = 5.0) -> None:
        self.clock: Clock = clock or _Clock()
        self.max_inline_wait_s = max_inline_wait_s
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything: orders, shipments, stock, events, emails, faults, calls."""
        with getattr(self, "_lock", threading.RLock()):
            self.orders: dict[int, CentraOrder] = {}
            #: Order number (Centra's internal id of an order in ID conversions) → external id.
            self.external_ids: dict[int, str] = {}
            self.shipments: dict[int, CentraShipment] = {}
            #: Shipment id → the (order line id, quantity) pairs it was created with (Centra
            #: keeps this link internally; its schema publishes none).
            self.shipment_order_lines: dict[int, tuple[tuple[int, int], ...]] = {}
            #: (warehouse id, SKU) → physical quantity.
            self.stock: dict[tuple[int, str], int] = {}
            #: (warehouse id, SKU) → allocated quantity (seeded by tests).
            self.allocated: dict[tuple[int, str], int] = {}
            #: EAN → SKU, for stock set by EAN.
            self.ean_to_sku: dict[str, str] = {}
            #: The SKUs Centra knows (``None``: every key is accepted); ``set_stock_sizes``
            #: refuses the others, as Centra refuses sizes it does not have.
            self.known_skus: set[str] | None = None
            self.emails: list[EmailSent] = []
            self.events: list[CentraEvent] = []
            self.confirmed_event_ids: list[int] = []
            self.listening = False
            #: Every call as ``(operation, args)``.
            self.calls: list[tuple[str, tuple[object, ...]]] = []
            self.set_stock_calls = 0
            self._faults: list[_Fault] = []
            self._next_event = 1
            self._next_shipment = 1
            self._next_shipment_line = 1
            self._next_payment = 1

    # -- seeding and inspection ---------------------------------------------------------------

    def _payment_id(self) -> int:
        self._next_payment += 1
        return self._next_payment - 1

    def refund(self, number: int, amount: Money, *, method: str = "adyen") -> PaymentEntry:
        """A person refunds captured money in Centra's admin (a ``REFUND`` history entry; the
        Integration API has no refund mutation)."""
        with self._lock:
            order = self.orders[number]
            n = 1 + sum(1 for p in order.payments if p.entry_type == "REFUND")
            entry = PaymentEntry(entry_type="REFUND", status="SUCCESS", value=amount,
                                 external_reference=f"refund-{number}-{n}",
                                 created_at=self.clock.now(), id=self._payment_id(),
                                 payment_method=method)
            self.update_order(number, payments=(*order.payments, entry))
            return entry

    def add_order(self, order: CentraOrder) -> CentraOrder:
        """Place an order (queues a ``CREATED`` event when listening)."""
        with self._lock:
            self.orders[order.number] = order
            for line in order.lines:
                if line.ean:
                    self.ean_to_sku[line.ean] = line.sku
            self._event(order.number, "CREATED")
            return order

    def update_order(self, number: int, **changes: object) -> CentraOrder:
        """Change fields of an order as Centra would (bumps ``updated_at``, queues ``UPDATED``)."""
        with self._lock:
            order = replace(self.orders[number], **changes, updated_at=self.clock.now())  # type: ignore[arg-type]
            self.orders[number] = order
            self._event(number, "UPDATED")
            return order

    def inject(self, kind: str, *, times: int = 1, match: str = "*",
               retry_after: float = 1.0) -> None:
        """Make the next ``times`` operations matching ``match`` (fnmatch on the method name)
        fail with ``kind``: ``"429"``, ``"500"`` or ``"commit_then_drop"``."""
        if kind not in ("429", "500", "commit_then_drop"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults.append(_Fault(kind, times, match, retry_after))

    def clear_faults(self) -> None:
        """Forget the faults injected and not yet met."""
        with self._lock:
            self._faults.clear()

    def _event(self, number: int, change: str) -> None:
        if not self.listening:
            return
        self.events.append(CentraEvent(id=self._next_event, object_type="Order",
                                       change_type=change, object_reference=str(number)))
        self._next_event += 1

    def _fault(self, op: str) -> _Fault | None:
        for f in self._faults:
            if f.remaining > 0 and fnmatchcase(op, f.match):
                f.remaining -= 1
                if f.remaining == 0:
                    self._faults.remove(f)
                return f
        return None

    def _before(self, op: str, *args: object, write: bool) -> str | None:
        """Record the call and apply a fault that acts before the operation runs. Returns
        ``"drop"`` when the operation must apply and then fail ambiguously."""
        self.calls.append((op, args))
        fault = self._fault(op)
        if fault is None:
            return None
        if fault.kind == "429":
            if fault.retry_after > self.max_inline_wait_s:
                raise RateLimited(f"centra {op}: rate limited", system="centra", status=429,
                                  retry_after=fault.retry_after)
            return None
        if fault.kind == "500":
            if write and op not in IDEMPOTENT:
                raise AmbiguousWrite(f"centra {op}: HTTP 500; the write may have been applied",
                                     system="centra", status=500)
            return None
        return "drop" if write and op not in IDEMPOTENT else None

    @staticmethod
    def _dropped(op: str) -> AmbiguousWrite:
        return AmbiguousWrite(f"centra {op}: RemoteProtocolError; the write may have been "
                              "applied", system="centra")

    # -- CentraGateway ------------------------------------------------------------------------

    def get_order(self, number: int) -> CentraOrder | None:
        with self._lock:
            self._before("get_order", number, write=False)
            return self.orders.get(number)

    def get_orders(self, numbers: Sequence[int]) -> list[CentraOrder]:
        with self._lock:
            self._before("get_orders", tuple(numbers), write=False)
            wanted = sorted(set(numbers))
            return [self.orders[n] for n in wanted if n in self.orders]

    def iter_orders(
        self,
        *,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        created_from: datetime | None = None,
    ) -> Iterator[CentraOrder]:
        with self._lock:
            self._before("iter_orders", updated_from, updated_to, created_from, write=False)
            found = [
                o for o in self.orders.values()
                if (updated_from is None or o.updated_at >= updated_from)
                and (updated_to is None or o.updated_at <= updated_to)
                and (created_from is None
                     or (o.created_at or o.order_date) >= created_from)
            ]
        found.sort(key=lambda o: (o.updated_at, o.number))
        yield from found

    def set_external_ids(self, pairs: Sequence[tuple[int, str]]) -> None:
        with self._lock:
            self._before("set_external_ids", tuple(pairs), write=True)
            unknown = [n for n, _ in pairs if int(n) not in self.orders]
            if unknown:
                raise Rejected(f"centra setIdConversions: unknown orders {unknown}",
                               system="centra",
                               codes=[{"code": f"Order {u} not found"} for u in unknown])
            for number, ext in pairs:
                self.external_ids[int(number)] = str(ext)

    def get_external_ids(self, numbers: Sequence[int]) -> dict[int, str]:
        with self._lock:
            self._before("get_external_ids", tuple(numbers), write=False)
            return {int(n): self.external_ids[int(n)] for n in numbers
                    if int(n) in self.external_ids}

    def confirm_order(self, number: int) -> None:
        with self._lock:
            self._before("confirm_order", number, write=True)
            order = self.orders.get(number)
            if order is None:
                raise NotFound(f"centra order {number} does not exist", system="centra")
            if order.status is OrderStatus.PENDING:
                self.update_order(number, status=OrderStatus.CONFIRMED)

    def set_orders_lock(self, numbers: Sequence[int], locked: bool) -> None:
        with self._lock:
            self._before("set_orders_lock", tuple(numbers), locked, write=True)
            for n in numbers:
                if n in self.orders and self.orders[n].is_locked != locked:
                    self.orders[n] = replace(self.orders[n], is_locked=locked)

    def ensure_event_listeners(self) -> None:
        with self._lock:
            self._before("ensure_event_listeners", write=True)
            self.listening = True

    def fetch_events(self, limit: int = 100) -> list[CentraEvent]:
        with self._lock:
            self._before("fetch_events", limit, write=False)
            return list(self.events[:limit])

    def confirm_events(self, ids: Sequence[int]) -> None:
        with self._lock:
            self._before("confirm_events", tuple(ids), write=True)
            done = set(ids)
            self.confirmed_event_ids.extend(e.id for e in self.events if e.id in done)
            self.events = [e for e in self.events if e.id not in done]

    # -- later flows --------------------------------------------------------------------------

    def capture_order(self, number: int) -> PaymentEntry:
        with self._lock:
            drop = self._before("capture_order", number, write=True)
            order = self.orders.get(number)
            if order is None:
                raise NotFound(f"centra order {number} does not exist", system="centra")
            captured = sum((p.value.amount for p in order.payments
                            if p.entry_type == "CAPTURE" and p.status == "SUCCESS"), start=0)
            if captured >= order.grand_total.amount:
                raise Rejected(f"centra captureOrder {number}: nothing left to capture",
                               system="centra", codes=[{"code": "Nothing to capture"}])
            entry = PaymentEntry(
                entry_type="CAPTURE", status="SUCCESS",
                value=Money(order.grand_total.amount - captured, order.currency),
                external_reference=f"cap-{number}-{len(order.payments) + 1}",
                created_at=self.clock.now(), id=self._payment_id(), payment_method="adyen")
            self.update_order(number, payments=(*order.payments, entry))
            if drop:
                raise self._dropped("capture_order")
            return entry

    def get_shipments(self, order: int) -> list[CentraShipment]:
        with self._lock:
            self._before("get_shipments", order, write=False)
            return sorted((s for s in self.shipments.values() if s.order_number == order),
                          key=lambda s: s.id)

    def get_shipment(self, shipment_id: int) -> CentraShipment | None:
        with self._lock:
            self._before("get_shipment", shipment_id, write=False)
            return self.shipments.get(shipment_id)

    def find_shipment(self, order: int, external_id: str) -> CentraShipment | None:
        for s in self.get_shipments(order):
            if s.external_id == external_id:
                return s
        return None

    def _unshipped(self, order: CentraOrder) -> dict[int, int]:
        left = {line.id: line.quantity for line in order.lines}
        for s in self.shipments.values():
            if s.order_number == order.number:
                for lid, q in self.shipment_order_lines.get(s.id, ()):
                    left[lid] = left.get(lid, 0) - q
        return left

    def create_shipment(self, order_number: int, lines: Sequence[tuple[int, int]], *,
                        external_id: str, good_to_go: bool = True,
                        capture: bool = True, paid: bool = False) -> CentraShipment:
        with self._lock:
            drop = self._before("create_shipment", order_number, tuple(lines), external_id,
                                write=True)
            order = self.orders.get(order_number)
            if order is None:
                raise Rejected(f"centra createShipment: order {order_number} not found",
                               system="centra", codes=[{"code": "Order not found"}])
            if order.status not in (OrderStatus.CONFIRMED, OrderStatus.PROCESSING):
                raise Rejected(f"centra createShipment: order {order_number} is "
                               f"{order.status.value}", system="centra",
                               codes=[{"code": "Order is not confirmed"}])
            left = self._unshipped(order)
            errors = [f"line {lid}: {q} > {left.get(lid, 0)} unshipped"
                      for lid, q in lines if lid not in left or q <= 0 or q > left[lid]]
            if not lines or errors:
                raise Rejected(f"centra createShipment: {'; '.join(errors) or 'no lines'}",
                               system="centra", codes=[{"code": e} for e in errors])
            seq = 1 + sum(1 for s in self.shipments.values() if s.order_number == order_number)
            shipment = CentraShipment(
                id=self._next_shipment, number=f"{order_number}-{seq}",
                order_number=order_number, external_id=external_id,
                lines=tuple(ShipmentLine(id=self._next_shipment_line + i, quantity=q)
                            for i, (_, q) in enumerate(lines)),
                is_good_to_go=good_to_go, is_paid=capture or paid, is_shipped=False)
            self._next_shipment += 1
            self._next_shipment_line += len(lines)
            self.shipments[shipment.id] = shipment
            self.shipment_order_lines[shipment.id] = tuple((int(lid), int(q))
                                                           for lid, q in lines)
            payments = order.payments
            if capture:
                unit = {line.id: line.unit_price for line in order.lines}
                value = Money.zero(order.currency)
                for lid, q in lines:
                    value = value + unit[lid].times(q)
                payments = (*payments, PaymentEntry(
                    entry_type="CAPTURE", status="SUCCESS", value=value,
                    external_reference=f"cap-{shipment.number}", created_at=self.clock.now(),
                    id=self._payment_id(), payment_method="adyen"))
            self.update_order(order_number, status=OrderStatus.PROCESSING, payments=payments)
            if drop:
                raise self._dropped("create_shipment")
            return shipment

    def complete_shipment(self, shipment_id: int, carrier: str, service: str,
                          tracking_numbers: Sequence[str], send_email: bool, *,
                          packages: int | None = None) -> CentraShipment:
        with self._lock:
            drop = self._before("complete_shipment", shipment_id, carrier, service,
                                tuple(tracking_numbers), send_email, write=True)
            shipment = self.shipments.get(shipment_id)
            if shipment is None:
                raise Rejected(f"centra completeShipment: shipment {shipment_id} not found",
                               system="centra", codes=[{"code": "Shipment not found"}])
            if shipment.is_shipped:
                raise Rejected(f"centra completeShipment: shipment {shipment_id} is already "
                               "shipped", system="centra",
                               codes=[{"code": "Shipment is already shipped"}])
            if not (shipment.is_good_to_go and shipment.is_paid):
                raise Rejected(f"centra completeShipment: shipment {shipment_id} must be good "
                               "to go and paid before it ships", system="centra",
                               codes=[{"code": "Shipment must be good to go and paid"}])
            shipment = replace(shipment, is_shipped=True, shipped_at=self.clock.now(),
                               carrier=carrier, service=service,
                               tracking_number=",".join(t for t in tracking_numbers if t))
            self.shipments[shipment_id] = shipment
            if send_email:
                self.emails.append(EmailSent(shipment.order_number, shipment_id))
            order = self.orders[shipment.order_number]
            left = self._unshipped(order)
            all_shipped = all(q <= 0 for q in left.values()) and all(
                s.is_shipped for s in self.shipments.values()
                if s.order_number == order.number)
            if all_shipped:
                self.update_order(order.number, status=OrderStatus.SHIPPED)
            if drop:
                raise self._dropped("complete_shipment")
            return shipment

    def cancel_order_lines(self, number: int, lines: Sequence[tuple[int, int]], *,
                           comment: str = "") -> None:
        """``updateDirectToConsumerOrder`` ``cancelLines``: units not on a shipment only."""
        with self._lock:
            drop = self._before("cancel_order_lines", number, tuple(lines), write=True)
            order = self.orders.get(number)
            if order is None:
                raise Rejected(f"centra updateDirectToConsumerOrder: order {number} not found",
                               system="centra", codes=[{"code": "Order not found"}])
            if order.status in (OrderStatus.CANCELLED, OrderStatus.SHIPPED,
                                OrderStatus.ARCHIVED):
                raise Rejected(f"centra cancelLines: order {number} is {order.status.value}",
                               system="centra", codes=[{"code": "Order is closed"}])
            left = self._unshipped(order)
            errors = [f"line {lid}: cannot cancel {q}, {left.get(lid, 0)} cancellable"
                      for lid, q in lines if q < 1 or q > left.get(lid, 0)]
            if errors:
                raise Rejected(f"centra cancelLines: {'; '.join(errors)}", system="centra",
                               codes=[{"code": e} for e in errors])
            cancel = dict(lines)
            new_lines = tuple(
                replace(ln, quantity=ln.quantity - cancel[ln.id],
                        cancelled_quantity=ln.cancelled_quantity + cancel[ln.id])
                if ln.id in cancel else ln for ln in order.lines)
            order = self.update_order(number, lines=new_lines)
            if all(ln.quantity == 0 for ln in order.lines):
                self.update_order(number, status=OrderStatus.CANCELLED)
            elif all(q <= 0 for q in self._unshipped(order).values()) and all(
                    s.is_shipped for s in self.shipments.values() if s.order_number == number):
                self.update_order(number, status=OrderStatus.SHIPPED)
            if drop:
                raise self._dropped("cancel_order_lines")

    def set_stock(self, warehouse_id: int, levels: Sequence[tuple[str, int]], *,
                  description: str = "Seamline stock sync") -> int:
        with self._lock:
            self._before("set_stock", warehouse_id, tuple(levels), write=True)
            for key, qty in levels:
                if qty < 0:
                    raise ValueError(f"stock for {key} is negative ({qty})")
                sku = self.ean_to_sku.get(key, key)
                allocated = self.allocated.get((warehouse_id, sku), 0)
                self.stock[(warehouse_id, sku)] = max(qty, allocated)
            chunks = (len(levels) + 99) // 100
            self.set_stock_calls += chunks
            return chunks

    def set_stock_sizes(self, warehouse_id: int, sizes: Sequence[tuple[str, int]], *,
                        description: str = "Seamline stock sync") -> StockPush:
        known = self.known_skus
        unknown = tuple(k for k, _ in sizes if known is not None
                        and self.ean_to_sku.get(k, k) not in known)
        rest = [(k, q) for k, q in sizes if k not in unknown]
        adjusted = tuple(k for k, q in rest
                         if q < self.allocated.get((warehouse_id, self.ean_to_sku.get(k, k)), 0))
        if rest:
            self.set_stock(warehouse_id, rest, description=description)
        return StockPush(mutations=1 + (1 if unknown and rest else 0), unknown=unknown,
                         adjusted=adjusted)

    def free_to_allocate(self, warehouse_id: int, sku: str) -> int:
        """Physical less allocated (what Centra would still sell)."""
        with self._lock:
            return (self.stock.get((warehouse_id, sku), 0)
                    - self.allocated.get((warehouse_id, sku), 0))

    def get_stock(self, warehouse_id: int, skus: Sequence[str]) -> list[StockLevel]:
        with self._lock:
            self._before("get_stock", warehouse_id, tuple(skus), write=False)
            out = []
            for sku in skus:
                if (warehouse_id, sku) not in self.stock:
                    continue
                physical = self.stock[(warehouse_id, sku)]
                allocated = self.allocated.get((warehouse_id, sku), 0)
                ean = next((e for e, s in self.ean_to_sku.items() if s == sku), "")
                out.append(StockLevel(sku=sku, ean=ean, physical=physical, allocated=allocated,
                                      free_to_allocate=physical - allocated))
            return out

    def rate_limits(self) -> list[RateLimitStatus]:
        with self._lock:
            self._before("rate_limits", write=False)
            return [RateLimitStatus(type=t, interval=i, quota=q, used=0, remaining=q)
                    for t, i, q in (("REQUEST_COUNT", "TEN_SECONDS", 60),
                                    ("REQUEST_COUNT", "ONE_HOUR", 5000),
                                    ("MUTATION_COUNT", "TEN_SECONDS", 20),
                                    ("MUTATION_COUNT", "ONE_HOUR", 1800),
                                    ("QUERY_COMPLEXITY", "TEN_SECONDS", 250_000),
                                    ("QUERY_COMPLEXITY", "ONE_HOUR", 30_000_000))]
