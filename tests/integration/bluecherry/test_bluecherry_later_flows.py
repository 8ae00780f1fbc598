"""The client's later-flow calls against the sandbox: ATS cycles, the shipment and invoice feeds,
cash receipts and credit memos keyed by reference."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest
import stamina
from bluecherry_fixtures import make_order
from pydantic import SecretStr

from seamline.adapters.bluecherry import BlueCherryClient
from seamline.adapters.bluecherry.cursors import InMemoryCursorStore, advance_ats, advance_feed
from seamline.config import BlueCherrySettings
from seamline.domain.erp import CashApplication, CashReceipt, CreditMemo, CreditMemoLine
from seamline.domain.money import Money
from seamline.exceptions import Rejected
from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.serve import ServerThread


@pytest.fixture
def world() -> Iterator[tuple[BlueCherryClient, httpx.Client]]:
    with ServerThread(create_app(seed=1)) as server, stamina.set_testing(True, attempts=1):
        client = BlueCherryClient(BlueCherrySettings(
            base_url=f"{server.url}/api/v1", api_key=SecretStr(DEFAULT_API_KEY), timeout_s=5,
            page_size=25))
        control = httpx.Client(base_url=f"{server.url}/_sandbox", timeout=10)
        yield client, control
        client.close()
        control.close()


def test_ats_moves_only_with_cycles_and_deltas_name_what_changed(
    world: tuple[BlueCherryClient, httpx.Client],
) -> None:
    """A cycle's snapshot covers the warehouse; after an order and a new cycle the delta shows
    the ordered SKU with its open demand."""
    client, control = world
    control.post("/ats/cycle", json={}).raise_for_status()
    store = InMemoryCursorStore()
    first = advance_ats(client, store, "W01", lambda batch: True)
    cycle, items = first.batch
    assert items
    order = make_order(lines=1, quantity=2)
    client.create_sales_order(order)
    control.post("/ats/cycle", json={}).raise_for_status()
    second = advance_ats(client, store, "W01", lambda batch: True)
    new_cycle, delta = second.batch
    assert new_cycle.id > cycle.id
    sku = order.lines[0].sku
    changed = {i.sku: i for i in delta}
    assert sku in changed
    assert changed[sku].open_demand >= 2
    assert store.get("bluecherry.ats.W01") == str(new_cycle.id)


def test_shipments_invoices_receipts_and_credit_memos(
    world: tuple[BlueCherryClient, httpx.Client],
) -> None:
    """Shipped orders appear once on the feeds; receipts and memos are idempotent by reference."""
    client, control = world
    orders = [make_order(lines=2, quantity=1) for _ in range(3)]
    nos = [client.create_sales_order(o).order.order_no for o in orders]
    control.post("/warehouse/run", json={"order_nos": nos}).raise_for_status()
    store = InMemoryCursorStore()
    run = advance_feed(client, store, "shipments", lambda items: True)
    shipped = {s.order_no for s in run.batch}
    assert shipped == set(nos)
    assert all(s.cartons and s.cartons[0].tracking_number for s in run.batch)
    assert advance_feed(client, store, "shipments", lambda items: True).batch == []
    invoices = advance_feed(client, InMemoryCursorStore(), "invoices", lambda items: True).batch
    assert {i.order_no for i in invoices} == set(nos)
    inv = next(i for i in invoices if i.order_no == nos[0])
    assert inv.total.currency == orders[0].currency

    cur = inv.currency
    receipt = CashReceipt(
        reference=f"PSP-{inv.invoice_no}", customer=orders[0].customer,
        receipt_date=date(2026, 11, 28), currency=cur, amount=inv.total,
        applications=(CashApplication(customer_po=inv.customer_po, invoice_no=inv.invoice_no,
                                      amount=inv.total),),
    )
    posted = client.post_cash_receipt(receipt)
    assert posted.created
    assert posted.record.unapplied == Money.zero(cur)
    again = client.post_cash_receipt(receipt)
    assert not again.created
    assert again.record.reference == receipt.reference
    with pytest.raises(Rejected) as info:
        client.post_cash_receipt(CashReceipt(
            reference="PSP-over", customer=orders[0].customer, receipt_date=date(2026, 11, 28),
            currency=cur, amount=inv.total,
            applications=(CashApplication(customer_po=inv.customer_po,
                                          invoice_no=inv.invoice_no, amount=inv.total),)))
    assert {c["code"] for c in info.value.codes} == {"OVERAPPLIED"}
    with pytest.raises(Rejected) as info2:
        client.post_cash_receipt(CashReceipt(
            reference="PSP-unknown", customer=orders[0].customer,
            receipt_date=date(2026, 11, 28), currency=cur, amount=inv.total,
            applications=(CashApplication(customer_po="", invoice_no="INV-nope",
                                          amount=inv.total),)))
    assert {c["code"] for c in info2.value.codes} == {"UNKNOWN_INVOICE"}

    line = orders[0].lines[0]
    amount = line.net
    memo = CreditMemo(
        reference=f"RMA-{inv.invoice_no}", customer=orders[0].customer,
        customer_po=orders[0].customer_po, invoice_no=inv.invoice_no, currency=cur,
        lines=(CreditMemoLine(sku=line.sku, upc=line.upc, quantity=1, amount=amount,
                              tax=line.tax),),
        charges=Money.zero(cur), total=amount, reason="return",
    )
    made = client.post_credit_memo(memo)
    assert made.created
    assert made.record.memo_no
    repeat = client.post_credit_memo(memo)
    assert not repeat.created
    assert repeat.record.memo_no == made.record.memo_no
