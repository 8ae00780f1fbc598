"""The stock sync over the in-memory Centra and BlueCherry, on the in-memory unit of work and on
a real SQLite store: the same tests."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.domain.erp import AtsCycle, AtsItem
from seamline.domain.stock import BufferRule, Buffers, DemandLine
from seamline.exceptions import RateLimited
from seamline.services.stock import StockPlan, StockSync
from seamline.services.unit_of_work import Store
from seamline.testing.bluecherry import FakeBlueCherry
from seamline.testing.centra import FakeCentra
from seamline.testing.store import InMemoryStore

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


class World:
    """A BlueCherry publishing cycles, a Centra with allocations, and the sync between."""

    def __init__(self, store: Store, plan: StockPlan | None = None) -> None:
        self.store = store
        self.erp = FakeBlueCherry()
        self.centra = FakeCentra()
        self.now = T0
        self.cycle = 0
        self.plan = plan or StockPlan(warehouses={1: ("W01",)})
        self.sync = StockSync(store=store, centra=self.centra, erp=self.erp, plan=self.plan,
                              clock=lambda: self.now)

    def publish(self, figures: dict[str, int], *, warehouse: str = "W01",
                as_of: datetime | None = None) -> AtsCycle:
        self.cycle += 1
        self.now += timedelta(minutes=15)
        cycle = AtsCycle(id=self.cycle, as_of=as_of or self.now, published_at=self.now)
        items = [AtsItem(sku=s, upc="", warehouse=warehouse, on_hand=a, allocated=0,
                         open_demand=0, ats=a) for s, a in figures.items()]
        self.erp.publish_ats(warehouse, cycle, items)
        return cycle

    def post(self, number: int, sku: str, units: int, created_at: datetime,
             warehouse: str = "W01") -> None:
        """A posted web order line Centra holds allocated."""
        self.centra.allocated[(1, sku)] = self.centra.allocated.get((1, sku), 0) + units
        with self.store.begin() as uow:
            uow.stock.set_demand(number, [DemandLine(
                order_number=number, line_no=1, warehouse=warehouse, sku=sku, units=units,
                created_at=created_at)], now=self.now)

    def fta(self, sku: str) -> int:
        return self.centra.free_to_allocate(1, sku)

    def open_exceptions(self) -> dict[str, int]:
        with self.store.read() as uow:
            return {e.type: e.count for e in uow.exceptions.find(state="open")}


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield InMemoryStore()
        return
    db = Database(f"sqlite:///{tmp_path / 'stock.db'}")
    db.upgrade()
    try:
        yield SqlStore(db)
    finally:
        db.dispose()


def test_the_first_run_sets_every_size_and_a_run_without_a_new_cycle_sends_nothing(
        store: Store) -> None:
    w = World(store)
    w.publish({"A": 10, "B": 0, "C": 3})
    first = w.sync.run()
    assert (first.pushed, first.mutations) == (3, 1)
    assert {s: w.centra.stock[(1, s)] for s in "ABC"} == {"A": 10, "B": 0, "C": 3}
    again = w.sync.run()
    assert (again.pushed, again.mutations, again.new_cycles) == (0, 0, [])


def test_a_delta_cycle_pushes_only_the_changed_sizes_in_full_batches(store: Store) -> None:
    plan = StockPlan(warehouses={1: ("W01",)}, batch_size=50)
    w = World(store, plan)
    figures = {f"S{i:05d}": 5 for i in range(2_000)}
    w.publish(figures)
    assert w.sync.run().mutations == math.ceil(2_000 / 50)
    changed = dict.fromkeys(list(figures)[:120], 7)
    w.publish({**figures, **changed})
    report = w.sync.run()
    assert report.sizes_read == 120
    assert (report.pushed, report.mutations) == (120, math.ceil(120 / 50))
    assert all(w.centra.stock[(1, s)] == 7 for s in changed)


def test_web_demand_the_cycle_counted_is_added_back_once_and_uncounted_demand_is_not(
        store: Store) -> None:
    w = World(store)
    w.publish({"A": 20})
    w.sync.run()
    assert w.fta("A") == 20
    # Order 1 posts after cycle 1's as_of: Centra's allocation alone takes it off.
    w.post(1, "A", 3, created_at=w.now + timedelta(minutes=1))
    assert w.fta("A") == 17
    # Cycle 2 counts order 1 in its open demand (ATS 17): the figure adds the 3 back.
    w.publish({"A": 17})
    report = w.sync.run()
    assert w.centra.stock[(1, "A")] == 20
    assert w.fta("A") == 17
    assert report.pushed == 0  # 17 + 3 = 20: nothing changed for Centra
    # Order 2 posts but the next cycle's as_of is before it: not counted yet.
    w.post(2, "A", 2, created_at=w.now + timedelta(minutes=10))
    w.publish({"A": 17}, as_of=w.now + timedelta(minutes=5))
    w.sync.run()
    assert w.fta("A") == 17 - 2


def test_a_cancel_in_centra_lowers_the_figure_on_the_next_run(store: Store) -> None:
    w = World(store)
    w.publish({"A": 20})
    w.sync.run()
    w.post(1, "A", 3, created_at=w.now)
    w.publish({"A": 17})
    w.sync.run()
    assert w.centra.stock[(1, "A")] == 20
    # Centra cancels order 1 (allocation released); BlueCherry's cycle still holds the demand.
    w.centra.allocated[(1, "A")] = 0
    w.now += timedelta(minutes=1)
    with store.begin() as uow:
        changed = uow.stock.set_demand(1, [DemandLine(
            order_number=1, line_no=1, warehouse="W01", sku="A", units=0, created_at=w.now)],
            now=w.now)
    assert changed == [("W01", "A")]
    w.sync.run()
    assert w.centra.stock[(1, "A")] == 17
    assert w.fta("A") == 17


def test_buffers_keep_units_back_most_specific_rule_first_never_below_zero(
        store: Store) -> None:
    plan = StockPlan(warehouses={1: ("W01",)}, buffers=Buffers([
        BufferRule(units=1, warehouse=1),
        BufferRule(units=5, sku="HOT-*"),
        BufferRule(units=0, warehouse=1, sku="HOT-LAST"),
    ], default=2))
    w = World(store, plan)
    w.publish({"PLAIN": 10, "HOT-1": 10, "HOT-2": 3, "HOT-LAST": 4})
    w.sync.run()
    assert {s: w.centra.stock[(1, s)] for s in ("PLAIN", "HOT-1", "HOT-2", "HOT-LAST")} == {
        "PLAIN": 9, "HOT-1": 5, "HOT-2": 0, "HOT-LAST": 4}


def test_several_bluecherry_warehouses_feeding_one_centra_warehouse_are_summed(
        store: Store) -> None:
    w = World(store, StockPlan(warehouses={1: ("W01", "W04")}))
    w.publish({"A": 4, "B": 1})
    w.publish({"A": 6}, warehouse="W04")
    w.sync.run()
    assert (w.centra.stock[(1, "A")], w.centra.stock[(1, "B")]) == (10, 1)
    # Only W04 changes: A's figure still includes W01's 4.
    w.publish({"A": 1}, warehouse="W04")
    w.sync.run()
    assert w.centra.stock[(1, "A")] == 5


def test_skus_centra_does_not_know_are_reported_once_per_run_and_not_resent_until_full(
        store: Store) -> None:
    w = World(store)
    w.centra.known_skus = {"A"}
    w.publish({"A": 1, "X1": 2, "X2": 3})
    report = w.sync.run()
    assert report.unknown == {1: ["X1", "X2"]}
    assert w.centra.stock[(1, "A")] == 1
    assert w.open_exceptions() == {"STOCK_SKU_UNKNOWN": 1}
    w.publish({"A": 2, "X1": 5, "X2": 3})
    again = w.sync.run()
    assert again.unknown == {}
    assert again.pushed == 1
    with store.read() as uow:
        assert uow.stock.summary()["unknown"] == 2
    w.centra.known_skus = {"A", "X1", "X2"}
    full = w.sync.run(full=True)
    assert full.pushed == 3
    assert w.centra.stock[(1, "X1")] == 5


def test_a_failing_push_keeps_the_sizes_pending_then_raises_and_resolves_sync_failed(
        store: Store) -> None:
    w = World(store)
    w.publish({"A": 1, "B": 2})
    w.centra.inject("429", times=3, match="set_stock", retry_after=60)
    for run in range(1, 4):
        report = w.sync.run()
        assert report.failed
        assert report.pending == 2
        assert ("STOCK_SYNC_FAILED" in w.open_exceptions()) == (run == 3)
    w.publish({"A": 1, "B": 2})  # a new cycle with nothing changed: pending still goes
    report = w.sync.run()
    assert report.failed is None
    assert report.pushed == 2
    assert report.pending == 0
    assert "STOCK_SYNC_FAILED" not in w.open_exceptions()
    assert (w.centra.stock[(1, "A")], w.centra.stock[(1, "B")]) == (1, 2)


def test_cycles_that_do_not_reach_centra_raise_stock_sync_stale(store: Store) -> None:
    plan = StockPlan(warehouses={1: ("W01",)}, stale_after_cycles=2, failed_after_runs=99)
    w = World(store, plan)
    w.publish({"A": 1})
    w.sync.run()
    w.centra.inject("429", times=2, match="set_stock", retry_after=60)
    w.publish({"A": 2})
    w.sync.run()
    assert "STOCK_SYNC_STALE" not in w.open_exceptions()
    w.publish({"A": 3})
    w.sync.run()
    assert "STOCK_SYNC_STALE" in w.open_exceptions()
    w.sync.run()
    assert "STOCK_SYNC_STALE" not in w.open_exceptions()
    assert w.centra.stock[(1, "A")] == 3


def test_a_bluecherry_outage_still_pushes_what_is_pending_and_counts_as_a_failed_run(
        store: Store) -> None:
    w = World(store)
    w.publish({"A": 1})
    w.centra.inject("429", times=1, match="set_stock", retry_after=60)
    w.sync.run()
    w.erp.fail_next(1, "server-error", op="iter_ats")
    report = w.sync.run()
    assert report.failed
    assert "ATS" in report.failed
    assert report.pushed == 1
    assert w.centra.stock[(1, "A")] == 1


def test_an_sku_pattern_limits_the_run_and_keeps_the_cycle_cursor(store: Store) -> None:
    w = World(store)
    w.publish({"ST1-A": 1, "ST1-B": 1, "ST2-A": 1})
    report = w.sync.run(sku_pattern="ST1-*")
    assert report.pushed == 2
    assert (1, "ST2-A") not in w.centra.stock
    assert w.sync.run().pushed == 1  # the cursor did not move: the next run reads all


def test_the_figure_never_goes_negative_and_the_ean_mode_names_sizes_by_ean(
        store: Store) -> None:
    plan = StockPlan(warehouses={1: ("W01",)}, key_mode="ean", buffers=Buffers(default=3))
    w = World(store, plan)
    w.cycle += 1
    cycle = AtsCycle(id=1, as_of=w.now, published_at=w.now)
    w.erp.publish_ats("W01", cycle, [AtsItem(sku="A", upc="012345678905", warehouse="W01",
                                             on_hand=2, allocated=0, open_demand=0, ats=2)])
    w.sync.run()
    assert w.centra.stock[(1, "0012345678905")] == 0


def test_a_size_centra_raised_to_its_allocation_is_sent_again_until_centra_takes_it(
        store: Store) -> None:
    """Centra sold beyond stock (its orders hold 3, BlueCherry has 2): Centra keeps physical
    at 3 with a warning; once those orders are cancelled the figure must come down to 2."""
    w = World(store)
    w.centra.allocated[(1, "A")] = 3
    w.publish({"A": 2})
    report = w.sync.run()
    assert report.adjusted == {1: ["A"]}
    assert w.centra.stock[(1, "A")] == 3
    assert "STOCK_SYNC_STALE" not in w.open_exceptions()
    w.centra.allocated[(1, "A")] = 0  # the unposted orders are cancelled in Centra
    again = w.sync.run()
    assert again.adjusted == {}
    assert again.pending == 0
    assert w.centra.stock[(1, "A")] == 2


def test_a_cycle_that_first_counts_an_order_moves_its_figure_even_with_figures_unchanged(
        store: Store) -> None:
    """Order 1 posts after cycle 1; cycle 2 counts it while another 3 units came back to
    BlueCherry (a cancel): the published figures are the same, the figure must still rise."""
    w = World(store)
    w.publish({"A": 10})
    w.sync.run()
    w.post(1, "A", 3, created_at=w.now + timedelta(minutes=1))
    assert w.fta("A") == 7
    w.publish({"A": 10})  # 3 more demand, 3 cancelled elsewhere: same ATS, same figures
    report = w.sync.run()
    assert report.pushed == 1
    assert w.centra.stock[(1, "A")] == 13
    assert w.fta("A") == 10


def test_units_centra_ships_are_sent_again_and_an_uncounted_order_shipped_is_taken_off(
        store: Store) -> None:
    """Centra lowers physical stock as it ships: the size is sent again; units of an order the
    cycle did not see yet are still in the cycle's on-hand, so the figure drops by them."""
    w = World(store)
    w.publish({"A": 10})
    w.sync.run()
    created = w.now + timedelta(minutes=1)
    w.post(1, "A", 3, created_at=created)
    # Centra ships order 1 (physical and allocation fall by 3) before any cycle saw it.
    w.centra.stock[(1, "A")] -= 3
    w.centra.allocated[(1, "A")] -= 3
    with store.begin() as uow:
        uow.stock.set_demand(1, [DemandLine(order_number=1, line_no=1, warehouse="W01",
                                            sku="A", units=0, shipped=3,
                                            created_at=created)], now=w.now)
    report = w.sync.run()
    assert report.pushed == 1
    assert w.centra.stock[(1, "A")] == 7
    assert w.fta("A") == 7
    w.publish({"A": 7})  # the next cycle sees the shipment in on-hand
    w.sync.run()
    assert w.centra.stock[(1, "A")] == 7


def test_the_stock_gauges_read_the_last_run_and_what_waits_from_the_store(
        store: Store) -> None:
    """``/metrics`` gets the lag of the last run that read a new cycle (kept across quiet
    runs), the sizes pending and unknown, and the cycle read per warehouse."""
    from seamline.services.stock.metrics import StockGauges  # noqa: PLC0415

    w = World(store)
    w.centra.known_skus = {"A"}
    w.publish({"A": 1, "X": 1})
    w.now += timedelta(seconds=42)
    w.sync.run()
    w.sync.run()  # no new cycle: the lag shown stays the last one measured
    gauges = {m.name: m for m in StockGauges(lambda: store, clock=lambda: w.now).collect()}
    assert gauges["seamline_stock_sync_lag_seconds"].samples[0].value == 42
    assert gauges["seamline_stock_sizes_pending"].samples[0].value == 0
    assert gauges["seamline_stock_sizes_unknown"].samples[0].value == 1
    assert [(s.labels["warehouse"], s.value) for s in gauges["seamline_stock_cycle"].samples] \
        == [("W01", 1)]


def test_a_size_changed_in_several_cycles_between_runs_goes_once_with_its_latest_figure(
        store: Store) -> None:
    """Coalescing: BlueCherry published three cycles since the last run, changing A each
    time; one mutation carries A once, with the last cycle's figure."""
    w = World(store)
    w.publish({"A": 10, "B": 4})
    w.sync.run()
    sent: list[list[tuple[str, int]]] = []
    push = w.centra.set_stock_sizes

    def recording(warehouse_id: int, sizes: list[tuple[str, int]], **kw: str) -> object:
        sent.append(list(sizes))
        return push(warehouse_id, sizes, **kw)

    w.centra.set_stock_sizes = recording  # type: ignore[method-assign]
    for figure in (8, 6, 3):
        w.publish({"A": figure, "B": 4})
    report = w.sync.run()
    assert (report.pushed, report.mutations) == (1, 1)
    assert sent == [[("A", 3)]]
    assert w.centra.stock[(1, "A")] == 3


def test_a_push_paused_by_the_centra_budget_is_deferred_not_failed(store: Store) -> None:
    """A sweep yielding to shipments (or a spent budget) leaves its sizes pending for the next
    run without counting a failed run, so no STOCK_SYNC_FAILED is raised for it."""
    w = World(store, StockPlan(warehouses={1: ("W01",)}, batch_size=2, failed_after_runs=2))
    w.publish({"A": 1, "B": 2, "C": 3})
    push = w.centra.set_stock_sizes
    calls = {"n": 0}

    def budget(warehouse_id: int, sizes: list[tuple[str, int]], **kw: str) -> object:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RateLimited("centra: stock_sweep yielding to higher-priority work",
                              system="centra", retry_after=0.5)
        return push(warehouse_id, sizes, **kw)

    w.centra.set_stock_sizes = budget  # type: ignore[method-assign]
    for _ in range(3):
        calls["n"] = 0
        report = w.sync.run(full=True)
        assert report.failed is None
        assert report.deferred is not None
        assert "yielding" in report.deferred
        assert report.pending == 1
    assert "STOCK_SYNC_FAILED" not in w.open_exceptions()
    w.centra.set_stock_sizes = push  # type: ignore[method-assign]
    assert w.sync.run().pending == 0
