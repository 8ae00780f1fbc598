"""The daily batch of one business day: plan the day's receipts and credit memos (payloads frozen
in the store in the same unit of work that takes the records off the waiting list), then post
every planned one exactly once.

Posting is by unique ``reference``: a 409 repeat is success with BlueCherry's stored record
(compared with what was sent: a different one is ``PAYMENT_CONFLICT``). A timeout or 5xx is
ambiguous: the document is marked ``attempted`` *before* the call, and an attempted document is
read back (the day's listing, by reference) before anything else is sent; only when BlueCherry
does not hold it is the same frozen payload sent again (same reference, so a late arrival of the
first answers 409, never a second receipt).

BlueCherry's ``422 UNKNOWN_INVOICE`` / ``OVERAPPLIED`` on a receipt: the receipt is posted again
without applications (all unapplied cash, the cash is never held back) and finance gets
``RECEIPT_UNAPPLIED`` naming BlueCherry's code; any other 422 is ``RECEIPT_REJECTED`` /
``MEMO_REJECTED``. A memo whose invoice BlueCherry does not know is posted against the
customer PO alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from seamline.domain.erp import CashReceipt, CreditMemo
from seamline.domain.mapping import MarketCodes
from seamline.domain.money import Money
from seamline.domain.payments import (
    CAPTURE,
    REFUND,
    PaymentDocument,
    PaymentRecord,
    memo_for,
    memo_from_dict,
    memo_to_dict,
    plan_receipts,
    receipt_from_dict,
    receipt_to_dict,
)
from seamline.exceptions import AmbiguousWrite, Rejected
from seamline.services.payments.core import (
    MEMO_REJECTED,
    PAYMENT_CONFLICT,
    RECEIPT_REJECTED,
    RECEIPT_UNAPPLIED,
    PaymentsCore,
    market_key,
)
from seamline.services.unit_of_work import Tx, UnitOfWork

__all__ = ["BatchResult", "Poster"]

#: Outcomes saved per unit of work while posting.
FLUSH = 100
#: BlueCherry's receipt codes that only concern the applications.
APPLICATION_CODES = frozenset({"UNKNOWN_INVOICE", "OVERAPPLIED"})


def _add(totals: dict[str, Decimal], money: Money) -> None:
    totals[money.currency] = totals.get(money.currency, Decimal(0)) + money.amount


@dataclass
class BatchResult:
    """What one batch run posted (for the CLI, the demo and the job log)."""

    days: list[str] = field(default_factory=list)
    receipts: int = 0
    memos: int = 0
    #: Repeats BlueCherry answered with its stored record (nothing posted twice).
    repeats: int = 0
    rejected: int = 0
    received: dict[str, Decimal] = field(default_factory=dict)
    refunded: dict[str, Decimal] = field(default_factory=dict)
    unapplied: dict[str, Decimal] = field(default_factory=dict)
    #: Per BlueCherry customer (one per market) and currency: the cash received.
    by_customer: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def money(d: Mapping[str, Decimal]) -> dict[str, str]:
            return {k: format(v, "f") for k, v in sorted(d.items())}

        return {"days": self.days, "receipts": self.receipts, "memos": self.memos,
                "repeats": self.repeats, "rejected": self.rejected,
                "received": money(self.received), "refunded": money(self.refunded),
                "unapplied": money(self.unapplied),
                "by_customer": {k: money(v) for k, v in sorted(self.by_customer.items())}}


class Poster(PaymentsCore):
    """Plans and posts receipts and credit memos."""

    # -- planning -----------------------------------------------------------------------------

    def plan_day(self, tx: Tx, day: date, market: MarketCodes) -> int:
        """Freeze the receipts and memos of business day ``day`` for a market (records of
        that day or earlier on no document yet); how many documents were planned."""
        key = market_key(market)
        with tx() as uow:
            uow.cursors.lock(f"payments.plan:{key}")
            pending = uow.payments.pending_records(day, market=key)
            if not pending:
                return 0
            pos = {self.rules.customer_po(r.order_number) for r in pending}
            invoices = uow.payments.invoices_for(pos)
            used = {d.reference for d in uow.payments.documents(day=day)}
            planned = plan_receipts([r for r in pending if r.kind == CAPTURE], day=day,
                                    rules=self.rules, invoices=invoices,
                                    taken_references=used)
            now = self.clock()
            docs: list[PaymentDocument] = []
            assign: dict[str, str] = {}
            applied: dict[str, Money] = {}
            for p in planned:
                r = p.receipt
                docs.append(receipt_doc(r, day if self.rules.grouping != "per_capture"
                                        else r.receipt_date, p.unapplied, p.records))
                assign.update((rec.reference, r.reference) for rec in p.records)
                for a in r.applications:
                    applied[a.invoice_no] = applied.get(a.invoice_no, Money.zero(
                        a.amount.currency)) + a.amount
            for refund in (r for r in pending if r.kind == REFUND):
                po = self.rules.customer_po(refund.order_number)
                invs = invoices.get(po, [])
                memo = memo_for(refund, customer_po=po, invoice=invs[-1] if invs else None)
                docs.append(memo_doc(memo, refund))
                assign[refund.reference] = memo.reference
            uow.payments.save_documents(docs, now=now)
            uow.payments.assign(assign)
            uow.payments.add_applied(applied)
            uow.audit.append("payments", f"{key}:{day}", "planned", "system",
                             {"receipts": len(planned),
                              "memos": sum(1 for r in pending if r.kind == REFUND)},
                             now=now)
            return len(planned) + sum(1 for r in pending if r.kind == REFUND)

    # -- posting ------------------------------------------------------------------------------

    def post_planned(self, tx: Tx, result: BatchResult,
                     keep_alive: Callable[[], object] | None = None) -> None:
        """Post every planned or attempted document (any day: an earlier failure's too).

        Every planned document is marked ``attempted`` in one unit of work before the first is
        sent; outcomes are saved in groups (``FLUSH``). A crash in between leaves documents
        ``attempted`` and the next run reads them back first: the read-back costs one listing
        per receipt date, never a second receipt."""
        now = self.clock()
        with tx() as uow:
            todo = uow.payments.documents(states=["planned", "attempted"])
            earlier = {d.reference for d in todo if d.state == "attempted"}
            todo = [replace(d, state="attempted") for d in todo]
            uow.payments.save_documents([d for d in todo if d.reference not in earlier],
                                        now=now)
        run = _Run(tx=tx, result=result)
        try:
            for doc in todo:
                if doc.kind == "receipt":
                    self._post_receipt(run, doc, read_back=doc.reference in earlier)
                else:
                    self._post_memo(run, doc, read_back=doc.reference in earlier)
                if len(run.outcomes) >= FLUSH:
                    self._flush(run)
                    if keep_alive is not None:
                        keep_alive()
        finally:
            self._flush(run)

    def _flush(self, run: _Run) -> None:
        if not run.outcomes:
            return
        with run.tx() as uow:
            uow.payments.save_documents([d for d, _ in run.outcomes], now=self.clock())
            for _, also in run.outcomes:
                if also is not None:
                    also(uow)
        run.outcomes.clear()

    def _save_now(self, run: _Run, doc: PaymentDocument,
                  also: Callable[[UnitOfWork], None] | None = None) -> PaymentDocument:
        """Save at once (a payload that changes before it is sent again)."""
        self._flush(run)
        with run.tx() as uow:
            uow.payments.save_documents([doc], now=self.clock())
            if also is not None:
                also(uow)
        return doc

    def _post_receipt(self, run: _Run, doc: PaymentDocument, *, read_back: bool) -> None:
        receipt = receipt_from_dict(doc.payload)
        found = self._receipt_back(run, receipt, fresh=False) if read_back else None
        if found is None:
            try:
                found, created = self._send_receipt(run, receipt)
            except Rejected as exc:
                self._receipt_rejected(run, doc, receipt, exc)
                return
            if not created and not _same_receipt(found, receipt):
                self._conflict(run, doc, found.raw)
                return
            if not created:
                run.result.repeats += 1
        else:
            run.result.repeats += 1
        self._posted(run, doc, found.raw or {"reference": receipt.reference},
                     unapplied=found.unapplied)

    def _send_receipt(self, run: _Run, receipt: CashReceipt) -> tuple[CashReceipt, bool]:
        """Post; after an ambiguous failure read back, and only if BlueCherry does not hold it
        send the same payload once more (same reference)."""
        try:
            res = self.finance.post_cash_receipt(receipt)
        except AmbiguousWrite:
            back = self._receipt_back(run, receipt, fresh=True)
            if back is not None:
                return back, False
            res = self.finance.post_cash_receipt(receipt)
        return res.record, res.created

    def _receipt_back(self, run: _Run, receipt: CashReceipt, *,
                      fresh: bool) -> CashReceipt | None:
        """BlueCherry's receipt with this reference, from the day's listing (read once per run
        and date, again when ``fresh``: after an ambiguous failure)."""
        day = receipt.receipt_date
        if fresh or day not in run.receipts:
            run.receipts[day] = {r.reference: r for r in self.finance.list_cash_receipts(day)}
        return run.receipts[day].get(receipt.reference)

    def _receipt_rejected(self, run: _Run, doc: PaymentDocument, receipt: CashReceipt,
                          exc: Rejected) -> None:
        codes = {str(c.get("code", "")) for c in exc.codes} or {str(exc.details.get("code"))}
        if receipt.applications and codes <= APPLICATION_CODES:
            bare = replace(receipt, applications=())

            def unapply(uow: UnitOfWork) -> None:
                back: dict[str, Money] = {}
                for a in receipt.applications:
                    back[a.invoice_no] = back.get(a.invoice_no, Money.zero(
                        a.amount.currency)) - a.amount
                uow.payments.add_applied(back)

            retry = replace(doc, payload=receipt_to_dict(bare), unapplied=receipt.amount,
                            result={"refused_applications": sorted(codes)})
            self._save_now(run, retry, unapply)
            self._post_receipt(run, retry, read_back=False)
            return
        self._rejected(run, doc, RECEIPT_REJECTED, sorted(codes), exc=exc)

    def _post_memo(self, run: _Run, doc: PaymentDocument, *, read_back: bool) -> None:
        memo = memo_from_dict(doc.payload)
        found = self._memo_back(run, memo, fresh=False) if read_back else None
        if found is None:
            try:
                found, created = self._send_memo(run, memo)
            except Rejected as exc:
                codes = sorted({str(c.get("code", "")) for c in exc.codes})
                if memo.invoice_no and codes == ["UNKNOWN_INVOICE"]:
                    retry = replace(doc, payload=memo_to_dict(replace(memo, invoice_no="")))
                    self._save_now(run, retry)
                    self._post_memo(run, retry, read_back=False)
                    return
                self._rejected(run, doc, MEMO_REJECTED, codes, exc=exc)
                return
            if not created and (found.total != memo.total or found.customer != memo.customer):
                self._conflict(run, doc, found.raw)
                return
            if not created:
                run.result.repeats += 1
        else:
            run.result.repeats += 1
        self._posted(run, doc, found.raw or {"reference": memo.reference})

    def _send_memo(self, run: _Run, memo: CreditMemo) -> tuple[CreditMemo, bool]:
        try:
            res = self.finance.post_credit_memo(memo)
        except AmbiguousWrite:
            back = self._memo_back(run, memo, fresh=True)
            if back is not None:
                return back, False
            res = self.finance.post_credit_memo(memo)
        return res.record, res.created

    def _memo_back(self, run: _Run, memo: CreditMemo, *, fresh: bool) -> CreditMemo | None:
        """BlueCherry's memo with this reference: memos are listed by the day BlueCherry
        created them, so today's and yesterday's listings are read."""
        today = self.clock().date()
        for day in (today, today - timedelta(days=1)):
            if fresh or day not in run.memos:
                run.memos[day] = {m.reference: m for m in self.finance.list_credit_memos(day)}
            if memo.reference in run.memos[day]:
                return run.memos[day][memo.reference]
        return None

    # -- outcomes -----------------------------------------------------------------------------

    def _posted(self, run: _Run, doc: PaymentDocument, answer: Mapping[str, Any], *,
                unapplied: Money | None = None) -> None:
        left = unapplied if unapplied is not None else doc.unapplied
        done = replace(doc, state="posted", unapplied=left,
                       result={**(doc.result or {}), **_scalar(answer)})

        def report(uow: UnitOfWork) -> None:
            key = f"{doc.kind}:{doc.reference}"
            if doc.kind == "receipt" and left.amount > 0:
                refused = (doc.result or {}).get("refused_applications")
                why = (f"BlueCherry refused the applications ({', '.join(refused)})" if refused
                       else "no open invoice for all of it yet")
                uow.exceptions.raise_(
                    type=RECEIPT_UNAPPLIED, owner="finance", severity="warning",
                    business_key=key,
                    message=(f"receipt {doc.reference}: {left.wire()} {left.currency} of "
                             f"{doc.amount.wire()} is unapplied cash ({why}); apply it in "
                             "BlueCherry when the invoice is there"),
                    details={"reference": doc.reference, "unapplied": left.wire(),
                             "currency": left.currency, "orders": list(doc.orders)},
                    now=self.clock())

        run.outcomes.append((done, report if doc.kind == "receipt" and left.amount > 0
                             else None))
        result = run.result
        if doc.kind == "receipt":
            result.receipts += 1
            _add(result.received, doc.amount)
            _add(result.by_customer.setdefault(doc.customer, {}), doc.amount)
            if left.amount > 0:
                _add(result.unapplied, left)
        else:
            result.memos += 1
            _add(result.refunded, doc.amount)

    def _rejected(self, run: _Run, doc: PaymentDocument, kind: str, codes: list[str], *,
                  exc: Rejected) -> None:
        def report(uow: UnitOfWork) -> None:
            uow.exceptions.raise_(
                type=kind, owner="finance", business_key=f"{doc.kind}:{doc.reference}",
                message=(f"BlueCherry refused {doc.kind} {doc.reference} "
                         f"({doc.amount.wire()} {doc.currency}): {', '.join(codes)}"),
                details={"reference": doc.reference, "codes": codes, "error": str(exc)},
                now=self.clock())

        run.outcomes.append((replace(doc, state="rejected", result={"codes": codes}), report))
        run.result.rejected += 1

    def _conflict(self, run: _Run, doc: PaymentDocument, stored: Mapping[str, Any]) -> None:
        def report(uow: UnitOfWork) -> None:
            uow.exceptions.raise_(
                type=PAYMENT_CONFLICT, owner="finance",
                business_key=f"{doc.kind}:{doc.reference}",
                message=(f"BlueCherry already holds a {doc.kind} {doc.reference} that differs "
                         f"from Seamline's ({doc.amount.wire()} {doc.currency})"),
                details={"reference": doc.reference, "sent": dict(doc.payload),
                         "stored": _scalar(stored)},
                now=self.clock())

        run.outcomes.append((replace(doc, state="conflict", result=_scalar(stored)), report))
        run.result.rejected += 1


@dataclass
class _Run:
    """One posting run: where to write, what it found, outcomes not saved yet, and the day
    listings read back so far."""

    tx: Tx
    result: BatchResult
    outcomes: list[tuple[PaymentDocument, Callable[[UnitOfWork], None] | None]] = field(
        default_factory=list)
    receipts: dict[date, dict[str, CashReceipt]] = field(default_factory=dict)
    memos: dict[date, dict[str, CreditMemo]] = field(default_factory=dict)


def _same_receipt(stored: CashReceipt, sent: CashReceipt) -> bool:
    return (stored.amount == sent.amount and stored.customer == sent.customer
            and stored.currency == sent.currency)


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v if isinstance(v, str | int | bool) or v is None else str(v)


def _scalar(answer: Mapping[str, Any]) -> dict[str, Any]:
    """BlueCherry's answer as kept on the document (numbers as strings, never float)."""
    out: dict[str, Any] = _plain(answer)
    return out


def receipt_doc(receipt: CashReceipt, day: date, unapplied: Money,
                records: Iterable[PaymentRecord]) -> PaymentDocument:
    return PaymentDocument(
        reference=receipt.reference, kind="receipt", business_day=day,
        customer=receipt.customer, currency=receipt.currency, amount=receipt.amount,
        unapplied=unapplied, state="planned", payload=receipt_to_dict(receipt),
        orders=tuple(sorted({r.order_number for r in records})))


def memo_doc(memo: CreditMemo, refund: PaymentRecord) -> PaymentDocument:
    return PaymentDocument(
        reference=memo.reference, kind="memo", business_day=refund.business_day,
        customer=memo.customer, currency=memo.currency, amount=memo.total,
        unapplied=Money.zero(memo.currency), state="planned", payload=memo_to_dict(memo),
        orders=(refund.order_number,))
