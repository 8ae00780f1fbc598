"""Fuzz the BlueCherry sandbox over real HTTP: whatever arrives, it answers 4xx with a reason
(or 2xx), never 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.bluecherry.examples import sample_order
from seamline_sandbox.serve import ServerThread

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=20,
)
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    app = create_app(seed=1, max_body_bytes=50_000)
    with ServerThread(app) as srv, httpx.Client(
            base_url=f"{srv.url}/api/v1", timeout=10,
            headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}) as c:
        yield c


def assert_answered(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        error = r.json()["error"]
        assert error["code"]
        assert error["message"]


@FUZZ
@given(body=JSON)
def test_any_json_posted_anywhere_is_answered_without_a_5xx(
        client: httpx.Client, body: Any) -> None:
    """Arbitrary JSON to every write endpoint gets 2xx/4xx with the error envelope."""
    raw = json.dumps(body)
    for path in ("/sales-orders", "/sales-orders/SO-000001/cancel", "/cash-receipts",
                 "/credit-memos"):
        assert_answered(client.post(path, content=raw,
                                    headers={"content-type": "application/json"}))


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_are_answered_without_a_5xx(client: httpx.Client, raw: bytes) -> None:
    """Bytes that may not even be UTF-8 are refused with a reason."""
    assert_answered(client.post("/sales-orders", content=raw))


ORDER_PATHS = (
    [("top", k) for k in sample_order(1)]
    + [("line", k) for k in sample_order(1)["lines"][0]]
    + [("totals", k) for k in sample_order(1)["totals"]]
    + [("charge", k) for k in sample_order(1)["charges"][0]]
)


@FUZZ
@given(n=st.integers(1, 10_000), where=st.sampled_from(ORDER_PATHS), value=JSON,
       drop=st.booleans())
def test_a_valid_order_with_one_field_broken_is_answered_without_a_5xx(
        client: httpx.Client, n: int, where: tuple[str, str], value: Any, drop: bool) -> None:
    """Replacing or deleting any one field of a valid order gets 201, 409 or 422."""
    body = sample_order(n, prefix="F")
    kind, key = where
    target = {"top": body, "line": body["lines"][0], "totals": body["totals"],
              "charge": body["charges"][0]}[kind]
    if drop:
        target.pop(key, None)
    else:
        target[key] = value
    r = client.post("/sales-orders", content=json.dumps(body),
                    headers={"content-type": "application/json"})
    assert r.status_code in (201, 409, 422), r.text
    assert_answered(r)


@FUZZ
@given(params=st.dictionaries(
    st.sampled_from(["page_size", "cursor", "updated_since", "external_reference",
                     "customer_po", "customer", "warehouse", "changed_since_cycle", "since",
                     "date"]),
    st.text(max_size=40), max_size=4))
def test_any_query_string_on_the_reads_is_answered_without_a_5xx(
        client: httpx.Client, params: dict[str, str]) -> None:
    """Garbage cursors, page sizes, timestamps and codes are refused with a reason."""
    _query_answered(client, params)


@pytest.mark.parametrize("value", ["²", "٣", "-1", "99999999999999999999999", "0", "1e3",
                                   "W3siYSI6MX1d", "WyJhdHMiLDEsLTVd",
                                   "WyJ1cGRhdGVkIiwiZ2FyYmFnZSIsMV0",
                                   "WyJ1cGRhdGVkIiwiMjAyNi0wMS0wMVQwMDowMDowMCIsMV0",
                                   "WyJvcmRlcnMiLC0xXQ", "WyJhdHMiLCJ4IiwxXQ", "2026-13-01", "%00"])
def test_tricky_query_values_are_answered_without_a_5xx(
        client: httpx.Client, value: str) -> None:
    """Unicode digits, huge numbers and forged cursors get 4xx, not 500."""
    for name in ("page_size", "cursor", "updated_since", "changed_since_cycle", "since", "date"):
        _query_answered(client, {name: value})
    _query_answered(client, {"updated_since": "2026-01-01T00:00:00+00:00", "cursor": value})


def _query_answered(client: httpx.Client, params: dict[str, str]) -> None:
    for path in ("/sales-orders", "/skus", "/inventory/ats", "/shipments", "/invoices",
                 "/cash-receipts", "/divisions"):
        assert_answered(client.get(path, params=params))
