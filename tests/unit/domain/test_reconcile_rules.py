"""The reconciliation's classification rules, on plain figures."""

from __future__ import annotations

from decimal import Decimal as D

from seamline.domain.reconcile import (
    DifferenceKind,
    ErpOrderFigures,
    OrderFigures,
    ReportTotals,
    compare_invoice,
    compare_order,
    compare_refunds,
    unapplied_cash,
)

COMPS = {"merchandise": D("100.00"), "discount": D("10.00"), "tax": D("20.00"),
         "charges": D("5.00")}


def _centra(total: str = "95.00", currency: str = "SEK") -> OrderFigures:
    return OrderFigures(number=7, currency=currency, total=D(total), components=COMPS)


def _erp(total: str = "95.00", by: str = "api:seamline", **changes: str) -> ErpOrderFigures:
    return ErpOrderFigures(order_no="SO-1", currency="SEK", total=D(total),
                           components={**COMPS, **{k: D(v) for k, v in changes.items()}},
                           updated_by=by)


def test_an_order_that_ties_out_is_no_difference() -> None:
    assert compare_order(_centra(), _erp()) is None


def test_an_order_absent_from_bluecherry_is_missing_with_centras_total_as_the_difference() -> None:
    d = compare_order(_centra(), None)
    assert d is not None
    assert (d.kind, d.centra, d.bluecherry, d.difference, d.owner) == (
        DifferenceKind.MISSING_IN_BLUECHERRY, D("95.00"), D(0), D("95.00"), "finance")


def test_a_total_mismatch_names_the_differing_component_and_who_edited_it() -> None:
    d = compare_order(_centra(), _erp("100.00", by="user:anna", charges="10.00"))
    assert d is not None
    assert (d.kind, d.component, d.difference) == (DifferenceKind.TOTAL_MISMATCH,
                                                   "shipping/charges", D("-5.00"))
    assert d.note == "changed by user:anna"


def test_one_minor_unit_is_currency_rounding_and_two_are_a_mismatch() -> None:
    one = compare_order(_centra(), _erp("95.01", discount="9.99"))
    two = compare_order(_centra(), _erp("95.02", discount="9.98"))
    assert one is not None
    assert two is not None
    assert (one.kind, one.component) == (DifferenceKind.CURRENCY_ROUNDING, "discount")
    assert two.kind is DifferenceKind.TOTAL_MISMATCH


def test_yen_rounding_is_one_yen() -> None:
    c = OrderFigures(number=1, currency="JPY", total=D(1000))
    e = ErpOrderFigures(order_no="SO-2", currency="JPY", total=D(1001))
    d = compare_order(c, e)
    assert d is not None
    assert d.kind is DifferenceKind.CURRENCY_ROUNDING
    assert d.to_dict()["difference"] == "-1"


def test_invoices_receipts_and_memos_are_classified() -> None:
    assert compare_invoice("7", "INV-1", "EUR", D("50.00"), D("50.00")) is None
    unpaid = compare_invoice("7", "INV-1", "EUR", D("50.00"), D("20.00"))
    assert unpaid is not None
    assert (unpaid.kind, unpaid.difference) == (DifferenceKind.INVOICED_NOT_PAID, D("30.00"))
    cash = unapplied_cash("", "PSP-1", "EUR", D("12.00"))
    assert cash is not None
    assert (cash.kind, cash.difference) == (DifferenceKind.PAID_NOT_INVOICED, D("-12.00"))
    assert unapplied_cash("", "PSP-1", "EUR", D(0)) is None
    assert compare_refunds("7", "EUR", D(5), D(5), "CM-1") is None
    no_memo = compare_refunds("7", "EUR", D(5), D(0), "")
    wrong = compare_refunds("7", "EUR", D(5), D(6), "CM-1")
    assert no_memo is not None
    assert wrong is not None
    assert no_memo.kind is DifferenceKind.REFUND_WITHOUT_CREDIT_MEMO
    assert (wrong.kind, wrong.reference) == (DifferenceKind.CREDIT_MEMO_MISMATCH, "CM-1")


def test_report_totals_are_the_sums_of_the_rows() -> None:
    rows = [compare_order(_centra(), None), compare_invoice("8", "I", "SEK", D(3), D(1))]
    totals = ReportTotals(currency="SEK")
    for r in rows:
        assert r is not None
        totals.add(r)
    assert totals.ties_out([r for r in rows if r is not None])
    assert totals.to_dict()["rows_difference"] == "97.00"
    assert not totals.ties_out([r for r in rows[:1] if r is not None])
