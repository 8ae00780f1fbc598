"""Validation of ``POST /sales-orders`` bodies: every rule of the contract's table, all problems
reported at once (``details``), each with the field and the contract's code.

Written by hand rather than with a pydantic model because the contract wants *coded* details
(``UNKNOWN_SKU``, ``BAD_PRICE``...) for every problem found, including cross-field rules that
depend on master data, which a schema library would report as generic type errors.

This module parses the raw JSON (``MALFORMED``, money formats, ISO currencies, SKU look-up);
the acceptance rules themselves are Seamline's ``seamline.domain.bluecherry_rules``, written
once and shared with the in-memory fake, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import get_currency_precision, is_currency

from seamline.domain import bluecherry_rules as rules

__all__ = [
    "ORDER_FIELDS",
    "Detail",
    "MasterIndex",
    "ValidLine",
    "ValidOrder",
    "currency_digits",
    "fmt_money",
    "parse_money",
    "validate_order",
]

#: Top-level fields of a sales order (anything else is MALFORMED).
ORDER_FIELDS = frozenset({
    "customer_po", "division", "warehouse", "customer", "store", "order_type", "season",
    "order_date", "start_date", "cancel_date", "currency", "ship_via", "terms", "bill_to",
    "ship_to", "lines", "charges", "totals", "prices_include_tax", "external_reference",
})
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "email",
                  "phone")
MONEY_RE = re.compile(r"^-?\d{1,15}(\.\d{1,12})?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RATE_RE = re.compile(r"^\d{1,3}(\.\d{1,4})?$")


@lru_cache(maxsize=512)
def currency_digits(code: str) -> int | None:
    """Minor-unit digits of an ISO 4217 currency, or None when the code is not one."""
    if len(code) != 3 or not code.isalpha() or not code.isupper() or not is_currency(code):
        return None
    return int(get_currency_precision(code))


def fmt_money(amount: Decimal, digits: int) -> str:
    """An amount as a string with exactly ``digits`` decimals."""
    return f"{amount:.{digits}f}"


Detail = dict[str, str]


def _detail(details: list[Detail], fld: str, code: str, message: str) -> None:
    details.append({"field": fld, "code": code, "message": message})


def parse_money(value: Any, digits: int | None, fld: str, details: list[Detail], *,
                allow_negative: bool = False) -> Decimal | None:
    """A money string → Decimal, adding MALFORMED / BAD_PRICE details on problems."""
    if isinstance(value, bool) or not isinstance(value, str):
        kind = "a JSON number" if isinstance(value, (int, Decimal)) else type(value).__name__
        _detail(details, fld, "MALFORMED", f"money must be a decimal string, not {kind}")
        return None
    if not MONEY_RE.match(value):
        _detail(details, fld, "MALFORMED", f"{value[:40]!r} is not a decimal amount")
        return None
    amount = Decimal(value)
    negative = rules.price_details(fld, amount, allow_negative=allow_negative)
    details += negative
    ok = not negative
    if digits is not None:
        places = len(value.partition(".")[2])
        if places != digits:
            _detail(details, fld, "BAD_PRICE",
                    f"{value} has {places} decimals; the currency has exactly {digits}")
            ok = False
    return amount if ok else None


@dataclass(frozen=True, slots=True)
class MasterIndex:
    """Master data as O(1) look-ups."""

    divisions: frozenset[str]
    #: warehouse → division
    warehouses: dict[str, str]
    #: customer → (division, currency, terms, stores)
    customers: dict[str, tuple[str, str, str, frozenset[str]]]
    ship_vias: frozenset[str]
    order_types: frozenset[str]
    terms: frozenset[str]
    #: upc → sku, and sku → upc
    sku_by_upc: dict[str, str]
    upc_by_sku: dict[str, str]
    #: The same codes in the shape of the shared rules (built once).
    codes: rules.Codes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", rules.Codes(
            divisions=self.divisions, warehouses=self.warehouses,
            customers={c: (cur, stores) for c, (_div, cur, _terms, stores)
                       in self.customers.items()},
            ship_vias=self.ship_vias, order_types=self.order_types, terms=self.terms))


@dataclass(slots=True)
class ValidLine:
    line_no: int
    sku: str
    upc: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    tax: Decimal
    tax_rate: str | None


@dataclass(slots=True)
class ValidCharge:
    type: str
    amount: Decimal
    tax: Decimal
    tax_rate: str | None


@dataclass(slots=True)
class ValidOrder:
    customer_po: str
    external_reference: str | None
    division: str
    warehouse: str
    customer: str
    store: str
    order_type: str
    season: str
    order_date: date
    start_date: date
    cancel_date: date
    currency: str
    digits: int
    ship_via: str
    terms: str
    prices_include_tax: bool
    bill_to: dict[str, str]
    ship_to: dict[str, str]
    lines: list[ValidLine]
    charges: list[ValidCharge] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)


def _str(body: dict[str, Any], name: str, details: list[Detail], *,
         missing_code: str | None = None, missing_message: str = "is required") -> str | None:
    """A string field; absent/empty → ``missing_code`` (or None when optional)."""
    value = body.get(name)
    if value is None or value == "":
        if missing_code:
            _detail(details, name, missing_code, f"{name} {missing_message}")
        return None
    if not isinstance(value, str):
        _detail(details, name, "MALFORMED", f"{name} must be a string")
        return None
    if len(value) > 200:
        _detail(details, name, "MALFORMED", f"{name} is longer than 200 characters")
        return None
    return value


def _date(body: dict[str, Any], name: str, details: list[Detail]) -> date | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not DATE_RE.match(value):
        _detail(details, name, "MALFORMED", f"{name} must be a date YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _detail(details, name, "MALFORMED", f"{name} {value!r} is not a calendar date")
        return None


def _address(body: dict[str, Any], name: str, details: list[Detail]) -> dict[str, str]:
    value = body.get(name)
    if value is None:
        return dict.fromkeys(ADDRESS_FIELDS, "")
    if not isinstance(value, dict):
        _detail(details, name, "MALFORMED", f"{name} must be an object")
        return {}
    out: dict[str, str] = {}
    for key in ADDRESS_FIELDS:
        v = value.get(key)
        if v is None:
            out[key] = ""
        elif isinstance(v, str) and len(v) <= 500:
            out[key] = v
        else:
            _detail(details, f"{name}.{key}", "MALFORMED", "must be a string (≤ 500 characters)")
    return out


def _rate(value: Any, fld: str, details: list[Detail]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not RATE_RE.match(value):
        _detail(details, fld, "MALFORMED", "tax_rate must be a decimal string such as \"25.00\"")
        return None
    return value


def _resolve_sku(raw: dict[str, Any], fld: str, master: MasterIndex,
                 details: list[Detail]) -> tuple[str, str] | None:
    upc, sku = raw.get("upc"), raw.get("sku")
    for name, v in (("upc", upc), ("sku", sku)):
        if v is not None and not isinstance(v, str):
            _detail(details, f"{fld}.{name}", "MALFORMED", f"{name} must be a string")
            return None
    by_upc: str | None = None
    if upc:
        digits = upc.strip()
        # a GTIN-13/14 with leading zeros names the same UPC-A
        if (digits.isascii() and digits.isdigit() and len(digits) in (13, 14)
                and not digits[:-12].strip("0")):
            digits = digits[-12:]
        by_upc = master.sku_by_upc.get(digits)
        if by_upc is None:
            _detail(details, f"{fld}.upc", "UNKNOWN_SKU", f"no SKU has UPC {upc[:20]!r}")
            return None
        if sku and sku != by_upc:
            _detail(details, f"{fld}.sku", "UNKNOWN_SKU",
                    f"UPC {upc} is SKU {by_upc}, not {sku[:40]!r}")
            return None
        return by_upc, master.upc_by_sku[by_upc]
    if sku:
        if sku not in master.upc_by_sku:
            _detail(details, f"{fld}.sku", "UNKNOWN_SKU", f"no SKU {sku[:40]!r}")
            return None
        return sku, master.upc_by_sku[sku]
    _detail(details, fld, "UNKNOWN_SKU", "a line needs a upc or a sku")
    return None


def validate_order(body: Any, master: MasterIndex) -> tuple[ValidOrder | None, list[Detail]]:
    """Check a decoded JSON body; returns the order when there are no details."""
    details: list[Detail] = []
    if not isinstance(body, dict):
        _detail(details, "", "MALFORMED", "the body must be a JSON object")
        return None, details
    for key in body:
        if key not in ORDER_FIELDS:
            _detail(details, str(key)[:60], "MALFORMED", "unknown field")

    customer_po = _str(body, "customer_po", details)
    ext_ref = _str(body, "external_reference", details)
    division = _str(body, "division", details)
    warehouse = _str(body, "warehouse", details)
    customer = _str(body, "customer", details)
    cust = master.customers.get(customer) if customer is not None else None
    store = _str(body, "store", details) or ""
    ship_via = _str(body, "ship_via", details)
    order_type = _str(body, "order_type", details)
    terms = _str(body, "terms", details)
    season = _str(body, "season", details) or ""
    currency = _str(body, "currency", details)
    digits: int | None = None
    if currency is not None:
        digits = currency_digits(currency)
        if digits is None:
            _detail(details, "currency", "UNKNOWN_CURRENCY",
                    f"{currency[:10]!r} is not an ISO 4217 currency")
    details += rules.header_details(
        rules.Header(customer_po=customer_po, division=division, warehouse=warehouse,
                     customer=customer, store=store, ship_via=ship_via,
                     order_type=order_type, terms=terms, currency=currency),
        master.codes, reported={d["field"] for d in details})

    order_date = _date(body, "order_date", details)
    if order_date is None and "order_date" not in body:
        _detail(details, "order_date", "MALFORMED", "order_date is required")
    start_date = _date(body, "start_date", details) or order_date
    cancel_date = _date(body, "cancel_date", details) or start_date
    details += rules.date_details(start_date, cancel_date)

    pit = body.get("prices_include_tax")
    if not isinstance(pit, bool):
        _detail(details, "prices_include_tax", "MALFORMED", "prices_include_tax must be a boolean")
    bill_to = _address(body, "bill_to", details)
    ship_to = _address(body, "ship_to", details)

    # -- lines -----------------------------------------------------------------------------------
    lines: list[ValidLine] = []
    lines_ok = True
    raw_lines = body.get("lines")
    if raw_lines is None or raw_lines == []:
        details += rules.lines_details(0)
        lines_ok = False
    elif not isinstance(raw_lines, list):
        _detail(details, "lines", "MALFORMED", "lines must be a list")
        lines_ok = False
    elif len(raw_lines) > 1000:
        _detail(details, "lines", "MALFORMED", "more than 1000 lines")
        lines_ok = False
    else:
        seen: set[int] = set()
        for i, raw in enumerate(raw_lines):
            fld = f"lines[{i}]"
            if not isinstance(raw, dict):
                _detail(details, fld, "MALFORMED", "a line must be an object")
                lines_ok = False
                continue
            n_before = len(details)
            line_no = raw.get("line_no")
            if line_no is None:
                _detail(details, f"{fld}.line_no", "BAD_LINE_NO", "line_no is missing")
            elif isinstance(line_no, bool) or not isinstance(line_no, int):
                _detail(details, f"{fld}.line_no", "MALFORMED", "line_no must be an integer")
            else:
                details += rules.line_no_details(fld, line_no, seen)
            resolved = _resolve_sku(raw, fld, master, details)
            qty = raw.get("quantity")
            if isinstance(qty, bool) or not isinstance(qty, (int, Decimal)):
                if qty is None:
                    _detail(details, f"{fld}.quantity", "BAD_QUANTITY", "quantity is missing")
                else:
                    _detail(details, f"{fld}.quantity", "MALFORMED",
                            "quantity must be a JSON integer")
            else:
                details += rules.quantity_details(fld, qty)
            unit_price = parse_money(raw.get("unit_price"), digits, f"{fld}.unit_price", details)
            discount = parse_money(raw.get("discount", _zero(digits)), digits,
                                   f"{fld}.discount", details)
            tax = parse_money(raw.get("tax", _zero(digits)), digits, f"{fld}.tax", details)
            tax_rate = _rate(raw.get("tax_rate"), f"{fld}.tax_rate", details)
            if len(details) != n_before:
                lines_ok = False
                continue
            assert isinstance(line_no, int)
            assert resolved is not None
            assert unit_price is not None
            assert discount is not None
            assert tax is not None
            quantity = int(qty)  # type: ignore[arg-type]
            too_large = rules.discount_details(fld, unit_price, quantity, discount)
            if too_large:
                details += too_large
                lines_ok = False
                continue
            lines.append(ValidLine(line_no=line_no, sku=resolved[0], upc=resolved[1],
                                   quantity=quantity, unit_price=unit_price, discount=discount,
                                   tax=tax, tax_rate=tax_rate))

    # -- charges ---------------------------------------------------------------------------------
    charges: list[ValidCharge] = []
    charges_ok = True
    raw_charges = body.get("charges", [])
    if raw_charges is None:
        raw_charges = []
    if not isinstance(raw_charges, list) or len(raw_charges) > 100:
        _detail(details, "charges", "MALFORMED", "charges must be a list (≤ 100)")
        charges_ok = False
    else:
        for i, raw in enumerate(raw_charges):
            fld = f"charges[{i}]"
            if not isinstance(raw, dict):
                _detail(details, fld, "MALFORMED", "a charge must be an object")
                charges_ok = False
                continue
            n_before = len(details)
            ctype = raw.get("type", "FREIGHT")
            if not isinstance(ctype, str) or not ctype or len(ctype) > 40:
                _detail(details, f"{fld}.type", "MALFORMED", "type must be a short string")
            amount = parse_money(raw.get("amount"), digits, f"{fld}.amount", details)
            tax = parse_money(raw.get("tax", _zero(digits)), digits, f"{fld}.tax", details)
            rate = _rate(raw.get("tax_rate"), f"{fld}.tax_rate", details)
            if len(details) != n_before or amount is None or tax is None:
                charges_ok = False
                continue
            charges.append(ValidCharge(type=str(ctype), amount=amount, tax=tax, tax_rate=rate))

    # -- totals ----------------------------------------------------------------------------------
    totals: dict[str, Decimal] = {}
    raw_totals = body.get("totals")
    if not isinstance(raw_totals, dict):
        _detail(details, "totals", "MALFORMED", "totals must be an object")
    else:
        for key in raw_totals:
            if key not in ("merchandise", "discount", "charges", "tax", "total"):
                _detail(details, f"totals.{str(key)[:40]}", "MALFORMED", "unknown field")
        totals_ok = True
        for key in ("merchandise", "discount", "charges", "tax", "total"):
            value = parse_money(raw_totals.get(key), digits, f"totals.{key}", details,
                                allow_negative=key == "total")
            if value is None:
                totals_ok = False
            else:
                totals[key] = value
        if totals_ok and lines_ok and charges_ok and isinstance(pit, bool):
            expected = expected_totals(lines, charges, prices_include_tax=pit)
            details += rules.totals_details(totals, expected)

    if details:
        return None, details
    assert customer_po
    assert division
    assert warehouse
    assert customer
    assert currency
    assert digits is not None
    assert ship_via
    assert order_type
    assert order_date
    assert start_date
    assert cancel_date
    assert isinstance(pit, bool)
    assert cust is not None
    return ValidOrder(
        customer_po=customer_po, external_reference=ext_ref, division=division,
        warehouse=warehouse, customer=customer, store=store, order_type=order_type,
        season=season, order_date=order_date, start_date=start_date, cancel_date=cancel_date,
        currency=currency, digits=digits, ship_via=ship_via, terms=terms or cust[2],
        prices_include_tax=pit, bill_to=bill_to, ship_to=ship_to, lines=lines,
        charges=charges, totals=totals,
    ), details


def _zero(digits: int | None) -> str:
    return "0" if not digits else "0." + "0" * digits


def expected_totals(lines: list[ValidLine], charges: list[ValidCharge], *,
                    prices_include_tax: bool) -> dict[str, Decimal]:
    """The totals as the contract defines them from lines and charges (the shared rule)."""
    return rules.expected_totals(
        ((ln.unit_price, ln.quantity, ln.discount, ln.tax) for ln in lines),
        ((c.amount, c.tax) for c in charges), prices_include_tax=prices_include_tax)
