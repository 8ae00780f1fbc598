"""All field translation between Seamline's canonical records and BlueCherry's wire format.

This is the one module to change when a real deployment's BlueCherry names or shapes a field
differently from the assumed contract (reference/bluecherry-rest-contract.md). Readers are
lenient about what they do not need (absent optional fields take defaults) and strict about
money: every amount is read with ``parse_amount`` in the record's currency, so a float or an
amount with too many decimals is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from seamline.domain.erp import (
    AtsCycle,
    AtsItem,
    CashApplication,
    CashReceipt,
    CatalogueItem,
    CreditMemo,
    CreditMemoLine,
    Customer,
    ErpCarton,
    ErpInvoice,
    ErpInvoiceLine,
    ErpOrderLine,
    ErpSalesOrder,
    ErpShipment,
    ErpShipmentLine,
    MasterData,
)
from seamline.domain.money import Money, parse_amount
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import InvalidRecord

__all__ = [
    "ats_cycle_from_wire",
    "ats_item_from_wire",
    "cancel_to_wire",
    "cash_receipt_from_wire",
    "cash_receipt_to_wire",
    "catalogue_item_from_wire",
    "credit_memo_from_wire",
    "credit_memo_to_wire",
    "invoice_from_wire",
    "json_safe",
    "master_data_from_wire",
    "sales_order_from_wire",
    "sales_order_to_wire",
    "shipment_from_wire",
]

#: Top-level fields of a sales order on the wire (anything else is MALFORMED to BlueCherry).
ORDER_FIELDS = (
    "customer_po", "division", "warehouse", "customer", "store", "order_type", "season",
    "order_date", "start_date", "cancel_date", "currency", "ship_via", "terms", "bill_to",
    "ship_to", "lines", "charges", "totals", "prices_include_tax", "external_reference",
)
_LINE_FIELDS = ("line_no", "upc", "sku", "quantity", "unit_price", "discount", "tax", "tax_rate")
_CHARGE_FIELDS = ("type", "amount", "tax", "tax_rate")


def json_safe(value: Any) -> Any:
    """A parsed JSON value with every ``Decimal`` turned back into its exact string."""
    if type(value) is str or value is None:  # the common case first: this runs per field
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


# -- small readers ----


def _s(d: Mapping[str, Any], key: str, default: str = "") -> str:
    v = d.get(key, default)
    return default if v is None else str(v)


def _i(d: Mapping[str, Any], key: str, default: int | None = None) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or v is None:
        raise InvalidRecord(f"BlueCherry record: {key} is missing or not an integer")
    try:
        return int(v)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"BlueCherry record: {key}={v!r} is not an integer") from exc


def _money(d: Mapping[str, Any], key: str, currency: str, *, default: str | None = "0") -> Money:
    v = d.get(key, default)
    if v is None:
        raise InvalidRecord(f"BlueCherry record: {key} is missing")
    return Money(parse_amount(v, currency, field=key), currency)


def _ts(d: Mapping[str, Any], key: str) -> datetime:
    v = d.get(key)
    if not v:
        return datetime(1970, 1, 1, tzinfo=UTC)
    try:
        out = datetime.fromisoformat(str(v))
    except ValueError as exc:
        raise InvalidRecord(f"BlueCherry record: {key}={v!r} is not an ISO 8601 time") from exc
    return out if out.tzinfo else out.replace(tzinfo=UTC)


def _date(d: Mapping[str, Any], key: str) -> date:
    v = d.get(key)
    try:
        return date.fromisoformat(str(v)[:10])
    except ValueError as exc:
        raise InvalidRecord(f"BlueCherry record: {key}={v!r} is not a date") from exc


def _dicts(d: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    v = d.get(key) or []
    if not isinstance(v, list):
        raise InvalidRecord(f"BlueCherry record: {key} is not a list")
    return [x for x in v if isinstance(x, Mapping)]


def _currency(d: Mapping[str, Any]) -> str:
    cur = _s(d, "currency").upper()
    if len(cur) != 3:
        raise InvalidRecord(f"BlueCherry record: currency {cur!r} is not ISO 4217")
    return cur


# -- sales orders ----


def sales_order_to_wire(order: SalesOrder) -> dict[str, Any]:
    """The POST /sales-orders body for a canonical sales order (from its frozen form)."""
    canonical = order.to_dict()
    body = {k: canonical[k] for k in ORDER_FIELDS}
    body["lines"] = [{k: ln[k] for k in _LINE_FIELDS} for ln in canonical["lines"]]
    body["charges"] = [{k: c[k] for k in _CHARGE_FIELDS} for c in canonical["charges"]]
    return body


def sales_order_from_wire(d: Mapping[str, Any]) -> ErpSalesOrder:
    """A sales order as BlueCherry returned it (201 body, 409 ``order``, look-ups, GET)."""
    cur = _currency(d)
    totals = d.get("totals") if isinstance(d.get("totals"), Mapping) else {}
    assert isinstance(totals, Mapping)
    lines = []
    for ln in _dicts(d, "lines"):
        ordered = ln.get("ordered_quantity", ln.get("quantity"))
        lines.append(ErpOrderLine(
            line_no=_i(ln, "line_no"),
            sku=_s(ln, "sku"),
            upc=_s(ln, "upc"),
            ordered_quantity=_i({"ordered_quantity": ordered}, "ordered_quantity"),
            cancelled_quantity=_i(ln, "cancelled_quantity", 0),
            picked_quantity=_i(ln, "picked_quantity", 0),
            shipped_quantity=_i(ln, "shipped_quantity", 0),
            unit_price=_money(ln, "unit_price", cur),
            discount=_money(ln, "discount", cur),
            tax=_money(ln, "tax", cur),
        ))
    order_no = _s(d, "order_no")
    if not order_no:
        raise InvalidRecord("BlueCherry sales order without order_no")
    return ErpSalesOrder(
        order_no=order_no,
        status=_s(d, "status"),
        customer_po=_s(d, "customer_po"),
        external_reference=_s(d, "external_reference"),
        customer=_s(d, "customer"),
        division=_s(d, "division"),
        warehouse=_s(d, "warehouse"),
        store=_s(d, "store"),
        currency=cur,
        ship_via=_s(d, "ship_via"),
        lines=tuple(lines),
        total=_money(totals, "total", cur),
        tax=_money(totals, "tax", cur),
        created_at=_ts(d, "created_at"),
        updated_at=_ts(d, "updated_at"),
        updated_by=_s(d, "updated_by"),
        raw=json_safe(dict(d)),
    )


def cancel_to_wire(
    reference: str, lines: Sequence[tuple[int, int]] | None, reason: str
) -> dict[str, Any]:
    return {
        "reference": reference,
        "lines": None if lines is None else [
            {"line_no": int(n), "quantity": int(q)} for n, q in lines
        ],
        "reason": reason,
    }


# -- master data ----


def master_data_from_wire(
    *,
    divisions: Sequence[Mapping[str, Any]],
    warehouses: Sequence[Mapping[str, Any]],
    customers: Sequence[Mapping[str, Any]],
    ship_vias: Sequence[Mapping[str, Any]],
    order_types: Sequence[Mapping[str, Any]],
    terms: Sequence[Mapping[str, Any]],
    seasons: Sequence[Mapping[str, Any]],
) -> MasterData:
    def stores(c: Mapping[str, Any]) -> tuple[str, ...]:
        out = []
        for s in c.get("stores") or []:
            out.append(_s(s, "code") if isinstance(s, Mapping) else str(s))
        return tuple(out)

    return MasterData(
        divisions=frozenset(_s(x, "code") for x in divisions),
        warehouses={_s(x, "code"): _s(x, "division") for x in warehouses},
        customers={
            _s(c, "code"): Customer(
                code=_s(c, "code"), division=_s(c, "division"),
                currency=_s(c, "currency").upper(), terms=_s(c, "terms"), stores=stores(c),
            )
            for c in customers
        },
        ship_vias=frozenset(_s(x, "code") for x in ship_vias),
        order_types=frozenset(_s(x, "code") for x in order_types),
        terms=frozenset(_s(x, "code") for x in terms),
        seasons=_seasons(seasons),
    )


def _seasons(rows: Sequence[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Season code → the divisions it is listed under. BlueCherry's master data is per
    division, so the same code comes once per division; every row counts, not the last."""
    out: dict[str, set[str]] = {}
    for x in rows:
        out.setdefault(_s(x, "code"), set()).add(_s(x, "division"))
    return {code: frozenset(divs) for code, divs in out.items()}


def catalogue_item_from_wire(d: Mapping[str, Any]) -> CatalogueItem:
    return CatalogueItem(
        sku=_s(d, "sku"), upc=_s(d, "upc"), division=_s(d, "division"), style=_s(d, "style"),
        color=_s(d, "color"), size=_s(d, "size"), description=_s(d, "description"),
    )


# -- ATS, shipments, invoices ---------------------------------------------------------------------


def ats_cycle_from_wire(d: Mapping[str, Any]) -> AtsCycle:
    return AtsCycle(id=_i(d, "id"), as_of=_ts(d, "as_of"), published_at=_ts(d, "published_at"))


def ats_item_from_wire(d: Mapping[str, Any]) -> AtsItem:
    return AtsItem(
        sku=_s(d, "sku"), upc=_s(d, "upc"), warehouse=_s(d, "warehouse"),
        on_hand=_i(d, "on_hand", 0), allocated=_i(d, "allocated", 0),
        open_demand=_i(d, "open_demand", 0), ats=_i(d, "ats", 0),
    )


def shipment_from_wire(d: Mapping[str, Any]) -> ErpShipment:
    return ErpShipment(
        shipment_no=_s(d, "shipment_no"), order_no=_s(d, "order_no"),
        customer_po=_s(d, "customer_po"), warehouse=_s(d, "warehouse"),
        shipped_at=_ts(d, "shipped_at"), ship_via=_s(d, "ship_via"),
        carrier=_s(d, "carrier"), service=_s(d, "service"),
        cartons=tuple(
            ErpCarton(sscc=_s(c, "sscc"), tracking_number=_s(c, "tracking_number"))
            for c in _dicts(d, "cartons")
        ),
        lines=tuple(
            ErpShipmentLine(line_no=_i(ln, "line_no"), sku=_s(ln, "sku"), upc=_s(ln, "upc"),
                            quantity=_i(ln, "quantity"))
            for ln in _dicts(d, "lines")
        ),
        complete=bool(d.get("complete", False)),
        raw=json_safe(dict(d)),
    )


def invoice_from_wire(d: Mapping[str, Any]) -> ErpInvoice:
    cur = _currency(d)
    charges = d.get("charges", "0")
    if isinstance(charges, list):  # a list of charges: sum their amounts
        total = Money.zero(cur)
        for c in charges:
            if isinstance(c, Mapping):
                total = total + _money(c, "amount", cur)
        charges_money = total
    else:
        charges_money = _money({"charges": charges}, "charges", cur)
    return ErpInvoice(
        invoice_no=_s(d, "invoice_no"), order_no=_s(d, "order_no"),
        customer_po=_s(d, "customer_po"), shipment_no=_s(d, "shipment_no"),
        invoice_date=_date(d, "invoice_date"), currency=cur,
        lines=tuple(
            ErpInvoiceLine(
                line_no=_i(ln, "line_no", 0), sku=_s(ln, "sku"), upc=_s(ln, "upc"),
                quantity=_i(ln, "quantity", 0), amount=_money(ln, "amount", cur),
                tax=_money(ln, "tax", cur),
            )
            for ln in _dicts(d, "lines")
        ),
        charges=charges_money, tax=_money(d, "tax", cur), total=_money(d, "total", cur),
        raw=json_safe(dict(d)),
    )


# -- cash receipts and credit memos ----


def cash_receipt_to_wire(r: CashReceipt) -> dict[str, Any]:
    return {
        "reference": r.reference, "customer": r.customer,
        "receipt_date": r.receipt_date.isoformat(), "currency": r.currency,
        "amount": r.amount.wire(), "method": r.method,
        "applications": [
            {"customer_po": a.customer_po, "invoice_no": a.invoice_no, "amount": a.amount.wire()}
            for a in r.applications
        ],
    }


def cash_receipt_from_wire(d: Mapping[str, Any]) -> CashReceipt:
    cur = _currency(d)
    unapplied = d.get("unapplied")
    return CashReceipt(
        reference=_s(d, "reference"), customer=_s(d, "customer"),
        receipt_date=_date(d, "receipt_date"), currency=cur,
        amount=_money(d, "amount", cur), method=_s(d, "method"),
        applications=tuple(
            CashApplication(customer_po=_s(a, "customer_po"), invoice_no=_s(a, "invoice_no"),
                            amount=_money(a, "amount", cur))
            for a in _dicts(d, "applications")
        ),
        unapplied=None if unapplied is None else _money(d, "unapplied", cur),
        raw=json_safe(dict(d)),
    )


def credit_memo_to_wire(m: CreditMemo) -> dict[str, Any]:
    return {
        "reference": m.reference, "customer": m.customer, "customer_po": m.customer_po,
        "invoice_no": m.invoice_no, "currency": m.currency,
        "lines": [
            {"sku": ln.sku, "upc": ln.upc, "quantity": ln.quantity, "amount": ln.amount.wire(),
             "tax": ln.tax.wire()}
            for ln in m.lines
        ],
        "charges": m.charges.wire(), "total": m.total.wire(), "reason": m.reason,
    }


def credit_memo_from_wire(d: Mapping[str, Any]) -> CreditMemo:
    cur = _currency(d)
    charges = d.get("charges", "0")
    if isinstance(charges, list):
        ch = Money.zero(cur)
        for c in charges:
            if isinstance(c, Mapping):
                ch = ch + _money(c, "amount", cur)
    else:
        ch = _money({"charges": charges}, "charges", cur)
    return CreditMemo(
        reference=_s(d, "reference"), customer=_s(d, "customer"),
        customer_po=_s(d, "customer_po"), invoice_no=_s(d, "invoice_no"), currency=cur,
        lines=tuple(
            CreditMemoLine(sku=_s(ln, "sku"), upc=_s(ln, "upc"), quantity=_i(ln, "quantity", 0),
                           amount=_money(ln, "amount", cur), tax=_money(ln, "tax", cur))
            for ln in _dicts(d, "lines")
        ),
        charges=ch, total=_money(d, "total", cur), reason=_s(d, "reason"),
        memo_no=_s(d, "memo_no") or _s(d, "credit_memo_no"),
        raw=json_safe(dict(d)),
    )
