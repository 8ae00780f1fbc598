"""BlueCherry records as Seamline reads them back (canonical, adapter-independent). No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from seamline.domain.money import Money
from seamline.domain.sales_order import SalesOrder

__all__ = [
    "AtsCycle",
    "AtsItem",
    "CashApplication",
    "CashReceipt",
    "CatalogueItem",
    "CreditMemo",
    "CreditMemoLine",
    "Customer",
    "ErpCarton",
    "ErpInvoice",
    "ErpInvoiceLine",
    "ErpOrderLine",
    "ErpSalesOrder",
    "ErpShipment",
    "ErpShipmentLine",
    "MasterData",
    "PostResult",
    "WriteResult",
    "differences",
    "normalise_gtin",
]


def normalise_gtin(code: str) -> str:
    """A GTIN (UPC-A 12, EAN-13, GTIN-14) as 14 digits, or ``""`` when it is not one."""
    digits = code.strip()
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        return ""
    return digits.zfill(14)


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogueItem:
    sku: str
    upc: str
    division: str = ""
    style: str = ""
    color: str = ""
    size: str = ""
    description: str = ""

    @property
    def gtin14(self) -> str:
        return normalise_gtin(self.upc)


@dataclass(frozen=True, kw_only=True, slots=True)
class Customer:
    code: str
    division: str
    currency: str
    terms: str = ""
    stores: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class MasterData:
    """BlueCherry's codes, for mapping validation (``config check --online``)."""

    divisions: frozenset[str] = frozenset()
    #: warehouse code → division code
    warehouses: dict[str, str] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    ship_vias: frozenset[str] = frozenset()
    order_types: frozenset[str] = frozenset()
    terms: frozenset[str] = frozenset()
    #: season code → every division BlueCherry lists it under ("" in the set: company-wide).
    #: BlueCherry keeps seasons per division, so one code can be listed under several.
    seasons: dict[str, frozenset[str]] = field(default_factory=dict)

    def season_valid_for(self, season: str, division: str) -> bool:
        """Whether ``season`` exists and may be used by ``division`` (listed under it, or
        company-wide)."""
        divisions = self.seasons.get(season)
        return divisions is not None and ("" in divisions or division in divisions)


@dataclass(frozen=True, kw_only=True, slots=True)
class ErpOrderLine:
    line_no: int
    sku: str
    upc: str
    ordered_quantity: int
    cancelled_quantity: int = 0
    picked_quantity: int = 0
    shipped_quantity: int = 0
    unit_price: Money
    discount: Money
    tax: Money

    @property
    def open_quantity(self) -> int:
        return (self.ordered_quantity - self.cancelled_quantity - self.picked_quantity
                - self.shipped_quantity)


@dataclass(frozen=True, kw_only=True, slots=True)
class ErpSalesOrder:
    """A sales order as BlueCherry holds it now (edits by people included)."""

    order_no: str
    status: str
    customer_po: str
    external_reference: str
    customer: str
    division: str
    warehouse: str
    store: str
    currency: str
    ship_via: str = ""
    lines: tuple[ErpOrderLine, ...] = ()
    total: Money
    tax: Money
    created_at: datetime
    updated_at: datetime
    updated_by: str = ""
    #: The record exactly as BlueCherry returned it (canonical JSON-safe form).
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class PostResult:
    """Outcome of a create: ``created`` False means BlueCherry answered 409 with ``order``."""

    created: bool
    order: ErpSalesOrder
    #: 409 code when not created (``DUPLICATE_CUSTOMER_PO`` / ``DUPLICATE_EXTERNAL_REFERENCE``).
    duplicate_code: str = ""


def differences(sent: SalesOrder, existing: ErpSalesOrder) -> list[str]:
    """What differs between the order Seamline sent and the one BlueCherry holds.

    Empty means the existing order *is* the one sent (a 409 or a look-up after an ambiguous
    failure may then count as success).
    """
    diffs: list[str] = []
    for name in ("customer_po", "external_reference", "customer", "division", "warehouse",
                 "store", "currency"):
        a, b = getattr(sent, name), getattr(existing, name)
        if a != b:
            diffs.append(f"{name}: sent {a!r}, BlueCherry has {b!r}")
    if sent.totals.total != existing.total:
        diffs.append(f"total: sent {sent.totals.total}, BlueCherry has {existing.total}")
    theirs = {ln.line_no: ln for ln in existing.lines}
    for ln in sent.lines:
        other = theirs.pop(ln.line_no, None)
        if other is None:
            diffs.append(f"line {ln.line_no}: missing in BlueCherry")
            continue
        if other.sku != ln.sku or other.ordered_quantity != ln.quantity:
            diffs.append(
                f"line {ln.line_no}: sent {ln.quantity} x {ln.sku}, BlueCherry has "
                f"{other.ordered_quantity} x {other.sku}"
            )
        if other.unit_price != ln.unit_price or other.discount != ln.discount:
            diffs.append(
                f"line {ln.line_no}: sent price {ln.unit_price}/discount {ln.discount}, "
                f"BlueCherry has {other.unit_price}/{other.discount}"
            )
    for line_no in sorted(theirs):
        diffs.append(f"line {line_no}: in BlueCherry only")
    return diffs




# -- later flows: stock, shipments, invoices, payments, returns (additive) ----------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class AtsCycle:
    """One BlueCherry ATS batch cycle: figures are computed as of ``as_of``."""

    id: int
    as_of: datetime
    published_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class AtsItem:
    sku: str
    upc: str
    warehouse: str
    on_hand: int
    allocated: int
    open_demand: int
    ats: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ErpCarton:
    sscc: str = ""
    tracking_number: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class ErpShipmentLine:
    line_no: int
    sku: str
    upc: str
    quantity: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ErpShipment:
    """A BlueCherry shipment (partial or complete) of one sales order."""

    shipment_no: str
    order_no: str
    customer_po: str
    warehouse: str
    shipped_at: datetime
    ship_via: str = ""
    carrier: str = ""
    service: str = ""
    cartons: tuple[ErpCarton, ...] = ()
    lines: tuple[ErpShipmentLine, ...] = ()
    #: True on the shipment that leaves nothing open on the order.
    complete: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class ErpInvoiceLine:
    line_no: int
    sku: str
    upc: str
    quantity: int
    amount: Money
    tax: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class ErpInvoice:
    """One invoice per shipment."""

    invoice_no: str
    order_no: str
    customer_po: str
    shipment_no: str
    invoice_date: date
    currency: str
    lines: tuple[ErpInvoiceLine, ...] = ()
    charges: Money
    tax: Money
    total: Money
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class CashApplication:
    customer_po: str
    invoice_no: str
    amount: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class CashReceipt:
    """A cash receipt; ``reference`` is unique (a repeat is answered with the stored one)."""

    reference: str
    customer: str
    receipt_date: date
    currency: str
    amount: Money
    method: str = "CARD"
    applications: tuple[CashApplication, ...] = ()
    #: Set on receipts read back from BlueCherry: cash not applied to any invoice.
    unapplied: Money | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class CreditMemoLine:
    sku: str
    upc: str
    quantity: int
    amount: Money
    tax: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class CreditMemo:
    """A credit memo (return); ``reference`` is unique like a receipt's."""

    reference: str
    customer: str
    customer_po: str
    invoice_no: str
    currency: str
    lines: tuple[CreditMemoLine, ...] = ()
    charges: Money
    total: Money
    reason: str = ""
    #: Set on memos read back from BlueCherry.
    memo_no: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteResult(Generic[T]):
    """Outcome of a write keyed by a unique reference: ``created`` False means BlueCherry
    answered 409 with the stored record (compare it before counting it as done)."""

    created: bool
    record: T
