"""The Centra sandbox over real HTTP: schema, queries, mutations, limits, permissions, faults."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from ariadne import load_schema_from_path
from graphql import build_schema

from conftest import Gql  # type: ignore[import-not-found]
from seamline_sandbox.centra.resolvers import SCHEMA_PATH

ERP_ORDER = """
fragment money on MonetaryValue { value currency { code } conversionRate }
query page($limit: Int, $page: Int, $where: OrderFilter) {
  orders(where: $where, limit: $limit, page: $page, sort: [number_ASC]) {
    id number status isOnHold isWaitingForPayment updatedAt
    market { id } store { id type }
    grandTotal(includingTax: true) { ...money }
    totals { lineValues { ...money } discounts { ...money } shipping { ...money }
             handling { ...money }
             shippingTaxIncluded { value } shippingTaxAdded { value }
             taxIncluded { ...money } taxAdded { ...money } }
    lines(limit: 10) { id quantity taxPercent productSize { SKU EAN }
            unitPrice(includingTax: true) { value } unitOriginalPrice { value }
            lineValue { value } }
    shippingPriceGroup { shippingOption { uri } }
    ... on DirectToConsumerOrder { customer { email } }
  }
}
"""


def test_schema_file_is_valid_sdl_with_centras_core_types() -> None:
    """The SDL builds and has Order, DirectToConsumerOrder and MonetaryValue."""
    schema = build_schema(load_schema_from_path(str(SCHEMA_PATH)))
    for name in ("Order", "DirectToConsumerOrder", "MonetaryValue", "OrderFilter",
                 "ShipmentCreatePayload", "StockSetInput", "IdConversionEntry"):
        assert schema.get_type(name) is not None
    assert schema.get_type("TaxBreakdownEntry") is None


def test_orders_page_ties_out_to_the_generator_exactly(gql: Gql) -> None:
    """Every amount read back (as JSON numbers parsed to Decimal) equals the generated one."""
    r = gql.post(ERP_ORDER, {"limit": 60, "page": 1})
    orders = r.json(parse_float=Decimal)["data"]["orders"]
    assert len(orders) == 60
    for o in orders:
        g = gql.sandbox.state.generated[o["number"]]
        assert Decimal(o["grandTotal"]["value"]) == g.grand_total
        assert o["grandTotal"]["currency"]["code"] == g.market.currency
        tax = o["totals"]["taxIncluded" if g.market.prices_include_tax else "taxAdded"]
        assert Decimal(tax["value"]) == g.totals.tax_total
        assert Decimal(o["totals"]["handling"]["value"]) == g.totals.handling
        assert -Decimal(o["totals"]["discounts"]["value"]) == g.totals.discount
        assert [(ln["productSize"]["SKU"], ln["quantity"]) for ln in o["lines"]] == \
            list(g.expected_lines)


def test_orders_filters_select_by_hold_number_market_and_update_time(gql: Gql) -> None:
    """isOnHold, number, marketId and updatedAt filters narrow the list."""
    st = gql.sandbox.state
    held = {n for n, o in st.orders.items() if o.is_on_hold}
    got = gql.data(ERP_ORDER, {"limit": 200, "where": {"isOnHold": True}})["orders"]
    assert {o["number"] for o in got} == held
    one = next(iter(st.orders))
    got = gql.data(ERP_ORDER, {"where": {"number": one}})["orders"]
    assert [o["number"] for o in got] == [one]
    got = gql.data(ERP_ORDER, {"limit": 200, "where": {"marketId": [4]}})["orders"]
    assert {o["number"] for o in got} == {n for n, o in st.orders.items() if o.market.id == 4}
    future = "2999-01-01T00:00:00+00:00"
    got = gql.data(ERP_ORDER, {"where": {"updatedAt": {"from": future}}})["orders"]
    assert got == []


@pytest.mark.parametrize("limit", [0, 201, -1])
def test_limit_outside_1_to_200_is_a_graphql_error(gql: Gql, limit: int) -> None:
    """limit must be in range 1 - 200."""
    r = gql.post("query($l: Int) { orders(limit: $l) { number } }", {"l": limit})
    assert r.status_code == 200
    assert "1 - 200" in r.json()["errors"][0]["message"]


def test_order_connection_walks_every_order_once_with_cursors(gql: Gql) -> None:
    """first/after pages reach every order exactly once and end with hasNextPage false."""
    q = """query($after: String) { orderConnection(first: 7, after: $after, sort: [number_ASC])
           { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { number } } } }"""
    seen: list[int] = []
    after = None
    while True:
        conn = gql.data(q, {"after": after})["orderConnection"]
        seen += [e["node"]["number"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == sorted(gql.sandbox.state.orders)
    assert conn["totalCount"] == 60


def test_every_answer_carries_complexity_permissions_and_app_version(gql: Gql) -> None:
    """extensions {complexity, permissionsUsed, appVersion} on each response."""
    body = gql.post("{ orders(limit: 2) { number } }").json()
    ext = body["extensions"]
    assert ext["complexity"] > 0
    assert ext["permissionsUsed"] == ["Order:read"]
    assert ext["appVersion"]


def test_wrong_token_is_401_with_graphql_style_errors(gql: Gql) -> None:
    """An unknown token gets 401 and an errors body in category authentication."""
    r = gql.post("{ orders { number } }", token="nope")
    assert r.status_code == 401
    assert r.json()["errors"][0]["extensions"]["category"] == "authentication"


def test_graphql_access_cookie_authenticates_like_the_bearer_token(gql: Gql) -> None:
    """The graphql-access cookie is accepted."""
    r = httpx.post(gql.url + "/graphql", json={"query": "{ rateLimits { type } }"},
                   cookies={"graphql-access": "sandbox-centra-token"})
    assert r.status_code == 200
    assert len(r.json()["data"]["rateLimits"]) == 6


def test_missing_permission_is_a_top_level_authorization_error(gql: Gql) -> None:
    """A token without Order:read is told 'You need Order:read permission to access ...'."""
    gql.sandbox.add_token("readonly-stock", ["Warehouse:read"])
    r = gql.post("{ orderConnection(first: 1) { totalCount } }", token="readonly-stock")
    err = r.json()["errors"][0]
    assert err["message"] == "You need Order:read permission to access orderConnection."
    assert err["extensions"]["category"] == "authorization"


def test_exhausted_bucket_answers_429_with_retry_after(gql: Gql) -> None:
    """With 3 requests per 10 s the 4th request is throttled with a Retry-After."""
    gql.sandbox.limiter.configure(sizes={"REQUEST_COUNT:TEN_SECONDS": 3}, retry_after=1)
    codes = [gql.post("{ rateLimits { type } }").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = gql.post("{ rateLimits { type } }")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert r.json()["errors"][0]["extensions"]["category"] == "rateLimit"


CONFIRM = "mutation($n: Int!) { confirmOrder(input: {order: {number: $n}}) { order { status } " \
    "userErrors { message path } userWarnings { message } } }"
SHIP = """mutation($n: Int!, $lines: [ShipmentLineInput!]) {
  createShipment(input: {order: {number: $n}, lines: $lines, isGoodToGo: true, isPaid: true}) {
    shipment { id number } userErrors { message path } } }"""
COMPLETE = """mutation($id: Int!) { completeShipment(id: $id, input: {sendEmail: true,
  shipmentInfo: {carrier: "DHL", service: "Express", trackingNumber: "JD0001"}}) {
  shipment { isShipped trackingNumber carrierInformation { carrierName } }
  userErrors { message } } }"""


def _pending_order(gql: Gql) -> int:
    st = gql.sandbox.state
    return next(n for n, o in st.orders.items() if o.status == "PENDING"
                and not o.is_on_hold and not o.is_waiting_for_payment)


def test_confirm_then_ship_partially_then_fully_marks_the_order_shipped(gql: Gql) -> None:
    """Confirm; ship line subsets; quantity over unshipped is a userError; last ship → SHIPPED."""
    st = gql.sandbox.state
    n = _pending_order(gql)
    assert gql.data(CONFIRM, {"n": n})["confirmOrder"]["order"]["status"] == "CONFIRMED"
    again = gql.data(CONFIRM, {"n": n})["confirmOrder"]
    assert again["userErrors"]
    o = st.orders[n]
    first = o.lines[0]
    too_many = gql.data(SHIP, {"n": n, "lines": [{"orderLine": {"id": first.id},
                                                  "quantity": first.quantity + 1}]})
    assert too_many["createShipment"]["userErrors"][0]["path"][-1] == "quantity"
    wh, size = o.warehouse_id, first.item.size_id
    phys_before = st.inventory[(wh, size)][0]
    s1 = gql.data(SHIP, {"n": n, "lines": [{"orderLine": {"id": first.id},
                                            "quantity": first.quantity}]})
    sid = s1["createShipment"]["shipment"]["id"]
    assert s1["createShipment"]["shipment"]["number"] == f"{n}-1"
    assert st.orders[n].status == "PROCESSING"
    done = gql.data(COMPLETE, {"id": sid})["completeShipment"]["shipment"]
    assert done["isShipped"]
    assert done["trackingNumber"] == "JD0001"
    assert st.inventory[(wh, size)][0] == phys_before - first.quantity
    assert st.emails[-1]["tracking"] == "JD0001"
    rest = [{"orderLine": {"id": ln.id}, "quantity": ln.quantity} for ln in o.lines[1:]]
    if rest:
        s2 = gql.data(SHIP, {"n": n, "lines": rest})["createShipment"]["shipment"]
        gql.data(COMPLETE, {"id": s2["id"]})
    assert st.orders[n].status == "SHIPPED"
    assert len(st.emails) == 1 + bool(rest)


def test_set_stock_is_absolute_never_below_allocated_and_refuses_negatives(gql: Gql) -> None:
    """Physical is set; below allocated is raised with a warning; negative is a userError."""
    st = gql.sandbox.state
    o = st.orders[_pending_order(gql)]
    item = o.lines[0].item
    wh = o.warehouse_id
    alloc = st.inventory[(wh, item.size_id)][1]
    q = """mutation($wh: Int!, $sizes: [StockSetProductSizeInput!]) { setStock(input: {
      warehouse: {id: $wh}, description: "t", stockQuantityType: PHYSICAL,
      productSizes: $sizes}) { stockChanges { id } userErrors { message }
      userWarnings { message } } }"""
    other = next(i for i in st.world.catalogue if st.inventory[(wh, i.size_id)][1] == 0)
    res = gql.data(q, {"wh": wh, "sizes": [{"productSize": {"EAN": other.ean}, "quantity": 7},
                                           {"productSize": {"SKU": item.sku}, "quantity": 0}]})
    assert st.inventory[(wh, other.size_id)][0] == 7
    assert st.inventory[(wh, item.size_id)][0] == alloc
    assert res["setStock"]["userWarnings"]
    bad = gql.data(q, {"wh": wh, "sizes": [{"productSize": {"SKU": item.sku}, "quantity": -1}]})
    assert bad["setStock"]["userErrors"]


def test_cancel_lines_releases_stock_and_recomputes_totals(gql: Gql) -> None:
    """cancelLines with RELEASE_BACK_TO_WAREHOUSE frees the units and lowers the total."""
    st = gql.sandbox.state
    n = next(n for n, o in st.orders.items() if o.lines[0].quantity >= 1 and len(o.lines) > 1)
    o = st.orders[n]
    ln = o.lines[0]
    alloc = st.inventory[(o.warehouse_id, ln.item.size_id)][1]
    total = o.grand_total
    q = """mutation($n: Int!, $id: Int!, $qty: Int!) { updateDirectToConsumerOrder(
      order: {number: $n}, input: {cancelLines: [{line: {id: $id}, quantity: $qty,
      stockAction: RELEASE_BACK_TO_WAREHOUSE}]}) { order { number } userErrors { message } } }"""
    gql.data(q, {"n": n, "id": ln.id, "qty": ln.quantity})
    assert st.inventory[(o.warehouse_id, ln.item.size_id)][1] == alloc - ln.cancelled
    assert o.grand_total < total


def test_set_id_conversions_is_batched_idempotent_and_sets_external_id(gql: Gql) -> None:
    """Two orders get their ERP ids; repeating changes nothing; the externalId filter finds them."""
    nums = list(gql.sandbox.state.orders)[:2]
    q = """mutation($in: [IdConversionSetInput!]!) { setIdConversions(input: $in) {
      entries { id internalId externalId } userErrors { message } } }"""
    batch = [{"objectType": "Order", "internalId": n, "externalId": f"SO-{n}"}
             for n in nums]
    first = gql.data(q, {"in": batch})
    assert gql.data(q, {"in": batch}) == first
    got = gql.data(ERP_ORDER, {"where": {"externalId": [f"SO-{nums[1]}"]}})["orders"]
    assert [o["number"] for o in got] == [nums[1]]


def test_events_queue_returns_unconfirmed_events_until_confirmed(gql: Gql) -> None:
    """After setEventListeners, a new order gives a CREATED event that confirmEvents removes."""
    gql.data("mutation { setEventListeners(input: [{objectType: Order}]) "
             "{ eventListeners { objectType } } }")
    gql.sandbox.state.generate(1)
    q = "{ events(where: {objectType: [Order]}) { id changeType objectReference " \
        "object { ... on Order { number } } } }"
    events = gql.data(q)["events"]
    assert events
    assert events[0]["changeType"] == "CREATED"
    ids = [e["id"] for e in events]
    done = gql.data("mutation($ids: [Int!]!) { confirmEvents(input: {eventsIds: $ids}) "
                    "{ userErrors { message } userWarnings { message } } }", {"ids": ids})
    assert done["confirmEvents"] == {"userErrors": [], "userWarnings": []}
    assert gql.data(q)["events"] == []


def test_commit_then_drop_applies_the_mutation_and_closes_without_an_answer(gql: Gql) -> None:
    """The client sees a dropped connection; the order is confirmed anyway."""
    n = _pending_order(gql)
    gql.sandbox.faults.add("commit_then_drop", 1, match="mutation:confirmOrder")
    with pytest.raises(httpx.TransportError):
        gql.post(CONFIRM, {"n": n})
    assert gql.sandbox.state.orders[n].status == "CONFIRMED"


def test_timeout_fault_drops_after_the_delay_and_applies_nothing(gql: Gql) -> None:
    """A timeout fault answers nothing and leaves the order as it was."""
    n = _pending_order(gql)
    gql.sandbox.faults.add("timeout", 1, delay_s=0.05)
    with pytest.raises(httpx.TransportError):
        gql.post(CONFIRM, {"n": n})
    assert gql.sandbox.state.orders[n].status == "PENDING"


def test_injected_500_and_429_answer_before_anything_is_applied(gql: Gql) -> None:
    """A 500 leaves state untouched; a 429 fault carries its Retry-After."""
    n = _pending_order(gql)
    gql.sandbox.faults.add("500", 1)
    gql.sandbox.faults.add("429", 1, retry_after=2)
    assert gql.post(CONFIRM, {"n": n}).status_code == 500
    r = gql.post(CONFIRM, {"n": n})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "2"
    assert gql.sandbox.state.orders[n].status == "PENDING"


def test_control_api_places_explicit_orders_and_releases_holds(gql: Gql) -> None:
    """POST /_sandbox/orders places an order; release-hold clears the flag and bumps updatedAt."""
    item = next(i for i in gql.sandbox.state.world.catalogue if not i.centra_only)
    r = gql.http.post("/_sandbox/orders", json={"market_id": 4, "on_hold": True,
                                                "lines": [{"sku": item.sku, "quantity": 2}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["waits_for"] == "hold"
    assert body["currency"] == "JPY"
    n = body["number"]
    before = gql.http.get(f"/_sandbox/orders/{n}").json()["updatedAt"]
    after = gql.http.post(f"/_sandbox/orders/{n}/release-hold").json()
    assert not after["isOnHold"]
    assert after["updatedAt"] > before
    assert gql.http.post("/_sandbox/orders/999999/release-hold").status_code == 404


SHIP_CAPTURE = """mutation($n: Int!, $lines: [ShipmentLineInput!]) {
  createShipment(input: {order: {number: $n}, lines: $lines, isGoodToGo: true, capture: true}) {
    shipment { id } userErrors { message path } } }"""
HISTORY = """query($n: Int!) { orders(where: {number: [$n]}) {
  grandTotal(includingTax: true) { value }
  paymentHistory { id entryType status value { value } externalReference paymentMethod } } }"""


def test_shipment_captures_add_up_to_the_grand_total_and_refunds_show_in_the_history(
        gql: Gql) -> None:
    """An order with an order-level voucher shipped in two captured shipments: the captures
    (paymentHistory CAPTURE, one per shipment, never past the grand total) add up to the grand
    total; a refund made in the admin (control API) is a REFUND entry, never more than was
    captured."""
    item = next(i for i in gql.sandbox.state.world.catalogue if not i.centra_only)
    placed = gql.http.post("/_sandbox/orders", json={
        "market_id": 1, "voucher_percent": 10, "status": "CONFIRMED",
        "lines": [{"sku": item.sku, "quantity": 3}]}).json()
    n = placed["number"]
    line_id = gql.sandbox.state.orders[n].lines[0].id
    for qty in (1, 2):
        shipped = gql.data(SHIP_CAPTURE, {"n": n, "lines": [{"orderLine": {"id": line_id},
                                                             "quantity": qty}]})
        assert shipped["createShipment"]["userErrors"] == []
    order = gql.data(HISTORY, {"n": n})["orders"][0]
    grand = Decimal(str(order["grandTotal"]["value"]))
    captures = [p for p in order["paymentHistory"] if p["entryType"] == "CAPTURE"]
    assert len(captures) == 2
    assert all(p["status"] == "SUCCESS" and p["externalReference"] and p["paymentMethod"]
               for p in captures)
    assert sum(Decimal(str(p["value"]["value"])) for p in captures) == grand
    too_much = gql.http.post(f"/_sandbox/orders/{n}/refund", json={"amount": str(grand + 1)})
    assert too_much.status_code >= 400
    ok = gql.http.post(f"/_sandbox/orders/{n}/refund", json={"amount": "12.50"})
    assert ok.status_code == 200, ok.text
    refunds = [p for p in gql.data(HISTORY, {"n": n})["orders"][0]["paymentHistory"]
               if p["entryType"] == "REFUND"]
    assert [(p["status"], str(p["value"]["value"])) for p in refunds] == [("SUCCESS", "12.5")]
