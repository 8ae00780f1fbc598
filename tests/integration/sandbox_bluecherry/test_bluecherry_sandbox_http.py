"""The BlueCherry sandbox over real HTTP: auth, orders, 409s, look-ups, cancels, ATS, feeds,
receipts, credit memos, manual edits, rate limits and faults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from seamline_sandbox import world as w
from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY
from seamline_sandbox.bluecherry.examples import sample_order
from seamline_sandbox.serve import ServerThread


def create(api: httpx.Client, n: int, **kw: Any) -> dict[str, Any]:
    r = api.post("/sales-orders", json=sample_order(n, **kw))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_missing_or_wrong_keys_get_401_with_the_error_envelope(
        server: ServerThread, control: httpx.Client) -> None:
    """No key or a wrong key is 401 with the contract's error envelope."""
    base = f"{server.url}/api/v1"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": DEFAULT_API_KEY}):
        r = httpx.get(f"{base}/divisions", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "UNAUTHORIZED"


def test_the_azure_style_subscription_key_header_is_accepted(
        server: ServerThread, control: httpx.Client) -> None:
    """Ocp-Apim-Subscription-Key: <key> authenticates like the bearer header."""
    r = httpx.get(f"{server.url}/api/v1/customers",
                  headers={"Ocp-Apim-Subscription-Key": DEFAULT_API_KEY})
    assert r.status_code == 200
    web_se = next(c for c in r.json()["items"] if c["code"] == "WEBSE")
    assert web_se["currency"] == "SEK"
    assert web_se["stores"] == [{"code": "SE", "name": "Web Sweden SE"}]


def test_master_data_lists_every_code_of_the_world(api: httpx.Client) -> None:
    """Divisions, warehouses, ship vias, order types, terms and seasons come from world.py."""
    def codes(path: str) -> set[str]:
        return {x["code"] for x in api.get(path).json()["items"]}

    assert codes("/divisions") == set(w.BC_DIVISIONS)
    assert codes("/warehouses") == set(w.BC_WAREHOUSES)
    assert codes("/ship-vias") == set(w.BC_SHIP_VIAS)
    assert codes("/order-types") == set(w.BC_ORDER_TYPES)
    assert codes("/terms") == set(w.BC_TERMS)
    assert codes("/seasons") == set(w.BC_SEASONS)


def test_skus_page_through_the_same_upcs_as_the_centra_catalogue(api: httpx.Client) -> None:
    """Paging /skus yields every BlueCherry item once, with the UPC Centra's EAN is built from."""
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"page_size": 250}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/skus", params=params).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    items = w.build_world(1).bluecherry_items()
    assert [s["upc"] for s in seen] == [i.upc for i in items]
    assert all("0" + s["upc"] == w.build_world(1).by_sku[s["sku"]].ean for s in seen)
    assert api.get("/skus", params={"updated_since": "2030-01-01T00:00:00+00:00"}).json()[
        "items"] == []


def test_create_returns_201_with_the_stored_order(api: httpx.Client) -> None:
    """A valid order is stored as SO-000001, OPEN, stamped api:<key name>, money as strings."""
    order = create(api, 1)
    assert order["order_no"] == "SO-000001"
    assert order["status"] == "OPEN"
    assert order["updated_by"] == "api:seamline"
    assert order["created_at"] == order["updated_at"]
    assert order["lines"][0]["open_quantity"] == order["lines"][0]["ordered_quantity"]
    assert order["totals"] == sample_order(1)["totals"]
    assert create(api, 2)["order_no"] == "SO-000002"


def test_a_duplicate_external_reference_or_po_is_409_with_the_stored_order(
        api: httpx.Client, control: httpx.Client) -> None:
    """Reposting answers 409 with the existing order and never creates a second one."""
    first = create(api, 1)
    r = api.post("/sales-orders", json=sample_order(1))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "DUPLICATE_EXTERNAL_REFERENCE"
    assert r.json()["order"] == first
    other_ref = {**sample_order(1), "external_reference": "centra:se:other"}
    r = api.post("/sales-orders", json=other_ref)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "DUPLICATE_CUSTOMER_PO"
    # the same PO for another customer is a different order
    assert create(api, 1, market=5)["customer"] == "WEBUS"
    counts = control.get("/orders").json()["external_reference_counts"]
    assert set(counts.values()) == {1}
    assert control.get("/orders").json()["count"] == 2


def test_an_invalid_order_is_422_with_coded_details(api: httpx.Client) -> None:
    """A 422 lists every problem with its field and the contract's code."""
    body = sample_order(1)
    body["division"] = "D99"
    body["lines"][0]["unit_price"] = 499
    r = api.post("/sales-orders", json=body)
    assert r.status_code == 422
    details = r.json()["error"]["details"]
    assert {(d["field"], d["code"]) for d in details} >= {
        ("division", "UNKNOWN_DIVISION"), ("lines[0].unit_price", "MALFORMED")}


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,2", b"\xff\xfe", b"NaN", b'{"a": Infinity}'])
def test_bodies_that_are_not_json_are_malformed(api: httpx.Client, raw: bytes) -> None:
    """Non-JSON bodies are 422 MALFORMED, never 500."""
    r = api.post("/sales-orders", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "MALFORMED"


def test_a_huge_body_is_413(api: httpx.Client) -> None:
    """A body over the configured limit is refused with 413 and a reason."""
    r = api.post("/sales-orders", content=b"[" + b"0," * 200_000 + b"0]")
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_look_ups_find_orders_by_reference_po_and_change_time(api: httpx.Client) -> None:
    """external_reference, customer_po+customer, order number and updated_since all find it."""
    a = create(api, 1)
    b = create(api, 2)
    ref = a["external_reference"]
    assert [o["order_no"] for o in api.get("/sales-orders", params={
        "external_reference": ref}).json()["items"]] == [a["order_no"]]
    assert api.get("/sales-orders", params={"external_reference": "nope"}).json()["items"] == []
    assert [o["order_no"] for o in api.get("/sales-orders", params={
        "customer_po": b["customer_po"], "customer": "WEBSE"}).json()["items"]] == [b["order_no"]]
    assert api.get(f"/sales-orders/{a['order_no']}").json() == a
    assert api.get("/sales-orders/SO-999999").status_code == 404
    pages: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"updated_since": a["created_at"], "page_size": 1}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/sales-orders", params=params).json()
        pages += [o["order_no"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == [a["order_no"], b["order_no"]]
    assert api.get("/sales-orders", params={"updated_since": b["updated_at"]}).json()[
        "items"][0]["order_no"] == b["order_no"]


def test_cancel_over_http_is_idempotent_and_refuses_picked_units(
        api: httpx.Client, control: httpx.Client) -> None:
    """Same reference → 200 stored result; picked units → 409; more than open → 422."""
    order = create(api, 1, quantity=3, lines=1)
    no = order["order_no"]
    body = {"reference": "CX-1", "lines": [{"line_no": 1, "quantity": 1}], "reason": "customer"}
    first = api.post(f"/sales-orders/{no}/cancel", json=body)
    again = api.post(f"/sales-orders/{no}/cancel", json=body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert api.get(f"/sales-orders/{no}").json()["lines"][0]["cancelled_quantity"] == 1
    too_many = api.post(f"/sales-orders/{no}/cancel",
                        json={"reference": "CX-2", "lines": [{"line_no": 1, "quantity": 9}]})
    assert too_many.status_code == 422
    control.post("/warehouse/run", json={"pick_only": True}).raise_for_status()
    picked = api.post(f"/sales-orders/{no}/cancel", json={"reference": "CX-3", "lines": None})
    assert picked.status_code == 409
    assert picked.json()["error"]["code"] == "LINE_PICKED_OR_SHIPPED"


def test_ats_pages_and_deltas_follow_cycles(api: httpx.Client, control: httpx.Client) -> None:
    """ATS moves only when a cycle runs; deltas list the SKUs that changed since a cycle."""
    snap = api.get("/inventory/ats", params={"warehouse": "W01", "page_size": 1000}).json()
    cycle0 = snap["cycle"]["id"]
    assert snap["next_cursor"] is None
    assert all(i["ats"] == max(i["on_hand"] - i["allocated"] - i["open_demand"], 0)
               for i in snap["items"])
    order = create(api, 1, quantity=2)
    assert api.get("/inventory/ats", params={"warehouse": "W01", "page_size": 1000}).json() == snap
    control.post("/ats/cycle", json={}).raise_for_status()
    delta = api.get("/inventory/ats", params={"changed_since_cycle": cycle0}).json()
    assert delta["cycle"]["id"] == cycle0 + 1
    assert {i["sku"] for i in delta["items"]} == {ln["sku"] for ln in order["lines"]}
    assert all(i["open_demand"] >= 2 for i in delta["items"])
    assert {i["updated_at"] for i in delta["items"]} == {delta["cycle"]["published_at"]}
    assert {i["updated_by"] for i in delta["items"]} == {"system:ats"}
    # cursors page the full snapshot without gaps or repeats
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"page_size": 400}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/inventory/ats", params=params).json()
        seen += [(i["warehouse"], i["sku"]) for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3 * 595


def test_shipments_and_invoices_feed_by_resume_cursor(
        api: httpx.Client, control: httpx.Client) -> None:
    """Feeds return shipments in order; next_cursor is never null; one invoice per shipment."""
    empty = api.get("/shipments").json()
    assert empty["items"] == []
    assert empty["next_cursor"]
    assert empty["has_more"] is False
    for n in range(1, 5):
        create(api, n, quantity=2)
    control.post("/warehouse/run", json={"partial_probability": 0.5, "seed": 2}).raise_for_status()
    page = api.get("/shipments", params={"since": empty["next_cursor"], "page_size": 2}).json()
    assert len(page["items"]) == 2
    assert page["has_more"] is True
    rest = api.get("/shipments", params={"since": page["next_cursor"]}).json()
    shipments = page["items"] + rest["items"]
    assert len(shipments) == 4
    assert rest["has_more"] is False
    after = api.get("/shipments", params={"since": rest["next_cursor"]}).json()
    assert after["items"] == []
    assert after["next_cursor"] == rest["next_cursor"]
    first = shipments[0]
    assert first["cartons"][0]["tracking_number"]
    assert first["carrier"] == "PostNord"
    assert first["updated_by"] == "system:warehouse"
    invoices = api.get("/invoices").json()["items"]
    assert [i["shipment_no"] for i in invoices] == [s["shipment_no"] for s in shipments]


def test_cash_receipts_apply_refuse_overapplication_and_keep_unapplied_cash(
        api: httpx.Client, control: httpx.Client) -> None:
    """Receipts apply to invoices, leave the rest unapplied; a repeat is 409 with the stored one."""
    order = create(api, 1)
    control.post("/warehouse/run", json={}).raise_for_status()
    inv = api.get("/invoices").json()["items"][0]
    total = Decimal(inv["total"])
    body = {"reference": "PSP-1", "customer": "WEBSE", "receipt_date": "2026-11-28",
            "currency": "SEK", "amount": f"{total + 10:.2f}", "method": "CARD",
            "applications": [{"customer_po": order["customer_po"],
                              "invoice_no": inv["invoice_no"], "amount": inv["total"]}]}
    r = api.post("/cash-receipts", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["unapplied"] == "10.00"
    again = api.post("/cash-receipts", json=body)
    assert again.status_code == 409
    assert again.json()["receipt"] == r.json()
    over = api.post("/cash-receipts", json={**body, "reference": "PSP-2"})
    assert over.status_code == 422
    assert over.json()["error"]["code"] == "OVERAPPLIED"
    unknown = api.post("/cash-receipts", json={
        **body, "reference": "PSP-3",
        "applications": [{"customer_po": "", "invoice_no": "INV-999999", "amount": "1.00"}]})
    assert unknown.json()["error"]["code"] == "UNKNOWN_INVOICE"
    day = api.get("/cash-receipts", params={"date": "2026-11-28"}).json()["items"]
    assert [x["reference"] for x in day] == ["PSP-1"]


def test_credit_memos_have_a_unique_reference(api: httpx.Client, control: httpx.Client) -> None:
    """A credit memo is stored once; the repeat is 409 with the stored memo."""
    order = create(api, 1)
    control.post("/warehouse/run", json={}).raise_for_status()
    inv = api.get("/invoices").json()["items"][0]
    line = order["lines"][0]
    body = {"reference": "RET-1", "customer": "WEBSE", "customer_po": order["customer_po"],
            "invoice_no": inv["invoice_no"], "currency": "SEK",
            "lines": [{"sku": line["sku"], "upc": line["upc"], "quantity": 1,
                       "amount": line["unit_price"], "tax": "0.00"}],
            "charges": "0.00", "total": line["unit_price"], "reason": "return"}
    r = api.post("/credit-memos", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["memo_no"] == "CM-000001"
    again = api.post("/credit-memos", json=body)
    assert again.status_code == 409
    assert again.json()["credit_memo"] == r.json()


def test_a_manual_edit_shows_in_the_order_with_the_person(
        api: httpx.Client, control: httpx.Client) -> None:
    """The control API edits like a person; GET and updated_since show it as user:<login>."""
    order = create(api, 1, quantity=2)
    r = control.post(f"/orders/{order['order_no']}/edit",
                     json={"login": "maria", "lines": [{"line_no": 1, "quantity": 1}]})
    assert r.status_code == 200, r.text
    now = api.get(f"/sales-orders/{order['order_no']}").json()
    assert now["updated_by"] == "user:maria"
    assert now["lines"][0]["ordered_quantity"] == 1
    assert now["updated_at"] > order["updated_at"]
    changed = api.get("/sales-orders", params={"updated_since": now["updated_at"]}).json()
    assert [o["updated_by"] for o in changed["items"]] == ["user:maria"]


def test_a_person_can_change_the_ship_to_and_ship_via_and_unknown_ones_are_refused(
        api: httpx.Client, control: httpx.Client) -> None:
    """Edits of the address and the ship via are a person's too (drift Seamline must see)."""
    order = create(api, 1, quantity=1)
    path = f"/orders/{order['order_no']}/edit"
    r = control.post(path, json={"login": "ola", "ship_to": {"city": "Malmö"},
                                 "ship_via": order["ship_via"]})
    assert r.status_code == 200, r.text
    now = api.get(f"/sales-orders/{order['order_no']}").json()
    assert (now["ship_to"]["city"], now["updated_by"]) == ("Malmö", "user:ola")
    assert now["ship_to"]["line1"] == order["ship_to"]["line1"]
    assert control.post(path, json={"ship_via": "NOPE"}).status_code == 422
    assert control.post(path, json={"ship_to": {"planet": "Mars"}}).status_code == 422


def test_the_rate_limit_answers_429_with_retry_after(
        api: httpx.Client, control: httpx.Client) -> None:
    """Over the configured requests/s, the API answers 429 with Retry-After."""
    control.post("/rate-limit", json={"per_second": 1, "burst": 2}).raise_for_status()
    statuses = [api.get("/divisions") for _ in range(4)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited
    assert int(limited[0].headers["Retry-After"]) >= 1


def test_injected_faults_answer_429_503_and_latency(
        api: httpx.Client, control: httpx.Client) -> None:
    """Planned faults hit the next matching requests only, then the API answers normally."""
    control.post("/faults", json={"faults": [
        {"kind": "429", "match": "create_order", "retry_after": 7},
        {"kind": "503", "match": "create_order"},
    ]}).raise_for_status()
    r1 = api.post("/sales-orders", json=sample_order(1))
    assert (r1.status_code, r1.headers["Retry-After"]) == (429, "7")
    assert api.post("/sales-orders", json=sample_order(1)).status_code == 503
    assert api.post("/sales-orders", json=sample_order(1)).status_code == 201
    control.post("/latency", json={"seconds": 0.3, "operation": "master_data"})
    r = api.get("/divisions")
    assert r.elapsed.total_seconds() >= 0.3


def test_commit_then_drop_creates_the_order_but_the_response_never_arrives(
        api: httpx.Client, control: httpx.Client, server: ServerThread) -> None:
    """The client times out; the order exists once and the look-up by reference finds it."""
    control.post("/faults", json={"kind": "commit_then_drop", "match": "create_order"})
    body = sample_order(1)
    with pytest.raises(httpx.TransportError):
        api.post("/sales-orders", json=body, timeout=0.5)
    found = api.get("/sales-orders", params={"external_reference": body["external_reference"]})
    assert len(found.json()["items"]) == 1
    assert api.post("/sales-orders", json=body).status_code == 409


def test_a_timeout_fault_applies_nothing(api: httpx.Client, control: httpx.Client) -> None:
    """A plain timeout drops the request before it is applied."""
    control.post("/faults", json={"kind": "timeout", "match": "create_order", "delay_s": 0.3})
    body = sample_order(1)
    with pytest.raises(httpx.TransportError):
        api.post("/sales-orders", json=body, timeout=5)
    assert control.get("/state").json()["orders"] == 0


def test_the_control_api_reads_state_and_runs_the_warehouse(
        api: httpx.Client, control: httpx.Client) -> None:
    """State counts, warehouse runs of N orders and resets work through /_sandbox."""
    for n in range(1, 4):
        create(api, n)
    run = control.post("/warehouse/run", json={"orders": 2}).json()
    assert len(run["shipments"]) == 2
    state = control.get("/state").json()
    assert (state["orders"], state["shipments"], state["invoices"]) == (3, 2, 2)
    assert control.post("/reset", json={}).json()["orders"] == 0
