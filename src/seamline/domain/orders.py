"""Centra orders as Seamline reads them: the as-sold record. Pure data, no I/O.

Sign conventions (the Centra adapter normalises to these):

- every amount is a positive ``Money`` in the order's currency, except where noted;
- amounts are in the order's price mode: tax-inclusive when ``prices_include_tax`` (VAT markets),
  tax-exclusive when it is false (US sales tax); ``None`` when Centra's figures carry no tax at
  all, so both modes give the same amounts (the market's configured mode decides how it posts);
- ``voucher_discount`` is the order-level discount (vouchers, order discounts) as a positive amount,
  not yet spread over the lines;
- a line's ``unit_original_price`` is the pricelist price, ``unit_price`` the price after campaign
  and line discounts, ``line_value`` = ``unit_price`` × ``quantity`` (Centra's own figure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from seamline.domain.money import Money

__all__ = [
    "Address",
    "CentraOrder",
    "OrderLine",
    "OrderStatus",
    "PaymentEntry",
    "Voucher",
    "order_from_dict",
    "order_to_dict",
]


class OrderStatus(StrEnum):
    """Centra's GraphQL ``OrderStatus``."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    PROCESSING = "PROCESSING"
    SHIPPED = "SHIPPED"
    ARCHIVED = "ARCHIVED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, kw_only=True, slots=True)
class Address:
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    zip_code: str = ""
    state: str = ""
    #: ISO 3166-1 alpha-2.
    country: str = ""
    email: str = ""
    phone: str = ""

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderLine:
    #: Centra's order line id (``ProductOrderLine.id``).
    id: int
    #: ``productSize.SKU``: the full SKU (product + variant + size).
    sku: str
    #: ``productSize.EAN`` (may be empty).
    ean: str = ""
    product_name: str = ""
    size: str = ""
    #: Current quantity, excluding cancelled units.
    quantity: int
    cancelled_quantity: int = 0
    unit_original_price: Money
    unit_price: Money
    line_value: Money
    #: VAT / sales-tax rate in percent, e.g. ``Decimal("25")``.
    tax_percent: Decimal
    #: Centra's own tax on the line before any order-level voucher:
    #: ``lineValue(includingTax: true) - lineValue(includingTax: false)``.
    tax: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class Voucher:
    code: str = ""
    name: str = ""
    #: The discount it gave, positive.
    value: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentEntry:
    entry_type: str
    status: str
    value: Money
    external_reference: str = ""
    created_at: datetime | None = None
    #: Centra's id of the payment history entry (0 when not read).
    id: int = 0
    #: Centra's ``paymentMethod`` (the payment plugin), "" when Centra gives none.
    payment_method: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class CentraOrder:
    """One Centra direct-to-consumer order, read through the Integration API."""

    #: Centra's hash id.
    id: str
    #: Centra's order number: the business key of the order everywhere in Seamline.
    number: int
    status: OrderStatus
    store_id: int
    market_id: int
    market_name: str = ""
    currency: str
    #: Rate from the order currency to the base currency (kept on the ledger for reporting).
    conversion_rate: Decimal = Decimal(1)
    #: The price mode Centra's tax figures show: ``True`` (tax inside the prices, VAT),
    #: ``False`` (tax added on top, sales tax), ``None`` (no tax either way).
    prices_include_tax: bool | None
    order_date: datetime
    created_at: datetime | None = None
    updated_at: datetime
    is_on_hold: bool = False
    is_waiting_for_payment: bool = False
    is_locked: bool = False
    #: ``shippingPriceGroup.shippingOption.uri``.
    shipping_option: str | None = None
    customer_email: str = ""
    shipping_address: Address = field(default_factory=Address)
    billing_address: Address = field(default_factory=Address)
    lines: tuple[OrderLine, ...] = ()
    #: Shipping charged, in the price mode, after any free-shipping voucher.
    shipping: Money
    #: Tax contained in (VAT) or added to (sales tax) the shipping.
    shipping_tax: Money
    #: Handling fee charged (``totals.handling``), in the price mode. Centra publishes no tax
    #: figure of its own for it: the posting domain derives it (see ``pricing``).
    handling: Money
    #: Order-level discount (vouchers), positive, not on the lines yet.
    voucher_discount: Money
    vouchers: tuple[Voucher, ...] = ()
    #: The order's tax total: ``taxIncluded`` for VAT markets, ``taxAdded`` for sales tax.
    tax_total: Money
    grand_total: Money
    payments: tuple[PaymentEntry, ...] = ()

    @property
    def is_cancelled(self) -> bool:
        return self.status is OrderStatus.CANCELLED

    def live_lines(self) -> tuple[OrderLine, ...]:
        """Lines that still have units (fully cancelled lines dropped)."""
        return tuple(line for line in self.lines if line.quantity > 0)


# -- canonical JSON-safe form (the ledger keeps the last snapshot Seamline saw) -------------------


def _money(m: Money) -> str:
    return m.wire()


def _addr(a: Address) -> dict[str, str]:
    return {k: getattr(a, k) for k in Address.__dataclass_fields__}


def order_to_dict(order: CentraOrder) -> dict[str, object]:
    """``CentraOrder`` → JSON-safe dict (amounts as strings, times ISO 8601)."""
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status.value,
        "store_id": order.store_id,
        "market_id": order.market_id,
        "market_name": order.market_name,
        "currency": order.currency,
        "conversion_rate": str(order.conversion_rate),
        "prices_include_tax": order.prices_include_tax,
        "order_date": order.order_date.isoformat(),
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "updated_at": order.updated_at.isoformat(),
        "is_on_hold": order.is_on_hold,
        "is_waiting_for_payment": order.is_waiting_for_payment,
        "is_locked": order.is_locked,
        "shipping_option": order.shipping_option,
        "customer_email": order.customer_email,
        "shipping_address": _addr(order.shipping_address),
        "billing_address": _addr(order.billing_address),
        "lines": [
            {
                "id": ln.id, "sku": ln.sku, "ean": ln.ean, "product_name": ln.product_name,
                "size": ln.size, "quantity": ln.quantity,
                "cancelled_quantity": ln.cancelled_quantity,
                "unit_original_price": _money(ln.unit_original_price),
                "unit_price": _money(ln.unit_price), "line_value": _money(ln.line_value),
                "tax_percent": str(ln.tax_percent), "tax": _money(ln.tax),
            }
            for ln in order.lines
        ],
        "shipping": _money(order.shipping),
        "shipping_tax": _money(order.shipping_tax),
        "handling": _money(order.handling),
        "voucher_discount": _money(order.voucher_discount),
        "vouchers": [{"code": v.code, "name": v.name, "value": _money(v.value)}
                     for v in order.vouchers],
        "tax_total": _money(order.tax_total),
        "grand_total": _money(order.grand_total),
        "payments": [
            {"entry_type": p.entry_type, "status": p.status, "value": _money(p.value),
             "external_reference": p.external_reference,
             "created_at": p.created_at.isoformat() if p.created_at else None,
             "id": p.id, "payment_method": p.payment_method}
            for p in order.payments
        ],
    }


def order_from_dict(d: dict[str, Any]) -> CentraOrder:
    """The inverse of :func:`order_to_dict`."""
    cur = str(d["currency"])

    def m(v: object) -> Money:
        return Money.of(v, cur)

    def dt(v: object) -> datetime | None:
        return datetime.fromisoformat(str(v)) if v else None

    return CentraOrder(
        id=str(d["id"]),
        number=int(d["number"]),
        status=OrderStatus(d["status"]),
        store_id=int(d["store_id"]),
        market_id=int(d["market_id"]),
        market_name=str(d.get("market_name", "")),
        currency=cur,
        conversion_rate=Decimal(str(d.get("conversion_rate", "1"))),
        prices_include_tax=(None if d.get("prices_include_tax") is None
                            else bool(d["prices_include_tax"])),
        order_date=datetime.fromisoformat(d["order_date"]),
        created_at=dt(d.get("created_at")),
        updated_at=datetime.fromisoformat(d["updated_at"]),
        is_on_hold=bool(d.get("is_on_hold", False)),
        is_waiting_for_payment=bool(d.get("is_waiting_for_payment", False)),
        is_locked=bool(d.get("is_locked", False)),
        shipping_option=d.get("shipping_option"),
        customer_email=str(d.get("customer_email", "")),
        shipping_address=Address(**d.get("shipping_address", {})),
        billing_address=Address(**d.get("billing_address", {})),
        lines=tuple(
            OrderLine(
                id=int(ln["id"]), sku=str(ln["sku"]), ean=str(ln.get("ean", "")),
                product_name=str(ln.get("product_name", "")), size=str(ln.get("size", "")),
                quantity=int(ln["quantity"]),
                cancelled_quantity=int(ln.get("cancelled_quantity", 0)),
                unit_original_price=m(ln["unit_original_price"]),
                unit_price=m(ln["unit_price"]), line_value=m(ln["line_value"]),
                tax_percent=Decimal(str(ln["tax_percent"])),
                tax=m(ln.get("tax", "0")),
            )
            for ln in d.get("lines", [])
        ),
        shipping=m(d["shipping"]),
        shipping_tax=m(d["shipping_tax"]),
        handling=m(d.get("handling", "0")),
        voucher_discount=m(d["voucher_discount"]),
        vouchers=tuple(Voucher(code=str(v.get("code", "")), name=str(v.get("name", "")),
                               value=m(v["value"])) for v in d.get("vouchers", [])),
        tax_total=m(d["tax_total"]),
        grand_total=m(d["grand_total"]),
        payments=tuple(
            PaymentEntry(entry_type=str(p["entry_type"]), status=str(p["status"]),
                         value=m(p["value"]),
                         external_reference=str(p.get("external_reference", "")),
                         created_at=dt(p.get("created_at")), id=int(p.get("id") or 0),
                         payment_method=str(p.get("payment_method") or ""))
            for p in d.get("payments", [])
        ),
    )
