"""Every validation code of the BlueCherry contract, produced by the sandbox's order check."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from seamline_sandbox.bluecherry.examples import sample_order
from seamline_sandbox.bluecherry.state import BlueCherryState
from seamline_sandbox.bluecherry.validation import validate_order

STATE = BlueCherryState(seed=1)
Mutation = Callable[[dict[str, Any]], None]


def codes_for(body: Any) -> set[str]:
    order, details = validate_order(body, STATE.master)
    assert (order is None) == bool(details)
    return {d["code"] for d in details}


def _set(path: str, value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        target: Any = body
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()

CASES: list[tuple[str, Mutation, str]] = [
    ("MISSING_DIVISION", _set("division", _DELETE), "division absent"),
    ("UNKNOWN_DIVISION", _set("division", "D99"), "division unknown"),
    ("MISSING_WAREHOUSE", _set("warehouse", _DELETE), "warehouse absent"),
    ("UNKNOWN_WAREHOUSE", _set("warehouse", "W99"), "warehouse unknown"),
    ("UNKNOWN_WAREHOUSE", _set("warehouse", "W02"), "warehouse of another division"),
    ("UNKNOWN_CUSTOMER", _set("customer", "NOBODY"), "customer unknown"),
    ("UNKNOWN_STORE", _set("store", "XX"), "store not the customer's"),
    ("UNKNOWN_SHIP_VIA", _set("ship_via", "ZEPP"), "ship via unknown"),
    ("UNKNOWN_ORDER_TYPE", _set("order_type", "BARTER"), "order type unknown"),
    ("UNKNOWN_TERMS", _set("terms", "NET999"), "terms unknown"),
    ("UNKNOWN_SKU", _set("lines.0.upc", "000000000000"), "upc unknown"),
    ("UNKNOWN_SKU", _set("lines.0.sku", "NOPE-1"), "upc and sku name different SKUs"),
    ("BAD_QUANTITY", _set("lines.0.quantity", 0), "zero quantity"),
    ("BAD_QUANTITY", _set("lines.0.quantity", -2), "negative quantity"),
    ("BAD_QUANTITY", _set("lines.0.quantity", Decimal("1.5")), "fractional quantity"),
    ("BAD_PRICE", _set("lines.0.unit_price", "-1.00"), "negative price"),
    ("BAD_PRICE", _set("lines.0.unit_price", "499.001"), "too many decimals"),
    ("BAD_PRICE", _set("lines.0.unit_price", "499.0000001"), "far too many decimals"),
    ("BAD_PRICE", _set("lines.0.discount", "99999.00"), "discount above the line value"),
    ("TOTALS_MISMATCH", _set("totals.total", "1.00"), "total off"),
    ("BAD_DATES", _set("cancel_date", "2026-11-01"), "cancel before start"),
    ("MISSING_CUSTOMER_PO", _set("customer_po", _DELETE), "no customer_po"),
    ("MISSING_CUSTOMER_PO", _set("customer_po", ""), "empty customer_po"),
    ("UNKNOWN_CURRENCY", _set("currency", "XYZ"), "not ISO 4217"),
    ("UNKNOWN_CURRENCY", _set("currency", "EUR"), "not the customer's currency"),
    ("NO_LINES", _set("lines", []), "no lines"),
    ("BAD_LINE_NO", _set("lines.1.line_no", 1), "repeated line number"),
    ("BAD_LINE_NO", _set("lines.0.line_no", _DELETE), "missing line number"),
    ("MALFORMED", _set("totals.total", Decimal("947.20")), "money as a JSON number"),
    ("MALFORMED", _set("division", 7), "wrong type"),
    ("MALFORMED", _set("coupon", "X"), "unknown top-level field"),
    ("MALFORMED", _set("prices_include_tax", "yes"), "boolean as a string"),
    ("MALFORMED", _set("order_date", "28/11/2026"), "not an ISO date"),
]


@pytest.mark.parametrize(("code", "mutate", "why"), CASES, ids=[f"{c[0]}: {c[2]}" for c in CASES])
def test_each_contract_rule_rejects_with_its_code(code: str, mutate: Mutation, why: str) -> None:
    """Breaking one rule of the contract yields that rule's code in the details."""
    body = sample_order(1)
    assert codes_for(body) == set()
    broken = copy.deepcopy(body)
    mutate(broken)
    assert code in codes_for(broken), why


def test_a_valid_sample_order_passes_in_every_mapped_market() -> None:
    """The sample orders of all five mapped markets (VAT and sales tax, JPY) validate cleanly."""
    for market in (1, 2, 3, 4, 5):
        for n in range(6):
            body = sample_order(n, market=market, lines=3, quantity=2)
            order, details = validate_order(body, STATE.master)
            assert details == [], (market, n, details)
            assert order is not None


def test_every_problem_is_listed_not_just_the_first() -> None:
    """An order with several problems gets one detail per problem."""
    body = sample_order(1)
    body["division"] = "D99"
    body["ship_via"] = "ZEPP"
    body["lines"][0]["quantity"] = 0
    body["extra"] = True
    assert {"UNKNOWN_DIVISION", "UNKNOWN_SHIP_VIA", "BAD_QUANTITY", "MALFORMED"} <= codes_for(body)


def test_jpy_amounts_must_have_no_decimals() -> None:
    """A JPY amount with decimals is BAD_PRICE (ISO 4217: JPY has no minor unit)."""
    body = sample_order(2, market=4)
    assert codes_for(body) == set()
    body["lines"][0]["unit_price"] = body["lines"][0]["unit_price"] + ".00"
    assert "BAD_PRICE" in codes_for(body)


def test_sales_tax_orders_add_tax_to_the_total() -> None:
    """With prices_include_tax false, a total that leaves the tax out is TOTALS_MISMATCH."""
    body = sample_order(3, market=5)
    assert codes_for(body) == set()
    totals = body["totals"]
    wrong = Decimal(totals["total"]) - Decimal(totals["tax"])
    totals["total"] = f"{wrong:.2f}"
    assert codes_for(body) == {"TOTALS_MISMATCH"}


def test_a_gtin14_with_leading_zeros_names_the_same_sku_as_its_upc() -> None:
    """The EAN-13/GTIN-14 form of a UPC resolves to the same SKU."""
    body = sample_order(4)
    body["lines"][0]["upc"] = "00" + body["lines"][0]["upc"]
    order, details = validate_order(body, STATE.master)
    assert details == []
    assert order is not None
    assert order.lines[0].upc == body["lines"][0]["upc"][2:]


@pytest.mark.parametrize("body", [None, [], "order", 3, True])
def test_a_body_that_is_not_an_object_is_malformed(body: Any) -> None:
    """Anything but a JSON object is MALFORMED."""
    assert codes_for(body) == {"MALFORMED"}
