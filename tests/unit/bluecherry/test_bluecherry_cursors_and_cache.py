"""Feed cursors advance only after recording; the master-data cache reads once per TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bluecherry_fixtures import new_fake

from seamline.adapters.bluecherry.cursors import (
    SHIPMENTS_CURSOR,
    InMemoryCursorStore,
    advance_ats,
    advance_cursor,
    advance_feed,
)
from seamline.adapters.bluecherry.masterdata import MasterDataCache
from seamline.domain.erp import AtsCycle, AtsItem, ErpShipment

T0 = datetime(2026, 11, 28, 10, tzinfo=UTC)


def _shipment(n: int) -> ErpShipment:
    return ErpShipment(shipment_no=f"SH-{n}", order_no="SO-1", customer_po="P",
                       warehouse="W01", shipped_at=T0)


def test_the_cursor_moves_only_after_the_batch_is_recorded() -> None:
    """A recorder that returns True moves the cursor to the feed's resume point."""
    erp = new_fake()
    store = InMemoryCursorStore()
    erp.add_shipment(_shipment(1))
    erp.add_shipment(_shipment(2))
    seen: list[str] = []
    run = advance_feed(erp, store, "shipments",
                       lambda items: seen.extend(s.shipment_no for s in items) or True)
    assert run.advanced
    assert store.get(SHIPMENTS_CURSOR) == "2"
    erp.add_shipment(_shipment(3))
    advance_feed(erp, store, "shipments",
                 lambda items: seen.extend(s.shipment_no for s in items) or True)
    assert seen == ["SH-1", "SH-2", "SH-3"]


def test_a_recorder_that_fails_leaves_the_cursor_so_nothing_is_lost() -> None:
    """An exception (or False) while recording re-reads the same items next time."""
    erp = new_fake()
    store = InMemoryCursorStore()
    erp.add_shipment(_shipment(1))

    def boom(items: list[ErpShipment]) -> bool:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        advance_feed(erp, store, "shipments", boom)
    assert store.get(SHIPMENTS_CURSOR) is None
    refused = advance_feed(erp, store, "shipments", lambda items: False)
    assert not refused.advanced
    assert store.get(SHIPMENTS_CURSOR) is None
    again = advance_feed(erp, store, "shipments", lambda items: True)
    assert [s.shipment_no for s in again.batch] == ["SH-1"]


def test_a_none_resume_point_is_never_stored() -> None:
    """A fetch that gives no next position keeps the old one."""
    store = InMemoryCursorStore()
    store.set("x", "5")
    run = advance_cursor(store, "x", lambda pos: ([pos], None), lambda batch: True)
    assert run.batch == ["5"]
    assert store.get("x") == "5"
    assert not run.advanced


def test_the_ats_cursor_reads_deltas_since_the_recorded_cycle() -> None:
    """The first run reads the full snapshot; later runs only what changed after it."""
    erp = new_fake()
    store = InMemoryCursorStore()
    a = AtsItem(sku="A", upc="1", warehouse="W01", on_hand=5, allocated=0, open_demand=0, ats=5)
    b = AtsItem(sku="B", upc="2", warehouse="W01", on_hand=3, allocated=0, open_demand=0, ats=3)
    erp.publish_ats("W01", AtsCycle(id=1, as_of=T0, published_at=T0), [a, b])
    first = advance_ats(erp, store, "W01", lambda batch: True)
    assert {i.sku for i in first.batch[1]} == {"A", "B"}
    assert store.get("bluecherry.ats.W01") == "1"
    b2 = AtsItem(sku="B", upc="2", warehouse="W01", on_hand=2, allocated=0, open_demand=0,
                 ats=2)
    erp.publish_ats("W01", AtsCycle(id=2, as_of=T0, published_at=T0), [a, b2])
    second = advance_ats(erp, store, "W01", lambda batch: True)
    assert [i.sku for i in second.batch[1]] == ["B"]
    assert store.get("bluecherry.ats.W01") == "2"


class _Clock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t


def test_the_master_data_cache_reads_once_per_ttl() -> None:
    """Repeated reads within the TTL make one call; after it, one more."""
    erp = new_fake()
    clock = _Clock()
    cache = MasterDataCache(erp, ttl=timedelta(minutes=10), clock=clock)
    cache.master()
    cache.master()
    assert erp.calls.count("master_data") == 1
    clock.t += timedelta(minutes=11)
    assert "W01" in cache.master().warehouses
    assert erp.calls.count("master_data") == 2


def test_the_catalogue_joins_on_the_gtin_in_any_length() -> None:
    """An EAN-13 ("0" + UPC) finds the BlueCherry SKU held by its UPC-A."""
    erp = new_fake()
    cache = MasterDataCache(erp)
    item = erp.catalogue[0]
    assert cache.by_gtin("0" + item.upc) == item
    assert cache.sku(item.sku) == item
    assert cache.by_gtin("not-a-gtin") is None
    cache.invalidate()
    cache.catalogue()
    assert erp.calls.count("iter_skus") == 2
