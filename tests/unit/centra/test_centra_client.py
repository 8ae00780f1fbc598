"""CentraClient over httpx.MockTransport: retries, ambiguity, auth and translation."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from centra_payloads import order_node
from pydantic import SecretStr

from seamline.adapters.centra.client import CentraClient, InlineRetry
from seamline.config import CentraSettings
from seamline.exceptions import AmbiguousWrite, InvalidRecord, RateLimited, TransientError

TOKEN = "tok-very-secret-123"
FAST = InlineRetry(attempts=4, budget_s=5, wait_initial_s=0.001, wait_max_s=0.01,
                   wait_jitter_s=0.0, max_inline_wait_s=1.0)

Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler) -> tuple[CentraClient, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        body["auth"] = request.headers.get("Authorization")
        seen.append(body)
        return handler(request)

    settings = CentraSettings(base_url="http://centra.test/graphql", token=SecretStr(TOKEN))
    http = httpx.Client(transport=httpx.MockTransport(record))
    return CentraClient(settings, http=http, retry=FAST), seen


def ok(data: dict[str, Any]) -> httpx.Response:
    # Decimals go out as JSON number literals (their repr as a float is the same text here).
    body = json.dumps({"data": data, "extensions": {"complexity": 5}}, default=float)
    return httpx.Response(200, content=body.encode())


def test_the_token_is_sent_as_bearer_and_never_shown() -> None:
    """The Authorization header carries the token; the client's repr does not."""
    client, seen = make(lambda r: ok({"orders": []}))
    assert client.get_order(1) is None
    assert seen[0]["auth"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client.http)


def test_a_read_is_retried_after_a_5xx() -> None:
    """A 503 then a good answer gives the order."""
    answers = [httpx.Response(503), ok({"orders": [order_node(7)]})]
    client, seen = make(lambda r: answers.pop(0))
    order = client.get_order(7)
    assert order is not None
    assert order.number == 7
    assert len(seen) == 2


def test_a_read_that_keeps_failing_raises_transient_after_the_attempts() -> None:
    """Retries are bounded."""
    client, seen = make(lambda r: httpx.Response(500))
    with pytest.raises(TransientError):
        client.get_order(7)
    assert len(seen) == FAST.attempts


def test_a_short_retry_after_is_waited_in_process() -> None:
    """A 429 with a Retry-After under the inline limit is retried."""
    answers = [httpx.Response(429, headers={"Retry-After": "0"}), ok({"orders": []})]
    client, seen = make(lambda r: answers.pop(0))
    assert client.get_orders([1, 2]) == []
    assert len(seen) == 2


def test_a_long_retry_after_is_raised_for_the_queue_to_reschedule() -> None:
    """A 429 asking for more than the inline limit raises RateLimited with the delay."""
    client, seen = make(lambda r: httpx.Response(429, headers={"Retry-After": "30"}))
    with pytest.raises(RateLimited) as err:
        client.get_order(1)
    assert err.value.retry_after == 30.0
    assert len(seen) == 1


def test_a_create_shipment_that_times_out_is_ambiguous_and_not_repeated() -> None:
    """A write that may have been applied is raised, never retried blind."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client, seen = make(handler)
    with pytest.raises(AmbiguousWrite):
        client.create_shipment(1, [(1, 1)], external_id="SHP-1")
    assert len(seen) == 1


def test_set_stock_is_repeated_after_a_5xx_because_it_is_absolute() -> None:
    """An absolute stock write is safe to send again."""
    answers = [httpx.Response(502),
               ok({"setStock": {"stockChanges": [{"id": 1}], "userErrors": [],
                                "userWarnings": []}})]
    client, seen = make(lambda r: answers.pop(0))
    assert client.set_stock(1, [("S1-BLK-M", 3), ("0123456789012", 0)]) == 1
    assert len(seen) == 2
    sizes = seen[-1]["variables"]["sizes"]
    assert sizes == [{"productSize": {"SKU": "S1-BLK-M"}, "quantity": 3},
                     {"productSize": {"EAN": "0123456789012"}, "quantity": 0}]


def test_set_stock_sends_many_sizes_per_mutation() -> None:
    """250 sizes go in three mutations of at most 100."""
    client, seen = make(lambda r: ok({"setStock": {"stockChanges": [], "userErrors": [],
                                                   "userWarnings": []}}))
    assert client.set_stock(1, [(f"SKU-{i}", i) for i in range(250)]) == 3
    assert [len(s["variables"]["sizes"]) for s in seen] == [100, 100, 50]


def test_confirm_after_an_ambiguous_failure_reads_the_status_back() -> None:
    """A dropped confirm whose order reads CONFIRMED is done, without a second confirm."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        q = json.loads(request.content)["query"]
        if "ConfirmOrder" in q:
            calls.append("confirm")
            raise httpx.RemoteProtocolError("dropped", request=request)
        calls.append("state")
        return ok({"orders": [{"number": 5, "status": "CONFIRMED", "isLocked": False,
                               "externalId": None, "paymentHistory": []}]})

    client, _ = make(handler)
    client.confirm_order(5)
    assert calls == ["confirm", "state"]


def test_confirm_of_an_order_past_pending_is_not_an_error() -> None:
    """confirmOrder's userError on a CONFIRMED order is swallowed after the read-back."""

    def handler(request: httpx.Request) -> httpx.Response:
        q = json.loads(request.content)["query"]
        if "ConfirmOrder" in q:
            return ok({"confirmOrder": {"order": None, "userErrors": [
                {"message": "Order is not pending", "path": None}], "userWarnings": []}})
        return ok({"orders": [{"number": 5, "status": "PROCESSING", "isLocked": False,
                               "externalId": None, "paymentHistory": []}]})

    client, _ = make(handler)
    client.confirm_order(5)


def test_orders_are_translated_with_exact_money() -> None:
    """A GraphQL order becomes a CentraOrder in the price mode with Decimal amounts."""
    client, _ = make(lambda r: ok({"orders": [order_node(9)]}))
    order = client.get_order(9)
    assert order is not None
    assert order.prices_include_tax
    assert order.grand_total.amount == Decimal("1049.00")
    assert order.lines[0].unit_price.amount == Decimal("500.00")
    assert order.tax_total.amount == Decimal("200.00")
    assert order.shipping_tax.amount == Decimal("9.80")
    assert order.customer_email == "asa@example.com"


def test_iter_orders_follows_the_cursor_and_sends_iso_dates() -> None:
    """Pages are followed by endCursor; the window is sent as ISO 8601 with its offset."""
    pages = [
        {"orderConnection": {"pageInfo": {"hasNextPage": True, "endCursor": "c1"},
                             "edges": [{"node": order_node(1)}]}},
        {"orderConnection": {"pageInfo": {"hasNextPage": False, "endCursor": "c2"},
                             "edges": [{"node": order_node(2)}]}},
    ]
    client, seen = make(lambda r: ok(pages.pop(0)))
    got = list(client.iter_orders(updated_from=datetime(2026, 3, 1, tzinfo=UTC)))
    assert [o.number for o in got] == [1, 2]
    assert seen[0]["variables"]["after"] is None
    assert seen[1]["variables"]["after"] == "c1"
    assert seen[0]["variables"]["updatedFrom"] == "2026-03-01T00:00:00+00:00"


def test_an_amount_with_too_many_decimals_is_refused() -> None:
    """Quantising must never change a value silently."""
    node = order_node(3)
    node["grandTotal"]["value"] = Decimal("1049.001")
    client, _ = make(lambda r: ok({"orders": [node]}))
    with pytest.raises(InvalidRecord, match="grandTotal"):
        client.get_order(3)


def test_a_sales_tax_order_is_read_tax_exclusive() -> None:
    """taxAdded makes the order tax-exclusive: line prices without tax, tax = taxAdded."""
    node = order_node(4, code="USD", tax_added=Decimal("88.75"))
    client, _ = make(lambda r: ok({"orders": [node]}))
    order = client.get_order(4)
    assert order is not None
    assert not order.prices_include_tax
    assert order.lines[0].unit_price.amount == Decimal("400.00")
    assert order.tax_total.amount == Decimal("88.75")


def test_discounts_are_positive_in_the_domain() -> None:
    """Centra's negative discounts become positive voucher discounts."""
    node = order_node(6)
    node["totals"]["discounts"]["value"] = -100
    node["discountsApplied"] = [{"value": {"value": -100, "currency": {"code": "SEK"}},
                                 "voucher": {"name": "Spring", "code": "SPRING10"}}]
    client, _ = make(lambda r: ok({"orders": [node]}))
    order = client.get_order(6)
    assert order is not None
    assert order.voucher_discount.amount == Decimal("100.00")
    assert order.vouchers[0].code == "SPRING10"
    assert order.vouchers[0].value.amount == Decimal("100.00")
