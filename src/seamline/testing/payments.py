"""The payments repository in memory (part of ``seamline.testing.store``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from seamline.domain.money import Money
from seamline.domain.payments import InvoiceRecord, PaymentDocument, PaymentRecord

__all__ = ["InMemoryPayments", "PaymentsState"]


@dataclass
class PaymentsState:
    records: dict[str, PaymentRecord] = field(default_factory=dict)
    documents: dict[str, PaymentDocument] = field(default_factory=dict)
    invoices: dict[str, InvoiceRecord] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, object]) -> PaymentsState:
        # Every value is a frozen dataclass: copying the dicts is enough.
        return PaymentsState(dict(self.records), dict(self.documents), dict(self.invoices))


def _by_capture(r: PaymentRecord) -> tuple[datetime, str]:
    return (r.captured_at, r.reference)


class InMemoryPayments:
    """``PaymentsRepository`` over a ``PaymentsState``."""

    def __init__(self, state: PaymentsState) -> None:
        self.s = state

    def add_records(self, records: Iterable[PaymentRecord], *, now: datetime) -> int:
        n = 0
        for r in records:
            if r.reference not in self.s.records:
                self.s.records[r.reference] = r
                n += 1
        return n

    def pending_records(self, upto: date, *, market: str | None = None) -> list[PaymentRecord]:
        return sorted((r for r in self.s.records.values()
                       if r.document is None and r.business_day <= upto
                       and (market is None or r.market == market)), key=_by_capture)

    def records_for_orders(self, numbers: Iterable[int]) -> list[PaymentRecord]:
        wanted = set(numbers)
        return sorted((r for r in self.s.records.values() if r.order_number in wanted),
                      key=_by_capture)

    def records_of(self, document: str) -> list[PaymentRecord]:
        return sorted((r for r in self.s.records.values() if r.document == document),
                      key=_by_capture)

    def assign(self, documents: Mapping[str, str]) -> None:
        for ref, document in documents.items():
            r = self.s.records.get(ref)
            if r is not None:
                self.s.records[ref] = replace(r, document=document)

    def save_documents(self, docs: Iterable[PaymentDocument], *, now: datetime) -> None:
        for doc in docs:
            self.s.documents[doc.reference] = doc

    def get_document(self, reference: str) -> PaymentDocument | None:
        return self.s.documents.get(reference)

    def documents(self, *, day: date | None = None,
                  states: Iterable[str] | None = None) -> list[PaymentDocument]:
        wanted = None if states is None else set(states)
        return [d for _, d in sorted(self.s.documents.items())
                if (day is None or d.business_day == day)
                and (wanted is None or d.state in wanted)]

    def save_invoices(self, invoices: Iterable[InvoiceRecord]) -> int:
        n = 0
        for inv in invoices:
            if inv.invoice_no not in self.s.invoices:
                self.s.invoices[inv.invoice_no] = inv
                n += 1
        return n

    def invoices_for(self, customer_pos: Iterable[str]) -> dict[str, list[InvoiceRecord]]:
        wanted = set(customer_pos)
        out: dict[str, list[InvoiceRecord]] = {}
        for inv in sorted(self.s.invoices.values(),
                          key=lambda i: (i.invoice_date, i.invoice_no)):
            if inv.customer_po in wanted:
                out.setdefault(inv.customer_po, []).append(inv)
        return out

    def add_applied(self, amounts: Mapping[str, Money]) -> None:
        for invoice_no, amount in amounts.items():
            inv = self.s.invoices.get(invoice_no)
            if inv is not None:
                self.s.invoices[invoice_no] = replace(inv, applied=inv.applied + amount)
