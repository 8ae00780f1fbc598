"""The order flow over the in-memory Centra and BlueCherry: on a real SQLite store and on the
in-memory unit of work (no database), the same tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from orderkit import catalogue_items, line, m, market, order, rules

from seamline.adapters.store.db import Database
from seamline.adapters.store.repos import get_ledger
from seamline.adapters.store.schema import exceptions as exceptions_table
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.bootstrap import queue_hooks
from seamline.domain.erp import Customer, MasterData
from seamline.domain.orders import CentraOrder, OrderStatus
from seamline.queue import JobQueue, RetryPolicy, TaskRegistry, Worker
from seamline.services.exceptions import ExceptionService
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


class _CentraClock:
    """Centra stamps ``updatedAt`` a second before the test's "now"."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def now(self) -> datetime:
        return self.env.now - timedelta(seconds=1)


class Env:
    def __init__(self, url: str, *, mode: str = "realtime", synced: bool = True,
                 **flow_kw: Any) -> None:
        self.db = Database(url)
        self.db.upgrade()
        self.now = NOW
        self.registry = TaskRegistry()
        self.queue = JobQueue(self.db, clock=lambda: self.now,
                              policy=RetryPolicy(base_s=0.0, cap_s=0.0, max_attempts=5),
                              registry=self.registry, hooks=queue_hooks())
        self.centra = FakeCentra(clock=_CentraClock(self))
        self.erp = FakeBlueCherry(MASTER, catalogue_items(60))
        self.store = SqlStore(self.db, self.queue)
        self.flow = OrderFlow(
            store=self.store, centra=self.centra, erp=self.erp,
            markets=(market(mode=mode),), rules=rules(), clock=lambda: self.now, **flow_kw,
        )
        register_order_tasks(self.registry, lambda: self.flow)
        self.worker = Worker(self.db, self.queue, self.registry,
                             concurrency={"orders": 1, "writeback": 1, "intake": 1},
                             lease_s=30, poll_interval_s=0.01)
        if synced:
            self.flow.sync_catalogue()

    def sync_and_drain(self) -> None:
        self.flow.poll()
        self.worker.drain()

    def ledger(self, number: int) -> Any:
        with self.db.begin() as conn:
            return get_ledger(conn, "order", str(number))

    def open_exceptions(self) -> list[dict[str, Any]]:
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(exceptions_table)
                                .where(exceptions_table.c.state == "open")).all()
        return [dict(r._mapping) for r in rows]

    def jobs(self, task: str) -> list[Any]:
        return self.queue.list(task=task)


class MemoryEnv(Env):
    """The same flow on the in-memory unit of work and its job runner: no database."""

    def __init__(self, *, mode: str = "realtime", synced: bool = True,
                 **flow_kw: Any) -> None:
        self.now = NOW
        self.registry = TaskRegistry()
        self.store = InMemoryStore(  # type: ignore[assignment]
            clock=lambda: self.now, registry=self.registry,
            policy=RetryPolicy(base_s=0.0, cap_s=0.0, max_attempts=5))
        self.centra = FakeCentra(clock=_CentraClock(self))
        self.erp = FakeBlueCherry(MASTER, catalogue_items(60))
        self.flow = OrderFlow(
            store=self.store, centra=self.centra, erp=self.erp,
            markets=(market(mode=mode),), rules=rules(), clock=lambda: self.now, **flow_kw,
        )
        register_order_tasks(self.registry, lambda: self.flow)
        self.worker = InMemoryWorker(self.store, self.registry)  # type: ignore[assignment]
        if synced:
            self.flow.sync_catalogue()

    def ledger(self, number: int) -> Any:
        return self.memory.state.ledger.get(("order", str(number)))

    def open_exceptions(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.memory.state.exceptions.values() if e["state"] == "open"]

    def jobs(self, task: str) -> list[Any]:
        return [j for j in self.memory.state.jobs.values() if j["task"] == task]

    @property
    def memory(self) -> InMemoryStore:
        assert isinstance(self.store, InMemoryStore)
        return self.store


@pytest.fixture(params=["sqlite", "memory"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _env(backend: str, sqlite_url: str, **kw: Any) -> Env:
    return Env(sqlite_url, **kw) if backend == "sqlite" else MemoryEnv(**kw)


@pytest.fixture
def env(backend: str, sqlite_url: str) -> Env:
    return _env(backend, sqlite_url)


def _place(env: Env, o: CentraOrder) -> CentraOrder:
    return env.centra.add_order(replace(o, updated_at=env.now - timedelta(minutes=1)))


def test_a_ready_order_is_posted_once_and_written_back(env: Env) -> None:
    """A PENDING order posts once, gets its BlueCherry number as external id, and is confirmed."""
    _place(env, order(number=1001, id="h1001"))
    env.sync_and_drain()
    env.sync_and_drain()
    assert env.erp.count_by_external_reference("centra:1:1001") == 1
    row = env.ledger(1001)
    assert row.state == "synced"
    assert row.data["order_no"]
    assert row.data["line_map"] == {"1": 1}
    assert env.centra.get_external_ids([1001]) == {1001: row.data["order_no"]}
    got = env.centra.get_order(1001)
    assert got is not None
    assert got.status is OrderStatus.CONFIRMED


def test_held_orders_wait_and_post_once_released(env: Env) -> None:
    """An order on hold is absent from BlueCherry until released, then posted once."""
    _place(env, order(number=1002, is_on_hold=True))
    env.sync_and_drain()
    assert env.erp.count_by_external_reference("centra:1:1002") == 0
    assert env.ledger(1002).state == "waiting"
    env.now += timedelta(minutes=5)
    env.centra.update_order(1002, is_on_hold=False)
    env.sync_and_drain()
    assert env.erp.count_by_external_reference("centra:1:1002") == 1


def test_an_unmapped_shipping_option_parks_orders_on_one_exception(env: Env) -> None:
    """Two orders with the same missing mapping give one MAPPING_MISSING listing both."""
    _place(env, order(number=1003, shipping_option="pickup-point"))
    _place(env, order(number=1004, shipping_option="pickup-point"))
    env.sync_and_drain()
    opened = [e for e in env.open_exceptions() if e["type"] == "MAPPING_MISSING"]
    assert len(opened) == 1
    assert opened[0]["owner"] == "ecommerce"
    assert opened[0]["business_key"] == "mapping:shipping_option:pickup-point"
    listed = ExceptionService(env.store).list(type="MAPPING_MISSING")
    assert [e.orders for e in listed] == [(1003, 1004)]
    assert listed[0].message.endswith("; 2 order(s) wait: 1003, 1004")
    assert "orders" not in (opened[0]["details"] or {})  # the relation, not a stored list
    assert env.erp.orders == {}
    # The configuration gains the mapping: the orders re-queue themselves and post.
    env.flow.rules = rules(shipping_options={"se-standard": "PNORD", "pickup-point": "PNORD"})
    with env.store.begin() as uow:
        assert env.flow.requeue_parked(uow) == 2
    env.worker.drain()
    assert env.erp.count_by_external_reference("centra:1:1003") == 1
    assert env.erp.count_by_external_reference("centra:1:1004") == 1
    assert not [e for e in env.open_exceptions() if e["type"] == "MAPPING_MISSING"]


def test_an_unknown_sku_parks_the_order_for_ecommerce(env: Env) -> None:
    """A line whose SKU and GTIN are not in the catalogue makes UNKNOWN_SKU, nothing posted."""
    _place(env, order(number=1005, lines=(line(1, sku="NOPE-1", ean="0000000000000"),)))
    env.sync_and_drain()
    opened = [e for e in env.open_exceptions() if e["type"] == "UNKNOWN_SKU"]
    assert [e["business_key"] for e in opened] == ["sku:NOPE-1"]
    assert env.ledger(1005).state == "parked"


def test_a_centra_total_that_does_not_tie_out_is_finances(env: Env) -> None:
    """Centra amounts that do not add up raise TOTAL_MISMATCH for finance; nothing posted."""
    _place(env, order(number=1006, grand_total=m("150.00")))
    env.sync_and_drain()
    opened = [e for e in env.open_exceptions() if e["type"] == "TOTAL_MISMATCH"]
    assert len(opened) == 1
    assert opened[0]["owner"] == "finance"
    assert env.erp.orders == {}


def test_a_timeout_after_commit_posts_exactly_once(env: Env) -> None:
    """BlueCherry commits, the answer is lost: the retry finds the order and does not re-post."""
    env.erp.fail_next(1, "commit-then-timeout", op="create_sales_order")
    _place(env, order(number=1007))
    env.sync_and_drain()
    env.worker.drain()
    assert env.erp.count_by_external_reference("centra:1:1007") == 1
    assert env.ledger(1007).state in ("posted", "synced")


def test_resyncing_unchanged_orders_enqueues_nothing(env: Env) -> None:
    """Re-seeing an order changes nothing; Seamline's own write-backs are not a change."""
    _place(env, order(number=1008))
    env.sync_and_drain()
    seen = env.centra.get_order(1008)
    assert seen is not None
    # Written back (external id, confirmed): the snapshot moves, the posted fields do not.
    assert seen.status is OrderStatus.CONFIRMED
    assert env.centra.get_external_ids([1008])
    with env.store.begin() as uow:
        env.flow.record(uow, [seen])
    assert env.jobs("orders.reconcile") == []  # nothing for anyone to check
    env.worker.drain()
    with env.store.begin() as uow:
        assert env.flow.record(uow, [seen]) == 0
    assert env.open_exceptions() == []


def test_a_cancelled_line_after_posting_reaches_bluecherry_once(env: Env) -> None:
    """Cancelling a unit in Centra after posting cancels that unit in BlueCherry, once."""
    _place(env, order(number=1009, lines=(line(1, qty=2, value="200.00"),),
                      tax_total=m("49.80"), grand_total=m("249.00")))
    env.sync_and_drain()
    assert env.ledger(1009).state == "synced"
    env.now += timedelta(minutes=5)
    env.centra.update_order(
        1009, lines=(line(1, qty=1, cancelled=1),), tax_total=m("29.80"),
        grand_total=m("149.00"))
    env.sync_and_drain()
    env.sync_and_drain()
    erp = env.erp.find_by_external_reference("centra:1:1009")
    assert erp is not None
    assert erp.lines[0].cancelled_quantity == 1
    assert not [e for e in env.open_exceptions() if e["type"] == "POSTED_ORDER_CHANGED"]


def test_an_address_change_after_posting_is_raised_for_operations(env: Env) -> None:
    """A Centra address edit after posting raises POSTED_ORDER_CHANGED; BlueCherry untouched."""
    o = _place(env, order(number=1010))
    env.sync_and_drain()
    env.now += timedelta(minutes=5)
    env.centra.update_order(
        1010, shipping_address=replace(o.shipping_address, address1="Ringvägen 9"))
    env.sync_and_drain()
    changed = [e for e in env.open_exceptions() if e["type"] == "POSTED_ORDER_CHANGED"]
    assert len(changed) == 1
    assert changed[0]["owner"] == "operations"


def test_daily_batch_posts_after_the_cutoff_and_rerunning_posts_nothing_twice(
    backend: str, sqlite_url: str,
) -> None:
    """Daily mode: nothing posts before the cut-off; the batch posts once, a rerun adds none."""
    env = _env(backend, sqlite_url, mode="daily")
    env.now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # 11:00 in Stockholm
    _place(env, order(number=1011))
    env.sync_and_drain()
    assert env.ledger(1011).state == "batch"
    assert env.ledger(1011).data["business_day"] == "2026-11-28"
    with env.store.begin() as uow:
        assert env.flow.run_batches(uow) == 0  # the 27th's batch: nothing of the 28th
    env.worker.drain()
    assert env.erp.orders == {}
    env.now = datetime(2026, 11, 28, 22, 5, tzinfo=UTC)  # 23:05 in Stockholm
    with env.store.begin() as uow:
        assert env.flow.run_batches(uow) == 0  # intake has not read past the cut-off yet
    env.flow.poll()
    with env.store.begin() as uow:
        assert env.flow.run_batches(uow) == 1
    env.worker.drain()
    with env.store.begin() as uow:
        env.flow.run_batches(uow, day=date(2026, 11, 28))
    env.worker.drain()
    assert env.erp.count_by_external_reference("centra:1:1011") == 1


def test_an_order_placed_before_the_cut_off_but_read_late_posts_in_its_day(
    backend: str, sqlite_url: str,
) -> None:
    """Intake lags the cut-off: the day's batch waits until intake has read Centra past the
    cut-off, so the order read late is in that day's batch; an order found only after the day
    closed posts at once as a straggler of that day, counted late on the batch report."""
    env = _env(backend, sqlite_url, mode="daily")
    env.now = datetime(2026, 11, 28, 21, 30, tzinfo=UTC)  # 22:30 in Stockholm
    _place(env, order(number=1021))
    env.sync_and_drain()
    before_cutoff = datetime(2026, 11, 28, 21, 50, tzinfo=UTC)  # 22:50 in Stockholm
    env.centra.add_order(replace(order(number=1022), updated_at=before_cutoff))
    env.now = datetime(2026, 11, 28, 22, 5, tzinfo=UTC)  # past the 23:00 cut-off
    with env.store.begin() as uow:
        assert env.flow.run_batches(uow) == 0  # intake is behind: the 28th stays open
        assert env.flow.batch_report(uow, date(2026, 11, 28))[0]["closed_at"] is None
    env.sync_and_drain()  # intake reads 1022 (and past the cut-off); the batch then closes
    with env.store.begin() as uow:
        assert env.flow.run_batches(uow) == 2
    env.worker.drain()
    env.sync_and_drain()
    assert [(env.ledger(n).state, env.ledger(n).data["business_day"]) for n in (1021, 1022)] \
        == [("synced", "2026-11-28")] * 2

    # Found only after the day closed (Centra showed it late): posts now, in the 28th.
    env.centra.add_order(replace(order(number=1023), updated_at=before_cutoff))
    env.now = datetime(2026, 11, 28, 22, 10, tzinfo=UTC)
    env.flow.fetch([1023])
    env.worker.drain()
    assert env.erp.count_by_external_reference("centra:1:1023") == 1
    assert env.ledger(1023).data["business_day"] == "2026-11-28"
    with env.store.begin() as uow:
        report = env.flow.batch_report(uow, date(2026, 11, 28))
    assert [(r["released"], r["late"], r["late_max_s"], r["late_orders"]) for r in report] \
        == [(2, 1, 600, [1023])]


def test_events_queue_intake_records_orders_then_confirms_every_event(env: Env) -> None:
    """Order events lead to the order being recorded and posted; all events get confirmed."""
    assert env.flow.drain_events() == 0  # subscribes; nothing queued yet
    assert env.centra.listening
    _place(env, order(number=1012))
    assert env.flow.drain_events() >= 1
    assert env.centra.fetch_events(100) == []
    env.worker.drain()
    assert env.erp.count_by_external_reference("centra:1:1012") == 1


def test_a_change_recorded_while_the_order_is_posting_is_kept_and_checked(env: Env) -> None:
    """Intake records an edit while BlueCherry is being called: the newer snapshot survives the
    posting job's own writes, and the change is raised once the order is posted."""
    o = _place(env, order(number=1013))
    edited = replace(o, shipping_address=replace(o.shipping_address, address1="Hornsgatan 2"),
                     updated_at=env.now)
    real_create = env.erp.create_sales_order

    def create_during_an_edit(so: Any) -> Any:
        with env.store.begin() as uow:
            env.flow.record(uow, [edited])
        return real_create(so)

    env.erp.create_sales_order = create_during_an_edit  # type: ignore[method-assign]
    env.sync_and_drain()
    env.worker.drain()
    row = env.ledger(1013)
    assert row.data["snapshot"]["shipping_address"]["address1"] == "Hornsgatan 2"
    assert row.state == "synced"
    changed = [e for e in env.open_exceptions() if e["type"] == "POSTED_ORDER_CHANGED"]
    assert [e["business_key"] for e in changed] == ["order:1013:changed"]


# -- exceptions heal at once ----------------------------------------------------------------


def _open_of(env: Env, type_: str) -> list[dict[str, Any]]:
    return [e for e in env.open_exceptions() if e["type"] == type_]


def test_retrying_a_parked_mapping_requeues_its_orders_with_the_rules_as_they_are_now(
        env: Env) -> None:
    """A MAPPING_MISSING has no failed job behind it: a retry queues every order it holds, and
    they post with the mapping added since; the exception closes as the last one posts."""
    _place(env, order(number=1101, shipping_option="pickup-point"))
    _place(env, order(number=1102, shipping_option="pickup-point"))
    env.sync_and_drain()
    (parked,) = _open_of(env, "MAPPING_MISSING")
    env.flow.rules = rules(shipping_options={"se-standard": "PNORD", "pickup-point": "PNORD"})
    done = ExceptionService(env.store, clock=lambda: env.now).requeue(parked["id"],
                                                                      actor="ops:anna")
    assert (done.job_id, done.orders) == (None, (1101, 1102))
    env.worker.drain()
    assert env.erp.count_by_external_reference("centra:1:1101") == 1
    assert env.erp.count_by_external_reference("centra:1:1102") == 1
    assert _open_of(env, "MAPPING_MISSING") == []
    shown = ExceptionService(env.store).get(parked["id"])
    assert shown is not None
    actions = [h.action for h in shown.history]
    assert (actions[0], actions[-1]) == ("opened", "resolved")
    (retried,) = [h for h in shown.history if h.action == "retried"]
    assert retried.actor == "ops:anna"
    assert retried.detail == {"job_id": None, "orders": [1101, 1102]}


def test_retrying_before_the_fix_parks_the_orders_again_and_counts_it(env: Env) -> None:
    """Without the mapping, the re-queued order parks again on the same exception (count + 1)."""
    _place(env, order(number=1103, shipping_option="pickup-point"))
    env.sync_and_drain()
    (parked,) = _open_of(env, "MAPPING_MISSING")
    service = ExceptionService(env.store, clock=lambda: env.now)
    assert service.retry(parked["id"]) == 1103
    env.worker.drain()
    (again,) = _open_of(env, "MAPPING_MISSING")
    assert (again["id"], again["count"]) == (parked["id"], parked["count"] + 1)
    assert env.ledger(1103).state == "parked"


def test_retrying_an_unknown_sku_also_syncs_the_catalogue(env: Env) -> None:
    """The SKU may be new in BlueCherry: the retry queues a catalogue sync with the order."""
    _place(env, order(number=1104, lines=(line(1, sku="NOPE-2", ean="0000000000001"),)))
    env.sync_and_drain()
    (unknown,) = _open_of(env, "UNKNOWN_SKU")
    syncs = len(env.jobs("catalogue.sync"))
    done = ExceptionService(env.store, clock=lambda: env.now).requeue(unknown["id"])
    assert done.orders == (1104,)
    assert len(env.jobs("catalogue.sync")) == syncs + 1


def test_a_daily_batch_order_with_a_gap_parks_at_intake_not_at_the_cut_off(
        backend: str, sqlite_url: str) -> None:
    """In a daily-batch market an unknown SKU is an exception as soon as the order is taken
    in; an order without gaps waits for its batch."""
    env = _env(backend, sqlite_url, mode="daily")
    _place(env, order(number=1105, lines=(line(1, sku="NOPE-3", ean="0000000000002"),)))
    _place(env, order(number=1106))
    env.sync_and_drain()
    assert env.ledger(1105).state == "parked"
    assert [e["business_key"] for e in _open_of(env, "UNKNOWN_SKU")] == ["sku:NOPE-3"]
    assert env.ledger(1106).state == "batch"
    assert env.erp.orders == {}


def test_on_a_fresh_store_the_catalogue_is_synced_before_the_first_order_is_mapped(
        backend: str, sqlite_url: str) -> None:
    """No catalogue yet: the first post job syncs it first; the order posts at its first
    attempt, with no UNKNOWN_SKU and no retry."""
    env = _env(backend, sqlite_url, synced=False)
    _place(env, order(number=1107))
    env.sync_and_drain()
    assert env.erp.count_by_external_reference("centra:1:1107") == 1
    assert _open_of(env, "UNKNOWN_SKU") == []
    (job,) = env.jobs("orders.post")
    assert (job["attempts"] if isinstance(job, dict) else job.attempts) == 1
