"""One Centra contract, two implementations: FakeCentra and CentraClient over the sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from centra_fixtures import CentraWorld, centra_world_fixture  # noqa: F401

from seamline.adapters.centra.events import drain_events
from seamline.domain.events import CentraEvent
from seamline.domain.orders import OrderStatus
from seamline.exceptions import AmbiguousWrite, RateLimited, Rejected


def test_an_order_is_read_by_number_with_exact_money(centra_world: CentraWorld) -> None:
    """get_order returns the order with lines, SKUs and amounts that tie to the grand total."""
    n = centra_world.place_order()
    order = centra_world.gateway.get_order(n)
    assert order is not None
    assert order.number == n
    assert order.status is OrderStatus.PENDING
    assert order.lines
    assert all(line.sku for line in order.lines)
    lines = sum((line.line_value.amount for line in order.lines), start=0)
    total = lines - order.voucher_discount.amount + order.shipping.amount
    if not order.prices_include_tax:
        total += order.tax_total.amount
    assert total == order.grand_total.amount


def test_an_unknown_order_is_none(centra_world: CentraWorld) -> None:
    """A number Centra does not have reads as None, not as an error."""
    assert centra_world.gateway.get_order(987_654_321) is None


def test_several_orders_are_read_at_once_and_unknown_ones_left_out(
        centra_world: CentraWorld) -> None:
    """get_orders returns the known orders only."""
    a, b = centra_world.place_order(), centra_world.place_order()
    got = centra_world.gateway.get_orders([a, 987_654_321, b])
    assert sorted(o.number for o in got) == sorted([a, b])


def test_held_and_unpaid_orders_are_read_with_their_flags(centra_world: CentraWorld) -> None:
    """Orders on hold or waiting for payment are not hidden; the flags say why they wait."""
    held = centra_world.place_order(on_hold=True)
    unpaid = centra_world.place_order(waiting_for_payment=True)
    start = centra_world.now() - timedelta(hours=1)
    seen = {o.number: o for o in centra_world.gateway.iter_orders(updated_from=start)}
    assert seen[held].is_on_hold
    assert seen[unpaid].is_waiting_for_payment
    centra_world.set_hold(held, False)
    order = centra_world.gateway.get_order(held)
    assert order is not None
    assert not order.is_on_hold


def test_iter_orders_yields_a_window_oldest_update_first_across_pages(
        centra_world: CentraWorld) -> None:
    """Every order updated in the window comes exactly once, by updatedAt; later ones do not."""
    centra_world.advance(60)
    start = centra_world.now()
    numbers = [centra_world.place_order() for _ in range(7)]
    centra_world.advance(5)
    centra_world.set_hold(numbers[0], True)  # moves the first one to the end
    end = centra_world.now()
    centra_world.advance(60)
    later = centra_world.place_order()
    gw = centra_world.gateway
    if hasattr(gw, "page_size"):
        gw.page_size = 3  # force several pages on the client
    got = list(gw.iter_orders(updated_from=start, updated_to=end))
    got_numbers = [o.number for o in got]
    assert sorted(got_numbers) == sorted(numbers)
    assert later not in got_numbers
    assert got_numbers[-1] == numbers[0]
    stamps = [o.updated_at for o in got]
    assert stamps == sorted(stamps)


def test_external_ids_are_written_and_read_back_by_order_number(
        centra_world: CentraWorld) -> None:
    """setIdConversions twice with the order number as internal id leaves one external id,
    read back by that number through idConversions; other orders have none."""
    n = centra_world.place_order()
    other = centra_world.place_order()
    gw = centra_world.gateway
    assert gw.get_external_ids([n, other]) == {}
    gw.set_external_ids([(n, "SO-000123")])
    gw.set_external_ids([(n, "SO-000123")])
    assert gw.get_external_ids([n, other]) == {n: "SO-000123"}


def test_an_external_id_for_an_unknown_order_number_is_rejected(
        centra_world: CentraWorld) -> None:
    """An order number Centra does not have is a userError, not a silent success."""
    with pytest.raises(Rejected):
        centra_world.gateway.set_external_ids([(99_999_999, "SO-X")])


def test_confirm_is_idempotent(centra_world: CentraWorld) -> None:
    """PENDING becomes CONFIRMED; confirming again is not an error."""
    n = centra_world.place_order()
    centra_world.gateway.confirm_order(n)
    centra_world.gateway.confirm_order(n)
    order = centra_world.gateway.get_order(n)
    assert order is not None
    assert order.status is OrderStatus.CONFIRMED


def test_events_are_fetched_recorded_and_confirmed(centra_world: CentraWorld) -> None:
    """After subscribing, a new order is an event; once confirmed it is not returned again."""
    gw = centra_world.gateway
    gw.ensure_event_listeners()
    drain_events(gw, lambda events: None)
    n = centra_world.place_order()
    recorded: list[CentraEvent] = []
    assert drain_events(gw, recorded.extend) >= 1
    assert str(n) in {e.object_reference for e in recorded if e.object_type == "Order"}
    assert all(e.id > 0 for e in recorded)
    assert gw.fetch_events() == []


def test_a_shipment_is_created_completed_with_tracking_and_the_email_recorded(
        centra_world: CentraWorld) -> None:
    """Partial shipment of one line, completed with carrier, tracking and a dispatch email."""
    gw = centra_world.gateway
    n = centra_world.place_order()
    gw.confirm_order(n)
    order = gw.get_order(n)
    assert order is not None
    line = order.lines[0]
    shipment = gw.create_shipment(n, [(line.id, 1)], external_id="BC-SHP-1")
    assert shipment.order_number == n
    assert shipment.external_id == "BC-SHP-1"
    assert shipment.quantity == 1
    done = gw.complete_shipment(shipment.id, "DHL", "Express", ["JD0001", "JD0002"], True)
    assert done.is_shipped
    assert done.tracking_numbers == ("JD0001", "JD0002")
    assert done.carrier == "DHL"
    assert shipment.number in centra_world.emails()
    assert [s.id for s in gw.get_shipments(n)] == [shipment.id]


def test_shipping_more_than_is_unshipped_is_rejected(centra_world: CentraWorld) -> None:
    """A quantity above the line's unshipped units is a userError → Rejected."""
    gw = centra_world.gateway
    n = centra_world.place_order()
    gw.confirm_order(n)
    order = gw.get_order(n)
    assert order is not None
    with pytest.raises(Rejected):
        gw.create_shipment(n, [(order.lines[0].id, order.lines[0].quantity + 1)],
                           external_id="BC-SHP-X")


def test_set_stock_is_absolute(centra_world: CentraWorld) -> None:
    """Setting the same figure twice leaves that figure, by SKU or by EAN."""
    sku = centra_world.a_sku()
    gw = centra_world.gateway
    base = centra_world.physical(sku.warehouse, sku.sku)
    target = base + 40
    gw.set_stock(sku.warehouse, [(sku.sku, target)])
    gw.set_stock(sku.warehouse, [(sku.sku, target)])
    assert centra_world.physical(sku.warehouse, sku.sku) == target
    gw.set_stock(sku.warehouse, [(sku.ean, target + 1)])
    assert centra_world.physical(sku.warehouse, sku.sku) == target + 1


def test_set_stock_sizes_sets_the_known_sizes_and_returns_the_unknown_ones(
        centra_world: CentraWorld) -> None:
    """Sizes Centra does not know are refused and named; the others are set all the same."""
    sku = centra_world.a_sku()
    gw = centra_world.gateway
    target = centra_world.physical(sku.warehouse, sku.sku) + 7
    push = gw.set_stock_sizes(sku.warehouse, [("NO-SUCH-SKU-1", 3), (sku.sku, target),
                                              ("NO-SUCH-SKU-2", 0)])
    assert push.unknown == ("NO-SUCH-SKU-1", "NO-SUCH-SKU-2")
    assert push.mutations == 2
    assert centra_world.physical(sku.warehouse, sku.sku) == target
    assert gw.set_stock_sizes(sku.warehouse, [(sku.sku, target)]).mutations == 1


def test_a_short_429_is_retried_in_process(centra_world: CentraWorld) -> None:
    """A 429 with a short Retry-After costs a little time, not an error."""
    n = centra_world.place_order()
    centra_world.inject("429", "read", times=2, retry_after=0.05)
    order = centra_world.gateway.get_order(n)
    assert order is not None
    assert order.number == n


def test_a_long_429_is_raised_with_its_delay(centra_world: CentraWorld) -> None:
    """A Retry-After beyond the inline limit is raised for the queue to reschedule."""
    n = centra_world.place_order()
    centra_world.inject("429", "read", times=1, retry_after=30)
    with pytest.raises(RateLimited) as err:
        centra_world.gateway.get_order(n)
    assert err.value.retry_after is not None
    assert err.value.retry_after > 20


def test_a_dropped_create_shipment_is_ambiguous_and_the_read_back_finds_it(
        centra_world: CentraWorld) -> None:
    """Commit-then-drop: AmbiguousWrite, and the order's shipments show it by external id."""
    gw = centra_world.gateway
    n = centra_world.place_order()
    gw.confirm_order(n)
    order = gw.get_order(n)
    assert order is not None
    centra_world.inject("commit_then_drop", "create_shipment")
    with pytest.raises(AmbiguousWrite):
        gw.create_shipment(n, [(order.lines[0].id, 1)], external_id="BC-SHP-9")
    found = gw.find_shipment(n, "BC-SHP-9")
    assert found is not None
    assert found.quantity == 1
    assert len(gw.get_shipments(n)) == 1


def test_a_dropped_confirm_is_resolved_by_reading_the_status_back(
        centra_world: CentraWorld) -> None:
    """Commit-then-drop on confirmOrder: the client reads back and returns normally."""
    n = centra_world.place_order()
    centra_world.inject("commit_then_drop", "confirm_order")
    centra_world.gateway.confirm_order(n)
    order = centra_world.gateway.get_order(n)
    assert order is not None
    assert order.status is OrderStatus.CONFIRMED


def test_a_dropped_set_stock_is_simply_repeated(centra_world: CentraWorld) -> None:
    """Commit-then-drop on absolute stock: repeating it is harmless and it lands."""
    sku = centra_world.a_sku()
    centra_world.inject("commit_then_drop", "set_stock")
    centra_world.gateway.set_stock(sku.warehouse, [(sku.sku, 77)])
    assert centra_world.physical(sku.warehouse, sku.sku) == 77


def test_a_dropped_complete_is_ambiguous_and_is_shipped_reads_back_with_one_email(
        centra_world: CentraWorld) -> None:
    """Commit-then-drop on completeShipment: AmbiguousWrite; the shipment reads back shipped
    and exactly one dispatch email was sent; a second completion is refused."""
    gw = centra_world.gateway
    n = centra_world.place_order()
    gw.confirm_order(n)
    order = gw.get_order(n)
    assert order is not None
    shipment = gw.create_shipment(n, [(order.lines[0].id, 1)], external_id="BC-SHP-C1")
    centra_world.inject("commit_then_drop", "complete_shipment")
    with pytest.raises(AmbiguousWrite):
        gw.complete_shipment(shipment.id, "UPS", "Ground", ["1Z1"], True)
    back = gw.get_shipment(shipment.id)
    assert back is not None
    assert back.is_shipped
    assert centra_world.emails().count(shipment.number) == 1
    with pytest.raises(Rejected):
        gw.complete_shipment(shipment.id, "UPS", "Ground", ["1Z1"], True)
    assert centra_world.emails().count(shipment.number) == 1


def test_units_are_cancelled_on_a_line_and_the_order_ships_when_the_rest_shipped(
        centra_world: CentraWorld) -> None:
    """cancelLines takes units off a line (cancelledQuantity); cancelling units already on a
    shipment is refused; once every unit is shipped or cancelled the order is SHIPPED."""
    gw = centra_world.gateway
    n = centra_world.place_order()
    gw.confirm_order(n)
    order = gw.get_order(n)
    assert order is not None
    first, second = order.lines[0], order.lines[1]
    shipment = gw.create_shipment(n, [(first.id, 1), (second.id, second.quantity)],
                                  external_id="BC-SHP-S1")
    with pytest.raises(Rejected):
        gw.cancel_order_lines(n, [(second.id, 1)])
    gw.cancel_order_lines(n, [(first.id, first.quantity - 1)], comment="short-shipped")
    after = gw.get_order(n)
    assert after is not None
    line = next(ln for ln in after.lines if ln.id == first.id)
    assert line.cancelled_quantity == first.quantity - 1
    assert line.quantity == 1
    gw.complete_shipment(shipment.id, "UPS", "Ground", ["1Z2"], False)
    shipped = gw.get_order(n)
    assert shipped is not None
    assert shipped.status is OrderStatus.SHIPPED


def test_a_shipment_paid_outside_centra_ships_without_a_capture(
        centra_world: CentraWorld) -> None:
    """capture false, paid true (captured outside Centra): the shipment is paid at once and
    completes; no capture entry is added to the order's payment history."""
    gw = centra_world.gateway
    n = centra_world.place_order()
    gw.confirm_order(n)
    order = gw.get_order(n)
    assert order is not None
    captures = sum(1 for p in order.payments if p.entry_type == "CAPTURE")
    shipment = gw.create_shipment(n, [(order.lines[0].id, 1)], external_id="BC-SHP-P1",
                                  capture=False, paid=True)
    assert shipment.is_paid
    done = gw.complete_shipment(shipment.id, "UPS", "Ground", ["1Z3"], False)
    assert done.is_shipped
    after = gw.get_order(n)
    assert after is not None
    assert sum(1 for p in after.payments if p.entry_type == "CAPTURE") == captures
