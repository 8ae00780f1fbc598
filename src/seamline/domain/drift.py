"""Drift: a BlueCherry sales order that no longer says what Seamline posted. Pure, no I/O.

Seamline compares the order as BlueCherry holds it now with the payload it froze and posted
(``SalesOrder.to_dict``), field by field: codes, dates, addresses, lines (SKU, UPC, ordered
quantity, unit price, discount, tax, tax rate), charges, totals, and a hold. What BlueCherry's
own processes change is *not* compared: picked, shipped and cancelled quantities and the status
moving through ``PICKED``/``SHIPPED``/``INVOICED``/``CANCELLED``. Those change through the
warehouse (``system:warehouse``: picks, shipments, short-ship cancels of the unshipped rest) and
through Seamline's own cancels (``api:<key>``, the contract's cancel call), and never through
the ordered quantities or prices: the contract has no update call, so only a person in
BlueCherry (``user:<login>``) can change what is compared.

Two triggers, as the design says: a difference found by the comparison, whoever made it; and an
order last changed by a person (``updated_by: user:…``) even when no compared field differs
(e.g. a person cancelled units by hand), reported as one ``edited by`` row.

Owner: differences in amounts only (prices, discounts, tax, charges, totals) are finance's;
anything else (codes, addresses, lines, quantities, a hold, an edit by hand) is ecommerce's,
whose order flow posted what is now changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from seamline.domain.erp import ErpSalesOrder

__all__ = [
    "AMOUNTS",
    "CorrectionPlan",
    "FieldDiff",
    "compare",
    "correction_plan",
    "drift_rows",
    "editor_kind",
    "fingerprint",
    "is_accepted",
    "owner_for",
    "view_of",
]

AMOUNTS = "amounts"
LINES = "lines"
CODES = "codes"
ADDRESS = "address"
EDIT = "edit"

#: Order-level fields compared as text (codes and dates).
CODE_FIELDS = ("customer_po", "external_reference", "division", "warehouse", "customer",
               "store", "order_type", "season", "terms", "ship_via", "currency", "order_date",
               "start_date", "cancel_date", "prices_include_tax")
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country",
                  "email", "phone")
LINE_TEXT = ("sku", "upc")
LINE_MONEY = ("unit_price", "discount", "tax")
TOTALS = ("merchandise", "discount", "charges", "tax", "total")
_ABSENT = "(none)"


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One field that differs: what Centra says (as Seamline posted it) and what BlueCherry
    says now. ``area`` decides the owner; ``line_no`` names the BlueCherry line."""

    field: str
    centra: str
    bluecherry: str
    area: str
    line_no: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "centra": self.centra, "bluecherry": self.bluecherry,
                "area": self.area, "line_no": self.line_no}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FieldDiff:
        line = d.get("line_no")
        return cls(str(d["field"]), str(d["centra"]), str(d["bluecherry"]), str(d["area"]),
                   None if line is None else int(line))


def editor_kind(updated_by: str) -> str:
    """``person`` (``user:``), ``process`` (``system:``), ``integration`` (``api:``) or
    ``unknown``."""
    prefix = updated_by.partition(":")[0]
    return {"user": "person", "system": "process", "api": "integration"}.get(prefix, "unknown")


def view_of(order: ErpSalesOrder) -> dict[str, Any]:
    """The compared fields of a BlueCherry order: its typed fields (what every adapter reads)
    over the raw record (addresses, charges, totals and the codes the typed record lacks)."""
    raw = dict(order.raw)
    view: dict[str, Any] = {k: raw.get(k) for k in CODE_FIELDS}
    view.update(customer_po=order.customer_po, external_reference=order.external_reference,
                division=order.division, warehouse=order.warehouse, customer=order.customer,
                store=order.store, currency=order.currency, ship_via=order.ship_via)
    for side in ("bill_to", "ship_to"):
        addr = raw.get(side)
        view[side] = dict(addr) if isinstance(addr, Mapping) else None
    raw_lines = {int(ln.get("line_no", 0)): ln for ln in raw.get("lines") or []
                 if isinstance(ln, Mapping)}
    view["lines"] = [
        {"line_no": ln.line_no, "sku": ln.sku, "upc": ln.upc, "quantity": ln.ordered_quantity,
         "unit_price": ln.unit_price.wire(), "discount": ln.discount.wire(),
         "tax": ln.tax.wire(), "tax_rate": raw_lines.get(ln.line_no, {}).get("tax_rate")}
        for ln in order.lines
    ]
    charges = raw.get("charges")
    view["charges"] = ([dict(c) for c in charges if isinstance(c, Mapping)]
                       if isinstance(charges, list) else None)
    totals = raw.get("totals")
    view["totals"] = dict(totals) if isinstance(totals, Mapping) else None
    if view["totals"] is not None:
        view["totals"].update(total=order.total.wire(), tax=order.tax.wire())
    view["held"] = order.status == "HELD"
    return view


def _num(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _same(a: Any, b: Any, *, number: bool = False) -> bool:
    if number:
        x, y = _num(a), _num(b)
        if x is not None and y is not None:
            return x == y
    return _text(a) == _text(b)


def _text(value: Any) -> str:
    if value is None:
        return _ABSENT
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compare(sent: Mapping[str, Any], held: Mapping[str, Any]) -> list[FieldDiff]:
    """Every compared field where ``held`` (``view_of`` the BlueCherry order) differs from
    ``sent`` (the frozen payload). Fields BlueCherry did not return (``None`` in the view) are
    not compared."""
    out: list[FieldDiff] = []
    for name in CODE_FIELDS:
        theirs = held.get(name)
        if theirs is not None and not _same(sent.get(name), theirs):
            out.append(FieldDiff(name, _text(sent.get(name)), _text(theirs), CODES))
    for side in ("bill_to", "ship_to"):
        theirs_addr = held.get(side)
        if theirs_addr is None:
            continue
        ours_addr = sent.get(side) or {}
        for f in ADDRESS_FIELDS:
            a, b = ours_addr.get(f) or "", theirs_addr.get(f) or ""
            if a != b:
                out.append(FieldDiff(f"{side}.{f}", a or _ABSENT, b or _ABSENT, ADDRESS))
    out += _compare_lines(sent.get("lines") or [], held.get("lines") or [])
    if held.get("charges") is not None:
        out += _compare_charges(sent.get("charges") or [], held["charges"])
    if held.get("totals") is not None:
        ours_t = sent.get("totals") or {}
        for f in TOTALS:
            b = held["totals"].get(f)
            if b is not None and not _same(ours_t.get(f), b, number=True):
                out.append(FieldDiff(f"totals.{f}", _text(ours_t.get(f)), _text(b), AMOUNTS))
    if held.get("held"):
        out.append(FieldDiff("status", "not held", "HELD", LINES))
    return out


def _compare_lines(ours: Sequence[Mapping[str, Any]],
                   theirs: Sequence[Mapping[str, Any]]) -> list[FieldDiff]:
    out: list[FieldDiff] = []
    by_no = {int(ln["line_no"]): ln for ln in theirs}
    for ln in ours:
        no = int(ln["line_no"])
        other = by_no.pop(no, None)
        if other is None:
            out.append(FieldDiff(f"line {no}", f"{ln['quantity']} x {ln['sku']}",
                                 "missing", LINES, no))
            continue
        for f in LINE_TEXT:
            if other.get(f) is not None and not _same(ln.get(f), other.get(f)):
                out.append(FieldDiff(f"line {no} {f}", _text(ln.get(f)), _text(other.get(f)),
                                     LINES, no))
        if int(other["quantity"]) != int(ln["quantity"]):
            out.append(FieldDiff(f"line {no} quantity", str(ln["quantity"]),
                                 str(other["quantity"]), LINES, no))
        for f in (*LINE_MONEY, "tax_rate"):
            if other.get(f) is not None and not _same(ln.get(f), other.get(f), number=True):
                out.append(FieldDiff(f"line {no} {f}", _text(ln.get(f)), _text(other.get(f)),
                                     AMOUNTS, no))
    for no in sorted(by_no):
        other = by_no[no]
        out.append(FieldDiff(f"line {no}", "missing",
                             f"{other['quantity']} x {other['sku']} at {other['unit_price']}",
                             LINES, no))
    return out


def _compare_charges(ours: Sequence[Mapping[str, Any]],
                     theirs: Sequence[Mapping[str, Any]]) -> list[FieldDiff]:
    out: list[FieldDiff] = []
    for i in range(max(len(ours), len(theirs))):
        a = ours[i] if i < len(ours) else None
        b = theirs[i] if i < len(theirs) else None
        label = f"charge {i + 1}"
        if a is None or b is None:
            out.append(FieldDiff(label, _charge_text(a), _charge_text(b), AMOUNTS))
            continue
        if not _same(a.get("type"), b.get("type")):
            out.append(FieldDiff(f"{label} type", _text(a.get("type")), _text(b.get("type")),
                                 AMOUNTS))
        for f in ("amount", "tax"):
            if not _same(a.get(f), b.get(f), number=True):
                out.append(FieldDiff(f"{label} {f}", _text(a.get(f)), _text(b.get(f)),
                                     AMOUNTS))
    return out


def _charge_text(c: Mapping[str, Any] | None) -> str:
    return "missing" if c is None else f"{c.get('type')} {c.get('amount')}"


def drift_rows(sent: Mapping[str, Any], order: ErpSalesOrder) -> list[FieldDiff]:
    """The diff to report for ``order``: the comparison, or, when nothing compared differs
    but a person changed the order last, one ``edited by`` row."""
    rows = compare(sent, view_of(order))
    if not rows and editor_kind(order.updated_by) == "person":
        cancelled = ", ".join(f"line {ln.line_no}: {ln.cancelled_quantity} cancelled"
                              for ln in order.lines if ln.cancelled_quantity)
        rows = [FieldDiff("edited by", "Seamline and BlueCherry's own processes only",
                          f"{order.updated_by} at {order.updated_at.isoformat()}"
                          + (f" ({cancelled})" if cancelled else ""), EDIT)]
    return rows


def owner_for(rows: Sequence[FieldDiff]) -> str:
    """``finance`` when only amounts differ, else ``ecommerce``."""
    return "finance" if rows and all(r.area == AMOUNTS for r in rows) else "ecommerce"


def fingerprint(order: ErpSalesOrder) -> str:
    """A hash over the compared fields of the order as BlueCherry holds it (not over what its
    own processes change): equal fingerprints mean the same version for drift."""
    body = json.dumps(view_of(order), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def is_accepted(accepted: Mapping[str, Any] | None, order: ErpSalesOrder) -> bool:
    """Whether ``order`` is the version a person accepted (or Seamline corrected): same
    compared fields and, if a person changed it last, the same change (``updated_at``)."""
    if not accepted or accepted.get("fingerprint") != fingerprint(order):
        return False
    if editor_kind(order.updated_by) == "person":
        return bool(accepted.get("updated_at") == order.updated_at.isoformat())
    return True


@dataclass(frozen=True, slots=True)
class CorrectionPlan:
    """What "correct from Centra" can do through the contract: cancel the open units that
    BlueCherry holds beyond what was posted (``cancels``: ``(line_no, units)``), and what is
    left for a person in BlueCherry (``left``), since the contract has no update call."""

    cancels: tuple[tuple[int, int], ...]
    left: tuple[FieldDiff, ...]


def correction_plan(sent: Mapping[str, Any], order: ErpSalesOrder,
                    rows: Sequence[FieldDiff]) -> CorrectionPlan:
    """Units added in BlueCherry (a larger ordered quantity, or a line only BlueCherry has)
    can be cancelled while open; the discount, tax and totals rows of those lines go with
    them (BlueCherry invoices shipped units only). Everything else is left for a person."""
    ours = {int(ln["line_no"]): int(ln["quantity"]) for ln in sent.get("lines") or []}
    cancels: list[tuple[int, int]] = []
    fixed_lines: set[int] = set()
    for ln in order.lines:
        extra = ln.ordered_quantity - ours.get(ln.line_no, 0)
        if extra <= 0:
            continue
        units = min(extra, ln.open_quantity)
        if units > 0:
            cancels.append((ln.line_no, units))
        if units == extra:
            fixed_lines.add(ln.line_no)
    follow = {"quantity", "discount", "tax"}
    left = []
    for r in rows:
        if r.line_no in fixed_lines and (r.field == f"line {r.line_no}"
                                         or r.field.rsplit(" ", 1)[-1] in follow):
            continue
        if r.field.startswith("totals.") and fixed_lines:
            continue
        left.append(r)
    if left and not any(r.field.startswith("totals.") for r in left):
        # Other rows are left: the totals still differ because of them; report them again.
        left += [r for r in rows if r.field.startswith("totals.")]
    return CorrectionPlan(tuple(cancels), tuple(left))
