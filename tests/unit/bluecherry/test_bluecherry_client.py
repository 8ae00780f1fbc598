"""BlueCherryClient against hand-built answers (httpx.MockTransport)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from bluecherry_fixtures import make_order
from pydantic import SecretStr

from seamline.adapters.bluecherry import BlueCherryClient
from seamline.adapters.bluecherry import translate as tr
from seamline.config import BlueCherrySettings
from seamline.exceptions import AmbiguousWrite, AuthFailed, RateLimited, TransientError

KEY = "s3cret-key-value"
BASE = "http://bc.test/api/v1"


def _stored(order_no: str = "SO-000001", **over: Any) -> dict[str, Any]:
    order = make_order(po="P1")
    body = tr.sales_order_to_wire(order)
    for ln in body["lines"]:
        ln["ordered_quantity"] = ln.pop("quantity")
    body.update(order_no=order_no, status="OPEN", created_at="2026-11-28T10:00:00+00:00",
                updated_at="2026-11-28T10:00:00+00:00", updated_by="api:seamline", **over)
    return body


def _client(handler: Callable[[httpx.Request], httpx.Response], **settings: Any
            ) -> tuple[BlueCherryClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    cfg = BlueCherrySettings(base_url=BASE, api_key=SecretStr(KEY), page_size=2, **settings)
    http = httpx.Client(transport=httpx.MockTransport(record))
    return BlueCherryClient(cfg, http=http), seen


def test_the_key_goes_in_the_configured_header_and_scheme() -> None:
    """An Azure-style bare key header is sent as configured."""
    client, seen = _client(lambda r: httpx.Response(200, json=[]),
                           auth_header="Ocp-Apim-Subscription-Key", auth_scheme="")
    client.master_data()
    assert seen[0].headers["Ocp-Apim-Subscription-Key"] == KEY
    assert "Authorization" not in seen[0].headers
    client2, seen2 = _client(lambda r: httpx.Response(200, json=[]))
    client2.master_data()
    assert seen2[0].headers["Authorization"] == f"Bearer {KEY}"


def test_the_key_never_appears_in_errors_or_repr() -> None:
    """A refused key raises AuthFailed whose text and repr never contain the key."""
    client, _ = _client(lambda r: httpx.Response(401, json={"error": {"code": "UNAUTHORIZED"}}))
    with pytest.raises(AuthFailed) as info:
        client.get_sales_order("SO-1")
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value.details)
    assert KEY not in repr(client)


def test_a_created_order_is_read_back_with_exact_decimals() -> None:
    """201 → created=True; money is parsed to Decimal, never float."""
    def handler(r: httpx.Request) -> httpx.Response:
        sent = json.loads(r.content)
        assert "centra_line_id" not in sent["lines"][0]
        assert "conversion_rate" not in sent
        return httpx.Response(201, json=_stored())

    client, _ = _client(handler)
    result = client.create_sales_order(make_order(po="P1"))
    assert result.created
    assert isinstance(result.order.total.amount, Decimal)
    assert result.order.lines[0].ordered_quantity == 2


def test_a_duplicate_is_returned_for_comparison_not_as_success() -> None:
    """409 DUPLICATE_* → created=False with the stored order and the code."""
    body = {"error": {"code": "DUPLICATE_CUSTOMER_PO", "message": "exists"}, "order": _stored()}
    client, _ = _client(lambda r: httpx.Response(409, json=body))
    result = client.create_sales_order(make_order(po="P1"))
    assert not result.created
    assert result.duplicate_code == "DUPLICATE_CUSTOMER_PO"
    assert result.order.order_no == "SO-000001"


def test_a_write_is_never_retried_in_process() -> None:
    """A 503 on create is AmbiguousWrite after exactly one request."""
    client, seen = _client(lambda r: httpx.Response(503))
    with pytest.raises(AmbiguousWrite):
        client.create_sales_order(make_order())
    assert len(seen) == 1


def test_a_timed_out_create_is_ambiguous() -> None:
    """A read timeout on create may have been applied."""
    def handler(r: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=r)

    client, _ = _client(handler)
    with pytest.raises(AmbiguousWrite):
        client.create_sales_order(make_order())


def test_reads_retry_transient_failures() -> None:
    """A 503 then a 200 on a look-up succeeds within the retry budget."""
    answers = iter([httpx.Response(503), httpx.Response(200, json={"items": [_stored()],
                                                                    "next_cursor": None})])
    client, seen = _client(lambda r: next(answers))
    found = client.find_by_external_reference("centra:SE:P1")
    assert found is not None
    assert found.order_no == "SO-000001"
    assert len(seen) == 2
    assert seen[1].url.params["external_reference"] == "centra:SE:P1"


def test_reads_give_up_after_the_bounded_attempts() -> None:
    """Persistent 5xx on a read raises TransientError after the attempts run out."""
    client, seen = _client(lambda r: httpx.Response(502))
    with pytest.raises(TransientError):
        client.find_by_external_reference("x")
    assert len(seen) == 3


def test_a_long_retry_after_is_not_slept_on() -> None:
    """A Retry-After beyond the inline limit goes up at once for the queue to reschedule."""
    client, seen = _client(lambda r: httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(RateLimited) as info:
        client.find_by_external_reference("x")
    assert info.value.retry_after == 120.0
    assert len(seen) == 1


def test_skus_are_read_across_pages() -> None:
    """Cursor paging follows next_cursor until it is null."""
    pages = {None: {"items": [{"sku": "A-B-S", "upc": "1"}, {"sku": "A-B-M", "upc": "2"}],
                    "next_cursor": "c2"},
             "c2": {"items": [{"sku": "A-B-L", "upc": "3"}], "next_cursor": None}}
    client, seen = _client(lambda r: httpx.Response(
        200, json=pages[r.url.params.get("cursor")]))
    assert [s.sku for s in client.iter_skus()] == ["A-B-S", "A-B-M", "A-B-L"]
    assert seen[0].url.params["page_size"] == "2"


def test_ats_restarts_when_a_new_cycle_is_published_mid_read() -> None:
    """All items returned belong to the one cycle reported."""
    cyc = lambda n: {"id": n, "as_of": "2026-11-28T10:00:00+00:00",  # noqa: E731
                     "published_at": "2026-11-28T10:01:00+00:00"}
    item = {"sku": "S", "upc": "1", "warehouse": "W01", "on_hand": 5, "allocated": 1,
            "open_demand": 1, "ats": 3}
    answers = iter([
        {"cycle": cyc(1), "items": [item], "next_cursor": "p2"},
        {"cycle": cyc(2), "items": [item], "next_cursor": None},
        {"cycle": cyc(2), "items": [item, {**item, "sku": "T"}], "next_cursor": None},
    ])
    client, _ = _client(lambda r: httpx.Response(200, json=next(answers)))
    cycle, items = client.iter_ats("W01")
    assert cycle.id == 2
    assert [i.sku for i in items] == ["S", "T"]


def test_the_shipment_feed_reads_until_has_more_is_false() -> None:
    """A feed read returns everything available and the resume cursor."""
    ship = {"shipment_no": "SH-1", "order_no": "SO-1", "customer_po": "P", "warehouse": "W01",
            "shipped_at": "2026-11-28T14:02:00+00:00", "cartons": [
                {"sscc": "1", "tracking_number": "1Z"}],
            "lines": [{"line_no": 1, "sku": "S", "upc": "1", "quantity": 1}], "complete": False}
    answers = iter([{"items": [ship], "next_cursor": "a", "has_more": True},
                    {"items": [{**ship, "shipment_no": "SH-2"}], "next_cursor": "b",
                     "has_more": False}])
    client, seen = _client(lambda r: httpx.Response(200, json=next(answers)))
    items, cursor = client.iter_shipments("start")
    assert [s.shipment_no for s in items] == ["SH-1", "SH-2"]
    assert cursor == "b"
    assert seen[0].url.params["since"] == "start"
    assert items[0].cartons[0].tracking_number == "1Z"


def test_a_float_amount_from_bluecherry_is_read_exactly_or_refused() -> None:
    """A JSON number with too many decimals is refused rather than rounded."""
    body = _stored()
    raw = json.dumps(body).replace(f'"{body["totals"]["total"]}"', "12.345")
    client, _ = _client(lambda r: httpx.Response(200, content=raw.encode(),
                                                 headers={"Content-Type": "application/json"}))
    with pytest.raises(Exception, match="decimals"):
        client.get_sales_order("SO-000001")


def test_the_client_ceiling_spaces_requests() -> None:
    """max_requests_per_s spaces request starts (the sleep is observed)."""
    slept: list[float] = []
    cfg = BlueCherrySettings(base_url=BASE, api_key=SecretStr(KEY), max_requests_per_s=10)
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[])))
    client = BlueCherryClient(cfg, http=http, sleep=slept.append)
    client.master_data()
    # time does not pass while the fake sleep runs, so each start waits 0.1 s more
    assert len(slept) >= 5
    gaps = [b - a for a, b in itertools.pairwise(slept)]
    assert all(abs(g - 0.1) < 0.02 for g in gaps)
