"""The payment flow over the in-memory Centra and BlueCherry: a business day's captures become
cash receipts applied to the orders' invoices, refunds become credit memos, and nothing is
posted twice — on SQLite, PostgreSQL and the in-memory unit of work, the same tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from orderkit import m, market, order

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.domain.erp import CashApplication, CashReceipt, Customer, ErpInvoice, MasterData
from seamline.domain.orders import OrderStatus, PaymentEntry
from seamline.domain.payments import PaymentRules
from seamline.queue import JobQueue, TaskRegistry
from seamline.services.payments import PaymentFlow, register_payment_tasks
from seamline.testing.bluecherry import FakeBlueCherry
from seamline.testing.centra import FakeCentra
from seamline.testing.store import InMemoryStore, InMemoryWorker

DAY = date(2026, 11, 28)
#: The next morning at 06:00 in Stockholm: the batch of DAY is due.
MORNING = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)
MASTER = MasterData(
    divisions=frozenset({"D01"}), warehouses={"W01": "D01"},
    customers={"WEBSE": Customer(code="WEBSE", division="D01", currency="SEK",
                                 terms="PREPAID", stores=("SE",))},
)


class Env:
    def __init__(self, url: str | None, rules: PaymentRules | None = None) -> None:
        self.now = MORNING
        self.centra = FakeCentra()
        self.erp = FakeBlueCherry(MASTER)
        if url is None:
            self.store: Any = InMemoryStore(clock=lambda: self.now, registry=TaskRegistry())
        else:
            db = Database(url)
            db.upgrade()
            self.store = SqlStore(db, JobQueue(db, clock=lambda: self.now))
        self.flow = PaymentFlow(store=self.store, centra=self.centra, finance=self.erp,
                                markets=(market(),), rules=rules or PaymentRules(
                                    methods={"adyen": "CARD"}),
                                clock=lambda: self.now)
        self._ids = 100

    def place(self, number: int, total: str, captures: list[tuple[str, datetime]],
              refunds: Sequence[tuple[str, datetime]] = ()) -> None:
        pays = []
        for kind, items in (("CAPTURE", captures), ("REFUND", refunds)):
            for value, at in items:
                self._ids += 1
                pays.append(PaymentEntry(entry_type=kind, status="SUCCESS", value=m(value),
                                         external_reference=f"psp-{self._ids}", created_at=at,
                                         id=self._ids, payment_method="adyen"))
        self.centra.orders[number] = order(
            number=number, status=OrderStatus.PROCESSING, grand_total=m(total),
            updated_at=max((at for _, at in [*captures, *refunds]), default=self.now),
            payments=tuple(pays))

    def invoice(self, number: int, total: str, no: str | None = None) -> str:
        no = no or f"INV-{number}"
        self.erp.add_invoice(ErpInvoice(
            invoice_no=no, order_no=f"SO-{number}", customer_po=str(number),
            shipment_no=f"SH-{number}", invoice_date=DAY, currency="SEK",
            charges=m("0.00"), tax=m("0.00"), total=m(total)))
        return no

    def exceptions(self, type: str) -> list[Any]:
        with self.store.read() as uow:
            return uow.exceptions.find(type=type)


@pytest.fixture(params=["memory", "sqlite",
                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Any) -> Env:
    if request.param == "postgresql":
        return Env(request.getfixturevalue("make_pg_database")())
    return Env(None if request.param == "memory" else f"sqlite:///{tmp_path / 'p.db'}")


def at(hour: int, day: int = 28) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def test_a_days_captures_become_receipts_applied_to_their_invoices(env: Env) -> None:
    """Two orders shipped on the day (one in two partial shipments): one receipt per capture,
    each applied to its order's invoice to the cent; the next day's capture waits."""
    env.place(1001, "149.00", [("100.00", at(9)), ("49.00", at(15))])
    env.place(1002, "80.50", [("80.50", at(10))])
    env.place(1003, "10.00", [("10.00", at(9, day=29))])
    env.invoice(1001, "100.00", "INV-A")
    env.invoice(1001, "49.00", "INV-B")
    env.invoice(1002, "80.50")
    result = env.flow.run()
    assert result.days == ["1/SEK 2026-11-28"]
    assert result.receipts == 3
    assert result.received == {"SEK": m("229.50").amount}
    assert result.unapplied == {}
    receipts = env.erp.state.receipts
    assert len(receipts) == 3
    applied = sorted((a.invoice_no, a.amount) for r in receipts.values()
                     for a in r.applications)
    assert applied == [("INV-1002", m("80.50")), ("INV-A", m("100.00")), ("INV-B", m("49.00"))]
    assert all(r.receipt_date == DAY and r.customer == "WEBSE" and r.method == "CARD"
               for r in receipts.values())
    assert env.exceptions("RECEIPT_UNAPPLIED") == []


def test_the_same_day_batched_twice_posts_nothing_twice(env: Env) -> None:
    env.place(1001, "149.00", [("149.00", at(9))])
    env.invoice(1001, "149.00")
    first = env.flow.run(day=DAY)
    again = env.flow.run(day=DAY)
    scheduled = env.flow.run()
    assert (first.receipts, again.receipts, scheduled.receipts) == (1, 0, 0)
    assert len(env.erp.state.receipts) == 1
    assert env.erp.calls.count("post_cash_receipt") == 1


def test_a_scheduled_run_waits_for_batch_time_in_the_markets_time_zone(env: Env) -> None:
    env.place(1001, "149.00", [("149.00", at(9))])
    env.now = MORNING - timedelta(minutes=1)  # 05:59 in Stockholm: only the 27th is due
    assert env.flow.run().receipts == 0
    env.now = MORNING
    assert env.flow.run().receipts == 1
    assert env.flow.due() == {}


def test_a_capture_with_no_invoice_yet_is_posted_as_unapplied_cash_and_reported(
        env: Env) -> None:
    env.place(1001, "149.00", [("149.00", at(9))])
    env.invoice(1001, "100.00")
    result = env.flow.run(day=DAY)
    assert result.unapplied == {"SEK": m("49.00").amount}
    (receipt,) = env.erp.state.receipts.values()
    assert receipt.unapplied == m("49.00")
    (exc,) = env.exceptions("RECEIPT_UNAPPLIED")
    assert exc.owner == "finance"
    assert "49.00 SEK" in exc.message


def test_a_refund_becomes_a_credit_memo_against_the_orders_invoice(env: Env) -> None:
    env.place(1001, "149.00", [("149.00", at(9, day=27))], [("49.00", at(11))])
    env.invoice(1001, "149.00")
    result = env.flow.run(day=DAY)
    assert result.memos == 1
    assert result.refunded == {"SEK": m("49.00").amount}
    (memo,) = env.erp.state.memos.values()
    assert (memo.invoice_no, memo.customer_po, memo.total, memo.lines) == (
        "INV-1001", "1001", m("49.00"), ())
    assert env.flow.run(day=DAY).memos == 0
    assert len(env.erp.state.memos) == 1


def test_captures_above_the_grand_total_are_an_exception_for_finance(env: Env) -> None:
    env.place(1001, "149.00", [("149.00", at(9)), ("10.00", at(10))])
    env.place(1002, "50.00", [("60.00", at(9))], [("10.00", at(12))])
    env.flow.run(day=DAY)
    (exc,) = env.exceptions("CAPTURE_EXCEEDS_TOTAL")
    assert exc.business_key == "order:1001:payments"
    assert exc.owner == "finance"
    assert exc.details["over"] == "10.00"


def test_a_receipt_stored_before_the_answer_was_lost_is_posted_once(env: Env) -> None:
    """BlueCherry stores the receipt, the answer never comes: read back by the day's listing,
    found, counted as posted; BlueCherry holds it once."""
    env.place(1001, "149.00", [("149.00", at(9))])
    env.invoice(1001, "149.00")
    env.erp.fail_next(1, "commit-then-timeout", op="post_cash_receipt")
    result = env.flow.run(day=DAY)
    assert (result.receipts, result.repeats) == (1, 1)
    assert len(env.erp.state.receipts) == 1
    assert env.erp.calls.count("post_cash_receipt") == 1
    assert "list_cash_receipts" in env.erp.calls


def test_a_receipt_lost_before_bluecherry_stored_it_is_read_back_then_sent_again(
        env: Env) -> None:
    env.place(1001, "149.00", [("149.00", at(9))])
    env.invoice(1001, "149.00")
    env.erp.fail_next(1, "timeout", op="post_cash_receipt")
    result = env.flow.run(day=DAY)
    assert result.receipts == 1
    assert env.erp.calls.count("post_cash_receipt") == 2
    receipt_calls = [c for c in env.erp.calls if "receipt" in c]
    assert receipt_calls == ["post_cash_receipt", "list_cash_receipts", "post_cash_receipt"]
    assert len(env.erp.state.receipts) == 1


def test_a_batch_that_died_after_its_attempt_reads_back_before_sending(env: Env) -> None:
    """Both tries time out: the receipt stays attempted; the next run reads back first."""
    env.place(1001, "149.00", [("149.00", at(9))])
    env.invoice(1001, "149.00")
    env.erp.fail_next(2, "timeout", op="post_cash_receipt")
    with pytest.raises(Exception, match="no answer"):
        env.flow.run(day=DAY)
    with env.store.read() as uow:
        assert [d.state for d in uow.payments.documents()] == ["attempted"]
    calls = len(env.erp.calls)
    assert env.flow.run().receipts == 1
    receipt_calls = [c for c in env.erp.calls[calls:] if "receipt" in c]
    assert receipt_calls == ["list_cash_receipts", "post_cash_receipt"]
    assert len(env.erp.state.receipts) == 1


def test_overapplied_in_bluecherry_posts_the_cash_unapplied_and_names_the_code(env: Env) -> None:
    """Someone applied cash to the invoice in BlueCherry: OVERAPPLIED; the receipt is posted
    without applications and finance is told why."""
    env.place(1001, "149.00", [("149.00", at(9))])
    no = env.invoice(1001, "149.00")
    env.erp.post_cash_receipt(CashReceipt(
        reference="manual-1", customer="WEBSE", receipt_date=DAY, currency="SEK",
        amount=m("149.00"), applications=(CashApplication(customer_po="1001", invoice_no=no,
                                                          amount=m("149.00")),)))
    result = env.flow.run(day=DAY)
    assert result.receipts == 1
    assert result.unapplied == {"SEK": m("149.00").amount}
    ours = [r for r in env.erp.state.receipts.values() if r.reference != "manual-1"]
    assert [r.applications for r in ours] == [()]
    (exc,) = env.exceptions("RECEIPT_UNAPPLIED")
    assert "OVERAPPLIED" in exc.message


def test_receipts_can_be_one_per_customer_currency_and_day(tmp_path: Any) -> None:
    env = Env(None, PaymentRules(grouping="per_day_currency"))
    env.place(1001, "149.00", [("100.00", at(9)), ("49.00", at(15))])
    env.place(1002, "80.50", [("80.50", at(10))])
    env.invoice(1001, "149.00")
    result = env.flow.run(day=DAY)
    assert result.receipts == 1
    (receipt,) = env.erp.state.receipts.values()
    assert receipt.reference == "seamline:WEBSE:SEK:CARD:2026-11-28"
    assert receipt.amount == m("229.50")
    assert receipt.unapplied == m("80.50")
    # a capture of the 28th learned after the batch: a second receipt for the day
    env.place(1003, "5.00", [("5.00", at(20))])
    env.centra.orders[1003] = replace(env.centra.orders[1003], updated_at=MORNING)
    env.now = MORNING + timedelta(hours=1)
    assert env.flow.run(day=DAY).receipts == 1
    assert "seamline:WEBSE:SEK:CARD:2026-11-28:2" in env.erp.state.receipts


def test_an_unknown_market_is_refused_with_the_known_ones(env: Env) -> None:
    with pytest.raises(Exception, match="1/SEK"):
        env.flow.run(day=DAY, market="9/EUR")
    assert env.erp.calls == []


def test_an_over_capture_resolves_itself_once_a_refund_brings_it_within_the_total(
        env: Env) -> None:
    env.place(1001, "149.00", [("149.00", at(9)), ("10.00", at(10))])
    env.flow.run(day=DAY)
    assert len(env.exceptions("CAPTURE_EXCEEDS_TOTAL")) == 1
    env.now = MORNING + timedelta(hours=2)
    env.centra.clock = type("C", (), {"now": staticmethod(lambda: env.now)})()
    env.centra.refund(1001, m("10.00"))
    env.flow.collect_payments()
    assert env.exceptions("CAPTURE_EXCEEDS_TOTAL") == []


def test_the_queued_task_runs_a_day_and_waits_for_both_systems_when_they_are_down() -> None:
    """``payments.batch`` on the queue posts the day; it declares Centra and BlueCherry so an
    outage makes it wait instead of failing."""
    registry = TaskRegistry()
    env = Env(None)
    env.store = InMemoryStore(clock=lambda: env.now, registry=registry)
    env.flow.store = env.store
    register_payment_tasks(registry, lambda: env.flow)
    assert registry.get("payments.batch").needs == ("centra", "bluecherry")
    assert registry.get("payments.batch").queue == "payments"
    env.place(1001, "149.00", [("149.00", at(9))])
    env.invoice(1001, "149.00")
    with env.store.begin() as uow:
        uow.outbox.enqueue("payments.batch", {"day": DAY.isoformat(), "market": "1/SEK"},
                           queue="payments")
    InMemoryWorker(env.store, registry).drain()
    assert [r.amount for r in env.erp.state.receipts.values()] == [m("149.00")]
