"""BlueCherry's acceptance rules for ``POST /sales-orders`` (the contract's 422 table), written
once.

Three places need them: the in-memory fake (``seamline.testing.bluecherry``), the HTTP sandbox
(``seamline_sandbox.bluecherry.validation``, which first parses raw JSON and reports
``MALFORMED`` itself) and Seamline's own pre-post check (``domain.pricing.check_bluecherry_rules``,
which uses the totals rule and the line rules). Each rule returns the contract's details
(``{"field", "code", "message"}``); nothing here raises, so a caller reports every problem at
once, as BlueCherry does.

The codes and when they apply are the contract's (``reference/bluecherry-rest-contract.md``);
the messages are the sandbox's, so its 422 bodies read as they did.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from seamline.domain.erp import MasterData

__all__ = [
    "MAX_LINE_NO",
    "MAX_QUANTITY",
    "TOTAL_FIELDS",
    "Codes",
    "Detail",
    "Header",
    "date_details",
    "detail",
    "discount_details",
    "expected_totals",
    "header_details",
    "line_no_details",
    "lines_details",
    "price_details",
    "quantity_details",
    "totals_details",
]

Detail = dict[str, str]

#: The totals BlueCherry adds up, in the order it reports them.
TOTAL_FIELDS = ("merchandise", "discount", "charges", "tax", "total")
MAX_LINE_NO = 9999
MAX_QUANTITY = 1_000_000


def detail(fld: str, code: str, message: str) -> Detail:
    """One 422 detail."""
    return {"field": fld, "code": code, "message": message}


@dataclass(frozen=True, slots=True)
class Codes:
    """The master data the header rules look codes up in."""

    divisions: Collection[str]
    #: warehouse → its division
    warehouses: Mapping[str, str]
    #: customer → (its currency, its stores)
    customers: Mapping[str, tuple[str, Collection[str]]]
    ship_vias: Collection[str]
    order_types: Collection[str]
    terms: Collection[str]

    @classmethod
    def from_master(cls, master: MasterData) -> Codes:
        return cls(
            divisions=master.divisions, warehouses=master.warehouses,
            customers={c: (v.currency, v.stores) for c, v in master.customers.items()},
            ship_vias=master.ship_vias, order_types=master.order_types, terms=master.terms,
        )


@dataclass(frozen=True, slots=True)
class Header:
    """An order's coded fields; ``None`` or ``""`` is absent."""

    customer_po: str | None
    division: str | None
    warehouse: str | None
    customer: str | None
    store: str | None
    ship_via: str | None
    order_type: str | None
    terms: str | None
    currency: str | None


def _division_and_warehouse(h: Header, codes: Codes) -> list[Detail]:
    out: list[Detail] = []
    division_ok = bool(h.division) and h.division in codes.divisions
    if not h.division:
        out.append(detail("division", "MISSING_DIVISION", "division is required"))
    elif not division_ok:
        out.append(detail("division", "UNKNOWN_DIVISION", f"no division {h.division!r}"))
    if not h.warehouse:
        out.append(detail("warehouse", "MISSING_WAREHOUSE", "warehouse is required"))
    elif h.warehouse not in codes.warehouses:
        out.append(detail("warehouse", "UNKNOWN_WAREHOUSE", f"no warehouse {h.warehouse!r}"))
    elif division_ok and codes.warehouses[h.warehouse] != h.division:
        out.append(detail("warehouse", "UNKNOWN_WAREHOUSE",
                          f"warehouse {h.warehouse} is not in division {h.division}"))
    return out


def _customer(h: Header, codes: Codes) -> list[Detail]:
    out: list[Detail] = []
    known = codes.customers.get(h.customer) if h.customer else None
    if not h.customer:
        out.append(detail("customer", "UNKNOWN_CUSTOMER", "customer is required"))
    elif known is None:
        out.append(detail("customer", "UNKNOWN_CUSTOMER", f"no customer {h.customer!r}"))
    if h.store and known is None:
        out.append(detail("store", "UNKNOWN_STORE", f"store {h.store!r} of an unknown customer"))
    elif h.store and known is not None and h.store not in known[1]:
        out.append(detail("store", "UNKNOWN_STORE",
                          f"customer {h.customer} has no store {h.store!r}"))
    if not h.currency:
        out.append(detail("currency", "UNKNOWN_CURRENCY", "currency is required"))
    elif known is not None and known[0] != h.currency:
        out.append(detail("currency", "UNKNOWN_CURRENCY",
                          f"customer {h.customer} trades in {known[0]}, not {h.currency}"))
    return out


def _listed(h: Header, codes: Codes) -> list[Detail]:
    out: list[Detail] = []
    for name, what, value, known in (("ship_via", "ship via", h.ship_via, codes.ship_vias),
                                     ("order_type", "order type", h.order_type,
                                      codes.order_types)):
        code = f"UNKNOWN_{name.upper()}"
        if not value:
            out.append(detail(name, code, f"{name} is required"))
        elif value not in known:
            out.append(detail(name, code, f"no {what} {value!r}"))
    if h.terms and h.terms not in codes.terms:
        out.append(detail("terms", "UNKNOWN_TERMS", f"no terms {h.terms!r}"))
    return out


def header_details(h: Header, codes: Codes, *, reported: Collection[str] = ()) -> list[Detail]:
    """The header's details: required codes present and known to BlueCherry, the warehouse in
    the division, the store the customer's, the currency the customer's.

    Args:
        h: the order's coded fields.
        codes: BlueCherry's master data.
        reported: fields the caller has already reported (e.g. ``MALFORMED``); skipped here.
    """
    out: list[Detail] = []
    if not h.customer_po:
        out.append(detail("customer_po", "MISSING_CUSTOMER_PO", "customer_po is required"))
    out += _division_and_warehouse(h, codes)
    out += _customer(h, codes)
    out += _listed(h, codes)
    return [d for d in out if d["field"] not in reported]


def date_details(start: date | None, cancel: date | None) -> list[Detail]:
    """``BAD_DATES`` when the cancel date is before the start date."""
    if start is not None and cancel is not None and cancel < start:
        return [detail("cancel_date", "BAD_DATES",
                       f"cancel date {cancel} is before start date {start}")]
    return []


def lines_details(count: int) -> list[Detail]:
    """``NO_LINES`` for an order without lines."""
    return [] if count else [detail("lines", "NO_LINES", "an order needs at least one line")]


def line_no_details(fld: str, line_no: int, seen: set[int]) -> list[Detail]:
    """``BAD_LINE_NO`` outside 1..9999 or repeated; a good number is added to ``seen``."""
    if line_no < 1 or line_no > MAX_LINE_NO:
        return [detail(f"{fld}.line_no", "BAD_LINE_NO", f"line_no must be 1..{MAX_LINE_NO}")]
    if line_no in seen:
        return [detail(f"{fld}.line_no", "BAD_LINE_NO", f"line_no {line_no} repeated")]
    seen.add(line_no)
    return []


def quantity_details(fld: str, quantity: int | Decimal) -> list[Detail]:
    """``BAD_QUANTITY`` unless a positive whole number up to a million."""
    if isinstance(quantity, Decimal) or quantity <= 0 or quantity > MAX_QUANTITY:
        return [detail(f"{fld}.quantity", "BAD_QUANTITY",
                       f"{quantity} is not a positive whole quantity")]
    return []


def price_details(fld: str, amount: Decimal, *, allow_negative: bool = False) -> list[Detail]:
    """``BAD_PRICE`` for a negative amount (only ``totals.total`` may be negative)."""
    if amount < 0 and not allow_negative:
        return [detail(fld, "BAD_PRICE", f"{amount} is negative")]
    return []


def discount_details(fld: str, unit_price: Decimal, quantity: int,
                     discount: Decimal) -> list[Detail]:
    """``BAD_PRICE`` when a line's discount is larger than its value."""
    if discount > unit_price * quantity:
        return [detail(f"{fld}.discount", "BAD_PRICE",
                       "the discount is larger than the line's value")]
    return []


def amounts_details(lines: Iterable[tuple[int, int | Decimal, Decimal, Decimal, Decimal]],
                    charges: Iterable[tuple[Decimal, Decimal]]) -> list[Detail]:
    """Each line's quantity, unit price, discount and tax, and each charge's amount and tax.
    ``lines`` are ``(index, quantity, unit_price, discount, tax)``; ``charges`` are
    ``(amount, tax)``, in order."""
    out: list[Detail] = []
    for i, quantity, unit_price, discount, tax in lines:
        fld = f"lines[{i}]"
        out += quantity_details(fld, quantity)
        for name, amount in (("unit_price", unit_price), ("discount", discount), ("tax", tax)):
            out += price_details(f"{fld}.{name}", amount)
        out += discount_details(fld, unit_price, int(quantity), discount)
    for i, (amount, tax) in enumerate(charges):
        out += price_details(f"charges[{i}].amount", amount)
        out += price_details(f"charges[{i}].tax", tax)
    return out


def expected_totals(
    lines: Iterable[tuple[Decimal, int, Decimal, Decimal]],
    charges: Iterable[tuple[Decimal, Decimal]],
    *,
    prices_include_tax: bool,
) -> dict[str, Decimal]:
    """The totals as the contract adds them up.

    Args:
        lines: ``(unit_price, quantity, discount, tax)`` per line.
        charges: ``(amount, tax)`` per charge.
        prices_include_tax: tax is inside the prices (then it is not added to the total).

    Returns:
        ``merchandise`` = Σ unit price × quantity, ``discount`` = Σ discounts, ``charges`` =
        Σ charge amounts, ``tax`` = Σ line and charge taxes, ``total`` = merchandise − discount
        + charges (+ tax where prices exclude it).
    """
    merchandise = discount = charge_sum = tax = Decimal(0)
    for unit_price, quantity, line_discount, line_tax in lines:
        merchandise += unit_price * quantity
        discount += line_discount
        tax += line_tax
    for amount, charge_tax in charges:
        charge_sum += amount
        tax += charge_tax
    total = merchandise - discount + charge_sum + (Decimal(0) if prices_include_tax else tax)
    return {"merchandise": merchandise, "discount": discount, "charges": charge_sum,
            "tax": tax, "total": total}


def totals_details(declared: Mapping[str, Decimal],
                   expected: Mapping[str, Decimal]) -> list[Detail]:
    """``TOTALS_MISMATCH`` for each declared total that differs from the expected one."""
    return [
        detail(f"totals.{key}", "TOTALS_MISMATCH",
               f"totals.{key} is {declared[key]}; lines and charges give {expected[key]}")
        for key in TOTAL_FIELDS if declared[key] != expected[key]
    ]
