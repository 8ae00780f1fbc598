"""The payments repository on SQLite and PostgreSQL (``payment_records``,
``payment_documents``, ``payment_invoices``). Amounts are kept as decimal strings."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.repos import dialect_insert
from seamline.adapters.store.schema import payment_documents, payment_invoices, payment_records
from seamline.domain.money import Money
from seamline.domain.payments import InvoiceRecord, PaymentDocument, PaymentRecord

__all__ = ["SqlPayments"]

#: Keys per IN list (well under SQLite's bound-parameter limit).
CHUNK = 500


def _record(row: Any) -> PaymentRecord:
    return PaymentRecord(
        reference=row.reference, order_number=int(row.order_number),
        entry_id=int(row.entry_id), kind=row.kind, market=row.market, customer=row.customer,
        currency=row.currency, amount=Money.of(row.amount, row.currency), method=row.method,
        captured_at=row.captured_at, business_day=date.fromisoformat(row.business_day),
        document=row.document)


def _document(row: Any) -> PaymentDocument:
    return PaymentDocument(
        reference=row.reference, kind=row.kind,
        business_day=date.fromisoformat(row.business_day), customer=row.customer,
        currency=row.currency, amount=Money.of(row.amount, row.currency),
        unapplied=Money.of(row.unapplied, row.currency), state=row.state,
        payload=dict(row.payload), result=None if row.result is None else dict(row.result),
        orders=tuple(int(n) for n in row.orders))


def _invoice(row: Any) -> InvoiceRecord:
    return InvoiceRecord(
        invoice_no=row.invoice_no, order_no=row.order_no, customer_po=row.customer_po,
        currency=row.currency, total=Money.of(row.total, row.currency),
        invoice_date=date.fromisoformat(row.invoice_date),
        applied=Money.of(row.applied, row.currency))


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


class SqlPayments:
    """``PaymentsRepository`` over one connection's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _insert_new(self, table: sa.Table, key: str, rows: list[dict[str, Any]]) -> int:
        """Insert the rows whose key is not stored yet; how many were new (the rowcount of a
        many-row insert is not reported on every driver, so the known keys are read first)."""
        col = table.c[key]
        fresh: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(rows):
            known = set(self.conn.execute(
                sa.select(col).where(col.in_([r[key] for r in chunk]))).scalars())
            fresh.update((r[key], r) for r in chunk if r[key] not in known)
        if not fresh:
            return 0
        stmt = dialect_insert(self.conn.dialect.name)(table).on_conflict_do_nothing(
            index_elements=[key])
        for chunk in _chunks(list(fresh.values())):
            self.conn.execute(stmt, chunk)
        return len(fresh)

    # -- records ------------------------------------------------------------------------------

    def add_records(self, records: Iterable[PaymentRecord], *, now: datetime) -> int:
        rows = [{"reference": r.reference, "order_number": r.order_number,
                 "entry_id": r.entry_id, "kind": r.kind, "market": r.market,
                 "customer": r.customer, "currency": r.currency, "amount": r.amount.wire(),
                 "method": r.method, "captured_at": r.captured_at,
                 "business_day": r.business_day.isoformat(), "document": r.document,
                 "recorded_at": now} for r in records]
        return self._insert_new(payment_records, "reference", rows)

    def pending_records(self, upto: date, *, market: str | None = None) -> list[PaymentRecord]:
        t = payment_records.c
        q = sa.select(payment_records).where(t.document.is_(None),
                                              t.business_day <= upto.isoformat())
        if market is not None:
            q = q.where(t.market == market)
        return [_record(r) for r in self.conn.execute(q.order_by(t.captured_at, t.reference))]

    def records_for_orders(self, numbers: Iterable[int]) -> list[PaymentRecord]:
        out: list[PaymentRecord] = []
        t = payment_records.c
        for chunk in _chunks(sorted(set(numbers))):
            out += [_record(r) for r in self.conn.execute(
                sa.select(payment_records).where(t.order_number.in_(chunk)))]
        return sorted(out, key=lambda r: (r.captured_at, r.reference))

    def records_of(self, document: str) -> list[PaymentRecord]:
        t = payment_records.c
        return [_record(r) for r in self.conn.execute(
            sa.select(payment_records).where(t.document == document)
            .order_by(t.captured_at, t.reference))]

    def assign(self, documents: Mapping[str, str]) -> None:
        rows = [{"ref": ref, "doc": doc} for ref, doc in documents.items()]
        if rows:
            self.conn.execute(_assign_stmt(), rows)

    # -- documents ----------------------------------------------------------------------------

    def save_documents(self, docs: Iterable[PaymentDocument], *, now: datetime) -> None:
        rows = [{"reference": d.reference, "kind": d.kind,
                 "business_day": d.business_day.isoformat(), "customer": d.customer,
                 "currency": d.currency, "amount": d.amount.wire(),
                 "unapplied": d.unapplied.wire(), "state": d.state, "payload": dict(d.payload),
                 "result": None if d.result is None else dict(d.result),
                 "orders": list(d.orders), "created_at": now, "updated_at": now}
                for d in docs]
        stmt = _upsert_documents(self.conn.dialect.name)
        for chunk in _chunks(rows):
            self.conn.execute(stmt, chunk)

    def get_document(self, reference: str) -> PaymentDocument | None:
        row = self.conn.execute(sa.select(payment_documents).where(
            payment_documents.c.reference == reference)).first()
        return None if row is None else _document(row)

    def documents(self, *, day: date | None = None,
                  states: Iterable[str] | None = None) -> list[PaymentDocument]:
        t = payment_documents.c
        q = sa.select(payment_documents)
        if day is not None:
            q = q.where(t.business_day == day.isoformat())
        if states is not None:
            q = q.where(t.state.in_(list(states)))
        return [_document(r) for r in self.conn.execute(q.order_by(t.reference))]

    # -- invoices -----------------------------------------------------------------------------

    def save_invoices(self, invoices: Iterable[InvoiceRecord]) -> int:
        rows = [{"invoice_no": i.invoice_no, "order_no": i.order_no,
                 "customer_po": i.customer_po, "currency": i.currency,
                 "total": i.total.wire(), "invoice_date": i.invoice_date.isoformat(),
                 "applied": i.applied.wire()} for i in invoices]
        return self._insert_new(payment_invoices, "invoice_no", rows)

    def invoices_for(self, customer_pos: Iterable[str]) -> dict[str, list[InvoiceRecord]]:
        out: dict[str, list[InvoiceRecord]] = {}
        t = payment_invoices.c
        for chunk in _chunks(sorted(set(customer_pos))):
            for r in self.conn.execute(sa.select(payment_invoices)
                                       .where(t.customer_po.in_(chunk))):
                out.setdefault(r.customer_po, []).append(_invoice(r))
        for rows in out.values():
            rows.sort(key=lambda i: (i.invoice_date, i.invoice_no))
        return out

    def add_applied(self, amounts: Mapping[str, Money]) -> None:
        t = payment_invoices.c
        wanted = sorted(amounts)
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(wanted):
            for r in self.conn.execute(sa.select(t.invoice_no, t.currency, t.applied)
                                       .where(t.invoice_no.in_(chunk))):
                applied = Money.of(r.applied, r.currency) + amounts[r.invoice_no]
                rows.append({"no": r.invoice_no, "applied": applied.wire()})
        if rows:
            self.conn.execute(payment_invoices.update()
                              .where(t.invoice_no == sa.bindparam("no"))
                              .values(applied=sa.bindparam("applied")), rows)


def _assign_stmt() -> Any:
    return (payment_records.update()
            .where(payment_records.c.reference == sa.bindparam("ref"))
            .values(document=sa.bindparam("doc")))


@functools.cache
def _upsert_documents(dialect: str) -> Any:
    """One prepared upsert of documents, run with many parameter sets (``created_at`` kept)."""
    stmt = dialect_insert(dialect)(payment_documents)
    keep = {"reference", "created_at"}
    return stmt.on_conflict_do_update(
        index_elements=["reference"],
        set_={c.name: stmt.excluded[c.name] for c in payment_documents.c
              if c.name not in keep})
