"""Drift and the missing-in-ERP watchdog end to end over real HTTP: orders posted to the
BlueCherry sandbox by the order flow, edited there by hand (``POST /_sandbox/orders/{no}/edit``),
shipped and short-shipped by its warehouse, cancelled from Centra by Seamline — and read back by
``GET /sales-orders?updated_since=`` page by page (a page size of 2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from seamline.bootstrap import Container
from seamline.config import Settings
from seamline_sandbox.harness import Sandboxes, build_seamline, run_until_quiet, settings_for
from seamline_sandbox.shipping import ship
from seamline_sandbox.world import MARKETS


def _settings(sb: Sandboxes, tmp_path: Path, mode: str = "realtime") -> Settings:
    base = settings_for(sb, f"sqlite:///{tmp_path / 'drift.db'}", mode=mode)  # type: ignore[arg-type]
    data = base.model_dump(mode="python")
    data["centra"]["token"] = sb.centra_token
    data["bluecherry"]["api_key"] = sb.bluecherry_key
    data["bluecherry"]["page_size"] = 2
    data["watchdogs"] = {"missing_in_erp_after_min": 30}
    return Settings.model_validate(data)


@pytest.fixture
def sb() -> Iterator[Sandboxes]:
    with Sandboxes(seed=21, lift_rate_limits=True) as sandboxes:
        yield sandboxes


@pytest.fixture
def container(sb: Sandboxes, tmp_path: Path) -> Iterator[Container]:
    c = build_seamline(sb, _settings(sb, tmp_path))
    yield c
    c.close()


def _place(sb: Sandboxes, n: int, seed: int, market_ids: tuple[int, ...] = (3,)) -> list[Any]:
    return sb.place_orders(n, seed=seed, hold_rate=0.0, waiting_payment_rate=0.0,
                           unknown_sku_rate=0.0, pickup_point_rate=0.0, inconsistent_rate=0.0,
                           markets=[m for m in MARKETS if m.id in market_ids])


def _drifts(container: Container) -> list[Any]:
    return container.drift.open_drifts()


def _diff(exc: Any) -> dict[str, tuple[str, str]]:
    return {d["field"]: (d["centra"], d["bluecherry"]) for d in exc.details["diff"]}


def test_an_order_edited_by_hand_is_one_drift_accepted_then_raised_again_on_a_second_edit(
        sb: Sandboxes, container: Container) -> None:
    _place(sb, 5, seed=3)
    run_until_quiet(container, timeout_s=120)
    orders = sorted(sb.bluecherry_orders(), key=lambda o: o["order_no"])
    assert len(orders) == 5
    assert container.drift.scan().raised == 0

    edited, shorted, cancelled = orders[0], orders[1], orders[2]
    line = edited["lines"][0]
    sb.advance_clock(60)
    sb.edit_bluecherry_order(edited["order_no"], login="anna",
                             lines=[{"line_no": line["line_no"],
                                     "quantity": line["ordered_quantity"] + 1}],
                             ship_to={"city": "Malmö"})
    ship(sb, order_nos=[shorted["order_no"]], short_probability=1.0, seed=4)
    number = int(cancelled["customer_po"])
    sb.cancel_order(number)
    run_until_quiet(container, timeout_s=120)  # Seamline cancels it in BlueCherry
    after = {o["order_no"]: o for o in sb.bluecherry_orders()}
    assert after[shorted["order_no"]]["updated_by"] == "system:warehouse"
    assert after[cancelled["order_no"]]["status"] == "CANCELLED"
    assert after[cancelled["order_no"]]["updated_by"].startswith("api:")

    result = container.drift.scan()
    assert result.raised == 1
    [exc] = _drifts(container)
    diff = _diff(exc)
    assert exc.details["order_no"] == edited["order_no"]
    assert exc.owner == "ecommerce"
    assert diff[f"line {line['line_no']} quantity"] == (
        str(line["ordered_quantity"]), str(line["ordered_quantity"] + 1))
    assert diff["ship_to.city"][1] == "Malmö"
    assert "totals.total" in diff
    assert "user:anna" in exc.message

    assert container.drift.scan().raised == 0
    assert [e.count for e in _drifts(container)] == [1]

    container.drift.accept(exc.id, actor="cli:finance", note="agreed with the customer")
    sb.advance_clock(60)
    ship(sb, order_nos=[edited["order_no"]], partial_probability=1.0, seed=5)
    assert container.drift.scan().raised == 0
    assert _drifts(container) == []

    sb.advance_clock(60)
    sb.edit_bluecherry_order(edited["order_no"], login="bo", ship_via="UPSG")
    assert container.drift.scan().raised == 1
    [again] = _drifts(container)
    assert again.id != exc.id
    assert _diff(again)["ship_via"][1] == "UPSG"


def test_correct_from_centra_cancels_units_added_by_hand(sb: Sandboxes,
                                                         container: Container) -> None:
    _place(sb, 1, seed=6)
    run_until_quiet(container, timeout_s=60)
    [o] = sb.bluecherry_orders()
    line = o["lines"][0]
    sb.advance_clock(60)
    sb.edit_bluecherry_order(o["order_no"], lines=[{"line_no": line["line_no"],
                                                    "quantity": line["ordered_quantity"] + 2}])
    container.drift.scan()
    [exc] = _drifts(container)
    result = container.drift.correct(exc.id, actor="cli:ecommerce")
    assert result.done
    assert result.cancels == ((line["line_no"], 2),)
    [now] = sb.bluecherry_orders()
    assert now["lines"][0]["cancelled_quantity"] == 2
    assert now["lines"][0]["open_quantity"] == line["ordered_quantity"]
    sb.advance_clock(60)
    assert container.drift.scan().raised == 0
    assert _drifts(container) == []


def test_an_order_that_never_posts_is_missing_after_n_minutes_and_resolves_when_it_posts(
        sb: Sandboxes, container: Container) -> None:
    _place(sb, 1, seed=7)
    container.orders.sync_catalogue()
    container.orders.poll()  # read from Centra; no worker runs: it is not posted
    dog = container.missing_in_erp
    assert dog.watch() == (0, 0)
    sb.advance_clock(31 * 60)
    assert dog.watch()[0] == 1
    [exc] = container.exceptions.list(type="ORDER_MISSING_IN_ERP")
    assert exc.owner == "ecommerce"
    run_until_quiet(container, timeout_s=60)
    assert container.exceptions.list(type="ORDER_MISSING_IN_ERP") == []
    assert dog.report() == []


def test_a_daily_market_order_is_missing_only_after_its_batch_and_its_grace(
        sb: Sandboxes, tmp_path: Path) -> None:
    c = build_seamline(sb, _settings(sb, tmp_path, mode="daily"))
    try:
        [g] = _place(sb, 1, seed=8, market_ids=(1,))
        run_until_quiet(c, timeout_s=60, batches=False)  # gated: it waits for its batch
        dog = c.missing_in_erp
        with c.store.read() as uow:
            ledger = uow.orders.get(int(g.number))
        assert ledger is not None
        assert ledger.state.value == "batch"
        mode, due = dog.due_at(ledger)
        assert mode == "daily"
        assert due is not None
        sb.clock.advance_to(due - timedelta(minutes=1))
        assert dog.watch() == (0, 0)
        sb.clock.advance_to(due + timedelta(minutes=1))
        assert dog.watch()[0] == 1
        run_until_quiet(c, timeout_s=60)  # intake reads past the cut-off: the batch posts it
        assert c.exceptions.list(type="ORDER_MISSING_IN_ERP") == []
    finally:
        c.close()


def test_units_cancelled_by_a_person_are_drift_though_no_compared_field_differs(
        sb: Sandboxes, container: Container) -> None:
    _place(sb, 1, seed=9)
    run_until_quiet(container, timeout_s=60)
    [o] = sb.bluecherry_orders()
    line = o["lines"][0]
    sb.advance_clock(60)
    sb.edit_bluecherry_order(o["order_no"], login="carl",
                             cancel=[{"line_no": line["line_no"], "quantity": 1}])
    assert container.drift.scan().raised == 1
    [exc] = _drifts(container)
    [row] = exc.details["diff"]
    assert row["field"] == "edited by"
    assert "user:carl" in row["bluecherry"]
    assert f"line {line['line_no']}: 1 cancelled" in row["bluecherry"]
    assert exc.owner == "ecommerce"
    sb.advance_clock(60)
    ship(sb, order_nos=[o["order_no"]], seed=3)  # the warehouse ships the rest: not a new drift
    container.drift.scan()
    assert [e.id for e in _drifts(container)] == [exc.id]
