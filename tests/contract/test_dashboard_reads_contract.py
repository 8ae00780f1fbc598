"""One contract for the dashboard's reads: the SQL ones (SQLite, PostgreSQL) and the in-memory
fake count, filter, search and page alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from seamline.adapters.store.dashboard import SqlDashboardReads
from seamline.adapters.store.db import Database
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.domain.dashboard import ExceptionFilter
from seamline.domain.ledger import OrderState
from seamline.queue import JobQueue, TaskRegistry
from seamline.services.dashboard import DashboardReads
from seamline.services.unit_of_work import Store
from seamline.testing.dashboard import InMemoryDashboardReads
from seamline.testing.store import InMemoryStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sql", "memory"])
def pair(request: pytest.FixtureRequest, db: Database) -> Iterator[tuple[Store, DashboardReads]]:
    if request.param == "memory":
        if db.dialect != "sqlite":
            pytest.skip("the in-memory store runs once")
        memory = InMemoryStore(clock=lambda: NOW, registry=TaskRegistry())
        yield memory, InMemoryDashboardReads(memory)
    else:
        yield SqlStore(db, JobQueue(db, clock=lambda: NOW)), SqlDashboardReads(db)


def _seed(store: Store) -> dict[str, int]:
    ids: dict[str, int] = {}
    with store.begin() as uow:
        ids["map"] = uow.exceptions.raise_(
            type="MAPPING_MISSING", owner="ecommerce", business_key="mapping:market:6/NOK",
            message="no market mapping for 6/NOK", now=NOW - timedelta(hours=30))
        for n in ("1001", "1010", "1020"):
            uow.exceptions.hold_order(ids["map"], n, now=NOW)
        ids["sku"] = uow.exceptions.raise_(
            type="UNKNOWN_SKU", owner="ecommerce", business_key="sku:TSHIRT-RED-M",
            message="SKU TSHIRT-RED-M is not in BlueCherry's catalogue",
            now=NOW - timedelta(minutes=20))
        uow.exceptions.hold_order(ids["sku"], "1030", now=NOW)
        ids["ship"] = uow.exceptions.raise_(
            type="SHIPMENT_UNMATCHED", owner="operations", business_key="shipment:SH-77",
            message="matches no Centra order", now=NOW - timedelta(hours=2))
        ids["order"] = uow.exceptions.raise_(
            type="POST_FAILED", owner="operations", business_key="order:1040",
            message="BlueCherry answered 503 five times", now=NOW - timedelta(hours=1))
        ids["done"] = uow.exceptions.raise_(
            type="TOTAL_MISMATCH", owner="finance", business_key="order:1050:totals",
            message="grand_total differs 100% literally", now=NOW - timedelta(hours=5))
        uow.exceptions.resolve_ids([ids["done"]], actor="t", note="n", now=NOW)
        for n, state in ((1001, OrderState.PARKED), (1010, OrderState.PARKED),
                         (1060, OrderState.BATCH), (1070, OrderState.POSTED)):
            uow.orders.save(n, state=state, data={"snapshot": {}}, now=NOW)
        uow.outbox.enqueue("orders.post", {"number": 1040}, queue="orders",
                           business_key="order:1040")
        uow.outbox.enqueue("orders.post", {"number": 1041}, queue="orders",
                           business_key="order:1041")
        uow.outbox.enqueue("stock.sync", {}, queue="stock")
    return ids


def test_waiting_jobs_are_counted_per_queue_with_the_oldest_due(
        pair: tuple[Store, DashboardReads]) -> None:
    store, reads = pair
    _seed(store)
    figures = {f.queue: f for f in reads.queue_figures(since=NOW - timedelta(days=1),
                                                        now=NOW + timedelta(seconds=1),
                                                        queues=["shipments"])}
    assert sorted(figures) == ["orders", "shipments", "stock"]
    assert (figures["orders"].todo, figures["stock"].todo, figures["shipments"].todo) == \
        (2, 1, 0)
    assert figures["shipments"].last_success is None
    assert figures["orders"].oldest_due is not None
    assert figures["orders"].oldest_due <= NOW + timedelta(seconds=1)
    assert figures["orders"].failed == 0


def test_ledger_rows_are_counted_per_state(pair: tuple[Store, DashboardReads]) -> None:
    store, reads = pair
    _seed(store)
    states = {s.state: s.count for s in reads.ledger_states(
        "order", ["parked", "batch", "posted", "new"])}
    assert states == {"parked": 2, "batch": 1, "posted": 1}
    assert [s.state for s in reads.ledger_states("order", ["batch"])] == ["batch"]
    assert reads.ledger_states("shipment", ["held"]) == []


def test_open_exceptions_come_with_their_owner_age_and_held_orders(
        pair: tuple[Store, DashboardReads]) -> None:
    store, reads = pair
    _seed(store)
    ages = sorted((o, h) for o, _f, h in reads.open_exception_ages())
    assert ages == [("ecommerce", 1), ("ecommerce", 3), ("operations", 0), ("operations", 0)]


def test_the_list_filters_by_state_owner_type_and_age(
        pair: tuple[Store, DashboardReads]) -> None:
    store, reads = pair
    _seed(store)

    def count(**kw: object) -> int:
        return reads.find_exceptions(ExceptionFilter(**kw), now=NOW, offset=0,  # type: ignore[arg-type]
                                     limit=50)[1]

    assert count() == 4
    assert count(state=None) == 5
    assert count(state="resolved") == 1
    assert count(owner="operations") == 2
    assert count(type="UNKNOWN_SKU") == 1
    assert count(older_than_h=1.5) == 2
    assert reads.exception_types() == ["MAPPING_MISSING", "POST_FAILED", "SHIPMENT_UNMATCHED",
                                       "TOTAL_MISMATCH", "UNKNOWN_SKU"]


def test_search_finds_by_held_order_number_sku_shipment_and_message(
        pair: tuple[Store, DashboardReads]) -> None:
    store, reads = pair
    ids = _seed(store)

    def found(q: str) -> list[int]:
        rows, _ = reads.find_exceptions(ExceptionFilter(state=None, q=q), now=NOW, offset=0,
                                        limit=50)
        return sorted(r.id for r in rows)

    assert found("1010") == [ids["map"]]
    assert found("TSHIRT-RED") == [ids["sku"]]
    assert found("SH-77") == [ids["ship"]]
    assert found("1040") == [ids["order"]]
    assert found("100%") == [ids["done"]]  # a LIKE wildcard is searched for as itself
    assert found("RED_M") == []  # "_" is not "any character" (TSHIRT-RED-M)


def test_pages_are_newest_first_and_the_total_counts_every_match(
        pair: tuple[Store, DashboardReads]) -> None:
    store, reads = pair
    ids = _seed(store)
    first, total = reads.find_exceptions(ExceptionFilter(), now=NOW, offset=0, limit=3)
    second, _ = reads.find_exceptions(ExceptionFilter(), now=NOW, offset=3, limit=3)
    assert total == 4
    assert [r.id for r in first] == [ids["sku"], ids["order"], ids["ship"]]
    assert [r.id for r in second] == [ids["map"]]
    assert first[0].held == 1
    assert reads.exception_ids(ExceptionFilter(owner="ecommerce"), now=NOW, limit=1) == \
        [min(ids["map"], ids["sku"])]


def test_an_orders_jobs_and_exceptions_are_found_by_its_key_and_its_holds(
        pair: tuple[Store, DashboardReads]) -> None:
    store, reads = pair
    ids = _seed(store)
    assert [j.task for j in reads.order_jobs("order:1040")] == ["orders.post"]
    assert [e.id for e in reads.order_exceptions("order:1040", "1040")] == [ids["order"]]
    assert [e.id for e in reads.order_exceptions("order:1020", "1020")] == [ids["map"]]
    # Once released, an order still finds what it was parked on (its ledger's ``parks``).
    assert [e.id for e in reads.order_exceptions("order:1070", "1070", ["sku:TSHIRT-RED-M"])] \
        == [ids["sku"]]
    assert reads.shipments_for(1040) == []


def test_orders_in_a_state_come_longest_waiting_first_with_why(
        pair: tuple[Store, DashboardReads]) -> None:
    store, reads = pair
    with store.begin() as uow:
        for i, n in enumerate((7003, 7001, 7002)):
            uow.orders.save(n, state=OrderState.BATCH, now=NOW + timedelta(minutes=i),
                            data={"reason": f"waits for the batch ({n})"})
        uow.orders.save(7004, state=OrderState.SYNCED, data={}, now=NOW)
    rows, total = reads.ledger_page("order", "batch", offset=0, limit=2)
    assert total == 3
    assert [(r.key, r.reason) for r in rows] == [("7003", "waits for the batch (7003)"),
                                                 ("7001", "waits for the batch (7001)")]
    rest, _ = reads.ledger_page("order", "batch", offset=2, limit=2)
    assert [r.key for r in rest] == ["7002"]
