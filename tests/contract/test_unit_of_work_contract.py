"""One contract for every unit of work: SQLite, PostgreSQL and the in-memory store behave alike
for what the services use (orders, ledger, cursors, audit, exceptions with the orders they hold,
and the outbox)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.domain.alerts import Alert
from seamline.domain.ledger import OrderState
from seamline.domain.money import Money
from seamline.domain.payments import InvoiceRecord, PaymentDocument, PaymentRecord
from seamline.domain.stock import DemandLine, StockTarget
from seamline.queue import JobQueue, TaskRegistry
from seamline.services.unit_of_work import Store
from seamline.testing.store import InMemoryStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sql", "memory"])
def store(request: pytest.FixtureRequest, db: Database) -> Iterator[Store]:
    """Each store kind: the SQL one on each database of ``db``, and the in-memory one."""
    if request.param == "memory":
        if db.dialect != "sqlite":
            pytest.skip("the in-memory store runs once")
        yield InMemoryStore(clock=lambda: NOW, registry=TaskRegistry())
    else:
        yield SqlStore(db, JobQueue(db, clock=lambda: NOW))


def test_an_order_row_keeps_its_state_and_json_and_counts_its_versions(store: Store) -> None:
    """Saved twice: the typed view reads the JSON back, the version counts both saves."""
    with store.begin() as uow:
        uow.orders.save(7, state=OrderState.NEW, data={"snapshot": {"a": 1}}, now=NOW)
        uow.orders.save(7, state=OrderState.POSTED, now=NOW, posted_hash="h",
                        data={"snapshot": {"a": 1}, "order_no": "SO1", "line_map": {"1": 2}})
    with store.read() as uow:
        row = uow.orders.get(7)
        assert uow.orders.get(8) is None
        assert uow.orders.count_by_state() == {"posted": 1}
    assert row is not None
    assert (row.number, row.state, row.version) == (7, OrderState.POSTED, 2)
    assert (row.data.order_no, row.data.line_map, row.data.snapshot) == ("SO1", {1: 2}, {"a": 1})


def test_the_ledger_pages_one_kind_in_key_order_after_an_id(store: Store) -> None:
    """``page`` streams one kind in id order, ``limit`` at a time, skipping other kinds."""
    with store.begin() as uow:
        for n in (30, 10, 20):
            uow.orders.save(n, state=OrderState.NEW, data={"snapshot": {"n": n}}, now=NOW)
            uow.ledger.save("other", str(n), state="x", data={}, now=NOW)
    seen: list[str] = []
    after = 0
    with store.read() as uow:
        while page := uow.ledger.page("order", after_id=after, limit=2):
            assert len(page) <= 2
            seen.extend(e.business_key for e in page)
            after = page[-1].id
        assert uow.ledger.page("order", after_id=after, limit=5) == []
    assert seen == ["30", "10", "20"]


def test_marking_many_orders_sets_fields_and_state_without_reading_them(store: Store) -> None:
    """``mark`` moves rows to a state and adds scalar fields, leaving the rest of the JSON."""
    with store.begin() as uow:
        for n in (1, 2, 3):
            uow.orders.save(n, state=OrderState.POSTED, data={"order_no": f"SO{n}"}, now=NOW)
        assert uow.orders.mark([1, 2], {"written_back_at": "t"}, state=OrderState.SYNCED,
                               now=NOW) == 2
    with store.read() as uow:
        assert [r.number for r in uow.orders.in_state(OrderState.POSTED)] == [3]
        synced = uow.orders.in_state(OrderState.SYNCED, limit=1)
    assert [(r.number, r.data.order_no, r.data.written_back_at) for r in synced] == \
        [(1, "SO1", "t")]


def test_a_failing_unit_of_work_leaves_nothing_behind(store: Store) -> None:
    """An error inside the block rolls back the ledger, cursors, exceptions and jobs alike."""
    def fail() -> None:
        with store.begin() as uow:
            uow.orders.save(9, state=OrderState.NEW, data={}, now=NOW)
            uow.cursors.set("c", "v", now=NOW)
            uow.exceptions.raise_(type="POST_FAILED", owner="operations",
                                  business_key="order:9", message="m", now=NOW)
            uow.outbox.enqueue("orders.post", {"number": 9}, dedupe_key="order:post:9")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail()
    with store.read() as uow:
        assert uow.orders.get(9) is None
        assert uow.cursors.get("c") is None
        assert uow.exceptions.find() == []
        assert uow.outbox.jobs_for("order:9", ["order:post:9"]) == []


def test_the_outbox_dedupes_live_jobs(store: Store) -> None:
    """A second job with a live dedupe key is not enqueued."""
    with store.begin() as uow:
        first = uow.outbox.enqueue("orders.post", {"number": 1}, queue="orders",
                                   dedupe_key="order:post:1", business_key="order:1")
        again = uow.outbox.enqueue("orders.post", {"number": 1}, queue="orders",
                                   dedupe_key="order:post:1", business_key="order:1")
    with store.read() as uow:
        jobs = uow.outbox.jobs_for("order:1", [])
        assert uow.outbox.next_due(["orders"]) == NOW
    assert first is not None
    assert again is None
    assert [(j.id, j.task, j.args) for j in jobs] == [(first, "orders.post", {"number": 1})]


def test_an_exception_counts_repeats_holds_orders_and_resolves_when_none_is_held(
    store: Store,
) -> None:
    """One open exception per key; the orders it holds are listed; releasing the last one says
    it holds none, and resolving closes it once."""
    key = "mapping:shipping_option:pickup"
    with store.begin() as uow:
        a = uow.exceptions.raise_(type="MAPPING_MISSING", owner="ecommerce", business_key=key,
                                  message="no mapping", details={"api_token": "x", "k": 1},
                                  now=NOW)
        b = uow.exceptions.raise_(type="MAPPING_MISSING", owner="ecommerce", business_key=key,
                                  message="no mapping", now=NOW)
        uow.exceptions.hold_order(a, "1", now=NOW)
        uow.exceptions.hold_order(a, "2", now=NOW)
        assert uow.exceptions.hold_order(a, "2", now=NOW) is False
    assert a == b
    with store.read() as uow:
        (found,) = uow.exceptions.find(type="MAPPING_MISSING")
        holds = uow.exceptions.open_holds()
        assert uow.exceptions.lock_open(None, types=["MAPPING_MISSING"]) == \
            [(a, "MAPPING_MISSING", key)]
    assert (found.count, found.orders) == (2, (1, 2))
    assert found.message == "no mapping; 2 order(s) wait: 1, 2"
    assert [(h.exception_id, h.order_key) for h in holds] == [(a, "1"), (a, "2")]
    with store.begin() as uow:
        assert uow.exceptions.release_order("1") == []
        assert uow.exceptions.release_order("2") == [a]
        assert uow.exceptions.resolve_ids([a], note="fixed", now=NOW) == [a]
        assert uow.exceptions.resolve_for_key(key, now=NOW) == []
    with store.read() as uow:
        got = uow.exceptions.get(a)
    assert got is not None
    assert (got.state, got.orders, got.details) == ("resolved", (), None)
    assert [h.action for h in got.history] == ["opened", "repeated", "resolved"]


def test_cursors_and_the_audit_log(store: Store) -> None:
    """A cursor keeps its last value; the audit log keeps every line of an entity in order."""
    with store.begin() as uow:
        uow.cursors.lock("c")
        uow.cursors.set("c", "1", now=NOW)
        uow.cursors.set("c", "2", now=NOW)
        uow.audit.append("order", "5", "frozen", "job:1", {"total": "10.00"}, now=NOW)
        uow.audit.append("order", "5", "posted", "job:1", now=NOW)
    with store.read() as uow:
        assert uow.cursors.get("c") == "2"
        lines = uow.audit.for_entity("order", "5")
    assert [(a["action"], a["detail"]) for a in lines] == \
        [("frozen", {"total": "10.00"}), ("posted", None)]


def test_stock_ats_is_summed_over_the_warehouses_asked_for(store: Store) -> None:
    """ATS rows upsert by (warehouse, SKU); a read sums the warehouses given."""
    with store.begin() as uow:
        uow.stock.save_ats([("W01", "A", "1", 4), ("W04", "A", "1", 6), ("W01", "B", "", 2)],
                           cycle_id=1)
        uow.stock.save_ats([("W01", "A", "1", 5)], cycle_id=2)
    with store.read() as uow:
        assert uow.stock.ats(["W01", "W04"]) == {"A": ("1", 11), "B": ("", 2)}
        assert uow.stock.ats(["W04"], ["A", "B"]) == {"A": ("1", 6)}


def test_stock_demand_counts_what_a_cycle_saw_and_reports_what_changed(store: Store) -> None:
    """``counted`` sums units created at or before each warehouse's as-of; ``set_demand``
    names the (warehouse, SKU) pairs whose units moved, a line that left included."""
    def line(n: int, no: int, sku: str, units: int, minutes: int) -> DemandLine:
        return DemandLine(order_number=n, line_no=no, warehouse="W01", sku=sku, units=units,
                          created_at=NOW + timedelta(minutes=minutes))

    with store.begin() as uow:
        assert uow.stock.set_demand(1, [line(1, 1, "A", 2, 0), line(1, 2, "B", 1, 0)],
                                    now=NOW) == [("W01", "A"), ("W01", "B")]
        uow.stock.set_demand(2, [line(2, 1, "A", 5, 10)], now=NOW)
    with store.read() as uow:
        assert uow.stock.counted({"W01": NOW}) == {"A": 2, "B": 1}
        assert uow.stock.counted({"W01": NOW + timedelta(minutes=10)}, ["A"]) == {"A": 7}
        assert uow.stock.counted({"W02": NOW}) == {}
    later = NOW + timedelta(minutes=30)
    with store.begin() as uow:
        assert uow.stock.set_demand(1, [line(1, 1, "A", 2, 0)], now=later) == [("W01", "B")]
        assert uow.stock.set_demand(2, [line(2, 1, "A", 5, 10)], now=later) == []
    with store.read() as uow:
        assert uow.stock.counted({"W01": later}) == {"A": 7}
        assert uow.stock.demand_changed_since(later) == {("W01", "B")}
        assert uow.stock.summary()["demand_units"] == 7


def test_stock_levels_are_pending_until_pushed_and_unknown_ones_wait_for_a_resend(
        store: Store) -> None:
    """A target is pending until ``mark_pushed`` records it; an unknown size leaves
    ``pending``; ``resend`` forgets both."""
    def target(sku: str, ats: int) -> StockTarget:
        return StockTarget(centra_warehouse=1, sku=sku, centra_key=sku, ats=ats, buffer=1,
                           counted=2, cycle_id=3)

    with store.begin() as uow:
        uow.stock.save_targets([target("A", 5), target("B", 0), target("C", 1)],
                               published_at=NOW, now=NOW)
        assert [(r.sku, r.target) for r in uow.stock.pending(1)] == [
            ("A", 6), ("B", 2), ("C", 2)]
        uow.stock.mark_pushed(1, [("A", 6), ("B", 2)], now=NOW)
        uow.stock.mark_unknown(1, ["C"], now=NOW)
    with store.begin() as uow:
        assert uow.stock.pending() == []
        uow.stock.save_targets([target("A", 5), target("C", 4)], published_at=NOW, now=NOW)
        assert uow.stock.pending() == []
        row = uow.stock.levels(1, ["A"])["A"]
        assert (row.pushed, row.published_at, row.cycle_id) == (6, NOW, 3)
        assert uow.stock.summary() == {"sizes": 3, "pending": 0, "unknown": 1,
                                       "demand_units": 0}
        uow.stock.save_targets([target("A", 5), target("C", 4)], published_at=NOW, now=NOW,
                               resend=True)
        assert [r.sku for r in uow.stock.pending(1)] == ["A", "C"]


def _payment(ref: str, order: int, amount: str, day: date, *, kind: str = "CAPTURE",
             market: str = "1/SEK", at: datetime = NOW) -> PaymentRecord:
    return PaymentRecord(reference=ref, order_number=order, entry_id=order * 10, kind=kind,
                         market=market, customer="WEBSE", currency="SEK",
                         amount=Money.of(amount, "SEK"), method="CARD", captured_at=at,
                         business_day=day)


def test_payment_records_are_kept_once_and_wait_for_a_document(store: Store) -> None:
    """A known reference is not added again; pending records are those on no document up to a
    day (of one market), oldest capture first; assigned ones leave the pending list."""
    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    with store.begin() as uow:
        assert uow.payments.add_records([
            _payment("a", 1, "10.50", d1, at=NOW + timedelta(minutes=2)),
            _payment("b", 2, "5.25", d1, at=NOW),
            _payment("c", 3, "1.00", d2),
            _payment("d", 4, "2.00", d1, market="2/EUR"),
        ], now=NOW) == 4
        assert uow.payments.add_records([_payment("a", 1, "99.00", d1)], now=NOW) == 0
    with store.begin() as uow:
        assert [r.reference for r in uow.payments.pending_records(d1, market="1/SEK")] == [
            "b", "a"]
        assert [r.reference for r in uow.payments.pending_records(d2)] == ["b", "c", "d", "a"]
        first = uow.payments.pending_records(d1, market="1/SEK")[1]
        assert first.amount == Money.of("10.50", "SEK")
        assert first.captured_at == NOW + timedelta(minutes=2)
        uow.payments.assign({"a": "R1", "b": "R1"})
    with store.read() as uow:
        assert [r.reference for r in uow.payments.pending_records(d2)] == ["c", "d"]
        assert [r.reference for r in uow.payments.records_of("R1")] == ["b", "a"]
        assert {r.reference for r in uow.payments.records_for_orders([1, 3])} == {"a", "c"}


def test_payment_documents_keep_their_frozen_payload_and_state(store: Store) -> None:
    doc = PaymentDocument(reference="R1", kind="receipt", business_day=date(2026, 3, 1),
                          customer="WEBSE", currency="SEK", amount=Money.of("15.75", "SEK"),
                          unapplied=Money.of("0.25", "SEK"), state="planned",
                          payload={"reference": "R1", "amount": "15.75"}, orders=(1, 2))
    with store.begin() as uow:
        uow.payments.save_documents([doc], now=NOW)
    with store.begin() as uow:
        got = uow.payments.get_document("R1")
        assert got == doc
        uow.payments.save_documents([dataclasses.replace(doc, state="posted",
                                                         result={"receipt_no": "CR-1"})],
                                    now=NOW)
    with store.read() as uow:
        assert uow.payments.get_document("nope") is None
        assert [d.state for d in uow.payments.documents(day=date(2026, 3, 1))] == ["posted"]
        assert uow.payments.documents(day=date(2026, 3, 2)) == []
        assert uow.payments.documents(states=["planned"]) == []
        posted = uow.payments.documents(states=["posted"])[0]
        assert posted.result == {"receipt_no": "CR-1"}
        assert posted.unapplied == Money.of("0.25", "SEK")


def test_invoices_are_mirrored_once_and_count_the_cash_applied(store: Store) -> None:
    def inv(no: str, po: str, total: str, day: int) -> InvoiceRecord:
        return InvoiceRecord(invoice_no=no, order_no="SO-1", customer_po=po, currency="SEK",
                             total=Money.of(total, "SEK"), invoice_date=date(2026, 3, day),
                             applied=Money.zero("SEK"))

    with store.begin() as uow:
        assert uow.payments.save_invoices([inv("I2", "100", "30.00", 2),
                                           inv("I1", "100", "20.00", 1),
                                           inv("I3", "101", "5.00", 1)]) == 3
        uow.payments.add_applied({"I1": Money.of("7.30", "SEK"), "I3": Money.of("5.00", "SEK")})
        uow.payments.add_applied({"I1": Money.of("0.70", "SEK"), "I3": Money.of("-1.25", "SEK")})
        assert uow.payments.save_invoices([inv("I1", "100", "20.00", 1)]) == 0
    with store.read() as uow:
        got = uow.payments.invoices_for(["100", "999"])
        assert list(got) == ["100"]
        assert [i.invoice_no for i in got["100"]] == ["I1", "I2"]
        assert got["100"][0].applied == Money.of("8.00", "SEK")
        assert got["100"][0].open == Money.of("12.00", "SEK")
        assert uow.payments.invoices_for(["101"])["101"][0].applied == Money.of("3.75", "SEK")
def test_an_alert_is_delivered_once_per_destination_and_records_its_attempts(
        store: Store) -> None:
    """A second delivery of one key to one destination is refused (restarts and several
    workers never send twice); attempts, status and the time sent are kept; newest first."""
    alert = Alert(key="exception:7", owner="finance", kind="exception", title="t", body="b")
    with store.begin() as uow:
        first = uow.alerts.add(alert, "json://h/***", "hash-a", now=NOW)
        again = uow.alerts.add(alert, "json://h/***", "hash-a", now=NOW)
        other = uow.alerts.add(alert, "mailto://***@h", "hash-b", now=NOW)
        digest = uow.alerts.add(Alert("digest:cx:2026-03-01", "cx", "digest", "d", "b"),
                                "json://h/***", "hash-a", now=NOW + timedelta(minutes=1))
    assert first is not None
    assert other is not None
    assert digest is not None
    assert again is None
    with store.begin() as uow:
        uow.alerts.attempted(first, status="pending", error="refused", now=NOW)
        uow.alerts.attempted(first, status="sent", now=NOW + timedelta(minutes=2))
        uow.alerts.attempted(other, status="failed", error="x" * 2000, now=NOW)
    with store.read() as uow:
        sent = uow.alerts.get(first)
        failed = uow.alerts.get(other)
        assert uow.alerts.get(10_000) is None
        assert uow.alerts.has(["exception:7", "exception:8", "digest:cx:2026-03-01"]) == \
            {"exception:7", "digest:cx:2026-03-01"}
        assert [d.id for d in uow.alerts.recent(limit=2)] == [digest, other]
        assert [d.key for d in uow.alerts.recent(owner="cx")] == ["digest:cx:2026-03-01"]
        assert uow.alerts.counts() == {("exception", "sent"): 1, ("exception", "failed"): 1,
                                       ("digest", "pending"): 1}
    assert sent is not None
    assert failed is not None
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == \
        ("sent", 2, NOW + timedelta(minutes=2), "")
    assert (failed.status, failed.attempts, len(failed.last_error)) == ("failed", 1, 1000)
    assert (sent.owner, sent.kind, sent.destination, sent.title) == \
        ("finance", "exception", "json://h/***", "t")
