"""Payments in the domain: Centra captures and refunds as Seamline records them, the daily batch's
business days, references, cash application to invoices, and the receipts and credit memos a
batch plans. Pure: no I/O.

- A **payment record** is one ``CAPTURE`` or ``REFUND`` history entry of a Centra order with
  status ``SUCCESS``. Its ``reference`` is derived from the PSP transaction:
  ``centra:<store>:<order>:<kind>:<externalReference>``, or Centra's entry id
  (``…:entry-<id>``) when the entry has no external reference. Two entries of one order and
  kind that share an external reference (a PSP that reuses the original reference for partial
  refunds) stay apart: every one but the lowest entry id also carries ``#<entry id>``.
- Its **business day** is the date of ``createdAt`` in the market's time zone; the batch of day
  ``D`` runs at ``batch_time`` on ``D + 1`` (local wall clock) and takes every record of day
  ``D`` or earlier not yet on a receipt or memo (captures learned late included).
- **Cash application**: a capture of order ``N`` is applied to the invoices of ``N``'s customer
  PO, oldest first, up to what each still has open; what is left is *unapplied cash* on the
  receipt (posted, and reported as ``RECEIPT_UNAPPLIED``: BlueCherry's contract has no call that
  applies cash to a receipt later, so finance applies it in BlueCherry when the invoice comes).
- A **refund** becomes one credit memo against the order's latest invoice. The shared Centra
  schema publishes no return with lines, so the memo carries no lines: the refunded amount
  (as the PSP refunded it, tax included) is its ``charges`` and ``total``, and ``reason`` names
  the Centra refund.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from seamline.domain.erp import CashApplication, CashReceipt, CreditMemo
from seamline.domain.money import Money
from seamline.domain.orders import CentraOrder, PaymentEntry

__all__ = [
    "CAPTURE",
    "REFUND",
    "Grouping",
    "InvoiceRecord",
    "PaymentDocument",
    "PaymentRecord",
    "PaymentRules",
    "apply_cash",
    "business_day",
    "due_days",
    "memo_for",
    "memo_from_dict",
    "memo_to_dict",
    "net_captured",
    "plan_receipts",
    "receipt_from_dict",
    "receipt_to_dict",
    "records_of",
]

CAPTURE = "CAPTURE"
REFUND = "REFUND"
Grouping = Literal["per_capture", "per_day_currency"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentRules:
    """``[payments]`` as the domain needs it."""

    batch_time: time = time(6, 0)
    grouping: Grouping = "per_capture"
    #: Centra ``paymentMethod`` (lower case) → BlueCherry receipt ``method``.
    methods: Mapping[str, str] = field(default_factory=dict)
    default_method: str = "CARD"
    customer_po_prefix: str = ""

    def method_for(self, centra_method: str) -> str:
        return self.methods.get(centra_method.strip().lower(), self.default_method)

    def customer_po(self, number: int) -> str:
        return f"{self.customer_po_prefix}{number}"


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentRecord:
    """One successful capture or refund of a Centra order, as recorded by Seamline."""

    reference: str
    order_number: int
    entry_id: int
    kind: str
    #: The market mapping it belongs to (``<centra market>/<currency>``).
    market: str
    customer: str
    currency: str
    amount: Money
    method: str
    captured_at: datetime
    business_day: date
    #: The receipt or memo reference it is on (None: waiting for a batch).
    document: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class InvoiceRecord:
    """A BlueCherry invoice mirrored from the invoices feed, with the cash Seamline applied."""

    invoice_no: str
    order_no: str
    customer_po: str
    currency: str
    total: Money
    invoice_date: date
    applied: Money

    @property
    def open(self) -> Money:
        return self.total - self.applied


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentDocument:
    """A receipt or a credit memo a batch planned: its payload is frozen once planned (every
    attempt sends the same one), ``state`` is ``planned`` → ``attempted`` → ``posted`` (or
    ``rejected``)."""

    reference: str
    kind: Literal["receipt", "memo"]
    business_day: date
    customer: str
    currency: str
    amount: Money
    unapplied: Money
    state: str
    payload: Mapping[str, Any]
    result: Mapping[str, Any] | None = None
    #: The Centra orders it carries money of.
    orders: tuple[int, ...] = ()


# -- business days -------------------------------------------------------------------------------


def business_day(at: datetime, tz: ZoneInfo) -> date:
    """The business day of a payment made at ``at`` (its date in the market's time zone)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(tz).date()


def _runs_at(day: date, tz: ZoneInfo, batch_time: time) -> datetime:
    """When the batch of business day ``day`` runs: ``batch_time`` on the next local day."""
    return datetime.combine(day + timedelta(days=1), batch_time, tzinfo=tz).astimezone(UTC)


def due_days(now: datetime, tz: ZoneInfo, batch_time: time,
             last_done: date | None) -> list[date]:
    """Business days whose batch is due at ``now`` and not done, oldest first (with none done
    yet, only the latest)."""
    latest = now.astimezone(tz).date()
    while _runs_at(latest, tz, batch_time) > now:
        latest -= timedelta(days=1)
    if last_done is None:
        return [latest]
    days = []
    day = last_done + timedelta(days=1)
    while day <= latest:
        days.append(day)
        day += timedelta(days=1)
    return days


# -- records ---------------------------------------------------------------------------------------


def _references(order: CentraOrder, entries: Sequence[PaymentEntry]) -> dict[int, str]:
    """Entry position → reference (see the module docstring)."""
    out: dict[int, str] = {}
    seen: dict[tuple[str, str], int] = {}
    ranked = sorted(range(len(entries)), key=lambda i: (entries[i].id, i))
    for i in ranked:
        e = entries[i]
        tx = e.external_reference.strip() or f"entry-{e.id}"
        base = f"centra:{order.store_id}:{order.number}:{e.entry_type}:{tx}"
        key = (e.entry_type, tx)
        if key in seen:
            base = f"{base}#{e.id or i}"
        seen[key] = i
        out[i] = base[:200]
    return out


def records_of(order: CentraOrder, *, market: str, customer: str, tz: ZoneInfo,
               rules: PaymentRules) -> list[PaymentRecord]:
    """The order's successful captures and refunds as payment records."""
    entries = [p for p in order.payments
               if p.entry_type in (CAPTURE, REFUND) and p.status == "SUCCESS"
               and p.value.amount > 0]
    refs = _references(order, entries)
    out = []
    for i, e in enumerate(entries):
        at = e.created_at or order.updated_at
        out.append(PaymentRecord(
            reference=refs[i], order_number=order.number, entry_id=e.id, kind=e.entry_type,
            market=market, customer=customer, currency=e.value.currency, amount=e.value,
            method=rules.method_for(e.payment_method), captured_at=at,
            business_day=business_day(at, tz)))
    return out


def net_captured(order: CentraOrder) -> Money:
    """Captured minus refunded, from the order's payment history."""
    net = Money.zero(order.currency)
    for p in order.payments:
        if p.status != "SUCCESS":
            continue
        if p.entry_type == CAPTURE:
            net = net + p.value
        elif p.entry_type == REFUND:
            net = net - p.value
    return net


# -- cash application ------------------------------------------------------------------------------


def apply_cash(amount: Money, invoices: Sequence[InvoiceRecord],
               taken: dict[str, Money]) -> tuple[list[CashApplication], Money]:
    """Apply ``amount`` to ``invoices`` oldest first, each up to what it has open less what
    this plan already ``taken`` (updated in place); returns the applications and the rest."""
    left = amount
    apps: list[CashApplication] = []
    for inv in sorted(invoices, key=lambda i: (i.invoice_date, i.invoice_no)):
        if left.amount <= 0:
            break
        room = inv.open - taken.get(inv.invoice_no, Money.zero(inv.currency))
        if room.amount <= 0 or inv.currency != amount.currency:
            continue
        take = left if left.amount <= room.amount else room
        apps.append(CashApplication(customer_po=inv.customer_po, invoice_no=inv.invoice_no,
                                    amount=take))
        taken[inv.invoice_no] = taken.get(inv.invoice_no, Money.zero(inv.currency)) + take
        left = left - take
    return apps, left


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedReceipt:
    receipt: CashReceipt
    records: tuple[PaymentRecord, ...]
    unapplied: Money


#: Applications per receipt at most (the BlueCherry sandbox refuses more; a grouped day with
#: more invoices goes on several receipts, ``:2``, ``:3``...).
MAX_APPLICATIONS = 1000


def _grouped(captures: Iterable[PaymentRecord],
             grouping: Grouping) -> list[list[PaymentRecord]]:
    ordered = sorted(captures, key=lambda r: (r.captured_at, r.reference))
    if grouping == "per_capture":
        return [[r] for r in ordered]
    groups: dict[tuple[str, str, str], list[PaymentRecord]] = {}
    for r in ordered:
        groups.setdefault((r.customer, r.currency, r.method), []).append(r)
    return list(groups.values())


def _next_reference(first: PaymentRecord, day: date, used: set[str]) -> str:
    base = f"seamline:{first.customer}:{first.currency}:{first.method}:{day}"
    n = 1
    while base + (f":{n}" if n > 1 else "") in used:
        n += 1
    return base + (f":{n}" if n > 1 else "")


def plan_receipts(captures: Iterable[PaymentRecord], *, day: date, rules: PaymentRules,
                  invoices: Mapping[str, Sequence[InvoiceRecord]],
                  taken_references: Iterable[str] = ()) -> list[PlannedReceipt]:
    """The receipts of business day ``day``'s batch: one per capture, or one per customer,
    currency and method (references ``seamline:<customer>:<currency>:<method>:<day>``, with
    ``:<n>`` when an earlier run of the day already used it, or when the day's captures apply
    to more than ``MAX_APPLICATIONS`` invoices). ``invoices`` by customer PO."""
    taken: dict[str, Money] = {}
    used = set(taken_references)
    out: list[PlannedReceipt] = []
    for records in _grouped(captures, rules.grouping):
        chunk: list[PaymentRecord] = []
        apps: dict[str, CashApplication] = {}
        unapplied = Money.zero(records[0].currency)
        for r in records:
            got, rest = apply_cash(r.amount, invoices.get(rules.customer_po(r.order_number), ()),
                                   taken)
            if chunk and len(apps.keys() | {a.invoice_no for a in got}) > MAX_APPLICATIONS:
                out.append(_receipt(chunk, apps, unapplied, day=day, rules=rules, used=used))
                chunk, apps, unapplied = [], {}, Money.zero(r.currency)
            chunk.append(r)
            for a in got:
                prev = apps.get(a.invoice_no)
                apps[a.invoice_no] = a if prev is None else replace(
                    prev, amount=prev.amount + a.amount)
            unapplied = unapplied + rest
        out.append(_receipt(chunk, apps, unapplied, day=day, rules=rules, used=used))
    return out


def _receipt(records: list[PaymentRecord], apps: Mapping[str, CashApplication],
             unapplied: Money, *, day: date, rules: PaymentRules,
             used: set[str]) -> PlannedReceipt:
    first = records[0]
    if rules.grouping == "per_capture":
        reference, receipt_day = first.reference, first.business_day
    else:
        reference, receipt_day = _next_reference(first, day, used), day
    used.add(reference)
    total = sum((r.amount for r in records[1:]), first.amount)
    receipt = CashReceipt(reference=reference, customer=first.customer,
                          receipt_date=receipt_day, currency=first.currency, amount=total,
                          method=first.method, applications=tuple(apps.values()))
    return PlannedReceipt(receipt=receipt, records=tuple(records), unapplied=unapplied)


def memo_for(refund: PaymentRecord, *, customer_po: str,
             invoice: InvoiceRecord | None) -> CreditMemo:
    """The credit memo of a Centra refund (see the module docstring for what it carries)."""
    return CreditMemo(
        reference=refund.reference, customer=refund.customer, customer_po=customer_po,
        invoice_no=invoice.invoice_no if invoice is not None else "",
        currency=refund.currency, charges=refund.amount, total=refund.amount,
        reason=f"Centra refund of order {refund.order_number} "
               f"({refund.reference.rsplit(':', 1)[-1]})"[:200])


# -- frozen payloads ---------------------------------------------------------------------------


def receipt_to_dict(r: CashReceipt) -> dict[str, Any]:
    return {"reference": r.reference, "customer": r.customer,
            "receipt_date": r.receipt_date.isoformat(), "currency": r.currency,
            "amount": r.amount.wire(), "method": r.method,
            "applications": [{"customer_po": a.customer_po, "invoice_no": a.invoice_no,
                              "amount": a.amount.wire()} for a in r.applications]}


def receipt_from_dict(d: Mapping[str, Any]) -> CashReceipt:
    cur = str(d["currency"])
    return CashReceipt(
        reference=str(d["reference"]), customer=str(d["customer"]),
        receipt_date=date.fromisoformat(str(d["receipt_date"])), currency=cur,
        amount=Money.of(str(d["amount"]), cur), method=str(d.get("method", "CARD")),
        applications=tuple(CashApplication(customer_po=str(a["customer_po"]),
                                           invoice_no=str(a["invoice_no"]),
                                           amount=Money.of(str(a["amount"]), cur))
                           for a in d.get("applications", [])))


def memo_to_dict(m: CreditMemo) -> dict[str, Any]:
    return {"reference": m.reference, "customer": m.customer, "customer_po": m.customer_po,
            "invoice_no": m.invoice_no, "currency": m.currency, "charges": m.charges.wire(),
            "total": m.total.wire(), "reason": m.reason}


def memo_from_dict(d: Mapping[str, Any]) -> CreditMemo:
    cur = str(d["currency"])
    return CreditMemo(
        reference=str(d["reference"]), customer=str(d["customer"]),
        customer_po=str(d["customer_po"]), invoice_no=str(d["invoice_no"]), currency=cur,
        charges=Money.of(str(d["charges"]), cur), total=Money.of(str(d["total"]), cur),
        reason=str(d.get("reason", "")))
