"""The shipment flow over the in-memory Centra and BlueCherry: orders posted by the order flow,
shipped by BlueCherry's warehouse, and brought into Centra exactly once — on SQLite, PostgreSQL
and the in-memory unit of work, the same tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from orderkit import catalogue_items, line, m, market, order, rules

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.bootstrap import queue_hooks
from seamline.domain.erp import Customer, ErpShipment, ErpShipmentLine, MasterData
from seamline.domain.orders import CentraOrder, OrderStatus
from seamline.domain.shipments import CarrierName, ShipmentRules
from seamline.queue import JobQueue, RetryPolicy, TaskRegistry, Worker
from seamline.services.orders import OrderFlow, register_order_tasks
from seamline.services.shipments import ShipmentFlow, register_shipment_tasks
from seamline.services.shipments.metrics import PendingShipments
from seamline.testing.bluecherry import FakeBlueCherry
from seamline.testing.centra import FakeCentra
from seamline.testing.store import InMemoryStore, InMemoryWorker

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MASTER = MasterData(
    divisions=frozenset({"D01"}), warehouses={"W01": "D01"},
    customers={"WEBSE": Customer(code="WEBSE", division="D01", currency="SEK",
                                 terms="PREPAID", stores=("SE",))},
    ship_vias=frozenset({"PNORD", "UPSG"}), order_types=frozenset({"ECOM"}),
    terms=frozenset({"PREPAID"}), seasons={"FW26": frozenset({""})},
)
RULES = ShipmentRules(carriers={"PNORD": CarrierName("PostNord", "MyPack Home")},
                      email_by_market={(2, None): False})


class _CentraClock:
    def __init__(self, env: Env) -> None:
        self.env = env

    def now(self) -> datetime:
        return self.env.now - timedelta(seconds=1)


class Env:
    """Both flows on SQLite (``url``) or on the in-memory unit of work (``url=None``)."""

    def __init__(self, url: str | None) -> None:
        self.now = NOW
        self.registry = TaskRegistry()
        policy = RetryPolicy(base_s=0.0, cap_s=0.0, max_attempts=5)
        self.centra = FakeCentra(clock=_CentraClock(self))
        self.erp = FakeBlueCherry(MASTER, catalogue_items(60), clock=_CentraClock(self))
        if url is None:
            self.store: Any = InMemoryStore(clock=lambda: self.now, registry=self.registry,
                                            policy=policy)
            self.worker: Any = InMemoryWorker(self.store, self.registry)
        else:
            db = Database(url)
            db.upgrade()
            queue = JobQueue(db, clock=lambda: self.now, policy=policy,
                             registry=self.registry, hooks=queue_hooks())
            self.db = db
            self.store = SqlStore(db, queue)
        self.orders = OrderFlow(store=self.store, centra=self.centra, erp=self.erp,
                                markets=(market(mode="realtime"),
                                         market(centra_market=2, mode="realtime")),
                                rules=rules(), clock=lambda: self.now)
        self.flow = ShipmentFlow(store=self.store, centra=self.centra, erp=self.erp,
                                 rules=RULES, clock=lambda: self.now)
        register_order_tasks(self.registry, lambda: self.orders)
        register_shipment_tasks(self.registry, lambda: self.flow)
        if url is not None:
            self.worker = Worker(db, queue, self.registry,
                                 concurrency={"orders": 1, "writeback": 1, "intake": 1,
                                              "shipments": 1},
                                 lease_s=30, poll_interval_s=0.01)
        self.orders.sync_catalogue()

    def place(self, o: CentraOrder) -> CentraOrder:
        placed = self.centra.add_order(replace(o, updated_at=self.now - timedelta(minutes=1)))
        self.orders.poll()
        self.worker.drain()
        return placed

    def order_no(self, number: int) -> str:
        with self.store.read() as uow:
            row = uow.orders.get(number)
        assert row is not None
        assert row.data.order_no
        return row.data.order_no

    def sync(self) -> int:
        new = self.flow.sync().new
        self.worker.drain()
        return new

    def shipment_row(self, no: str) -> Any:
        with self.store.read() as uow:
            return uow.ledger.get("shipment", no)

    def open_exceptions(self, type_: str | None = None) -> list[Any]:
        with self.store.read() as uow:
            return uow.exceptions.find(type=type_)

    def shipments(self, number: int) -> list[Any]:
        return self.centra.get_shipments(number)


@pytest.fixture(params=["sqlite", "memory",
                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, sqlite_url: str) -> Env:
    if request.param == "postgresql":
        make: Callable[[], str] = request.getfixturevalue("make_pg_database")
        return Env(make())
    return Env(sqlite_url if request.param == "sqlite" else None)


def _posted(env: Env, number: int = 5001, **kw: Any) -> str:
    """A confirmed two-line order posted to BlueCherry: line 1 two units, line 2 one."""
    env.place(order(number=number, id=f"h{number}",
                    lines=(line(1, qty=2, n=1), line(2, qty=1, n=2)),
                    tax_total=m("69.80"), grand_total=m("349.00"), **kw))
    return env.order_no(number)


def test_a_partial_then_the_final_shipment_reach_centra_once_each_with_tracking(
        env: Env) -> None:
    """A partial shipment (one unit) and the final one (the rest, two cartons) become two
    Centra shipments of exactly those lines, each with its tracking numbers and one dispatch
    email; the order ends SHIPPED."""
    so = _posted(env)
    first = env.erp.dispatch(so, [(1, 1)])
    assert env.sync() == 1
    second = env.erp.dispatch(so, cartons=2)
    assert second.complete
    assert env.sync() == 1
    got = env.shipments(5001)
    assert [s.external_id for s in got] == [first.shipment_no, second.shipment_no]
    assert [s.quantity for s in got] == [1, 2]
    assert all(s.is_shipped for s in got)
    assert got[1].tracking_numbers == tuple(c.tracking_number for c in second.cartons)
    assert len(got[1].tracking_numbers) == 2
    assert got[0].carrier == "PostNord"
    assert got[0].service == "MyPack Home"
    assert sorted(e.shipment_id for e in env.centra.emails) == sorted(s.id for s in got)
    final = env.centra.get_order(5001)
    assert final is not None
    assert final.status is OrderStatus.SHIPPED
    assert env.shipment_row(first.shipment_no).state == "completed"
    assert env.shipment_row(second.shipment_no).data["lag_s"] == 1


def test_reading_the_feed_again_changes_nothing(env: Env) -> None:
    """The cursor moves with the rows; a reset cursor re-reads shipments already recorded and
    nothing is created or emailed twice."""
    so = _posted(env)
    env.erp.dispatch(so)
    env.sync()
    with env.store.begin() as uow:
        uow.cursors.set("bluecherry.shipments", "0")
    assert env.sync() == 0
    assert len(env.shipments(5001)) == 1
    assert len(env.centra.emails) == 1
    assert [c for c, _ in env.centra.calls].count("create_shipment") == 1


def test_a_dropped_create_is_read_back_and_completed_without_a_second_shipment(
        env: Env) -> None:
    """Centra applies createShipment and the answer is lost: the read-back by external id
    finds it; one shipment, one email."""
    so = _posted(env)
    env.erp.dispatch(so)
    env.centra.inject("commit_then_drop", match="create_shipment")
    env.sync()
    assert len(env.shipments(5001)) == 1
    assert env.shipments(5001)[0].is_shipped
    assert len(env.centra.emails) == 1


def test_a_dropped_complete_is_read_back_and_no_second_email_goes(env: Env) -> None:
    """Centra ships it and sends the email, the answer is lost: isShipped read back, the job
    ends, no second completeShipment is sent."""
    so = _posted(env)
    sh = env.erp.dispatch(so)
    env.centra.inject("commit_then_drop", match="complete_shipment")
    env.sync()
    assert len(env.centra.emails) == 1
    assert [c for c, _ in env.centra.calls].count("complete_shipment") == 1
    assert env.shipment_row(sh.shipment_no).state == "completed"


def test_a_500_on_create_retries_after_reading_back(env: Env) -> None:
    """A 500 that did not apply: the retry reads back (nothing), creates once."""
    so = _posted(env)
    env.erp.dispatch(so)
    env.centra.inject("500", match="create_shipment")
    env.sync()
    assert len(env.shipments(5001)) == 1
    calls = [c for c, _ in env.centra.calls]
    assert calls.count("create_shipment") == 2
    assert calls.index("get_shipments") < len(calls) - 1 - calls[::-1].index("create_shipment")


def test_a_crash_between_create_and_complete_completes_once_after_restart(env: Env) -> None:
    """The worker dies after Centra created the shipment but before the ledger learned its id:
    the next run reads it back by external id and completes it; one shipment, one email."""
    so = _posted(env)
    sh = env.erp.dispatch(so)
    env.flow.sync()
    real = env.centra.create_shipment

    def create_then_die(*a: Any, **kw: Any) -> Any:
        real(*a, **kw)
        raise SystemExit("killed")

    env.centra.create_shipment = create_then_die  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        env.flow.apply_with(env.store.begin, sh.shipment_no)
    env.centra.create_shipment = real  # type: ignore[method-assign]
    assert env.shipment_row(sh.shipment_no).state == "creating"
    env.flow.apply_with(env.store.begin, sh.shipment_no)
    assert len(env.shipments(5001)) == 1
    assert env.shipments(5001)[0].is_shipped
    assert len(env.centra.emails) == 1


def test_an_unknown_order_is_an_exception_naming_the_shipment_and_the_feed_moves_on(
        env: Env) -> None:
    """A shipment whose customer PO names no Centra order: SHIPMENT_UNKNOWN_ORDER for
    operations; the next shipment still reaches Centra."""
    so = _posted(env)
    env.erp.add_shipment(ErpShipment(
        shipment_no="SH-X1", order_no="SO-404", customer_po="999999", warehouse="W01",
        shipped_at=NOW, lines=(ErpShipmentLine(line_no=1, sku="SKU-1", upc="", quantity=1),)))
    env.erp.dispatch(so)
    env.sync()
    opened = env.open_exceptions("SHIPMENT_UNKNOWN_ORDER")
    assert [(e.business_key, e.owner) for e in opened] == [("shipment:SH-X1", "operations")]
    assert "SH-X1" in opened[0].message
    assert env.shipment_row("SH-X1").state == "held"
    assert len(env.shipments(5001)) == 1


def test_an_unknown_line_and_too_many_units_are_exceptions(env: Env) -> None:
    """A BlueCherry line the order never had, and more units than the Centra line holds: an
    exception each, naming the shipment; nothing is created in Centra."""
    so = _posted(env)
    po = env.erp.get_sales_order(so).customer_po
    for no, ln, q in (("SH-L9", 9, 1), ("SH-Q5", 1, 5)):
        env.erp.add_shipment(ErpShipment(
            shipment_no=no, order_no=so, customer_po=po, warehouse="W01", shipped_at=NOW,
            lines=(ErpShipmentLine(line_no=ln, sku="SKU-1", upc="", quantity=q),)))
    env.sync()
    assert [e.business_key for e in env.open_exceptions("SHIPMENT_UNKNOWN_LINE")] == [
        "shipment:SH-L9"]
    assert [e.business_key for e in env.open_exceptions("SHIPMENT_OVER_QUANTITY")] == [
        "shipment:SH-Q5"]
    assert env.shipments(5001) == []


def test_a_short_shipment_cancels_the_rest_in_centra_and_tells_finance(env: Env) -> None:
    """BlueCherry ships one of three units and cancels the rest: the Centra lines lose those
    units, the order ends SHIPPED, and finance has SHORT_SHIPPED naming them."""
    so = _posted(env)
    env.erp.dispatch(so, [(1, 1)], short=True)
    env.sync()
    final = env.centra.get_order(5001)
    assert final is not None
    assert {ln.id: ln.cancelled_quantity for ln in final.lines} == {1: 1, 2: 1}
    assert final.status is OrderStatus.SHIPPED
    short = env.open_exceptions("SHORT_SHIPPED")
    assert [(e.business_key, e.owner) for e in short] == [("order:5001:short", "finance")]
    assert "1 x SKU-1" in short[0].message
    # Applying it again cancels nothing more.
    env.flow.apply_with(env.store.begin, env.erp.iter_shipments()[0][0].shipment_no)
    assert [c for c, _ in env.centra.calls].count("cancel_order_lines") == 1


def test_the_market_decides_the_dispatch_email(env: Env) -> None:
    """Market 2 says no email: its shipment ships in Centra without one."""
    so = _posted(env, 5002, market_id=2)
    env.erp.dispatch(so)
    env.sync()
    assert env.shipments(5002)[0].is_shipped
    assert env.centra.emails == []


def test_a_pending_order_is_confirmed_before_its_shipment(env: Env) -> None:
    """An order BlueCherry shipped but Centra still holds PENDING is confirmed first."""
    so = _posted(env)
    env.centra.update_order(5001, status=OrderStatus.PENDING)
    env.erp.dispatch(so)
    env.sync()
    assert env.shipments(5001)[0].is_shipped


def test_the_watchdog_names_shipments_centra_lacks_after_n_hours(env: Env) -> None:
    """A shipment held back (Centra refuses it) is SHIPMENT_NOT_IN_CENTRA for CX once it is
    older than the limit; it resolves when the shipment's job later succeeds."""
    so = _posted(env)
    env.centra.update_order(5001, status=OrderStatus.CANCELLED)
    sh = env.erp.dispatch(so)
    env.sync()
    assert env.open_exceptions("SHIPMENT_REFUSED")
    assert env.flow.watch() == 0
    env.now += timedelta(hours=5)
    assert env.flow.watch() == 1
    late = env.open_exceptions("SHIPMENT_NOT_IN_CENTRA")
    assert [(e.business_key, e.owner) for e in late] == [(f"shipment:{sh.shipment_no}", "cx")]
    env.centra.update_order(5001, status=OrderStatus.CONFIRMED)
    with env.store.begin() as uow:
        uow.outbox.enqueue("shipments.apply", {"shipment_no": sh.shipment_no},
                           queue="shipments", business_key=f"shipment:{sh.shipment_no}")
    env.worker.drain()
    assert env.open_exceptions("SHIPMENT_NOT_IN_CENTRA") == []
    assert env.shipments(5001)[0].is_shipped


def test_a_crash_after_the_short_cancel_still_tells_finance_once(env: Env) -> None:
    """Centra cancels the short units and the worker dies before finance is told: the next run
    cancels nothing more and raises SHORT_SHIPPED from what the ledger planned."""
    so = _posted(env)
    sh = env.erp.dispatch(so, [(1, 1)], short=True)
    env.flow.sync()
    real = env.centra.cancel_order_lines

    def cancel_then_die(*a: Any, **kw: Any) -> None:
        real(*a, **kw)
        raise SystemExit("killed")

    env.centra.cancel_order_lines = cancel_then_die  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        env.flow.apply_with(env.store.begin, sh.shipment_no)
    env.centra.cancel_order_lines = real  # type: ignore[method-assign]
    assert env.open_exceptions("SHORT_SHIPPED") == []
    env.flow.apply_with(env.store.begin, sh.shipment_no)
    short = env.open_exceptions("SHORT_SHIPPED")
    assert len(short) == 1
    assert short[0].details["units"] == [[1, 1], [2, 1]]
    assert [c for c, _ in env.centra.calls].count("cancel_order_lines") == 1
    assert env.shipment_row(sh.shipment_no).data["shorts_done"] is True


def test_orders_posted_days_ago_without_a_shipment_are_reported(env: Env) -> None:
    """The unshipped report lists a posted order with no shipment after N days, not one that
    shipped in part."""
    _posted(env, 5003)
    shipped = _posted(env, 5004)
    env.erp.dispatch(shipped, [(1, 1)])
    env.sync()
    assert env.flow.unshipped_orders(5) == []
    env.now += timedelta(days=6)
    assert [o.number for o in env.flow.unshipped_orders(5)] == [5003]


def test_syncs_racing_on_the_feed_record_each_shipment_once(env: Env) -> None:
    """Four threads read the feed at once (several schedulers or a person's `shipments sync`
    beside the schedule): each shipment gets one ledger row and one apply job."""
    sos = [_posted(env, n) for n in (5011, 5012, 5013)]
    made = [env.erp.dispatch(so, [(1, 1)]) for so in sos] + [env.erp.dispatch(so) for so in sos]
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(env.flow.sync().new)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(results) == len(made)
    with env.store.read() as uow:
        jobs = uow.outbox.jobs_for("", [f"shipment:apply:{s.shipment_no}" for s in made])
    assert sorted(j.args["shipment_no"] for j in jobs) == sorted(s.shipment_no for s in made)
    env.worker.drain()
    assert sum(len(env.shipments(n)) for n in (5011, 5012, 5013)) == len(made)
    assert len(env.centra.emails) == len(made)


def test_the_metrics_count_shipments_centra_lacks_and_the_oldest_ones_age(env: Env) -> None:
    """Read from the store at scrape time: one held shipment, confirmed two hours ago."""
    so = _posted(env)
    env.centra.update_order(5001, status=OrderStatus.CANCELLED)
    env.erp.dispatch(so)
    env.sync()
    env.now += timedelta(hours=2)
    families = {f.name: f for f in PendingShipments(lambda: env.store,
                                                    clock=lambda: env.now).collect()}
    held = {s.labels["state"]: s.value
            for s in families["seamline_shipments_not_in_centra"].samples}
    assert held["held"] == 1
    assert held["new"] == 0
    oldest = families["seamline_shipment_oldest_not_in_centra_seconds"].samples[0].value
    assert 2 * 3600 <= oldest <= 2 * 3600 + 5
