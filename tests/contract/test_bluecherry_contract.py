"""One contract for the BlueCherry port, run against FakeBlueCherry and against BlueCherryClient
talking to the BlueCherry sandbox over real HTTP. Both must behave the same."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import stamina
from bluecherry_fixtures import (
    WORLD,
    make_order,
    new_fake,
    retotal,
    unique_po,
    with_line,
    world_master_data,
)
from pydantic import SecretStr

from seamline.adapters.bluecherry import BlueCherryClient
from seamline.adapters.bluecherry.translate import sales_order_to_wire
from seamline.config import BlueCherrySettings
from seamline.domain.erp import differences
from seamline.domain.money import Money
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import AuthFailed, Conflict, NotFound, Rejected
from seamline.testing.bluecherry import FakeBlueCherry
from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.serve import ServerThread


@dataclass
class Backend:
    name: str
    erp: Any
    #: How many orders of all of BlueCherry carry this external reference.
    count: Callable[[str], int]
    #: The warehouse picks every open unit of an order.
    pick_all: Callable[[str], None]
    #: A person sets a line's quantity in BlueCherry.
    edit_quantity: Callable[[str, int, int], None]
    #: A gateway whose key BlueCherry refuses.
    wrong_key: Callable[[], Any]
    #: A gateway reading SKUs in small pages.
    small_pages: Callable[[], Any]
    #: The warehouse ships every open unit of an order (one shipment).
    ship_all: Callable[[str], None] = lambda order_no: None


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServerThread]:
    with ServerThread(create_app(seed=1)) as server:
        yield server


def _client(url: str, *, key: str = DEFAULT_API_KEY, page_size: int = 200) -> BlueCherryClient:
    return BlueCherryClient(BlueCherrySettings(
        base_url=f"{url}/api/v1", api_key=SecretStr(key), timeout_s=5.0, page_size=page_size))


def _fake_backend() -> Backend:
    fake = new_fake()

    def pick_all(order_no: str) -> None:
        for ln in fake.get_sales_order(order_no).lines:
            fake.pick(order_no, ln.line_no, ln.open_quantity)

    def edit_quantity(order_no: str, line_no: int, qty: int) -> None:
        o = fake.get_sales_order(order_no)
        lines = tuple(dataclasses.replace(ln, ordered_quantity=qty) if ln.line_no == line_no
                      else ln for ln in o.lines)
        fake.edit_order(order_no, lines=lines)

    def wrong_key() -> FakeBlueCherry:
        refusing = new_fake()
        refusing.fail_next(1000, "auth")
        return refusing

    def ship_all(order_no: str) -> None:
        fake.dispatch(order_no, cartons=2)

    return Backend("fake", fake, fake.count_by_external_reference, pick_all, edit_quantity,
                   wrong_key, lambda: fake, ship_all)


def _sandbox_backend(server: ServerThread) -> Backend:
    control = httpx.Client(base_url=f"{server.url}/_sandbox", timeout=10)
    control.post("/reset", json={}).raise_for_status()
    client = _client(server.url)

    def count(ref: str) -> int:
        r = control.get("/orders", params={"external_reference": ref})
        r.raise_for_status()
        return int(r.json()["count"])

    def pick_all(order_no: str) -> None:
        control.post("/warehouse/run", json={"order_nos": [order_no], "pick_only": True}
                     ).raise_for_status()

    def edit_quantity(order_no: str, line_no: int, qty: int) -> None:
        control.post(f"/orders/{order_no}/edit", json={
            "login": "anna", "lines": [{"line_no": line_no, "quantity": qty}]}
        ).raise_for_status()

    def ship_all(order_no: str) -> None:
        control.post("/warehouse/run", json={"order_nos": [order_no]}).raise_for_status()

    return Backend("sandbox", client, count, pick_all, edit_quantity,
                   lambda: _client(server.url, key="wrong-key"),
                   lambda: _client(server.url, page_size=7), ship_all)


@pytest.fixture(params=["fake", "sandbox"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with stamina.set_testing(True, attempts=1):
        if request.param == "fake":
            yield _fake_backend()
        else:
            yield _sandbox_backend(request.getfixturevalue("sandbox"))


# -- create and duplicates ----


def test_a_new_order_is_created_and_stamped(backend: Backend) -> None:
    """201: an order number, OPEN, the lines as sent, created/updated stamps by the API key."""
    order = make_order()
    result = backend.erp.create_sales_order(order)
    assert result.created
    erp = result.order
    assert erp.order_no
    assert erp.status == "OPEN"
    assert erp.created_at.tzinfo is not None
    assert erp.updated_by.startswith("api:")
    assert differences(order, erp) == []
    assert [ln.open_quantity for ln in erp.lines] == [ln.quantity for ln in order.lines]
    assert backend.count(order.external_reference) == 1


@pytest.mark.parametrize("market", [1, 4, 5])
def test_orders_in_every_currency_mode_are_accepted(backend: Backend, market: int) -> None:
    """SEK (VAT incl.), JPY (no decimals) and USD (tax on top) orders all tie out."""
    order = make_order(market=market)
    result = backend.erp.create_sales_order(order)
    assert result.order.total == order.totals.total
    assert result.order.tax == order.totals.tax


def test_a_repeat_answers_409_with_the_existing_order(backend: Backend) -> None:
    """The same order again creates nothing and returns the stored one to compare."""
    order = make_order()
    first = backend.erp.create_sales_order(order)
    again = backend.erp.create_sales_order(order)
    assert not again.created
    assert again.duplicate_code == "DUPLICATE_EXTERNAL_REFERENCE"
    assert again.order.order_no == first.order.order_no
    assert differences(order, again.order) == []
    assert backend.count(order.external_reference) == 1


def test_a_reused_customer_po_answers_409_with_an_order_that_differs(backend: Backend) -> None:
    """Same customer PO under another external reference: 409, and the comparison shows it."""
    order = make_order()
    backend.erp.create_sales_order(order)
    other = dataclasses.replace(order, external_reference=order.external_reference + "-b")
    result = backend.erp.create_sales_order(other)
    assert not result.created
    assert result.duplicate_code == "DUPLICATE_CUSTOMER_PO"
    assert any(d.startswith("external_reference") for d in differences(other, result.order))
    assert backend.count(other.external_reference) == 0


# -- look-ups ----


def test_look_ups_by_external_reference_and_customer_po(backend: Backend) -> None:
    """Company-wide look-up by external reference; per customer by PO; None when absent."""
    order = make_order()
    created = backend.erp.create_sales_order(order).order
    by_ref = backend.erp.find_by_external_reference(order.external_reference)
    assert by_ref is not None
    assert by_ref.order_no == created.order_no
    by_po = backend.erp.find_by_customer_po(order.customer_po, order.customer)
    assert by_po is not None
    assert by_po.order_no == created.order_no
    assert backend.erp.find_by_external_reference("centra:SE:nope") is None
    assert backend.erp.find_by_customer_po(order.customer_po, "WEBUS") is None


def test_get_returns_the_order_as_held_now_including_a_persons_edit(backend: Backend) -> None:
    """GET shows edits made in BlueCherry, stamped user:…, which the comparison catches."""
    order = make_order()
    no = backend.erp.create_sales_order(order).order.order_no
    backend.edit_quantity(no, 1, order.lines[0].quantity + 1)
    now = backend.erp.get_sales_order(no)
    assert now.updated_by.startswith("user:")
    assert now.lines[0].ordered_quantity == order.lines[0].quantity + 1
    assert any(d.startswith("line 1") for d in differences(order, now))
    with pytest.raises(NotFound):
        backend.erp.get_sales_order("SO-999999")


def test_updated_since_lists_orders_changed_after_a_time(backend: Backend) -> None:
    """Orders touched at or after a time are listed; a later time lists none of them."""
    a = backend.erp.create_sales_order(make_order()).order
    b = backend.erp.create_sales_order(make_order()).order
    since = a.created_at
    nos = {o.order_no for o in backend.erp.iter_sales_orders_updated_since(since)}
    assert {a.order_no, b.order_no} <= nos
    later = b.updated_at + timedelta(seconds=1)
    assert not {a.order_no, b.order_no} & {
        o.order_no for o in backend.erp.iter_sales_orders_updated_since(later)}


def test_a_persons_edit_is_listed_by_updated_since_and_found_as_drift(backend: Backend) -> None:
    """What drift detection reads: the edited order comes back from ``updated_since`` with the
    person as ``updated_by``, and the comparison with what was posted names the line; the
    order as created compares clean."""
    from seamline.domain.drift import drift_rows, editor_kind  # noqa: PLC0415

    order = make_order()
    created = backend.erp.create_sales_order(order).order
    assert drift_rows(order.to_dict(), created) == []
    backend.edit_quantity(created.order_no, 1, order.lines[0].quantity + 1)
    [seen] = [o for o in backend.erp.iter_sales_orders_updated_since(created.created_at)
              if o.order_no == created.order_no]
    assert editor_kind(seen.updated_by) == "person"
    assert seen.updated_at > created.updated_at
    assert "line 1 quantity" in [r.field for r in drift_rows(order.to_dict(), seen)]


# -- cancel ----


def test_cancel_is_idempotent_by_reference(backend: Backend) -> None:
    """A repeat of a cancel reference returns the stored result and cancels nothing more."""
    order = make_order(quantity=3)
    no = backend.erp.create_sales_order(order).order.order_no
    first = backend.erp.cancel_sales_order(no, reference=f"c-{no}-1", lines=[(1, 1)],
                                           reason="customer")
    assert first.lines[0].cancelled_quantity == 1
    again = backend.erp.cancel_sales_order(no, reference=f"c-{no}-1", lines=[(1, 1)],
                                           reason="customer")
    assert again.lines[0].cancelled_quantity == 1
    assert backend.erp.get_sales_order(no).lines[0].cancelled_quantity == 1
    whole = backend.erp.cancel_sales_order(no, reference=f"c-{no}-2", lines=None,
                                           reason="customer")
    assert whole.status == "CANCELLED"
    assert all(ln.open_quantity == 0 for ln in whole.lines)


def test_cancelling_more_than_exists_is_rejected(backend: Backend) -> None:
    """More units than the line has is 422."""
    order = make_order(quantity=2)
    no = backend.erp.create_sales_order(order).order.order_no
    with pytest.raises(Rejected):
        backend.erp.cancel_sales_order(no, reference=f"x-{no}", lines=[(1, 5)], reason="r")


def test_cancelling_picked_units_is_a_conflict(backend: Backend) -> None:
    """Units the warehouse picked cannot be cancelled: 409 LINE_PICKED_OR_SHIPPED."""
    order = make_order(quantity=2)
    no = backend.erp.create_sales_order(order).order.order_no
    backend.pick_all(no)
    with pytest.raises(Conflict) as info:
        backend.erp.cancel_sales_order(no, reference=f"p-{no}", lines=[(1, 1)], reason="r")
    assert info.value.details["code"] == "LINE_PICKED_OR_SHIPPED"


# -- validation codes ----

M = Callable[[SalesOrder], SalesOrder]


def _money(order: SalesOrder, value: str) -> Money:
    return Money.of(value, order.currency)


VALIDATION: dict[str, M] = {
    "MISSING_CUSTOMER_PO": lambda o: dataclasses.replace(o, customer_po=""),
    "MISSING_DIVISION": lambda o: dataclasses.replace(o, division=""),
    "UNKNOWN_DIVISION": lambda o: dataclasses.replace(o, division="D99"),
    "MISSING_WAREHOUSE": lambda o: dataclasses.replace(o, warehouse=""),
    "UNKNOWN_WAREHOUSE": lambda o: dataclasses.replace(o, warehouse="W02"),  # not in D01
    "UNKNOWN_CUSTOMER": lambda o: dataclasses.replace(o, customer="NOBODY"),
    "UNKNOWN_STORE": lambda o: dataclasses.replace(o, store="XX"),
    "UNKNOWN_SHIP_VIA": lambda o: dataclasses.replace(o, ship_via="TELEPORT"),
    "UNKNOWN_ORDER_TYPE": lambda o: dataclasses.replace(o, order_type="XX"),
    "UNKNOWN_TERMS": lambda o: dataclasses.replace(o, terms="NET999"),
    "UNKNOWN_SKU": lambda o: with_line(o, 0, upc="000000000000", sku=""),
    "BAD_QUANTITY": lambda o: retotal(with_line(o, 0, quantity=0)),
    "BAD_PRICE": lambda o: retotal(with_line(o, 0, discount=_money(o, "-1"))),
    "TOTALS_MISMATCH": lambda o: dataclasses.replace(o, totals=dataclasses.replace(
        o.totals, total=o.totals.total + _money(o, "1"))),
    "BAD_DATES": lambda o: dataclasses.replace(o, cancel_date=o.start_date - timedelta(days=1)),
    "UNKNOWN_CURRENCY": lambda o: retotal(dataclasses.replace(
        o, currency="EUR", lines=tuple(dataclasses.replace(
            ln, unit_price=Money.of(ln.unit_price.amount, "EUR"),
            discount=Money.of(ln.discount.amount, "EUR"),
            tax=Money.of(ln.tax.amount, "EUR")) for ln in o.lines),
        charges=tuple(dataclasses.replace(c, amount=Money.of(c.amount.amount, "EUR"),
                                          tax=Money.of(c.tax.amount, "EUR"))
                      for c in o.charges))),
    "NO_LINES": lambda o: retotal(dataclasses.replace(o, lines=())),
    "BAD_LINE_NO": lambda o: with_line(o, 1, line_no=1),
}


@pytest.mark.parametrize("code", sorted(VALIDATION))
def test_each_validation_code_is_answered_with_422(backend: Backend, code: str) -> None:
    """An order breaking one rule is rejected with exactly that code, and nothing is stored."""
    order = VALIDATION[code](make_order())
    with pytest.raises(Rejected) as info:
        backend.erp.create_sales_order(order)
    codes = {c["code"] for c in info.value.codes}
    assert code in codes
    assert info.value.owner_for() == ("finance" if code in {
        "BAD_PRICE", "TOTALS_MISMATCH", "UNKNOWN_CURRENCY"} else "ecommerce")
    assert backend.count(order.external_reference) == 0


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda b: {**b, "surprise": 1}, id="unknown-top-level-field"),
    pytest.param(lambda b: {**b, "totals": {**b["totals"], "total": Decimal("1.5")}},
                 id="money-as-a-json-number"),
    pytest.param(lambda b: {**b, "lines": "many"}, id="lines-not-a-list"),
])
def test_the_sandbox_answers_malformed_bodies_with_malformed(
    sandbox: ServerThread, mutate: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """MALFORMED (which a typed SalesOrder cannot produce) comes from the sandbox as 4xx."""
    body = mutate(sales_order_to_wire(make_order()))
    raw = json.dumps(body, default=float)
    r = httpx.post(f"{sandbox.url}/api/v1/sales-orders", content=raw,
                   headers={"Authorization": f"Bearer {DEFAULT_API_KEY}",
                            "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    err = r.json()["error"]
    assert "MALFORMED" in {err["code"], *(d["code"] for d in err["details"])}


def test_the_sandbox_refuses_a_body_that_is_not_json(sandbox: ServerThread) -> None:
    """Not JSON at all is MALFORMED, never a 500."""
    r = httpx.post(f"{sandbox.url}/api/v1/sales-orders", content=b"{not json",
                   headers={"Authorization": f"Bearer {DEFAULT_API_KEY}",
                            "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["code"] == "MALFORMED"


# -- master data, SKUs, credentials ----


def test_master_data_is_the_worlds(backend: Backend) -> None:
    """Divisions, warehouses by division, customers with currency and stores, and the codes."""
    assert backend.erp.master_data() == world_master_data()


def test_skus_are_read_across_pages(backend: Backend) -> None:
    """Every BlueCherry SKU once, with its UPC, across pages."""
    items = list(backend.small_pages().iter_skus())
    assert len(items) == len(WORLD.bluecherry_items())
    assert len({i.sku for i in items}) == len(items)
    by_sku = {i.sku: i.upc for i in items}
    first = WORLD.bluecherry_items()[0]
    assert by_sku[first.sku] == first.upc


def test_a_wrong_key_is_refused(backend: Backend) -> None:
    """A refused key is AuthFailed, the integrator's."""
    with pytest.raises(AuthFailed) as info:
        backend.wrong_key().master_data()
    assert info.value.owner_for() == "integrator"


def test_unique_pos_do_not_collide(backend: Backend) -> None:
    """Two orders with different POs are two orders."""
    a = backend.erp.create_sales_order(make_order(po=unique_po("U"))).order
    b = backend.erp.create_sales_order(make_order(po=unique_po("U"))).order
    assert a.order_no != b.order_no


# -- shipments feed ----


def test_shipments_are_read_by_cursor_once_each_with_lines_and_tracking(
        backend: Backend) -> None:
    """A shipped order appears on the shipment feed with its order number, customer PO, lines
    of the order, every carton's tracking number and ``complete``; read from the returned
    cursor, it does not appear again."""
    _, start = backend.erp.iter_shipments(None)
    order = make_order()
    erp = backend.erp.create_sales_order(order).order
    backend.ship_all(erp.order_no)
    batch, cursor = backend.erp.iter_shipments(start or None)
    mine = [s for s in batch if s.order_no == erp.order_no]
    assert len(mine) == 1
    shipment = mine[0]
    assert shipment.shipment_no
    assert shipment.customer_po == order.customer_po
    assert shipment.shipped_at.tzinfo is not None
    ordered = {ln.line_no: ln.quantity for ln in order.lines}
    assert shipment.lines
    assert all(0 < ln.quantity <= ordered[ln.line_no] for ln in shipment.lines)
    assert shipment.cartons
    assert all(c.tracking_number for c in shipment.cartons)
    assert shipment.complete
    assert cursor
    again, _ = backend.erp.iter_shipments(cursor)
    assert erp.order_no not in {s.order_no for s in again}
