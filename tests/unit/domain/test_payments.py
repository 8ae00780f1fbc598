"""The payments domain: references from the PSP transaction, business days and due batches in
the market's time zone, cash application to the cent, grouping, and refunds as credit memos."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from orderkit import m, order

from seamline.domain import payments
from seamline.domain.money import Money
from seamline.domain.orders import PaymentEntry
from seamline.domain.payments import (
    InvoiceRecord,
    PaymentRecord,
    PaymentRules,
    apply_cash,
    business_day,
    due_days,
    memo_for,
    net_captured,
    plan_receipts,
    receipt_from_dict,
    receipt_to_dict,
    records_of,
)

STHLM = ZoneInfo("Europe/Stockholm")
AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def entry(kind: str, value: str, ext: str = "", id: int = 1, cur: str = "SEK",
          at: datetime = AT, method: str = "adyen", status: str = "SUCCESS") -> PaymentEntry:
    return PaymentEntry(entry_type=kind, status=status, value=Money.of(value, cur),
                        external_reference=ext, created_at=at, id=id, payment_method=method)


def invoice(no: str, po: str, total: str, day: int = 28, applied: str = "0",
            cur: str = "SEK") -> InvoiceRecord:
    return InvoiceRecord(invoice_no=no, order_no="SO-1", customer_po=po, currency=cur,
                         total=Money.of(total, cur), invoice_date=date(2026, 11, day),
                         applied=Money.of(applied, cur))


def record(ref: str, number: int, amount: str, *, method: str = "CARD", cur: str = "SEK",
           kind: str = "CAPTURE", minute: int = 0) -> PaymentRecord:
    return PaymentRecord(reference=ref, order_number=number, entry_id=1, kind=kind,
                         market="1/SEK", customer="WEBSE", currency=cur,
                         amount=Money.of(amount, cur), method=method,
                         captured_at=AT.replace(minute=minute), business_day=date(2026, 11, 28))


RULES = PaymentRules(methods={"adyen": "CARD", "klarna": "KLARNA"})


def _records(*entries: PaymentEntry) -> list[PaymentRecord]:
    return records_of(order(payments=entries), market="1/SEK", customer="WEBSE", tz=STHLM,
                      rules=RULES)


def test_a_capture_is_referenced_by_its_psp_transaction_else_by_centras_entry_id() -> None:
    got = _records(entry("AUTHORIZATION", "149.00", "auth-1", id=1),
                   entry("CAPTURE", "100.00", "psp-77", id=2),
                   entry("CAPTURE", "49.00", "", id=3),
                   entry("CAPTURE", "5.00", "psp-fail", id=4, status="FAILED"))
    assert [r.reference for r in got] == ["centra:1:100234:CAPTURE:psp-77",
                                          "centra:1:100234:CAPTURE:entry-3"]
    assert [r.amount for r in got] == [m("100.00"), m("49.00")]


def test_entries_that_share_a_psp_reference_stay_apart_and_a_refund_never_meets_its_capture(
) -> None:
    """A PSP that reuses the original reference for partial refunds: two refunds and the
    capture, three references, the first of each kind unchanged."""
    got = _records(entry("CAPTURE", "149.00", "psp-1", id=5),
                   entry("REFUND", "20.00", "psp-1", id=9),
                   entry("REFUND", "10.00", "psp-1", id=7))
    refs = {r.entry_id: r.reference for r in got}
    assert refs == {5: "centra:1:100234:CAPTURE:psp-1", 7: "centra:1:100234:REFUND:psp-1",
                    9: "centra:1:100234:REFUND:psp-1#9"}
    assert len({r.reference for r in got}) == 3


def test_the_receipt_method_comes_from_centras_payment_method_case_insensitively() -> None:
    got = _records(entry("CAPTURE", "1.00", "a", id=1, method="Klarna"),
                   entry("CAPTURE", "1.00", "b", id=2, method="stripe"))
    assert [r.method for r in got] == ["KLARNA", "CARD"]


def test_the_business_day_is_the_markets_local_date() -> None:
    late = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)  # 00:30 on the 29th in Stockholm
    assert business_day(late, STHLM) == date(2026, 11, 29)
    assert business_day(late, ZoneInfo("America/New_York")) == date(2026, 11, 28)
    assert _records(entry("CAPTURE", "1.00", "x", at=late))[0].business_day == date(2026, 11, 29)


def test_a_days_batch_is_due_at_batch_time_on_the_next_local_day() -> None:
    six = time(6, 0)
    before = datetime(2026, 11, 29, 4, 59, tzinfo=UTC)  # 05:59 in Stockholm
    at = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)  # 06:00 in Stockholm
    assert due_days(before, STHLM, six, None) == [date(2026, 11, 27)]
    assert due_days(before, STHLM, six, date(2026, 11, 27)) == []
    assert due_days(at, STHLM, six, date(2026, 11, 27)) == [date(2026, 11, 28)]
    assert due_days(at, STHLM, six, date(2026, 11, 25)) == [date(2026, 11, 26),
                                                            date(2026, 11, 27),
                                                            date(2026, 11, 28)]


def test_cash_is_applied_oldest_invoice_first_to_the_cent_and_the_rest_is_unapplied() -> None:
    invs = [invoice("I2", "1", "50.10", day=28), invoice("I1", "1", "99.95", day=27,
                                                         applied="0.05")]
    taken: dict[str, Money] = {}
    apps, rest = apply_cash(m("160.01"), invs, taken)
    assert [(a.invoice_no, a.amount) for a in apps] == [("I1", m("99.90")), ("I2", m("50.10"))]
    assert rest == m("10.01")
    # what this plan took is not open any more
    apps, rest = apply_cash(m("1.00"), invs, taken)
    assert apps == []
    assert rest == m("1.00")


def test_cash_in_a_currency_without_decimals_is_applied_in_whole_units() -> None:
    apps, rest = apply_cash(Money.of("12001", "JPY"), [invoice("J1", "1", "12000", cur="JPY")],
                            {})
    assert [a.amount for a in apps] == [Money.of("12000", "JPY")]
    assert rest == Money.of("1", "JPY")


def test_one_receipt_per_capture_applied_to_its_own_orders_invoices() -> None:
    invoices = {"100": [invoice("I1", "100", "60.00")], "101": [invoice("I2", "101", "20.00")]}
    plan = plan_receipts([record("a", 100, "60.00"), record("b", 101, "25.50", minute=1)],
                         day=date(2026, 11, 28), rules=RULES, invoices=invoices)
    assert [p.receipt.reference for p in plan] == ["a", "b"]
    assert [[(x.invoice_no, x.amount) for x in p.receipt.applications] for p in plan] == [
        [("I1", m("60.00"))], [("I2", m("20.00"))]]
    assert [p.unapplied for p in plan] == [m("0.00"), m("5.50")]
    assert plan[0].receipt.receipt_date == date(2026, 11, 28)


def test_one_receipt_per_customer_currency_and_method_a_day_with_a_new_reference_per_rerun(
) -> None:
    rules = PaymentRules(grouping="per_day_currency")
    invoices = {"100": [invoice("I1", "100", "30.00")]}
    day = date(2026, 11, 28)
    caps = [record("a", 100, "10.00"), record("b", 100, "20.00", minute=1),
            record("c", 102, "5.00", minute=2), record("d", 103, "7.00", method="KLARNA")]
    plan = plan_receipts(caps, day=day, rules=rules, invoices=invoices)
    assert [(p.receipt.reference, p.receipt.amount) for p in plan] == [
        ("seamline:WEBSE:SEK:CARD:2026-11-28", m("35.00")),
        ("seamline:WEBSE:SEK:KLARNA:2026-11-28", m("7.00"))]
    card = plan[0]
    assert [(a.invoice_no, a.amount) for a in card.receipt.applications] == [("I1", m("30.00"))]
    assert card.unapplied == m("5.00")
    assert sum((a.amount for a in card.receipt.applications), m("0")) + card.unapplied \
        == card.receipt.amount
    again = plan_receipts([record("e", 104, "1.00")], day=day, rules=rules, invoices={},
                          taken_references=[card.receipt.reference])
    assert again[0].receipt.reference == "seamline:WEBSE:SEK:CARD:2026-11-28:2"


def test_a_refund_becomes_a_credit_memo_of_the_refunded_amount_against_the_invoice() -> None:
    refund = record("centra:1:100:REFUND:psp-9", 100, "49.50", kind="REFUND")
    memo = memo_for(refund, customer_po="100", invoice=invoice("I7", "100", "149.00"))
    assert memo.reference == refund.reference
    assert memo.invoice_no == "I7"
    assert memo.lines == ()
    assert memo.charges == memo.total == m("49.50")
    assert "psp-9" in memo.reason
    assert memo_for(refund, customer_po="100", invoice=None).invoice_no == ""


def test_captured_less_refunded_is_counted_from_successful_entries_only() -> None:
    o = order(payments=(entry("AUTHORIZATION", "149.00", id=1),
                        entry("CAPTURE", "100.00", id=2), entry("CAPTURE", "49.00", id=3),
                        entry("CAPTURE", "49.00", id=4, status="FAILED"),
                        entry("REFUND", "20.00", id=5)))
    assert net_captured(o) == m("129.00")


def test_a_frozen_receipt_reads_back_as_it_was() -> None:
    plan = plan_receipts([record("a", 100, "60.00")], day=date(2026, 11, 28), rules=RULES,
                         invoices={"100": [invoice("I1", "100", "50.00")]})
    r = plan[0].receipt
    assert receipt_from_dict(receipt_to_dict(r)) == r


def test_a_grouped_day_goes_on_several_receipts_past_the_application_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """At most MAX_APPLICATIONS invoices per receipt: the day's next captures start
    ``…:2``; every capture is on exactly one receipt and the amounts add up."""
    monkeypatch.setattr(payments, "MAX_APPLICATIONS", 2)
    rules = PaymentRules(grouping="per_day_currency")
    invoices = {str(n): [invoice(f"I{n}", str(n), "10.00")] for n in range(100, 105)}
    caps = [record(f"r{n}", n, "10.00", minute=n - 100) for n in range(100, 105)]
    plan = plan_receipts(caps, day=date(2026, 11, 28), rules=rules, invoices=invoices)
    assert [p.receipt.reference.rsplit(":", 1)[-1] for p in plan] == ["2026-11-28", "2", "3"]
    assert [len(p.receipt.applications) for p in plan] == [2, 2, 1]
    assert sorted(r.reference for p in plan for r in p.records) == sorted(c.reference
                                                                           for c in caps)
    assert sum((p.receipt.amount for p in plan), m("0")) == m("50.00")
