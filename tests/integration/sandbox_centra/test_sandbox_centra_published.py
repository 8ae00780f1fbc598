"""The Centra sandbox over real HTTP, on the semantics Centra's published schema implies:
ID conversions keyed by order number, nested-list paging, shipments and stock reads, money with
and without tax, handling fees, tax-exempt and long orders, hidden fields and introspection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from typer.testing import CliRunner

from conftest import Gql  # type: ignore[import-not-found]
from seamline_sandbox.centra.app import create_app
from seamline_sandbox.serve import ServerThread

SET_IDS = """mutation($in: [IdConversionSetInput!]!) { setIdConversions(input: $in) {
  entries { id externalId internalId objectType integrationName }
  userErrors { message path } userWarnings { message } } }"""
READ_IDS = """query($w: IdConversionEntryFilter, $limit: Int, $page: Int) {
  idConversions(where: $w, limit: $limit, page: $page) { id externalId internalId objectType
  integrationName } }"""
UNSET_IDS = """mutation($in: [IdConversionUnsetInput!]!) { unsetIdConversions(input: $in) {
  userErrors { message path } userWarnings { message } } }"""
ORDER_BY_EXTERNAL = "query($x: [String!]) { orders(where: {externalId: $x}) { number } }"


def _dec(body: httpx.Response) -> Any:
    data = body.json(parse_float=Decimal)
    assert "errors" not in data, data
    return data["data"]


def _place(gql: Gql, **spec: Any) -> dict[str, Any]:
    r = gql.http.post("/_sandbox/orders", json=spec)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _skus(gql: Gql, n: int) -> list[str]:
    return [i.sku for i in gql.sandbox.state.world.catalogue if not i.centra_only][:n]


# -- ID conversions ----------------------------------------------------------------------------

def test_set_id_conversions_keys_orders_by_number_and_returns_int64_entries(gql: Gql) -> None:
    """internalId is the order NUMBER, read back as a JSON integer with the integration name."""
    n = next(iter(gql.sandbox.state.orders))
    r = gql.post(SET_IDS, {"in": [{"objectType": "Order", "internalId": n,
                                   "externalId": f"SO-{n}"}]})
    entry = r.json()["data"]["setIdConversions"]["entries"][0]
    assert entry["internalId"] == n
    assert isinstance(entry["internalId"], int)
    assert isinstance(entry["id"], int)
    assert entry["objectType"] == "Order"
    assert entry["integrationName"] == "seamline"
    assert gql.data(ORDER_BY_EXTERNAL, {"x": [f"SO-{n}"]})["orders"] == [{"number": n}]
    again = gql.data(SET_IDS, {"in": [{"objectType": "Order", "internalId": n,
                                       "externalId": f"SO-{n}"}]})["setIdConversions"]
    assert again["entries"] == [entry]


def test_an_unknown_order_number_is_a_user_error_and_the_rest_of_the_batch_applies(
        gql: Gql) -> None:
    """A hash id or unknown number is refused per entry; the good entries are set."""
    st = gql.sandbox.state
    n = next(iter(st.orders))
    res = gql.data(SET_IDS, {"in": [
        {"objectType": "Order", "internalId": 999_999, "externalId": "SO-X"},
        {"objectType": "Order", "internalId": n, "externalId": "SO-OK"}]})["setIdConversions"]
    assert [e["internalId"] for e in res["entries"]] == [n]
    assert res["userErrors"][0]["path"][:2] == ["input", "0"]
    assert "999999" in res["userErrors"][0]["message"]
    hash_id = gql.post(SET_IDS, {"in": [{"objectType": "Order", "internalId": st.orders[n].id,
                                         "externalId": "SO-H"}]})
    assert hash_id.json()["errors"]  # a hash id is no Int64: a GraphQL error


def test_id_conversions_read_back_by_filter_per_integration_and_unset(gql: Gql) -> None:
    """idConversions filters by objectType, internalId, externalId equals/contains and id;
    another integration sees none of them; unset removes one by its external id."""
    nums = list(gql.sandbox.state.orders)[:3]
    gql.data(SET_IDS, {"in": [{"objectType": "Order", "internalId": n,
                               "externalId": f"BC-{n}"} for n in nums]})
    every = gql.data(READ_IDS, {"w": {"objectType": ["Order"]}})["idConversions"]
    assert [e["internalId"] for e in every] == nums
    one = gql.data(READ_IDS, {"w": {"internalId": [nums[1]]}})["idConversions"]
    assert [e["externalId"] for e in one] == [f"BC-{nums[1]}"]
    eq = gql.data(READ_IDS, {"w": {"externalId": {"equals": f"BC-{nums[2]}"}}})
    assert [e["internalId"] for e in eq["idConversions"]] == [nums[2]]
    contains = gql.data(READ_IDS, {"w": {"externalId": {"contains": "BC-"}}})["idConversions"]
    assert len(contains) == 3
    by_id = gql.data(READ_IDS, {"w": {"id": [every[0]["id"]]}})["idConversions"]
    assert by_id == [every[0]]
    assert gql.data(READ_IDS, {"limit": 2, "page": 2})["idConversions"] == [every[2]]

    gql.sandbox.add_token("other-integration", None, integration="wms")
    r = gql.post(READ_IDS, {"w": {}}, token="other-integration")
    assert r.json()["data"]["idConversions"] == []

    done = gql.data(UNSET_IDS, {"in": [{"objectType": "Order",
                                        "idConversion": {"externalId": f"BC-{nums[0]}"}}]})
    assert done["unsetIdConversions"]["userErrors"] == []
    assert gql.data(ORDER_BY_EXTERNAL, {"x": [f"BC-{nums[0]}"]})["orders"] == []
    assert len(gql.data(READ_IDS, {})["idConversions"]) == 2
    missing = gql.data(UNSET_IDS, {"in": [{"objectType": "Order",
                                           "idConversion": {"internalId": 1}}]})
    assert missing["unsetIdConversions"]["userErrors"]
    two = gql.data(UNSET_IDS, {"in": [{"objectType": "Order", "idConversion": {
        "internalId": nums[1], "externalId": f"BC-{nums[1]}"}}]})
    assert "exactly one" in two["unsetIdConversions"]["userErrors"][0]["message"]


# -- paging of nested lists ------------------------------------------------------------------

LINES = """query($n: Int!, $limit: Int, $page: Int) { orders(where: {number: [$n]}) {
  lines(limit: $limit, page: $page) { id } all: lines(limit: 200) { id } default: lines { id }
} }"""


def test_a_25_line_order_reads_as_20_lines_by_default_and_pages_to_all_25(gql: Gql) -> None:
    """lines defaults to limit 20; limit/page reach the rest; limit outside 1-200 is an error."""
    r = gql.http.post("/_sandbox/orders/generate", json={"count": 1, "lines": 25,
                                                        "unknown_sku_rate": 0})
    assert r.status_code == 200, r.text
    n = r.json()[0]["number"]
    o = gql.data(LINES, {"n": n, "limit": 20, "page": 2})["orders"][0]
    assert len(o["default"]) == 20
    assert len(o["all"]) == 25
    assert o["lines"] == o["all"][20:]
    assert len({x["id"] for x in o["all"]}) == 25
    for bad in (0, 201):
        err = gql.post(LINES, {"n": n, "limit": bad}).json()["errors"][0]
        assert err["message"] == "Limit must be in range 1 - 200"


def test_a_250_line_order_is_read_completely_over_two_pages(gql: Gql) -> None:
    """250 lines: pages of 200 and 50 with distinct ids, tying out to the generator."""
    r = gql.http.post("/_sandbox/orders/generate", json={"count": 1, "lines": 250,
                                                        "unknown_sku_rate": 0})
    n = r.json()[0]["number"]
    q = """query($n: Int!, $page: Int) { orders(where: {number: [$n]}) {
      lines(limit: 200, page: $page) { id quantity } } }"""
    ids = [x["id"] for p in (1, 2) for x in gql.data(q, {"n": n, "page": p})["orders"][0]["lines"]]
    assert len(ids) == len(set(ids)) == 250
    assert len(gql.sandbox.state.generated[n].expected_lines) == 250


def test_top_level_limit_and_first_outside_1_to_200_are_graphql_errors(gql: Gql) -> None:
    """orders(limit:), orderConnection(first:), shipments, productSizes, idConversions."""
    for q in ("{ orderConnection(first: 201) { totalCount } }",
              "{ shipments(limit: 0) { id } }", "{ productSizes(limit: 500) { id } }",
              "{ idConversions(limit: 0) { id } }", "{ warehouses(limit: 201) { id } }",
              "{ events(limit: 201) { id } }"):
        body = gql.post(q).json()
        assert "1 - 200" in body["errors"][0]["message"], q


# -- shipments ---------------------------------------------------------------------------------

SHIP = """mutation($n: Int!, $lines: [ShipmentLineInput!]) {
  createShipment(input: {order: {number: $n}, lines: $lines, isGoodToGo: true, isPaid: true,
  externalId: "BC-SHIP", shipmentInfo: {internalShippingCost: {value: 12.5,
  currencyIsoCode: "SEK"}}}) { shipment { id } userErrors { message } } }"""


def test_shipments_filter_by_order_and_shipped_page_by_id_and_carry_their_own_line_ids(
        gql: Gql) -> None:
    """shipments(where: {orderNumber, isShipped, id}) in id order; Order.shipments pages; each
    shipment line has its own id and a lineValue with and without tax."""
    st = gql.sandbox.state
    placed = _place(gql, market_id=1, status="CONFIRMED",
                    lines=[{"sku": s, "quantity": 2} for s in _skus(gql, 3)])
    n = placed["number"]
    o = st.orders[n]
    sids = [gql.data(SHIP, {"n": n, "lines": [{"orderLine": {"id": ln.id}, "quantity": 1}]})
            ["createShipment"]["shipment"]["id"] for ln in o.lines]
    gql.data("mutation($id: Int!) { completeShipment(id: $id) { userErrors { message } } }",
             {"id": sids[0]})
    q = """query($w: ShipmentFilter, $limit: Int, $page: Int) { shipments(where: $w,
      limit: $limit, page: $page) { id isShipped externalId numberOfPackages
      internalShippingCost { value currency { code } }
      lines { id quantity lineValue { value } net: lineValue(includingTax: false) { value } }
      order { number } } }"""
    mine = gql.data(q, {"w": {"orderNumber": [n]}})["shipments"]
    assert [s["id"] for s in mine] == sorted(sids)
    assert all(s["order"]["number"] == n and s["externalId"] == "BC-SHIP" for s in mine)
    assert mine[0]["internalShippingCost"] == {"value": 12.5, "currency": {"code": "SEK"}}
    shipped = gql.data(q, {"w": {"orderNumber": [n], "isShipped": True}})["shipments"]
    assert [s["id"] for s in shipped] == [sids[0]]
    assert gql.data(q, {"w": {"id": [sids[1]]}})["shipments"][0]["id"] == sids[1]
    assert [s["id"] for s in gql.data(q, {"w": {"orderNumber": [n]}, "limit": 2,
                                          "page": 2})["shipments"]] == [sids[2]]
    line_ids = [ln["id"] for s in mine for ln in s["lines"]]
    assert len(set(line_ids)) == 3
    first = o.lines[0]
    sl = mine[0]["lines"][0]
    assert Decimal(str(sl["lineValue"]["value"])) == first.unit_price
    tax = (first.unit_price * 25 / 125).quantize(Decimal("0.01"))
    assert Decimal(str(sl["net"]["value"])) == first.unit_price - tax
    paged = gql.data("query($n: Int!) { orders(where: {number: [$n]}) { shipments(limit: 1, "
                     "page: 3) { id } } }", {"n": n})["orders"][0]["shipments"]
    assert paged == [{"id": sorted(sids)[2]}]


# -- stock -------------------------------------------------------------------------------------

def test_product_sizes_read_stock_per_warehouse_by_sku_ean_and_id(gql: Gql) -> None:
    """productSizes(where: {SKU|EAN|id}) { stockTotals stock(where: {warehouseId}) }."""
    st = gql.sandbox.state
    item = next(i for i in st.world.catalogue if not i.centra_only)
    q = """query($w: ProductSizeFilter, $wh: [Int!]) { productSizes(where: $w) { id SKU EAN
      stockTotals { physicalQuantity allocatedQuantity freeToAllocateQuantity }
      stock(where: {warehouseId: $wh}) { warehouse { id } physicalQuantity allocatedQuantity
      freeToAllocateQuantity availableNowQuantity availableQuantity demandQuantity
      incomingQuantity } } }"""
    for where in ({"SKU": [item.sku]}, {"EAN": [item.ean]}, {"id": [item.size_id]}):
        sizes = gql.data(q, {"w": where, "wh": [2]})["productSizes"]
        assert [(s["SKU"], s["EAN"]) for s in sizes] == [(item.sku, item.ean)]
        stock = sizes[0]["stock"]
        phys, alloc = st.inventory[(2, item.size_id)]
        assert stock == [{"warehouse": {"id": 2}, "physicalQuantity": phys,
                          "allocatedQuantity": alloc, "freeToAllocateQuantity": phys - alloc,
                          "availableNowQuantity": phys - alloc,
                          "availableQuantity": phys - alloc, "demandQuantity": 0,
                          "incomingQuantity": 0}]
        totals = sizes[0]["stockTotals"]
        assert totals["physicalQuantity"] == sum(st.inventory[(w, item.size_id)][0]
                                                 for w in (1, 2, 3))
    whs = gql.data("{ a: warehouses(limit: 2) { id } b: warehouses(limit: 2, page: 2) { id } }")
    assert [w["id"] for w in whs["a"] + whs["b"]] == [1, 2, 3]


# -- reference data, events ------------------------------------------------------------------

def test_markets_currencies_stores_rate_limits_and_events_answer_as_published(gql: Gql) -> None:
    """markets(where), currencies(where), stores, rateLimits, eventListeners, events(where)."""
    d = gql.data("""{ markets(where: {id: [2, 5]}) { id name } none: markets(where: {storeId: 9})
      { id } currencies(where: {code: ["EUR"]}) { code isBase name } stores { id type }
      rateLimits { type intervalSeconds quota usedQuota remainingQuota }
      eventListeners { objectType } }""")
    assert [m["id"] for m in d["markets"]] == [2, 5]
    assert d["none"] == []
    assert d["currencies"] == [{"code": "EUR", "isBase": False, "name": "Euro"}]
    assert d["stores"] == [{"id": 1, "type": "DIRECT_TO_CONSUMER"}]
    assert len(d["rateLimits"]) == 6
    gql.data("mutation { setEventListeners(input: [{objectType: Shipment, "
             "changeTypes: [CREATED]}]) { eventListeners { objectType changeTypes } } }")
    assert gql.data("{ eventListeners { objectType changeTypes } }")["eventListeners"] == [
        {"objectType": "Shipment", "changeTypes": ["CREATED"]}]


# -- money ---------------------------------------------------------------------------------------

MONEY = """query($n: Int!) { orders(where: {number: [$n]}) {
  gross: grandTotal(includingTax: true) { value currency { code } }
  net: grandTotal(includingTax: false) { value currency { code } }
  totals { handling { value currency { code } } shipping { value } taxIncluded { value }
           taxAdded { value } lineValues { value } discounts { value } }
  lines(limit: 10) { taxPercent
    uo: unitOriginalPrice(includingTax: true) { value }
    uoN: unitOriginalPrice(includingTax: false) { value }
    u: unitPrice(includingTax: true) { value } uN: unitPrice(includingTax: false) { value }
    lv: lineValue(includingTax: true) { value currency { code } }
    lvN: lineValue(includingTax: false) { value } } } }"""


def _money(gql: Gql, n: int) -> dict[str, Any]:
    order: dict[str, Any] = _dec(gql.post(MONEY, {"n": n}))["orders"][0]
    return order


def test_line_amounts_with_and_without_tax_differ_by_the_lines_own_tax(gql: Gql) -> None:
    """For every line of every order: lineValue(true) − lineValue(false) is the line's tax
    before order-level vouchers, rounded to the minor unit; grandTotal(false) = gross − tax."""
    st = gql.sandbox.state
    gql.sandbox.limiter.lift()
    for n, o in list(st.orders.items())[:40]:
        got = _money(gql, n)
        cur = o.currency
        quantum = Decimal(1).scaleb(-(2 if cur != "JPY" else 0))
        tax = got["totals"]["taxIncluded" if o.market.prices_include_tax else "taxAdded"]
        assert got["net"]["value"] == got["gross"]["value"] - tax["value"]
        assert got["gross"]["currency"]["code"] == cur
        for ln, rec in zip(got["lines"], [x for x in o.lines if x.quantity > 0], strict=True):
            rate = rec.tax_percent
            base = ln["lv"]["value"] if o.market.prices_include_tax else ln["lvN"]["value"]
            if o.market.prices_include_tax:
                line_tax = (base * rate / (100 + rate)).quantize(quantum)
            else:
                line_tax = (base * rate / 100).quantize(quantum)
            assert ln["lv"]["value"] - ln["lvN"]["value"] == line_tax
            assert ln["lv"]["currency"]["code"] == cur
            assert ln["u"]["value"] >= ln["uN"]["value"]
            assert ln["uo"]["value"] >= ln["u"]["value"]


def test_a_handling_fee_is_in_the_totals_taxed_at_the_standard_rate_and_in_the_total(
        gql: Gql) -> None:
    """A DE order with a 2.50 handling fee: totals.handling, VAT inside taxIncluded, grand total."""
    placed = _place(gql, market_id=2, handling="2.50",
                    lines=[{"sku": _skus(gql, 1)[0], "quantity": 1}])
    assert placed["postable"]
    assert {"type": "HANDLING", "amount": "2.50", "tax": "0.40"} in placed["expected_charges"]
    got = _money(gql, placed["number"])
    t = got["totals"]
    assert t["handling"]["value"] == Decimal("2.50")
    assert t["handling"]["currency"]["code"] == "EUR"
    assert got["gross"]["value"] == t["lineValues"]["value"] + t["discounts"]["value"] \
        + t["shipping"]["value"] + t["handling"]["value"]
    g = gql.sandbox.state.generated[placed["number"]]
    assert t["taxIncluded"]["value"] == g.totals.tax_total
    # One item at the standard rate: the rate's tax is over lines + shipping + handling.
    assert g.lines[0].tax_percent == 19
    standard_net = t["lineValues"]["value"] + t["shipping"]["value"] + t["handling"]["value"]
    assert t["taxIncluded"]["value"] == (standard_net * 19 / 119).quantize(Decimal("0.01"))


def test_a_us_handling_fee_adds_its_sales_tax_to_tax_added(gql: Gql) -> None:
    """US: the fee is tax-exclusive; its tax is in taxAdded and the grand total adds the tax."""
    placed = _place(gql, market_id=5, handling="3.00",
                    lines=[{"sku": _skus(gql, 1)[0], "quantity": 1}])
    got = _money(gql, placed["number"])
    t = got["totals"]
    assert t["handling"]["value"] == Decimal("3.00")
    assert t["taxIncluded"]["value"] == 0
    assert got["gross"]["value"] == t["lineValues"]["value"] + t["discounts"]["value"] \
        + t["shipping"]["value"] + t["handling"]["value"] + t["taxAdded"]["value"]
    charge = next(c for c in placed["expected_charges"] if c["type"] == "HANDLING")
    assert Decimal(charge["tax"]) == (Decimal("3.00") * Decimal("8.875") / 100).quantize(
        Decimal("0.01"))


def test_a_tax_exempt_us_order_carries_zero_tax_everywhere(gql: Gql) -> None:
    """taxAdded 0, every line's taxPercent 0 and lineValue equal with or without tax."""
    placed = _place(gql, market_id=5, tax_exempt=True,
                    lines=[{"sku": s, "quantity": 1} for s in _skus(gql, 2)])
    got = _money(gql, placed["number"])
    assert got["totals"]["taxAdded"]["value"] == 0
    assert got["gross"]["value"] == got["net"]["value"]
    for ln in got["lines"]:
        assert ln["taxPercent"] == 0
        assert ln["lv"]["value"] == ln["lvN"]["value"]
    refused = gql.http.post("/_sandbox/orders", json={
        "market_id": 1, "tax_exempt": True, "lines": [{"sku": _skus(gql, 1)[0]}]})
    assert refused.status_code == 400


# -- hidden fields and introspection -----------------------------------------------------------

def _introspect(url: str) -> httpx.Response:
    return httpx.post(url + "/graphql", json={"query": get_introspection_query()},
                      headers={"Authorization": "Bearer sandbox-centra-token"}, timeout=10)


def _order_fields(body: dict[str, Any]) -> set[str]:
    types = {t["name"]: t for t in body["data"]["__schema"]["types"]}
    return {f["name"] for f in types["Order"]["fields"]}


def test_introspection_answers_under_the_default_rate_limits(gql: Gql) -> None:
    """A standard __schema introspection is one ordinary request: 200 with the full schema."""
    for _ in range(2):
        r = _introspect(gql.url)
        assert r.status_code == 200, r.text
        assert "errors" not in r.json()
    assert "grandTotal" in _order_fields(r.json())
    assert "currency" not in _order_fields(r.json())


def test_a_hidden_field_is_gone_from_introspection_and_refused_in_queries() -> None:
    """create_app(hide_fields=[...]): introspection lacks it; selecting it is 'Cannot query
    field'; the control API can hide and restore fields on a running sandbox."""
    sandbox = create_app(seed=1, orders=3, hide_fields=["Order.shippingAddress"])
    with ServerThread(sandbox) as server:
        fields = _order_fields(_introspect(server.url).json())
        assert "shippingAddress" not in fields
        assert "billingAddress" in fields
        q = "{ orders(limit: 1) { number ... on DirectToConsumerOrder { shippingAddress " \
            "{ city } } } }"
        r = httpx.post(server.url + "/graphql", json={"query": q},
                       headers={"Authorization": "Bearer sandbox-centra-token"})
        assert r.status_code == 200
        assert r.json()["errors"][0]["message"].startswith(
            "Cannot query field 'shippingAddress' on type 'DirectToConsumerOrder'")
        ctl = server.url + "/_sandbox/schema/hidden-fields"
        assert httpx.post(ctl, json={"fields": ["OrderTotals.handling"]}).status_code == 200
        fields_now = _introspect(server.url).json()["data"]["__schema"]["types"]
        totals = next(t for t in fields_now if t["name"] == "OrderTotals")
        assert "handling" not in {f["name"] for f in totals["fields"]}
        assert "shippingAddress" in _order_fields(_introspect(server.url).json())
        assert httpx.post(ctl, json={"fields": ["Order.nope"]}).status_code == 400
        assert httpx.post(ctl, json={"fields": ["DirectToConsumerOrder.lines"]}).status_code \
            == 400


def test_the_cli_takes_repeatable_hide_field_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """seamline sandbox centra --hide-field A.b --hide-field C.d starts a sandbox without them."""
    import typer  # noqa: PLC0415
    import uvicorn  # noqa: PLC0415

    from seamline_sandbox.centra.cli import command  # noqa: PLC0415

    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kw: started.append(app))
    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, ["--hide-field", "Order.shippingAddress",
                                      "--hide-field", "Query.idConversions"])
    assert result.exit_code == 0, result.output
    assert started[0].hidden_fields == ("Order.shippingAddress", "Query.idConversions")
    assert "idConversions" not in started[0].schema.query_type.fields
