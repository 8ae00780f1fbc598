"""BlueCherry records as Seamline reads them back (canonical, adapter-independent). No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from seamline.domain.money import Money
from seamline.domain.sales_order import SalesOrder

__all__ = [
    "CatalogueItem",
    "Customer",
    "ErpOrderLine",
    "ErpSalesOrder",
    "MasterData",
    "PostResult",
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
    #: season code → division code ("" when the season is company-wide)
    seasons: dict[str, str] = field(default_factory=dict)


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


