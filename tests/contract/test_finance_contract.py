"""One contract for the finance port (``seamline.ports.FinanceGateway``), run against
FakeBlueCherry and against BlueCherryClient talking to the BlueCherry sandbox over real HTTP:
the invoices feed, cash receipts (unique reference, applications, unapplied cash, the 422s)
and credit memos, and the day listings that are their read-back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import httpx
import pytest
import stamina
from bluecherry_fixtures import make_order, new_fake
from pydantic import SecretStr

from seamline.adapters.bluecherry import BlueCherryClient
from seamline.config import BlueCherrySettings
from seamline.domain.erp import CashApplication, CashReceipt, CreditMemo, ErpInvoice
from seamline.domain.money import Money
from seamline.exceptions import Rejected
from seamline.ports import FinanceGateway
from seamline.testing.bluecherry import FakeBlueCherry
from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.serve import ServerThread

_refs = iter(range(1, 10**6))


def _ref(kind: str) -> str:
    return f"PSP-{kind}-{datetime.now(UTC):%H%M%S%f}-{next(_refs)}"


@dataclass
class Backend:
    name: str
    finance: FinanceGateway
    #: Post a sales order for market 1 (SEK, customer WEBSE) and ship and invoice all of it;
    #: returns the invoice.
    shipped_and_invoiced: Callable[[], ErpInvoice]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServerThread]:
    with ServerThread(create_app(seed=1)) as server:
        yield server


def _fake_backend() -> Backend:
    fake: FakeBlueCherry = new_fake()

    def shipped() -> ErpInvoice:
        order = make_order(market=1)
        erp = fake.create_sales_order(order).order
        shipment = fake.dispatch(erp.order_no)
        invoice = ErpInvoice(
            invoice_no=f"INV-{shipment.shipment_no}", order_no=erp.order_no,
            customer_po=erp.customer_po, shipment_no=shipment.shipment_no,
            invoice_date=datetime.now(UTC).date(), currency=erp.currency,
            charges=order.totals.charges, tax=order.totals.tax, total=order.totals.total)
        fake.add_invoice(invoice)
        return invoice

    return Backend("fake", fake, shipped)


def _sandbox_backend(server: ServerThread) -> Backend:
    control = httpx.Client(base_url=f"{server.url}/_sandbox", timeout=10)
    control.post("/reset", json={}).raise_for_status()
    client = BlueCherryClient(BlueCherrySettings(
        base_url=f"{server.url}/api/v1", api_key=SecretStr(DEFAULT_API_KEY), timeout_s=5.0,
        page_size=3))
    cursor: list[str | None] = [None]

    def shipped() -> ErpInvoice:
        order = make_order(market=1)
        erp = client.create_sales_order(order).order
        control.post("/warehouse/run", json={"order_nos": [erp.order_no]}).raise_for_status()
        invoices, cursor[0] = client.iter_invoices(cursor[0])
        return next(i for i in invoices if i.order_no == erp.order_no)

    return Backend("sandbox", client, shipped)


@pytest.fixture(params=["fake", "sandbox"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with stamina.set_testing(True, attempts=1):
        if request.param == "fake":
            yield _fake_backend()
        else:
            yield _sandbox_backend(request.getfixturevalue("sandbox"))


def _receipt(invoice: ErpInvoice, amount: str, *, applied: str | None = None,
             day: date | None = None, reference: str | None = None) -> CashReceipt:
    apps = () if applied is None else (CashApplication(
        customer_po=invoice.customer_po, invoice_no=invoice.invoice_no,
        amount=Money.of(applied, invoice.currency)),)
    return CashReceipt(reference=reference or _ref("CAPTURE"), customer="WEBSE",
                       receipt_date=day or date(2026, 11, 28), currency=invoice.currency,
                       amount=Money.of(amount, invoice.currency), method="CARD",
                       applications=apps)


def test_the_invoices_feed_gives_a_shipped_orders_invoice_once(backend: Backend) -> None:
    """A shipped order's invoice is on the feed with its total; from the returned cursor the
    feed has nothing new."""
    invoice = backend.shipped_and_invoiced()
    assert invoice.total.amount > 0
    assert invoice.customer_po
    everything, cursor = backend.finance.iter_invoices(None)
    assert [i.invoice_no for i in everything].count(invoice.invoice_no) == 1
    later, again = backend.finance.iter_invoices(cursor)
    assert later == []
    assert again


def test_a_receipt_applied_to_an_invoice_is_stored_once_and_listed_by_its_date(
        backend: Backend) -> None:
    """201 with nothing unapplied; a repeat of the reference is created=False with the stored
    receipt; the day's listing holds it once."""
    invoice = backend.shipped_and_invoiced()
    total = str(invoice.total.amount)
    day = date(2026, 11, 21)
    receipt = _receipt(invoice, total, applied=total, day=day)
    first = backend.finance.post_cash_receipt(receipt)
    assert first.created
    assert first.record.unapplied == Money.zero(invoice.currency)
    assert first.record.applications[0].invoice_no == invoice.invoice_no
    again = backend.finance.post_cash_receipt(receipt)
    assert not again.created
    assert again.record.reference == receipt.reference
    assert again.record.amount == receipt.amount
    listed = [r for r in backend.finance.list_cash_receipts(day)
              if r.reference == receipt.reference]
    assert len(listed) == 1
    assert listed[0].amount == receipt.amount
    assert all(r.receipt_date == day for r in backend.finance.list_cash_receipts(day))


def test_cash_not_applied_stays_unapplied_on_the_receipt(backend: Backend) -> None:
    """A receipt with a partial application keeps the rest as unapplied cash, to the cent."""
    invoice = backend.shipped_and_invoiced()
    receipt = _receipt(invoice, str(invoice.total.amount + 10), applied="1.25")
    stored = backend.finance.post_cash_receipt(receipt).record
    assert stored.unapplied == Money.of(invoice.total.amount + 10 - 1, invoice.currency) \
        - Money.of("0.25", invoice.currency)


def test_an_application_to_an_unknown_invoice_is_refused(backend: Backend) -> None:
    invoice = backend.shipped_and_invoiced()
    ghost = ErpInvoice(invoice_no="INV-NOPE", order_no="", customer_po=invoice.customer_po,
                       shipment_no="", invoice_date=invoice.invoice_date,
                       currency=invoice.currency, charges=invoice.charges, tax=invoice.tax,
                       total=invoice.total)
    with pytest.raises(Rejected) as err:
        backend.finance.post_cash_receipt(_receipt(ghost, "10.00", applied="10.00"))
    assert {c["code"] for c in err.value.codes} == {"UNKNOWN_INVOICE"}


def test_applying_more_than_is_invoiced_is_refused_and_nothing_is_stored(
        backend: Backend) -> None:
    invoice = backend.shipped_and_invoiced()
    over = str(invoice.total.amount + 1)
    day = date(2026, 11, 22)
    receipt = _receipt(invoice, over, applied=over, day=day)
    with pytest.raises(Rejected) as err:
        backend.finance.post_cash_receipt(receipt)
    assert {c["code"] for c in err.value.codes} == {"OVERAPPLIED"}
    assert receipt.reference not in {r.reference
                                     for r in backend.finance.list_cash_receipts(day)}


def test_a_credit_memo_against_an_invoice_is_stored_once_and_listed_by_its_creation_day(
        backend: Backend) -> None:
    """A memo of a refunded amount (no lines: a charge) against the invoice; a repeat of the
    reference is created=False with the stored memo; today's listing holds it once."""
    invoice = backend.shipped_and_invoiced()
    amount = Money.of("100.00", invoice.currency)
    memo = CreditMemo(reference=_ref("REFUND"), customer="WEBSE",
                      customer_po=invoice.customer_po, invoice_no=invoice.invoice_no,
                      currency=invoice.currency, charges=amount, total=amount,
                      reason="refund")
    first = backend.finance.post_credit_memo(memo)
    assert first.created
    assert first.record.memo_no
    assert first.record.total == amount
    again = backend.finance.post_credit_memo(memo)
    assert not again.created
    assert again.record.memo_no == first.record.memo_no
    today = datetime.now(UTC).date()
    listed = [m for m in backend.finance.list_credit_memos(today)
              if m.reference == memo.reference]
    assert [m.memo_no for m in listed] == [first.record.memo_no]
    assert backend.finance.list_credit_memos(date(2001, 1, 1)) == []


def test_a_credit_memo_against_an_unknown_invoice_is_refused(backend: Backend) -> None:
    amount = Money.of("5.00", "SEK")
    memo = CreditMemo(reference=_ref("REFUND"), customer="WEBSE", customer_po="X1",
                      invoice_no="INV-NOPE", currency="SEK", charges=amount, total=amount)
    with pytest.raises(Rejected) as err:
        backend.finance.post_credit_memo(memo)
    assert {c["code"] for c in err.value.codes} == {"UNKNOWN_INVOICE"}


def test_the_streamed_reads_give_what_the_lists_and_the_feed_give(backend: Backend) -> None:
    """``iter_cash_receipts`` / ``iter_credit_memos`` yield a day's listing, and
    ``iter_invoice_pages`` the whole feed page by page, each page's cursor resuming after it
    (the reconciliation reads them so; the sandbox client's page size here is 3)."""
    day = date(2026, 11, 23)
    invoices = [backend.shipped_and_invoiced() for _ in range(4)]
    for inv in invoices:
        total = str(inv.total.amount)
        backend.finance.post_cash_receipt(_receipt(inv, total, applied=total, day=day))
    listed = sorted(r.reference for r in backend.finance.list_cash_receipts(day))
    assert sorted(r.reference for r in backend.finance.iter_cash_receipts(day)) == listed
    assert len(listed) >= 4
    memo_day = datetime.now(UTC).date()
    assert sorted(m.reference for m in backend.finance.iter_credit_memos(memo_day)) == sorted(
        m.reference for m in backend.finance.list_credit_memos(memo_day))
    everything, _ = backend.finance.iter_invoices(None)
    paged: list[str] = []
    for page, cursor in backend.finance.iter_invoice_pages(None):  # type: ignore[attr-defined]
        paged.extend(i.invoice_no for i in page)
        rest, _ = backend.finance.iter_invoices(cursor)
        assert [i.invoice_no for i in rest] == [i.invoice_no for i in everything][len(paged):]
    assert paged == [i.invoice_no for i in everything]
