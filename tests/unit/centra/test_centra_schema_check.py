"""Seamline's Centra operations held against the schema an environment serves: refused fields
are named by operation and flow, from validation and from Centra's own error texts."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from graphql import build_schema
from pydantic import SecretStr

from contract.published import published_schema_path
from seamline.adapters.centra.client import CentraClient, InlineRetry
from seamline.adapters.centra.errors import classify
from seamline.adapters.centra.schema_check import (
    problems_from_messages,
    validate_operations,
)
from seamline.config import CentraSettings
from seamline.exceptions import AuthFailed, SchemaMismatch

PUBLISHED = published_schema_path().read_text(encoding="utf-8")


def _without(sdl: str, type_name: str, field: str) -> str:
    """The SDL with one field dropped from a type (and from its interface)."""
    out, inside = [], False
    for line in sdl.splitlines():
        stripped = line.strip()
        if stripped.startswith(("type ", "interface ")):
            inside = stripped.split()[1] in {type_name, "Order", "DirectToConsumerOrder",
                                              "WholesaleOrder"} if type_name == "Order" else \
                stripped.split()[1] == type_name
        if inside and stripped.startswith(f"{field}:"):
            continue
        if stripped == "}":
            inside = False
        out.append(line)
    return "\n".join(out)


def test_the_published_schema_refuses_nothing_seamline_sends() -> None:
    """The baseline: no problem at all against what Centra publishes."""
    assert validate_operations(build_schema(PUBLISHED)) == []


def test_a_missing_order_field_is_named_for_every_operation_that_reads_it() -> None:
    """Order.shippingAddress gone: each order read names it, with the order flow."""
    schema = build_schema(_without(PUBLISHED, "Order", "shippingAddress"))
    problems = validate_operations(schema)
    assert {p.operation for p in problems} == {"orders_updated", "orders_page",
                                               "orders_by_number"}
    assert {p.field for p in problems} == {"Order.shippingAddress"}
    assert all(p.kind == "missing" and p.flows == ("orders",) for p in problems)
    line = problems[0].line()
    assert "Order.shippingAddress" in line
    assert "schema mismatch" in line
    assert problems[0].operation in line


@pytest.mark.parametrize(
    ("message", "kind", "field"),
    [
        ('Cannot query field "externalId" on type "Order".', "missing", "Order.externalId"),
        ("Cannot query field 'taxBreakdown' on type 'OrderTotals'. Did you mean 'taxAdded'?",
         "missing", "OrderTotals.taxBreakdown"),
        ('Unknown argument "sort" on field "Query.shipments".', "missing",
         "Query.shipments(sort:)"),
        ('Unknown type "IdConversionInput".', "missing", "type IdConversionInput"),
        ("You need Order.shippingAddress:read permission to access shippingAddress.",
         "permission", "Order.shippingAddress:read"),
        ("Something else went wrong", "other", ""),
    ],
)
def test_centras_error_texts_become_named_problems(message: str, kind: str,
                                                   field: str) -> None:
    """The server's words are parsed into what is missing; anything else is kept whole."""
    (p,) = problems_from_messages("orders_updated", [message])
    assert (p.kind, p.field, p.message) == (kind, field, message)


def _response(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(body).encode())


def test_a_refused_field_is_a_schema_mismatch_for_the_integrator_naming_it() -> None:
    """Not raw GraphQL text in an EXTERNAL_ERROR: one typed error with the field."""
    body = {"errors": [{"message": 'Cannot query field "externalId" on type "Order".'}]}
    with pytest.raises(SchemaMismatch) as info:
        classify(_response(body), mutation=False, operation="orders_updated")
    err = info.value
    assert (err.type_for(), err.owner_for()) == ("CENTRA_SCHEMA_MISMATCH", "integrator")
    assert err.fields == ["Order.externalId"]
    assert err.operation == "orders_updated"
    assert "orders_updated" in err.message
    assert "Order.externalId" in err.message


def test_a_missing_field_permission_is_auth_failed_naming_the_permission() -> None:
    """Centra's per-field permissions: the exception says which one to add to the token."""
    body = {"errors": [{"message": "You need Order.shippingAddress:read permission to access "
                                   "shippingAddress.",
                        "extensions": {"category": "authorization"}}]}
    with pytest.raises(AuthFailed) as info:
        classify(_response(body), mutation=False, operation="orders_page")
    assert info.value.details["permissions"] == ["Order.shippingAddress:read"]
    assert "add it to the integration's API token" in info.value.message


def test_the_live_check_introspects_then_probes_each_read_once() -> None:
    """check_schema: one introspection, then each read once; permission refusals named."""
    from graphql import graphql_sync  # noqa: PLC0415

    schema = build_schema(PUBLISHED)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        query: str = body["query"]
        if "__schema" in query:
            seen.append("introspection")
            result = graphql_sync(schema, query)
            return _response({"data": result.data})
        found = re.search(r"(?:query|mutation) (\w+)", query)
        assert found is not None
        name = found.group(1)
        seen.append(name)
        if name == "OrdersPage":
            return _response({"errors": [{
                "message": "You need Order.billingAddress:read permission to access "
                           "billingAddress.", "extensions": {"category": "authorization"}}]})
        return _response({"data": {}})

    settings = CentraSettings(base_url="http://centra.test/graphql",
                              token=SecretStr("t"), timeout_s=2.0)
    client = CentraClient(settings, http=httpx.Client(transport=httpx.MockTransport(handler)),
                          retry=InlineRetry(attempts=1, budget_s=2.0))
    problems = client.check_schema()
    assert seen[0] == "introspection"
    # introspection + the reads of the flows that run: orders, shipments and stock
    assert seen[1:] == ["OrdersPage", "OrderLines", "IdConversions", "OrderShipments",
                        "StockLevels", "RateLimits", "MarketsAndCurrencies"]
    assert [(p.operation, p.field, p.kind) for p in problems] == [
        ("orders_page", "Order.billingAddress:read", "permission")]
    assert "add that permission" in problems[0].line()
