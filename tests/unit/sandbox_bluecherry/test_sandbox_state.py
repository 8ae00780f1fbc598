"""The BlueCherry sandbox's behaviour behind the HTTP layer: ATS cycles, the warehouse, cancels,
manual edits and the rate limiter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from seamline_sandbox.bluecherry import warehouse
from seamline_sandbox.bluecherry.examples import sample_order
from seamline_sandbox.bluecherry.faults import RateLimiter
from seamline_sandbox.bluecherry.state import ApiError, BlueCherryState, Order
from seamline_sandbox.bluecherry.validation import validate_order


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> BlueCherryState:
    return BlueCherryState(seed=1, clock=clock)


def post(state: BlueCherryState, n: int, clock: Clock, **kw: object) -> Order:
    order, details = validate_order(sample_order(n, **kw), state.master)  # type: ignore[arg-type]
    assert order is not None, details
    clock.tick()
    return state.create_order(order, by="api:test")


def figures(state: BlueCherryState, wh: str, sku: str) -> tuple[int, int, int, int]:
    latest = state.ats.latest
    assert latest is not None
    return latest.figures[(wh, sku)]


def expected(state: BlueCherryState, wh: str, sku: str, as_of: datetime) -> tuple[int, ...]:
    """The contract's definition, computed independently of ats.py."""
    on_hand = state.on_hand[(sku, wh)]
    allocated = sum(ln.picked for o in state.orders if o.warehouse == wh
                    for ln in o.lines if ln.sku == sku)
    demand = sum(ln.quantity - ln.cancelled - ln.picked - ln.shipped
                 for o in state.orders if o.warehouse == wh and o.created_at <= as_of
                 for ln in o.lines if ln.sku == sku)
    return (on_hand, allocated, demand, max(on_hand - allocated - demand, 0))


def test_ats_figures_do_not_move_between_cycles(state: BlueCherryState, clock: Clock) -> None:
    """Orders arriving between cycles leave the published figures unchanged until a cycle runs."""
    order = post(state, 1, clock, quantity=3)
    sku = order.lines[0].sku
    before = figures(state, "W01", sku)
    for n in range(2, 6):
        post(state, n, clock)
    assert figures(state, "W01", sku) == before
    clock.tick()
    state.ats.run_cycle(state)
    after = figures(state, "W01", sku)
    assert after[2] >= before[2] + 3
    assert after == expected(state, "W01", sku, clock.now)


def test_ats_matches_the_contract_definition_with_picks_cancels_and_shipments(
        state: BlueCherryState, clock: Clock) -> None:
    """on_hand, allocated, open demand and ats follow the contract after every kind of change."""
    orders = [post(state, n, clock, quantity=2, lines=3) for n in range(1, 9)]
    warehouse.pick_order(state, orders[0])
    warehouse.run(state, order_nos=[orders[1].order_no])
    state.cancel(orders[2].order_no, {"reference": "c1", "lines": None}, by="api:test")
    clock.tick()
    cycle = state.ats.run_cycle(state)
    for o in orders:
        for ln in o.lines:
            assert cycle.figures[("W01", ln.sku)] == expected(state, "W01", ln.sku, cycle.as_of)
    assert cycle.figures[("W01", orders[0].lines[0].sku)][1] >= 2  # picked = allocated


def test_a_lagging_cycle_leaves_later_orders_out_of_open_demand(
        state: BlueCherryState, clock: Clock) -> None:
    """A cycle reads its figures at as_of and is published later: an order created in between
    is not in its open demand, and the cycle is not visible before it is published."""
    before = state.ats.latest
    early = post(state, 1, clock, quantity=1)
    cycle = state.ats.run_cycle(state, lag_seconds=30)
    assert state.ats.latest is before
    clock.tick(20)
    late = post(state, 1 + len(state.items), clock, quantity=1, prefix="L")  # same SKUs
    assert late.lines[0].sku == early.lines[0].sku
    clock.tick(15)
    assert state.ats.latest is cycle
    sku = early.lines[0].sku
    assert cycle.figures[("W01", sku)][2] == expected(state, "W01", sku, cycle.as_of)[2]
    assert cycle.figures[("W01", sku)][2] == 1


def test_delta_cycles_list_only_changed_skus(state: BlueCherryState, clock: Clock) -> None:
    """A cycle records exactly the SKUs whose figures changed since the one before."""
    first = state.ats.latest
    assert first is not None
    order = post(state, 1, clock)
    cycle = state.ats.run_cycle(state)
    assert cycle.changed == {("W01", ln.sku) for ln in order.lines}
    assert state.ats.changed_since(first.id, cycle.id) == set(cycle.changed)
    assert state.ats.run_cycle(state).changed == frozenset()


def test_a_full_shipment_ships_everything_and_invoices_it(
        state: BlueCherryState, clock: Clock) -> None:
    """A plain warehouse run ships all units in one complete shipment with one invoice."""
    order = post(state, 3, clock, quantity=1, lines=2)
    on_hand = {ln.sku: state.on_hand[(ln.sku, "W01")] for ln in order.lines}
    result = warehouse.run(state, order_nos=[order.order_no])
    assert len(result["shipments"]) == 1
    ship = state.shipments[-1]
    assert ship["complete"] is True
    assert ship["cartons"][0]["sscc"].isdigit()
    assert len(ship["cartons"][0]["sscc"]) == 18
    assert order.status == "INVOICED"
    assert order.updated_by == "system:warehouse"
    inv = state.invoices[-1]
    assert inv["shipment_no"] == ship["shipment_no"]
    assert Decimal(inv["total"]) == order.totals["total"]
    for ln in order.lines:
        assert state.on_hand[(ln.sku, "W01")] == on_hand[ln.sku] - ln.quantity


def test_partial_shipments_add_up_to_the_order(state: BlueCherryState, clock: Clock) -> None:
    """An order shipped in parts ends complete; its invoices add up to the order total."""
    order = post(state, 3, clock, quantity=3, lines=2)
    runs = 0
    while order.status != "INVOICED" and runs < 10:
        warehouse.run(state, order_nos=[order.order_no], partial_probability=1.0, seed=runs)
        runs += 1
    shipments = [s for s in state.shipments if s["order_no"] == order.order_no]
    assert len(shipments) >= 2
    assert [s["complete"] for s in shipments] == [False] * (len(shipments) - 1) + [True]
    invoices = [i for i in state.invoices if i["order_no"] == order.order_no]
    assert sum(Decimal(i["total"]) for i in invoices) == order.totals["total"]
    assert sum(Decimal(i["tax"]) for i in invoices) == order.totals["tax"]


def test_a_short_shipment_cancels_the_unshipped_rest(state: BlueCherryState, clock: Clock) -> None:
    """Short: part ships, the rest is cancelled by system:warehouse; nothing stays open."""
    order = post(state, 5, clock, quantity=2, lines=2)
    warehouse.run(state, order_nos=[order.order_no], short_probability=1.0, seed=3)
    shipped = sum(ln.shipped for ln in order.lines)
    cancelled = sum(ln.cancelled for ln in order.lines)
    assert 0 < shipped < 4
    assert shipped + cancelled == 4
    assert all(ln.open == 0 for ln in order.lines)
    assert order.updated_by == "system:warehouse"
    assert state.shipments[-1]["complete"] is True


def test_a_line_without_stock_ships_short(state: BlueCherryState, clock: Clock) -> None:
    """When on-hand stock cannot cover the picked units, the shortfall is cancelled."""
    order = post(state, 6, clock, quantity=2, lines=1)
    state.on_hand[(order.lines[0].sku, "W01")] = 1
    warehouse.run(state, order_nos=[order.order_no])
    assert (order.lines[0].shipped, order.lines[0].cancelled) == (1, 1)


def test_cancel_is_idempotent_by_reference(state: BlueCherryState, clock: Clock) -> None:
    """Repeating a cancel with the same reference returns the stored result, cancels no more."""
    order = post(state, 7, clock, quantity=3, lines=1)
    body = {"reference": "R1", "lines": [{"line_no": 1, "quantity": 1}], "reason": "customer"}
    first = state.cancel(order.order_no, body, by="api:test")
    again = state.cancel(order.order_no, body, by="api:test")
    assert first == again
    assert order.lines[0].cancelled == 1
    state.cancel(order.order_no, {**body, "reference": "R2"}, by="api:test")
    assert order.lines[0].cancelled == 2


def test_cancelling_picked_units_is_refused_and_too_many_is_invalid(
        state: BlueCherryState, clock: Clock) -> None:
    """409 LINE_PICKED_OR_SHIPPED for picked units; 422 for more units than the line has."""
    order = post(state, 8, clock, quantity=2, lines=1)
    warehouse.pick_order(state, order)
    with pytest.raises(ApiError) as picked:
        state.cancel(order.order_no, {"reference": "a", "lines": [{"line_no": 1, "quantity": 1}]},
                     by="api:test")
    assert (picked.value.status, picked.value.code) == (409, "LINE_PICKED_OR_SHIPPED")
    with pytest.raises(ApiError) as too_many:
        state.cancel(order.order_no, {"reference": "b", "lines": [{"line_no": 1, "quantity": 5}]},
                     by="api:test")
    assert too_many.value.status == 422


def test_cancelling_everything_open_cancels_the_order(state: BlueCherryState, clock: Clock) -> None:
    """lines null cancels every open unit; the order becomes CANCELLED."""
    order = post(state, 9, clock, quantity=2, lines=2)
    status, result = state.cancel(order.order_no, {"reference": "all", "lines": None},
                                  by="api:test")
    assert status == 200
    assert result["order"]["status"] == "CANCELLED"
    assert {c["quantity"] for c in result["cancelled"]} == {2}


def test_a_manual_edit_stamps_the_person_and_retotals(state: BlueCherryState, clock: Clock) -> None:
    """An edit by a person changes quantity, price and warehouse, stamped user:<login>."""
    order = post(state, 10, clock, quantity=2, lines=2)
    old_total = order.totals["total"]
    clock.tick()
    state.edit_order(order.order_no, login="anna.b",
                     lines=[{"line_no": 1, "quantity": 3}, {"line_no": 2, "unit_price": "1.00"}])
    assert order.updated_by == "user:anna.b"
    assert order.updated_at == clock.now
    assert order.lines[0].quantity == 3
    assert order.totals["total"] != old_total
    assert order.totals["merchandise"] == sum(ln.unit_price * ln.quantity for ln in order.lines)


def test_the_rate_limiter_answers_retry_after_once_the_burst_is_spent() -> None:
    """Over the configured rate, acquire() returns the seconds to wait."""
    limiter = RateLimiter(per_second=2, burst=2)
    assert [limiter.acquire() for _ in range(2)] == [0, 0]
    assert limiter.acquire() >= 1
    assert RateLimiter(None).acquire() == 0


def test_seeded_stock_is_deterministic() -> None:
    """The same seed gives the same on-hand stock; another seed another one."""
    assert BlueCherryState(seed=4).on_hand == BlueCherryState(seed=4).on_hand
    assert BlueCherryState(seed=4).on_hand != BlueCherryState(seed=5).on_hand


def test_a_held_order_is_not_shipped_but_still_counts_as_open_demand(
        state: BlueCherryState, clock: Clock) -> None:
    """HELD orders stay in open demand and the warehouse leaves them alone until released."""
    order = post(state, 11, clock, quantity=2, lines=1)
    state.edit_order(order.order_no, login="ops", hold=True)
    assert order.status == "HELD"
    assert warehouse.run(state)["shipments"] == []
    cycle = state.ats.run_cycle(state)
    sku = order.lines[0].sku
    assert cycle.figures[("W01", sku)] == expected(state, "W01", sku, cycle.as_of)
    assert cycle.figures[("W01", sku)][2] >= 2
    state.edit_order(order.order_no, login="ops", hold=False)
    assert len(warehouse.run(state)["shipments"]) == 1
    assert order.status == "INVOICED"
