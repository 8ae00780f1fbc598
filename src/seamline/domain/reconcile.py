"""The daily reconciliation's rules: what counts as a difference, its class, its owner. No I/O.

A report covers one business day, one market and one currency. Three comparisons feed it:

* **orders**: each Centra order of the day (Centra is the truth for the as-sold amounts) against
  the BlueCherry sales order as BlueCherry holds it now — ``missing_in_bluecherry``,
  ``not_posted`` (still waiting, for a reason the ledger names),
  ``total_mismatch`` (the first differing component named: lines, discount, tax, charges) or
  ``currency_rounding`` (the totals differ by exactly one minor unit);
* **invoices and receipts** of the day: ``invoiced_not_paid`` (an invoice dated that day that the
  day's receipts do not cover in full) and ``paid_not_invoiced`` (cash received that day that is
  applied to no invoice);
* **refunds and credit memos** of the day: ``refund_without_credit_memo`` (Centra refunded, no
  memo) and ``credit_memo_mismatch`` (the memos of an order differ from its refunds).

Every row carries both figures and ``difference = centra − bluecherry`` (for invoices: invoiced −
received), so a report's totals are sums over its rows and tie out by construction, checked by
:meth:`ReportTotals.ties_out`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from seamline.domain.money import quantum

__all__ = ["Difference", "DifferenceKind", "ErpOrderFigures", "OrderFigures", "ReportTotals",
           "compare_invoice", "compare_order", "compare_refunds", "unapplied_cash"]

COMPONENTS = ("merchandise", "discount", "tax", "charges")
#: How a component is named to finance ("lines" rather than "merchandise").
COMPONENT_NAMES = {"merchandise": "lines", "discount": "discount", "tax": "tax",
                   "charges": "shipping/charges"}


class DifferenceKind(StrEnum):
    MISSING_IN_BLUECHERRY = "missing_in_bluecherry"
    NOT_POSTED = "not_posted"
    TOTAL_MISMATCH = "total_mismatch"
    CURRENCY_ROUNDING = "currency_rounding"
    INVOICED_NOT_PAID = "invoiced_not_paid"
    PAID_NOT_INVOICED = "paid_not_invoiced"
    REFUND_WITHOUT_CREDIT_MEMO = "refund_without_credit_memo"
    CREDIT_MEMO_MISMATCH = "credit_memo_mismatch"


#: Who acts on each class (finance by default; a missing order is the order flow's).
OWNERS: Mapping[DifferenceKind, str] = dict.fromkeys(DifferenceKind, "finance")


@dataclass(frozen=True, slots=True)
class Difference:
    """One row of the report. Amounts are ``Decimal`` in ``currency``'s minor unit."""

    kind: DifferenceKind
    order: str
    reference: str
    centra: Decimal
    bluecherry: Decimal
    currency: str
    component: str = ""
    note: str = ""

    @property
    def owner(self) -> str:
        return OWNERS[self.kind]

    @property
    def difference(self) -> Decimal:
        return self.centra - self.bluecherry

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        num = int(self.order) if self.order.isdigit() else -1
        return (self.kind.value, num, self.order, self.reference)

    def to_dict(self) -> dict[str, str]:
        q = quantum(self.currency)
        return {
            "kind": self.kind.value, "owner": self.owner, "order": self.order,
            "reference": self.reference, "component": self.component,
            "currency": self.currency, "centra": str(self.centra.quantize(q)),
            "bluecherry": str(self.bluecherry.quantize(q)),
            "difference": str(self.difference.quantize(q)), "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class OrderFigures:
    """A Centra order's as-sold figures: the grand total from the ledger's Centra snapshot and
    the components as posted (the frozen payload, built from Centra's amounts)."""

    number: int
    currency: str
    total: Decimal
    components: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErpOrderFigures:
    """A BlueCherry sales order's figures as BlueCherry holds them now."""

    order_no: str
    currency: str
    total: Decimal
    components: Mapping[str, Decimal] = field(default_factory=dict)
    updated_by: str = ""


def compare_order(centra: OrderFigures, erp: ErpOrderFigures | None, *, posted: bool = True,
                  reason: str = "") -> Difference | None:
    """The difference between a Centra order and its BlueCherry sales order, if any.

    An order BlueCherry lacks is ``missing_in_bluecherry`` when Seamline's ledger says it was
    posted (or says nothing of why not), and ``not_posted`` with the ledger's ``reason`` when it
    still waits for a named reason or an open exception (already someone's to act on)."""
    order = str(centra.number)
    if erp is None:
        if not posted and reason:
            return Difference(DifferenceKind.NOT_POSTED, order, "", centra.total, Decimal(0),
                              centra.currency, note=reason)
        return Difference(DifferenceKind.MISSING_IN_BLUECHERRY, order, "", centra.total,
                          Decimal(0), centra.currency)
    if erp.currency != centra.currency:
        return Difference(DifferenceKind.TOTAL_MISMATCH, order, erp.order_no, centra.total,
                          erp.total, centra.currency, "currency",
                          f"BlueCherry holds it in {erp.currency}")
    if erp.total == centra.total:
        return None
    differing = [c for c in COMPONENTS
                 if c in centra.components and c in erp.components
                 and centra.components[c] != erp.components[c]]
    component = ", ".join(COMPONENT_NAMES[c] for c in differing) or "total"
    note = f"changed by {erp.updated_by}" if erp.updated_by.startswith("user:") else ""
    if abs(centra.total - erp.total) == quantum(centra.currency):
        return Difference(DifferenceKind.CURRENCY_ROUNDING, order, erp.order_no, centra.total,
                          erp.total, centra.currency, component, note)
    return Difference(DifferenceKind.TOTAL_MISMATCH, order, erp.order_no, centra.total,
                      erp.total, centra.currency, component, note)


def compare_invoice(order: str, invoice_no: str, currency: str, invoiced: Decimal,
                    received: Decimal) -> Difference | None:
    """An invoice of the day against the cash the day's receipts applied to it."""
    if received >= invoiced:
        return None
    return Difference(DifferenceKind.INVOICED_NOT_PAID, order, invoice_no, invoiced, received,
                      currency)


def unapplied_cash(order: str, receipt: str, currency: str,
                   unapplied: Decimal) -> Difference | None:
    """Cash received that no invoice took: paid but not invoiced (the cash is the BlueCherry
    figure; the invoiced figure is zero)."""
    if unapplied <= 0:
        return None
    return Difference(DifferenceKind.PAID_NOT_INVOICED, order, receipt, Decimal(0), unapplied,
                      currency)


def compare_refunds(order: str, currency: str, refunded: Decimal, credited: Decimal,
                    memos: str) -> Difference | None:
    """An order's Centra refunds of the day against its credit memos of the day."""
    if refunded == credited:
        return None
    if credited == 0:
        return Difference(DifferenceKind.REFUND_WITHOUT_CREDIT_MEMO, order, "", refunded,
                          Decimal(0), currency)
    return Difference(DifferenceKind.CREDIT_MEMO_MISMATCH, order, memos, refunded, credited,
                      currency)


@dataclass(slots=True)
class ReportTotals:
    """Per market and currency: the day's figures, and the sums over the difference rows."""

    currency: str
    orders: int = 0
    centra_total: Decimal = Decimal(0)
    bluecherry_total: Decimal = Decimal(0)
    invoiced: Decimal = Decimal(0)
    received: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    credited: Decimal = Decimal(0)
    differences: int = 0
    rows_centra: Decimal = Decimal(0)
    rows_bluecherry: Decimal = Decimal(0)
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, row: Difference) -> None:
        self.differences += 1
        self.rows_centra += row.centra
        self.rows_bluecherry += row.bluecherry
        self.by_kind[row.kind.value] = self.by_kind.get(row.kind.value, 0) + 1

    @property
    def rows_difference(self) -> Decimal:
        return self.rows_centra - self.rows_bluecherry

    def ties_out(self, rows: Iterable[Difference]) -> bool:
        """Whether these totals are exactly the sums over ``rows``."""
        rows = list(rows)
        return (len(rows) == self.differences
                and sum((r.centra for r in rows), Decimal(0)) == self.rows_centra
                and sum((r.bluecherry for r in rows), Decimal(0)) == self.rows_bluecherry)

    def to_dict(self) -> dict[str, Any]:
        q = quantum(self.currency)

        def s(v: Decimal) -> str:
            return str(v.quantize(q))

        return {
            "currency": self.currency, "orders": self.orders,
            "centra_total": s(self.centra_total), "bluecherry_total": s(self.bluecherry_total),
            "invoiced": s(self.invoiced), "received": s(self.received),
            "refunded": s(self.refunded), "credited": s(self.credited),
            "differences": self.differences, "rows_centra": s(self.rows_centra),
            "rows_bluecherry": s(self.rows_bluecherry),
            "rows_difference": s(self.rows_difference),
            "by_kind": dict(sorted(self.by_kind.items())),
        }
