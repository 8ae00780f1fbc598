"""Daily batches when intake lags the cut-off (issue 17), over both sandboxes by real HTTP.

Orders placed in Centra before the 23:00 Stockholm cut-off are read by intake only after it
(intake behind: the batch tick comes first). The day's batch must wait for intake to read Centra
past the cut-off, so every such order is in that day's business day and posts within one poll
after intake reads it; an order found only after its day has closed posts at once as a straggler
of that day, and the day's batch report counts it late.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e_support import assert_no_order_waits_for_a_later_day

from seamline.adapters.store.repos import get_ledger
from seamline.bootstrap import Container
from seamline.domain.batch import business_day, cutoff_instant
from seamline.domain.mapping import MarketCodes
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.harness import Sandboxes, build_seamline, settings_for

CLEAN = {"hold_rate": 0.0, "waiting_payment_rate": 0.0, "unknown_sku_rate": 0.0,
         "pickup_point_rate": 0.0}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Sandboxes, Container, MarketCodes, Any]]:
    with Sandboxes(seed=17, lift_rate_limits=True) as sb:
        container = build_seamline(sb, settings_for(sb, f"sqlite:///{tmp_path / 's.db'}",
                                                    mode="daily"))
        se = next(m for m in container.orders.markets if m.centra_market == 1)
        se_world = next(m for m in sb.centra.state.world.markets if m.id == 1)
        container.orders.sync_catalogue()
        try:
            yield sb, container, se, se_world
        finally:
            container.close()


def _tick(container: Container, *, day: date | None = None) -> int:
    """The scheduler's batch tick (or an operator's ``orders post --batch DAY``)."""
    with container.store.begin() as uow:
        return container.orders.run_batches(uow, day=day)


def _drain(container: Container) -> None:
    container.worker(concurrency=1).drain()


def _business_days(container: Container, orders: list[GeneratedOrder]) -> dict[int, str]:
    with container.db.read() as conn:
        return {g.number: get_ledger(conn, "order", str(g.number)).data.get("business_day")
                for g in orders if g.number is not None}


def test_orders_placed_before_the_cut_off_and_read_after_it_post_in_that_days_batch(
        world: tuple[Sandboxes, Container, MarketCodes, Any]) -> None:
    """Intake behind the cut-off: the batch tick closes nothing until intake has read past
    the cut-off; then every order placed before it is in day D and posts in that poll's
    round."""
    sb, container, se, se_world = world
    flow = container.orders
    d = business_day(sb.now(), se)
    early = sb.place_orders(20, seed=1, markets=[se_world], **CLEAN)
    flow.poll()
    _drain(container)
    late = sb.place_orders(40, seed=2, markets=[se_world], **CLEAN)  # intake has not seen them
    sb.clock.advance_to(cutoff_instant(d, se) + timedelta(minutes=3))
    assert _tick(container) == 0  # the watermark is before the cut-off: day D stays open
    _drain(container)
    assert sb.bluecherry_reference_counts() == {}

    flow.poll()  # intake reads the late 40, and past the cut-off
    _drain(container)
    assert _tick(container) == 60
    _drain(container)
    counts = sb.bluecherry_reference_counts()
    orders = early + late
    assert [g.number for g in orders if counts.get(sb.reference(g)) != 1] == []
    assert set(_business_days(container, orders).values()) == {d.isoformat()}
    with container.store.read() as uow:
        (report,) = [r for r in flow.batch_report(uow, d) if r["market"] == "1/SEK"]
    assert (report["released"], report["late"]) == (60, 0)
    assert_no_order_waits_for_a_later_day(container)


def test_an_order_found_after_its_day_closed_posts_at_once_as_a_straggler_of_that_day(
        world: tuple[Sandboxes, Container, MarketCodes, Any]) -> None:
    """Day D closed by hand before intake read its last orders: they post as soon as intake
    reads them (no batch tick needed), keep business day D, and the report counts them late."""
    sb, container, se, se_world = world
    flow = container.orders
    d = business_day(sb.now(), se)
    late = sb.place_orders(40, seed=3, markets=[se_world], **CLEAN)
    sb.clock.advance_to(cutoff_instant(d, se) + timedelta(minutes=10))
    assert _tick(container, day=d) == 0  # closed by hand, before intake read anything
    flow.poll()
    _drain(container)  # no batch tick: the post jobs intake queued post them
    counts = sb.bluecherry_reference_counts()
    assert [g.number for g in late if counts.get(sb.reference(g)) != 1] == []
    assert set(_business_days(container, late).values()) == {d.isoformat()}
    with container.store.read() as uow:
        (report,) = [r for r in flow.batch_report(uow, d) if r["market"] == "1/SEK"]
    assert report["late"] == 40
    assert sorted(report["late_orders"]) == sorted(g.number for g in late)
    assert 600 <= report["late_max_s"] < 900
    assert_no_order_waits_for_a_later_day(container)
