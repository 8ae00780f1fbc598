"""Centra orders as Seamline reads them: the as-sold record. Pure data, no I/O.

Sign conventions (the Centra adapter normalises to these):

- every amount is a positive ``Money`` in the order's currency, except where noted;
- amounts are in the order's price mode: tax-inclusive when ``prices_include_tax`` (VAT markets),
  tax-exclusive otherwise (US sales tax);
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

from seamline.domain.money import Money

__all__ = [
    "Address",
    "CentraOrder",
    "OrderLine",
    "OrderStatus",
    "PaymentEntry",
    "TaxPart",
    "Voucher",
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


@dataclass(frozen=True, kw_only=True, slots=True)
class Voucher:
    code: str = ""
    name: str = ""
    #: The discount it gave, positive.
    value: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class TaxPart:
    """Centra's tax total for one rate (lines and charges of that rate together)."""

    rate: Decimal
    amount: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentEntry:
    entry_type: str
    status: str
    value: Money
    external_reference: str = ""
    created_at: datetime | None = None


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
    prices_include_tax: bool
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
    #: Order-level discount (vouchers), positive, not on the lines yet.
    voucher_discount: Money
    vouchers: tuple[Voucher, ...] = ()
    #: The order's tax total: ``taxIncluded`` for VAT markets, ``taxAdded`` for sales tax.
    tax_total: Money
    #: Tax per rate over lines and charges. Empty when Centra gives a single rate's total only.
    tax_breakdown: tuple[TaxPart, ...] = ()
    grand_total: Money
    #: The external id (ERP order number) written back by an integration, if any.
    external_id: str | None = None
    payments: tuple[PaymentEntry, ...] = ()

    @property
    def is_cancelled(self) -> bool:
        return self.status is OrderStatus.CANCELLED

    def live_lines(self) -> tuple[OrderLine, ...]:
        """Lines that still have units (fully cancelled lines dropped)."""
        return tuple(line for line in self.lines if line.quantity > 0)
