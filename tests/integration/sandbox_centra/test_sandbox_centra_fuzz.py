"""The Centra sandbox never answers 5xx to bad input (hypothesis over real HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seamline_sandbox.centra.app import create_app
from seamline_sandbox.serve import ServerThread

HEADERS = {"Authorization": "Bearer sandbox-centra-token"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
TOKENS = ["{", "}", "(", ")", ":", "$n", "!", "[", "]", "...", "on", "query", "mutation",
          "orders", "number", "limit", "where", "lines", "id", "setStock", "input", "1", "-5",
          '"x"', "Order", "createShipment", "order", "quantity", "totals", "grandTotal",
          "value", "includingTax", "true", "null", "orderConnection", "first", "after"]
gql_like = st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join)
PATHS = ["/_sandbox/orders", "/_sandbox/orders/generate", "/_sandbox/faults",
         "/_sandbox/faults/rates", "/_sandbox/rate-limits", "/_sandbox/tokens",
         "/_sandbox/stock", "/_sandbox/clock/advance", "/_sandbox/orders/1000/address",
         "/_sandbox/orders/1000/lines/1", "/_sandbox/orders/1000/cancel-lines"]


CLIENT = httpx.Client(timeout=10)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    sandbox = create_app(seed=2, orders=20)
    sandbox.limiter.lift()
    with ServerThread(sandbox) as server:
        yield server.url
    CLIENT.close()


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=st.binary(max_size=200))
def test_random_bytes_to_graphql_are_refused_without_a_server_error(url: str,
                                                                     body: bytes) -> None:
    """Arbitrary bytes give a 4xx, never a 5xx."""
    r = CLIENT.post(url + "/graphql", content=body, headers=HEADERS)
    assert r.status_code < 500


@FUZZ
@given(query=gql_like, variables=json_values, op=st.none() | st.text(max_size=5))
def test_random_graphql_documents_never_cause_a_server_error(url: str, query: str,
                                                             variables: Any,
                                                             op: str | None) -> None:
    """Random token soup, random variables and operation names: status < 500."""
    r = CLIENT.post(url + "/graphql", headers=HEADERS, content=json.dumps(
        {"query": query, "variables": variables, "operationName": op}))
    assert r.status_code < 500


@FUZZ
@given(qty=st.integers(-(2**40), 2**40), line=st.integers(-5, 10**6),
       sku=st.text(max_size=12), number=st.integers(-5, 2000))
def test_mutations_with_wrong_values_answer_without_a_server_error(url: str, qty: int,
                                                                   line: int, sku: str,
                                                                   number: int) -> None:
    """Out-of-range quantities, unknown lines, SKUs and orders are errors, never 5xx."""
    for query, variables in (
        ("mutation($n: Int!, $l: Int!, $q: Int!) { createShipment(input: {order: {number: $n},"
         " lines: [{orderLine: {id: $l}, quantity: $q}]}) { userErrors { message } } }",
         {"n": number, "l": line, "q": qty}),
        ("mutation($s: String!, $q: Int!) { setStock(input: {warehouse: {id: 1}, "
         "description: \"f\", stockQuantityType: PHYSICAL, productSizes: [{productSize: "
         "{SKU: $s}, quantity: $q}]}) { userErrors { message } } }", {"s": sku, "q": qty}),
        ("mutation($n: Int!, $l: Int!, $q: Int!) { updateDirectToConsumerOrder(order: "
         "{number: $n}, input: {cancelLines: [{line: {id: $l}, quantity: $q}]}) "
         "{ userErrors { message } } }", {"n": number, "l": line, "q": qty}),
    ):
        r = CLIENT.post(url + "/graphql", headers=HEADERS,
                       json={"query": query, "variables": variables})
        assert r.status_code < 500


@FUZZ
@given(path=st.sampled_from(PATHS), body=json_values)
def test_control_api_never_answers_a_server_error(url: str, path: str, body: Any) -> None:
    """Wrong types and shapes on the control API are 4xx."""
    r = CLIENT.post(url + path, json=body)
    assert r.status_code < 500
    CLIENT.delete(url + "/_sandbox/faults")
