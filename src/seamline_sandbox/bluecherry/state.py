"""The BlueCherry sandbox's state: master data, SKUs, stock, sales orders, shipments, invoices,
cash receipts, credit memos and ATS cycles, with O(1) index look-ups.

All mutation runs on the server's event loop (handlers and scheduled jobs are coroutines on one
loop), so there are no locks. Times come from ``clock`` so tests can drive them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from seamline_sandbox import world as w
from seamline_sandbox.bluecherry.validation import (
    MasterIndex,
    ValidOrder,
    currency_digits,
    fmt_money,
)

__all__ = ["ApiError", "BlueCherryState", "Line", "Order", "utcnow"]

#: When the seeded master data and SKUs were last changed.
SEED_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.isoformat()


class ApiError(Exception):
    """An error answered with the contract's envelope."""

    def __init__(self, status: int, code: str, message: str,
                 details: list[dict[str, str]] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": {"code": self.code, "message": self.message,
                                         "details": self.details}}
        out.update(self.extra)
        return out


@dataclass(slots=True)
class Line:
    line_no: int
    sku: str
    upc: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax: Decimal
    tax_rate: str | None
    cancelled: int = 0
    picked: int = 0
    shipped: int = 0
    #: What earlier invoices already billed of the discount and tax (the last one takes the rest).
    invoiced_discount: Decimal = Decimal(0)
    invoiced_tax: Decimal = Decimal(0)

    @property
    def open(self) -> int:
        return self.quantity - self.cancelled - self.picked - self.shipped


@dataclass(slots=True)
class Charge:
    type: str
    amount: Decimal
    tax: Decimal
    tax_rate: str | None


@dataclass(slots=True)
class Order:
    seq: int
    order_no: str
    customer_po: str
    external_reference: str | None
    division: str
    warehouse: str
    customer: str
    store: str
    order_type: str
    season: str
    order_date: date
    start_date: date
    cancel_date: date
    currency: str
    digits: int
    ship_via: str
    terms: str
    prices_include_tax: bool
    bill_to: dict[str, str]
    ship_to: dict[str, str]
    lines: list[Line]
    charges: list[Charge]
    totals: dict[str, Decimal]
    created_at: datetime
    updated_at: datetime
    updated_by: str
    status: str = "OPEN"
    held: bool = False
    charges_invoiced: bool = False
    shipment_nos: list[str] = field(default_factory=list)

    def line(self, line_no: int) -> Line | None:
        for ln in self.lines:
            if ln.line_no == line_no:
                return ln
        return None

    def refresh_status(self) -> None:
        open_units = sum(ln.open for ln in self.lines)
        picked = sum(ln.picked for ln in self.lines)
        shipped = sum(ln.shipped for ln in self.lines)
        if open_units == 0 and picked == 0:
            if shipped == 0:
                self.status = "CANCELLED"
            else:
                self.status = "INVOICED"  # invoices are raised with each shipment
            return
        if self.held:
            self.status = "HELD"
        elif shipped:
            self.status = "SHIPPED"
        elif picked:
            self.status = "PICKED"
        else:
            self.status = "OPEN"

    def money(self, amount: Decimal) -> str:
        return fmt_money(amount, self.digits)

    def to_dict(self) -> dict[str, Any]:
        m = self.money
        return {
            "order_no": self.order_no,
            "status": self.status,
            "customer_po": self.customer_po,
            "external_reference": self.external_reference,
            "division": self.division,
            "warehouse": self.warehouse,
            "customer": self.customer,
            "store": self.store,
            "order_type": self.order_type,
            "season": self.season,
            "order_date": self.order_date.isoformat(),
            "start_date": self.start_date.isoformat(),
            "cancel_date": self.cancel_date.isoformat(),
            "currency": self.currency,
            "ship_via": self.ship_via,
            "terms": self.terms,
            "bill_to": dict(self.bill_to),
            "ship_to": dict(self.ship_to),
            "prices_include_tax": self.prices_include_tax,
            "lines": [
                {"line_no": ln.line_no, "upc": ln.upc, "sku": ln.sku, "quantity": ln.quantity,
                 "unit_price": m(ln.unit_price), "discount": m(ln.discount), "tax": m(ln.tax),
                 "tax_rate": ln.tax_rate,
                 "ordered_quantity": ln.quantity, "cancelled_quantity": ln.cancelled,
                 "picked_quantity": ln.picked, "shipped_quantity": ln.shipped,
                 "open_quantity": ln.open}
                for ln in self.lines
            ],
            "charges": [{"type": c.type, "amount": m(c.amount), "tax": m(c.tax),
                         "tax_rate": c.tax_rate} for c in self.charges],
            "totals": {k: m(v) for k, v in self.totals.items()},
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
        }


def _seq_no(prefix: str, n: int) -> str:
    return f"{prefix}-{n:06d}"


CARRIERS: dict[str, tuple[str, str]] = {
    # ship via → (carrier, service)
    "PNORD": ("PostNord", "Parcel"),
    "DHLP": ("DHL", "Paket"),
    "RMTR": ("Royal Mail", "Tracked 48"),
    "YAMT": ("Yamato", "TA-Q-BIN"),
    "UPSG": ("UPS", "Ground"),
}


class BlueCherryState:
    """Everything the sandbox holds; see the module docstring."""

    def __init__(self, *, seed: int = 1, clock: Callable[[], datetime] = utcnow,
                 key_names: dict[str, str] | None = None, styles: int = 40) -> None:
        self.clock = clock
        self.key_names = key_names or {}
        #: Catalogue size: ``styles`` × 3 colours × 5 sizes SKUs.
        self.styles = styles
        self.reset(seed)

    # -- set-up ----------------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.seed = seed
        world = w.build_world(self.seed, self.styles)
        self.items = world.bluecherry_items()
        self.item_by_sku = {i.sku: i for i in self.items}
        self.master = MasterIndex(
            divisions=frozenset(w.BC_DIVISIONS),
            warehouses={code: div for code, (_name, div) in w.BC_WAREHOUSES.items()},
            customers={code: (div, cur, terms, frozenset(stores))
                       for code, (_n, div, cur, terms, stores) in w.BC_CUSTOMERS.items()},
            ship_vias=frozenset(w.BC_SHIP_VIAS),
            order_types=frozenset(w.BC_ORDER_TYPES),
            terms=frozenset(w.BC_TERMS),
            sku_by_upc={i.upc: i.sku for i in self.items},
            upc_by_sku={i.sku: i.upc for i in self.items},
        )
        self.sku_updated_at: dict[str, datetime] = {i.sku: SEED_TIME for i in self.items}
        self.sku_order = [i.sku for i in self.items]
        rng = random.Random(self.seed * 7919 + 17)
        self.on_hand: dict[tuple[str, str], int] = {}
        for item in self.items:
            for wh in sorted(w.BC_WAREHOUSES):
                roll = rng.random()
                if roll < 0.08:
                    qty = 0
                elif wh == "W01":
                    qty = rng.randint(5, 80)
                else:
                    qty = rng.randint(1, 30)
                self.on_hand[(item.sku, wh)] = qty
        self.orders: list[Order] = []
        self.by_no: dict[str, Order] = {}
        self.by_ext_ref: dict[str, Order] = {}
        self.by_po: dict[tuple[str, str], Order] = {}
        self.cancels: dict[str, tuple[str, dict[str, Any]]] = {}
        self.shipments: list[dict[str, Any]] = []
        self.invoices: list[dict[str, Any]] = []
        self.invoice_by_no: dict[str, dict[str, Any]] = {}
        #: invoice → amount applied by receipts so far
        self.applied: dict[str, Decimal] = {}
        self.invoice_totals: dict[str, Decimal] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self.credit_memos: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, int] = {}
        self.rng = random.Random(self.seed)
        # ATS cycles live in ats.py; they keep their data here.
        from seamline_sandbox.bluecherry.ats import AtsBook  # noqa: PLC0415 (cycle import)

        self.ats = AtsBook(clock=self.now)
        self.ats.run_cycle(self)

    def next_no(self, prefix: str) -> tuple[int, str]:
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        return n, _seq_no(prefix, n)

    def now(self) -> datetime:
        return self.clock()

    # -- master data -----------------------------------------------------------------------------

    def master_lists(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "divisions": [{"code": c, "name": n} for c, n in w.BC_DIVISIONS.items()],
            "warehouses": [{"code": c, "name": n, "division": d}
                           for c, (n, d) in w.BC_WAREHOUSES.items()],
            "customers": [
                {"code": c, "name": n, "division": d, "currency": cur, "terms": t,
                 "stores": [{"code": s, "name": f"{n} {s}"} for s in stores]}
                for c, (n, d, cur, t, stores) in w.BC_CUSTOMERS.items()
            ],
            "ship-vias": [{"code": c, "scac": s, "name": n}
                          for c, (s, n) in w.BC_SHIP_VIAS.items()],
            "order-types": [{"code": c, "name": n} for c, n in w.BC_ORDER_TYPES.items()],
            "terms": [{"code": c, "name": n} for c, n in w.BC_TERMS.items()],
            "seasons": [{"code": c, "name": n, "division": d}
                        for c, (n, d) in w.BC_SEASONS.items()],
        }

    def sku_dict(self, sku: str) -> dict[str, Any]:
        i = self.item_by_sku[sku]
        return {"sku": i.sku, "upc": i.upc, "division": "", "style": i.style, "color": i.colour,
                "label": "", "dimension": "", "size": i.size,
                "description": f"{i.name} {i.colour_name} {i.size}",
                "retail_price": fmt_money(i.base_price, 2), "retail_currency": "SEK",
                "updated_at": iso(self.sku_updated_at[sku])}

    # -- sales orders ----------------------------------------------------------------------------

    def find_duplicate(self, v: ValidOrder) -> ApiError | None:
        if v.external_reference is not None:
            existing = self.by_ext_ref.get(v.external_reference)
            if existing is not None:
                return ApiError(409, "DUPLICATE_EXTERNAL_REFERENCE",
                                f"external_reference {v.external_reference} is "
                                f"{existing.order_no}", extra={"order": existing.to_dict()})
        existing = self.by_po.get((v.customer, v.customer_po))
        if existing is not None:
            return ApiError(409, "DUPLICATE_CUSTOMER_PO",
                            f"customer {v.customer} already has PO {v.customer_po}: "
                            f"{existing.order_no}", extra={"order": existing.to_dict()})
        return None

    def create_order(self, v: ValidOrder, *, by: str) -> Order:
        dup = self.find_duplicate(v)
        if dup is not None:
            raise dup
        now = self.now()
        seq, order_no = self.next_no("SO")
        order = Order(
            seq=seq, order_no=order_no, customer_po=v.customer_po,
            external_reference=v.external_reference, division=v.division,
            warehouse=v.warehouse, customer=v.customer, store=v.store, order_type=v.order_type,
            season=v.season, order_date=v.order_date, start_date=v.start_date,
            cancel_date=v.cancel_date, currency=v.currency, digits=v.digits,
            ship_via=v.ship_via, terms=v.terms, prices_include_tax=v.prices_include_tax,
            bill_to=v.bill_to, ship_to=v.ship_to,
            lines=[Line(line_no=ln.line_no, sku=ln.sku, upc=ln.upc, quantity=ln.quantity,
                        unit_price=ln.unit_price, discount=ln.discount, tax=ln.tax,
                        tax_rate=ln.tax_rate) for ln in v.lines],
            charges=[Charge(type=c.type, amount=c.amount, tax=c.tax, tax_rate=c.tax_rate)
                     for c in v.charges],
            totals=dict(v.totals), created_at=now, updated_at=now, updated_by=by,
        )
        self.orders.append(order)
        self.by_no[order_no] = order
        if v.external_reference is not None:
            self.by_ext_ref[v.external_reference] = order
        self.by_po[(v.customer, v.customer_po)] = order
        return order

    def key_in_order(self, *, customer: str, warehouse: str, lines: list[tuple[str, int]],
                     login: str = "sales", customer_po: str | None = None) -> Order:
        """A person keys an order into BlueCherry (a wholesale order, typically): no API call,
        ``updated_by: user:<login>``, no totals checks. It counts in ATS from the next cycle
        whose ``as_of`` is at or after now."""
        if customer not in self.master.customers:
            raise ApiError(422, "UNKNOWN_CUSTOMER", f"no customer {customer}")
        if warehouse not in self.master.warehouses:
            raise ApiError(422, "UNKNOWN_WAREHOUSE", f"no warehouse {warehouse}")
        division, currency, terms, stores = self.master.customers[customer]
        now = self.now()
        seq, order_no = self.next_no("SO")
        order_lines = []
        for i, (sku, qty) in enumerate(lines, start=1):
            item = self.item_by_sku.get(sku)
            if item is None or qty < 1:
                raise ApiError(422, "UNKNOWN_SKU", f"no SKU {sku} (or quantity {qty} < 1)")
            order_lines.append(Line(line_no=i, sku=sku, upc=item.upc, quantity=qty,
                                    unit_price=Decimal(0), discount=Decimal(0), tax=Decimal(0),
                                    tax_rate=None))
        order = Order(
            seq=seq, order_no=order_no, customer_po=customer_po or f"WH-{seq}",
            external_reference=None, division=division, warehouse=warehouse,
            customer=customer, store=sorted(stores)[0], order_type="WHSL", season="FW26",
            order_date=now.date(), start_date=now.date(), cancel_date=now.date(),
            currency=currency, digits=currency_of(currency), ship_via="PNORD", terms=terms,
            prices_include_tax=False, bill_to={}, ship_to={}, lines=order_lines, charges=[],
            totals={}, created_at=now, updated_at=now, updated_by=f"user:{login}")
        self.orders.append(order)
        self.by_no[order_no] = order
        self.by_po[(customer, order.customer_po)] = order
        return order

    def get_order(self, order_no: str) -> Order:
        order = self.by_no.get(order_no)
        if order is None:
            raise ApiError(404, "NOT_FOUND", f"no sales order {order_no[:40]!r}")
        return order

    def touch(self, order: Order, by: str) -> None:
        order.updated_at = self.now()
        order.updated_by = by
        order.refresh_status()

    def cancel(self, order_no: str, body: Any, *, by: str) -> tuple[int, dict[str, Any]]:
        """``POST /sales-orders/{no}/cancel``: (status, body)."""
        if not isinstance(body, dict):
            raise ApiError(422, "MALFORMED", "the body must be a JSON object",
                           [{"field": "", "code": "MALFORMED", "message": "not an object"}])
        details: list[dict[str, str]] = []
        unknown = set(body) - {"reference", "lines", "reason"}
        for key in sorted(map(str, unknown)):
            details.append({"field": key[:60], "code": "MALFORMED", "message": "unknown field"})
        reference = body.get("reference")
        if not isinstance(reference, str) or not reference or len(reference) > 200:
            details.append({"field": "reference", "code": "MALFORMED",
                            "message": "reference must be a non-empty string"})
        reason = body.get("reason", "")
        if reason is None:
            reason = ""
        if not isinstance(reason, str) or len(reason) > 500:
            details.append({"field": "reason", "code": "MALFORMED",
                            "message": "reason must be a string"})
        raw_lines = body.get("lines")
        asked: list[tuple[int, int]] | None = None
        if raw_lines is not None:
            if not isinstance(raw_lines, list) or len(raw_lines) > 1000:
                details.append({"field": "lines", "code": "MALFORMED",
                                "message": "lines must be a list or null"})
            else:
                asked = []
                for i, raw in enumerate(raw_lines):
                    fld = f"lines[{i}]"
                    if not isinstance(raw, dict):
                        details.append({"field": fld, "code": "MALFORMED",
                                        "message": "a line must be an object"})
                        continue
                    ln_no, qty = raw.get("line_no"), raw.get("quantity")
                    if isinstance(ln_no, bool) or not isinstance(ln_no, int):
                        details.append({"field": f"{fld}.line_no", "code": "BAD_LINE_NO",
                                        "message": "line_no must be an integer"})
                        continue
                    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
                        details.append({"field": f"{fld}.quantity", "code": "BAD_QUANTITY",
                                        "message": "quantity must be a positive integer"})
                        continue
                    asked.append((ln_no, qty))
        if details:
            raise ApiError(422, details[0]["code"], "the cancel request is invalid", details)
        assert isinstance(reference, str)
        stored = self.cancels.get(reference)
        if stored is not None:
            stored_order, result = stored
            if stored_order != order_no:
                raise ApiError(409, "DUPLICATE_REFERENCE",
                               f"reference {reference} was used to cancel {stored_order}",
                               extra={"cancellation": result})
            return 200, result
        order = self.get_order(order_no)
        plan: list[tuple[Line, int]] = []
        if asked is None:
            plan = [(ln, ln.open) for ln in order.lines if ln.open > 0]
            if not plan and any(ln.picked or ln.shipped for ln in order.lines):
                raise ApiError(409, "LINE_PICKED_OR_SHIPPED",
                               f"{order_no} has no open units: they are picked or shipped")
        else:
            totals: dict[int, int] = {}
            for ln_no, qty in asked:
                totals[ln_no] = totals.get(ln_no, 0) + qty
            for ln_no, qty in totals.items():
                ln = order.line(ln_no)
                if ln is None:
                    details.append({"field": "lines", "code": "BAD_LINE_NO",
                                    "message": f"{order_no} has no line {ln_no}"})
                    continue
                if qty > ln.open:
                    if qty <= ln.quantity - ln.cancelled:
                        raise ApiError(
                            409, "LINE_PICKED_OR_SHIPPED",
                            f"line {ln_no}: {qty} asked, {ln.open} open, {ln.picked} picked, "
                            f"{ln.shipped} shipped",
                            [{"field": f"lines.{ln_no}", "code": "LINE_PICKED_OR_SHIPPED",
                              "message": "the units asked for are picked or shipped"}])
                    details.append({"field": f"lines.{ln_no}", "code": "BAD_QUANTITY",
                                    "message": f"line {ln_no}: {qty} asked, only {ln.open} open"})
                    continue
                plan.append((ln, qty))
            if details:
                raise ApiError(422, details[0]["code"], "more than is open", details)
        for ln, qty in plan:
            ln.cancelled += qty
        if plan:
            self.touch(order, by)
        result = {
            "reference": reference, "order_no": order_no, "reason": reason,
            "cancelled": [{"line_no": ln.line_no, "quantity": qty} for ln, qty in plan],
            "order": order.to_dict(),
        }
        self.cancels[reference] = (order_no, result)
        return 200, result

    def edit_order(self, order_no: str, *, login: str, lines: list[dict[str, Any]] | None = None,
                   warehouse: str | None = None, hold: bool | None = None,
                   ship_via: str | None = None,
                   ship_to: dict[str, Any] | None = None,
                   cancel: list[dict[str, Any]] | None = None) -> Order:
        """A person edits the order in BlueCherry (drift for Seamline): ``updated_by:
        user:<login>`` and ``updated_at`` now, so it is listed by ``updated_since``."""
        order = self.get_order(order_no)
        if ship_via is not None:
            if ship_via not in self.master.ship_vias:
                raise ApiError(422, "UNKNOWN_SHIP_VIA", f"{ship_via!r} is not a ship via")
            order.ship_via = ship_via
        if ship_to is not None:
            unknown = set(ship_to) - set(order.ship_to)
            if unknown:
                raise ApiError(422, "MALFORMED", f"unknown address fields {sorted(unknown)}")
            order.ship_to = {**order.ship_to, **{k: str(v) for k, v in ship_to.items()}}
        if warehouse is not None:
            div = self.master.warehouses.get(warehouse)
            if div is None or div != order.division:
                raise ApiError(422, "UNKNOWN_WAREHOUSE", f"{warehouse!r} not in {order.division}")
            order.warehouse = warehouse
        for change in lines or []:
            ln = order.line(int(change["line_no"]))
            if ln is None:
                raise ApiError(422, "BAD_LINE_NO", f"no line {change['line_no']}")
            if "quantity" in change:
                qty = int(change["quantity"])
                if qty < ln.cancelled + ln.picked + ln.shipped or qty < 0:
                    raise ApiError(422, "BAD_QUANTITY", "below what is cancelled/picked/shipped")
                old_net = ln.unit_price * ln.quantity - ln.discount
                ln.discount = _q(ln.discount * qty / ln.quantity, order.digits) \
                    if ln.quantity else Decimal(0)
                ln.quantity = qty
                self._rescale_tax(order, ln, old_net)
            if "unit_price" in change:
                old_net = ln.unit_price * ln.quantity - ln.discount
                ln.unit_price = _q(Decimal(str(change["unit_price"])), order.digits)
                self._rescale_tax(order, ln, old_net)
            if "discount" in change:
                old_net = ln.unit_price * ln.quantity - ln.discount
                ln.discount = _q(Decimal(str(change["discount"])), order.digits)
                self._rescale_tax(order, ln, old_net)
        for change in cancel or []:  # a person cancels open units (not through the API)
            ln = order.line(int(change["line_no"]))
            qty = int(change["quantity"])
            if ln is None or qty < 0 or qty > ln.open:
                raise ApiError(422, "BAD_QUANTITY", "cancel more than is open, or no such line")
            ln.cancelled += qty
        if hold is not None:
            order.held = hold
        self._recompute_totals(order)
        self.touch(order, f"user:{login}")
        return order

    @staticmethod
    def _rescale_tax(order: Order, ln: Line, old_net: Decimal) -> None:
        new_net = ln.unit_price * ln.quantity - ln.discount
        ln.tax = _q(ln.tax * new_net / old_net, order.digits) if old_net else Decimal(0)

    @staticmethod
    def _recompute_totals(order: Order) -> None:
        merch = sum((ln.unit_price * ln.quantity for ln in order.lines), Decimal(0))
        disc = sum((ln.discount for ln in order.lines), Decimal(0))
        charges = sum((c.amount for c in order.charges), Decimal(0))
        tax = sum((ln.tax for ln in order.lines), Decimal(0)) + \
            sum((c.tax for c in order.charges), Decimal(0))
        total = merch - disc + charges + (Decimal(0) if order.prices_include_tax else tax)
        order.totals = {"merchandise": merch, "discount": disc, "charges": charges, "tax": tax,
                        "total": total}

    # -- state summary (control API) -------------------------------------------------------------

    def external_reference_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.orders:
            if o.external_reference is not None:
                counts[o.external_reference] = counts.get(o.external_reference, 0) + 1
        return counts

    def summary(self) -> dict[str, Any]:
        latest = self.ats.latest
        return {
            "seed": self.seed,
            "orders": len(self.orders),
            "shipments": len(self.shipments),
            "invoices": len(self.invoices),
            "cash_receipts": len(self.receipts),
            "credit_memos": len(self.credit_memos),
            "duplicate_external_references": sum(
                1 for n in self.external_reference_counts().values() if n > 1),
            "ats_cycle": latest.to_dict() if latest else None,
        }


def _q(amount: Decimal, digits: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def currency_of(code: str) -> int:
    digits = currency_digits(code)
    if digits is None:
        raise ValueError(code)
    return digits
