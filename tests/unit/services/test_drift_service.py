"""Drift and the missing-in-ERP watchdog over the in-memory Centra and BlueCherry: orders posted
by the order flow, edited by hand in BlueCherry, shipped and cancelled by its own processes —
on SQLite and on the in-memory unit of work, the same tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from orderkit import catalogue_items, line, m, market, order, rules

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.bootstrap import queue_hooks
from seamline.domain.erp import Customer, MasterData
from seamline.domain.orders import CentraOrder
from seamline.queue import JobQueue, RetryPolicy, TaskRegistry, Worker
from seamline.services.drift import DriftService, MissingInErp, register_drift_tasks
from seamline.services.orders import OrderFlow, register_order_tasks
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


class _Clock:
    def __init__(self, env: Env) -> None:
        self.env = env

    def now(self) -> datetime:
        return self.env.now - timedelta(seconds=1)


class Env:
    """The order flow, drift and the watchdog on SQLite (``url``) or in memory (``None``).
    Market 1 posts in real time, market 2 in a daily batch (23:00 Stockholm)."""

    def __init__(self, url: str | None) -> None:
        self.now = NOW
        self.registry = TaskRegistry()
        policy = RetryPolicy(base_s=0.0, cap_s=0.0, max_attempts=5)
        self.centra = FakeCentra(clock=_Clock(self))
        self.erp = FakeBlueCherry(MASTER, catalogue_items(60), clock=_Clock(self))
        if url is None:
            self.store: Any = InMemoryStore(clock=lambda: self.now, registry=self.registry,
                                            policy=policy)
            self.worker: Any = InMemoryWorker(self.store, self.registry)
        else:
            db = Database(url)
            db.upgrade()
            queue = JobQueue(db, clock=lambda: self.now, policy=policy,
                             registry=self.registry, hooks=queue_hooks())
            self.store = SqlStore(db, queue)
        markets = (market(mode="realtime"), market(centra_market=2, mode="daily"))
        self.orders = OrderFlow(store=self.store, centra=self.centra, erp=self.erp,
                                markets=markets, rules=rules(), clock=lambda: self.now)
        self.drift = DriftService(store=self.store, erp=self.erp, clock=lambda: self.now)
        self.dog = MissingInErp(store=self.store, markets=markets,
                                after=timedelta(minutes=30), clock=lambda: self.now)
        register_order_tasks(self.registry, lambda: self.orders)
        register_drift_tasks(self.registry, lambda: self.drift, lambda: self.dog)
        if url is not None:
            self.worker = Worker(db, queue, self.registry,
                                 concurrency={"orders": 1, "writeback": 1, "intake": 1,
                                              "default": 1},
                                 lease_s=30, poll_interval_s=0.01)
        self.orders.sync_catalogue()

    def place(self, o: CentraOrder, *, drain: bool = True) -> None:
        self.centra.add_order(replace(o, updated_at=self.now - timedelta(minutes=1)))
        self.orders.poll()
        if drain:
            self.worker.drain()

    def posted(self, number: int = 5001) -> str:
        self.place(order(number=number, id=f"h{number}", created_at=self.now,
                         lines=(line(1, qty=2, n=1), line(2, qty=1, n=2)),
                         tax_total=m("69.80"), grand_total=m("349.00")))
        with self.store.read() as uow:
            row = uow.orders.get(number)
        assert row is not None
        assert row.data.order_no
        return row.data.order_no

    def drifts(self, state: str | None = "open") -> list[Any]:
        with self.store.read() as uow:
            return uow.exceptions.find(type="ORDER_DRIFT", state=state)

    def missing(self) -> list[Any]:
        with self.store.read() as uow:
            return uow.exceptions.find(type="ORDER_MISSING_IN_ERP")


@pytest.fixture(params=["sqlite", "memory",
                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, sqlite_url: str) -> Env:
    if request.param == "postgresql":
        make: Callable[[], str] = request.getfixturevalue("make_pg_database")
        return Env(make())
    return Env(sqlite_url if request.param == "sqlite" else None)


def _add_unit(env: Env, so: str, login: str = "anna", units: int = 1) -> None:
    o = env.erp.get_sales_order(so)
    first = o.lines[0]
    lines = (replace(first, ordered_quantity=first.ordered_quantity + units), *o.lines[1:])
    env.erp.edit_order(so, login=login, lines=lines)


def test_an_order_edited_by_hand_is_one_drift_with_the_diff_until_accepted(env: Env) -> None:
    so = env.posted()
    assert env.drift.scan().raised == 0
    _add_unit(env, so)
    result = env.drift.scan()
    assert (result.raised, result.compared) == (1, 1)
    [exc] = env.drifts()
    assert exc.owner == "ecommerce"
    assert exc.business_key == "order:5001:drift"
    diff = {d["field"]: (d["centra"], d["bluecherry"]) for d in exc.details["diff"]}
    assert diff["line 1 quantity"] == ("2", "3")
    assert "user:anna" in exc.message

    env.now += timedelta(minutes=5)
    again = env.drift.scan()
    [same] = env.drifts()
    assert (again.raised, again.updated, same.id, same.count) == (0, 0, exc.id, 1)

    env.drift.accept(exc.id, actor="cli:finance", note="customer asked by phone")
    assert env.drifts() == []
    env.now += timedelta(minutes=5)
    env.erp.ship(so, 2, 1)  # the warehouse moves on: same version
    assert env.drift.scan().raised == 0
    assert env.drifts() == []
    assert env.drift.adjustments(5001)[0]["by"] == "cli:finance"

    _add_unit(env, so, login="bo")
    assert env.drift.scan().raised == 1
    [new] = env.drifts()
    assert new.id != exc.id
    diff = {d["field"]: (d["centra"], d["bluecherry"]) for d in new.details["diff"]}
    assert diff["line 1 quantity"] == ("2", "4")


def test_a_second_edit_before_any_choice_updates_the_diff_of_the_one_exception(
        env: Env) -> None:
    so = env.posted()
    _add_unit(env, so)
    env.drift.scan()
    _add_unit(env, so)
    result = env.drift.scan()
    assert (result.raised, result.updated) == (0, 1)
    [exc] = env.drifts()
    diff = {d["field"]: d["bluecherry"] for d in exc.details["diff"]}
    assert diff["line 1 quantity"] == "4"


def test_shipments_short_ship_cancels_and_seamlines_cancels_are_not_drift(env: Env) -> None:
    so = env.posted()
    other = env.posted(5002)
    env.erp.dispatch(so, [(1, 1)], short=True)
    env.erp.cancel_sales_order(other, reference="centra-cancel-5002", lines=None,
                               reason="cancelled in Centra")
    assert env.erp.get_sales_order(so).updated_by == "system:warehouse"
    result = env.drift.scan()
    assert (result.compared, result.raised) == (2, 0)
    assert env.drifts() == []


def test_only_a_price_differing_is_finances_and_correct_leaves_it_open_with_instructions(
        env: Env) -> None:
    so = env.posted()
    o = env.erp.get_sales_order(so)
    lines = (replace(o.lines[0], unit_price=m("90.00")), *o.lines[1:])
    env.erp.edit_order(so, login="anna", lines=lines)
    env.drift.scan()
    [exc] = env.drifts()
    assert exc.owner == "finance"
    done = env.drift.correct(exc.id, actor="cli:ops")
    assert not done.done
    assert done.cancels == ()
    assert "no update call" in done.instructions
    assert "line 1 unit_price" in done.instructions
    [still] = env.drifts()
    with env.store.read() as uow:
        record = uow.exceptions.get(still.id)
    assert record is not None
    assert record.history[-1].action == "correction"


def test_correct_from_centra_cancels_the_added_units_and_the_drift_stays_closed(
        env: Env) -> None:
    so = env.posted()
    _add_unit(env, so)
    env.drift.scan()
    [exc] = env.drifts()
    done = env.drift.correct(exc.id, actor="cli:ops")
    assert done.done
    assert done.cancels == ((1, 1),)
    line1 = env.erp.get_sales_order(so).lines[0]
    assert (line1.ordered_quantity, line1.cancelled_quantity) == (3, 1)
    assert env.drifts() == []
    env.now += timedelta(minutes=5)
    assert env.drift.scan().raised == 0
    assert env.drifts() == []


def test_accept_refuses_what_is_not_an_open_drift(env: Env) -> None:
    from seamline.exceptions import SeamlineError  # noqa: PLC0415

    so = env.posted()
    _add_unit(env, so)
    env.drift.scan()
    [exc] = env.drifts()
    env.drift.accept(exc.id, actor="a")
    with pytest.raises(SeamlineError, match="resolved, not open"):
        env.drift.accept(exc.id, actor="a")


def test_a_realtime_order_not_posted_after_n_minutes_is_missing_until_it_posts(
        env: Env) -> None:
    env.place(order(number=6001, id="h6001", created_at=env.now), drain=False)
    assert env.dog.watch() == (0, 0)
    env.now += timedelta(minutes=31)
    raised, _ = env.dog.watch()
    assert raised == 1
    [exc] = env.missing()
    assert (exc.owner, exc.business_key) == ("ecommerce", "order:6001")
    env.dog.watch()
    assert [e.count for e in env.missing()] == [1]
    env.worker.drain()  # the post job succeeds: its key's exceptions resolve
    assert env.missing() == []
    assert env.dog.report() == []


def test_an_order_on_hold_is_reported_with_its_reason_not_alarmed(env: Env) -> None:
    env.place(order(number=6002, id="h6002", created_at=env.now, is_on_hold=True))
    env.now += timedelta(hours=2)
    assert env.dog.watch() == (0, 0)
    [waiting] = env.dog.report()
    assert waiting.number == 6002
    assert waiting.state == "waiting"
    assert waiting.reason


def test_a_daily_order_is_missing_only_after_its_batch_cut_off(env: Env) -> None:
    env.place(order(number=6003, id="h6003", market_id=2, created_at=env.now))
    with env.store.read() as uow:
        row = uow.orders.get(6003)
    assert row is not None
    assert row.state.value == "batch"
    env.now = datetime(2026, 11, 28, 22, 20, tzinfo=UTC)  # 23:20 Stockholm: not yet 30 min
    assert env.dog.watch() == (0, 0)
    env.now = datetime(2026, 11, 28, 22, 31, tzinfo=UTC)
    assert env.dog.watch()[0] == 1
    [exc] = env.missing()
    assert "cut-off" in exc.message
    with env.store.begin() as uow:  # intake had not read past the cut-off: released by hand
        assert env.orders.run_batches(uow, day=date(2026, 11, 28)) == 1
    env.worker.drain()
    assert env.missing() == []


def test_an_order_whose_post_failed_is_reported_with_that_exception_not_alarmed(
        env: Env) -> None:
    env.erp.fail_next(100, "auth", op="create_sales_order")
    env.place(order(number=6004, id="h6004", created_at=env.now))
    with env.store.read() as uow:
        failed = [e.type for e in uow.exceptions.find(business_key="order:6004")]
    assert failed
    assert "ORDER_MISSING_IN_ERP" not in failed
    env.now += timedelta(hours=1)
    assert env.dog.watch() == (0, 0)
    [waiting] = env.dog.report()
    assert waiting.number == 6004
    assert failed[0] in waiting.reason


def test_accept_is_in_the_audit_log_with_the_person_and_the_note(env: Env) -> None:
    so = env.posted()
    _add_unit(env, so)
    env.drift.scan()
    [exc] = env.drifts()
    env.drift.accept(exc.id, actor="cli:finance", note="agreed")
    with env.store.read() as uow:
        lines = uow.audit.for_entity("drift", "5001")
    assert [x["action"] for x in lines] == ["drift_detected", "drift_accepted"]
    assert lines[-1]["actor"] == "cli:finance"
    assert lines[-1]["detail"]["note"] == "agreed"
