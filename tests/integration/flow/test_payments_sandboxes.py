"""The payment batch end to end over real HTTP: orders posted to the BlueCherry sandbox, shipped
by its warehouse (partial shipments too) and captured in the Centra sandbox by the shipment
flow, refunds made in Centra; then the batch posts each capture as one BlueCherry cash receipt
applied to the order's invoices and each refund as one credit memo — once, whatever the repeats,
lost answers and BlueCherry's 422s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from seamline.bootstrap import Container
from seamline.config import Settings
from seamline.domain.erp import CashApplication, CashReceipt
from seamline.domain.money import Money
from seamline.domain.payments import InvoiceRecord, business_day
from seamline.services.payments import market_key
from seamline_sandbox.harness import Sandboxes, build_seamline, run_until_quiet, settings_for
from seamline_sandbox.shipping import ship
from seamline_sandbox.world import MARKETS

MARKET_IDS = (1, 3)  # SE (SEK, VAT) and UK (GBP, VAT)


def _settings(sb: Sandboxes, tmp_path: Path) -> Settings:
    base = settings_for(sb, f"sqlite:///{tmp_path / 'pay.db'}")
    data = base.model_dump(mode="python")
    data["centra"]["token"] = sb.centra_token
    data["bluecherry"]["api_key"] = sb.bluecherry_key
    data["payments"] = {"methods": {"dummy": "CARD"}}
    return Settings.model_validate(data)


@pytest.fixture
def sb() -> Iterator[Sandboxes]:
    with Sandboxes(seed=21, lift_rate_limits=True, hold_seconds=0.5) as sandboxes:
        yield sandboxes


@pytest.fixture
def shipped(sb: Sandboxes, tmp_path: Path) -> Iterator[Container]:
    """Orders of SE and UK posted, shipped (some in two partial shipments) and captured."""
    container = build_seamline(sb, _settings(sb, tmp_path))
    try:
        sb.place_orders(12, seed=8, hold_rate=0.0, waiting_payment_rate=0.0,
                        unknown_sku_rate=0.0, pickup_point_rate=0.0, inconsistent_rate=0.0,
                        markets=[m for m in MARKETS if m.id in MARKET_IDS])
        run_until_quiet(container, timeout_s=120)
        for run in range(3):
            ship(sb, partial_probability=0.5, short_probability=0.0, seed=run)
            run_until_quiet(container, timeout_s=120, poll=False, batches=False,
                            catalogue=False, shipments=True)
        yield container
    finally:
        container.close()


def _centra_entries(sb: Sandboxes, kind: str) -> list[dict[str, Any]]:
    return [{**p, "order": o["number"], "currency": o["currency"]}
            for o in sb.centra_orders() for p in o["payments"]
            if p["type"] == kind and p["status"] == "SUCCESS"]


def _receipts(sb: Sandboxes) -> list[dict[str, Any]]:
    return [dict(r) for r in sb.bluecherry.state.receipts.values()]


def _batch(container: Container) -> Any:
    """Today's business day of each market (every capture was made today)."""
    flow = container.payments
    total = []
    for m in flow.markets:
        if m.centra_market not in MARKET_IDS:
            continue
        total.append(flow.run(day=business_day(flow.clock(), m.tz), market=market_key(m)))
    return total


def _sum(rows: list[dict[str, Any]], field: str = "amount") -> Counter[str]:
    out: Counter[str] = Counter()
    for r in rows:
        out[r["currency"]] += Decimal(str(r[field]))
    return out


def test_a_days_captures_and_refunds_post_once_and_tie_out(sb: Sandboxes,
                                                           shipped: Container) -> None:
    """Every Centra capture is one BlueCherry receipt (by reference), the receipts add up to
    the captures per currency, every cent is applied to the order's invoices; the refund is one
    credit memo against the order's invoice; a second run posts nothing."""
    captures = _centra_entries(sb, "CAPTURE")
    assert captures
    per_order = Counter(c["order"] for c in captures)
    assert any(n > 1 for n in per_order.values())  # partial shipments' captures
    refunded = captures[0]["order"]
    sb._client().post(f"{sb.centra_root}/_sandbox/orders/{refunded}/refund",
                      json={"amount": "10.00"}).raise_for_status()
    results = _batch(shipped)
    receipts = _receipts(sb)
    assert len(receipts) == len(captures)
    assert len({r["reference"] for r in receipts}) == len(receipts)
    assert _sum(receipts) == _sum([{"currency": c["currency"], "amount": c["value"]}
                                   for c in captures])
    assert all(Decimal(r["unapplied"]) == 0 for r in receipts), [
        (r["reference"], r["unapplied"]) for r in receipts if Decimal(r["unapplied"])]
    # each order's receipts applied exactly its invoices' totals
    invoices = sb.bluecherry.state.invoices
    applied: Counter[str] = Counter()
    for r in receipts:
        for a in r["applications"]:
            applied[a["invoice_no"]] += Decimal(a["amount"])
    assert applied == Counter({i["invoice_no"]: Decimal(i["total"]) for i in invoices
                               if int(i["customer_po"]) in per_order})
    memos = list(sb.bluecherry.state.credit_memos.values())
    assert [(m["customer_po"], m["total"]) for m in memos] == [(str(refunded), "10.00")]
    assert memos[0]["invoice_no"] in {i["invoice_no"] for i in invoices
                                      if i["customer_po"] == str(refunded)}
    assert sum(r.receipts for r in results) == len(captures)
    assert sum(r.memos for r in results) == 1
    again = _batch(shipped)
    assert sum(r.receipts + r.memos + r.repeats for r in again) == 0
    assert len(_receipts(sb)) == len(captures)
    assert len(sb.bluecherry.state.credit_memos) == 1
    with shipped.store.read() as uow:
        assert uow.exceptions.find(type="RECEIPT_UNAPPLIED") == []
        assert uow.exceptions.find(type="CAPTURE_EXCEEDS_TOTAL") == []


def test_a_receipt_bluecherry_stored_before_the_answer_was_lost_is_posted_once(
        sb: Sandboxes, shipped: Container) -> None:
    """commit-then-drop on the first receipts: BlueCherry stores them, the client never hears;
    the batch reads the day back by reference and posts nothing twice."""
    captures = _centra_entries(sb, "CAPTURE")
    sb.bluecherry_fault("commit_then_drop", 2, match="cash_receipt")
    results = _batch(shipped)
    receipts = _receipts(sb)
    assert len(receipts) == len(captures)
    assert Counter(r["reference"] for r in receipts).most_common(1)[0][1] == 1
    assert sum(r.repeats for r in results) == 2
    assert sum(r.receipts for r in results) == len(captures)


def test_bluecherrys_unknown_invoice_and_overapplied_post_the_cash_unapplied(
        sb: Sandboxes, shipped: Container) -> None:
    """An invoice Seamline believes in that BlueCherry does not know (UNKNOWN_INVOICE), and an
    invoice a person already paid in BlueCherry (OVERAPPLIED): the receipts are posted without
    applications and finance gets RECEIPT_UNAPPLIED naming the code."""
    captures = _centra_entries(sb, "CAPTURE")
    first, second = sorted({c["order"] for c in captures})[:2]
    invoices = sb.bluecherry.state.invoices
    paid = next(i for i in invoices if i["customer_po"] == str(second))
    flow = shipped.payments
    flow.sync_invoices()
    with shipped.store.begin() as uow:
        uow.payments.save_invoices([InvoiceRecord(
            invoice_no="INV-GHOST", order_no="SO-0", customer_po=str(first),
            currency=paid["currency"], total=Money.of("100000", paid["currency"]),
            invoice_date=date(2020, 1, 1), applied=Money.zero(paid["currency"]))])
    cur = paid["currency"]
    shipped.finance.post_cash_receipt(CashReceipt(
        reference="manual-payment", customer=paid["customer"], receipt_date=date(2020, 1, 1),
        currency=cur, amount=Money.of(paid["total"], cur),
        applications=(CashApplication(customer_po=paid["customer_po"],
                                      invoice_no=paid["invoice_no"],
                                      amount=Money.of(paid["total"], cur)),)))
    _batch(shipped)
    mine = [r for r in _receipts(sb) if r["reference"] != "manual-payment"]
    assert len(mine) == len(captures)
    with shipped.store.read() as uow:
        excs = uow.exceptions.find(type="RECEIPT_UNAPPLIED")
    messages = " ".join(e.message for e in excs)
    assert "UNKNOWN_INVOICE" in messages
    assert "OVERAPPLIED" in messages
    bare = {r["reference"] for r in mine if not r["applications"]}
    assert len(bare) == len(excs)
    assert all(Decimal(r["unapplied"]) == Decimal(r["amount"]) for r in mine
               if r["reference"] in bare)
