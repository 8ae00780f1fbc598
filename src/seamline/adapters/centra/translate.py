"""Centra GraphQL JSON (parsed with ``parse_float=Decimal``) → Seamline's domain records.

Normalisation (see ``seamline.domain.orders`` for the conventions):

- the price mode the order's figures show: ``taxIncluded`` ≠ 0 means prices include tax (VAT),
  ``taxAdded`` ≠ 0 that tax is added on top (US sales tax); with neither, ``None`` (both modes
  give the same amounts; the market's configured mode decides how the order posts). Both at
  once is a malformed order;
- line prices are fetched both with and without tax (aliases ``…Inc``/``…Ex``); the ones in the
  order's price mode are kept, and their difference (``lineValue`` with less without tax) is
  the line's own tax;
- the currency is the grand total's (Centra's ``Order`` has no currency field: every
  ``MonetaryValue`` carries its own);
- discounts (``totals.discounts``, ``discountsApplied.value``) are negative in Centra and positive
  in the domain;
- every amount goes through ``parse_amount``: a value with more decimals than its currency allows
  raises ``InvalidRecord`` instead of being rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from seamline.adapters.centra.types import (
    CentraShipment,
    RateLimitStatus,
    ShipmentLine,
    StockLevel,
)
from seamline.domain.money import Money, parse_amount
from seamline.domain.orders import (
    Address,
    CentraOrder,
    OrderLine,
    OrderStatus,
    PaymentEntry,
    Voucher,
)
from seamline.exceptions import InvalidRecord

__all__ = [
    "order_currency",
    "order_from_json",
    "parse_datetime",
    "payment_from_json",
    "rate_limit_from_json",
    "shipment_from_json",
    "stock_levels_from_json",
]

Json = Mapping[str, Any]


def parse_datetime(value: object, *, field: str = "date") -> datetime:
    """A ``DateTimeTz`` (``2022-06-23T15:47:12+02:00``) as an aware datetime."""
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"{field}: {value!r} is not a date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRecord(f"{field}: {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _opt_datetime(value: object, field: str) -> datetime | None:
    return None if value in (None, "") else parse_datetime(value, field=field)


def _money(node: Any, currency: str, field: str) -> Money:
    if not isinstance(node, Mapping) or "value" not in node:
        raise InvalidRecord(f"{field}: missing monetary value")
    cur = node.get("currency")
    code = cur.get("code") if isinstance(cur, Mapping) else None
    if code and str(code).upper() != currency:
        raise InvalidRecord(f"{field}: in {code}, but the order is in {currency}")
    return Money(parse_amount(node["value"], currency, field=field), currency)


def _positive(m: Money) -> Money:
    return -m if m.amount < 0 else m


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidRecord(f"{field}: {value!r} is not an exact number")
    try:
        return Decimal(value)
    except ArithmeticError as exc:
        raise InvalidRecord(f"{field}: {value!r} is not a number") from exc


def _address(node: Any) -> Address:
    if not isinstance(node, Mapping):
        return Address()

    def s(key: str) -> str:
        v = node.get(key)
        return "" if v is None else str(v)

    country = node.get("country")
    return Address(
        first_name=s("firstName"), last_name=s("lastName"), company=s("companyName"),
        address1=s("address1"), address2=s("address2"), city=s("city"), zip_code=s("zipCode"),
        state=s("stateOrProvince"),
        country=str(country.get("code") or "") if isinstance(country, Mapping) else "",
        email=s("email"), phone=s("phoneNumber"),
    )


def payment_from_json(node: Json, currency: str) -> PaymentEntry:
    return PaymentEntry(
        entry_type=str(node.get("entryType", "")),
        status=str(node.get("status", "")),
        value=_money(node.get("value"), currency, "paymentHistory.value"),
        external_reference=str(node.get("externalReference") or ""),
        created_at=_opt_datetime(node.get("createdAt"), "paymentHistory.createdAt"),
        id=int(node.get("id") or 0),
        payment_method=str(node.get("paymentMethod") or ""),
    )


def order_from_json(node: Json) -> CentraOrder:
    """One ``...erpOrder`` node → ``CentraOrder``. Raises ``InvalidRecord`` if malformed."""
    try:
        return _order(node)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        number = node.get("number") if isinstance(node, Mapping) else None
        raise InvalidRecord(f"centra order {number}: malformed ({exc!r})") from exc


def _tax_mode(tax_added: Money, tax_included: Money, number: int) -> bool | None:
    if tax_added.amount != 0 and tax_included.amount != 0:
        raise InvalidRecord(f"centra order {number}: tax both added ({tax_added}) and included "
                            f"({tax_included})", order=number)
    if tax_included.amount != 0:
        return True
    if tax_added.amount != 0:
        return False
    return None


def _line(ln: Json, i: int, currency: str, mode: str) -> OrderLine:
    where = f"lines[{i}]"
    size = ln.get("productSize") or {}
    value_inc = _money(ln["lineValueInc"], currency, f"{where}.lineValue(includingTax: true)")
    value_ex = _money(ln["lineValueEx"], currency, f"{where}.lineValue(includingTax: false)")
    return OrderLine(
        id=int(ln["id"]),
        sku=str(size.get("SKU") or ""),
        ean=str(size.get("EAN") or ""),
        product_name=str(ln.get("productName") or ""),
        size=str(ln.get("size") or ""),
        quantity=int(ln["quantity"]),
        cancelled_quantity=int(ln.get("cancelledQuantity") or 0),
        unit_original_price=_money(ln[f"unitOriginalPrice{mode}"], currency,
                                   f"{where}.unitOriginalPrice"),
        unit_price=_money(ln[f"unitPrice{mode}"], currency, f"{where}.unitPrice"),
        line_value=value_inc if mode == "Inc" else value_ex,
        tax_percent=_decimal(ln.get("taxPercent", 0), f"{where}.taxPercent"),
        tax=value_inc - value_ex,
    )


def order_currency(node: Json) -> str:
    """The order's currency: its grand total's (``Order`` has no currency field)."""
    return str(node["grandTotal"]["currency"]["code"]).upper()


def _vouchers(node: Json, currency: str) -> list[Voucher]:
    out: list[Voucher] = []
    for i, d in enumerate(node.get("discountsApplied") or ()):
        v = d.get("voucher") or {}
        out.append(Voucher(
            code=str(v.get("code") or ""), name=str(v.get("name") or ""),
            value=_positive(_money(d["value"], currency, f"discountsApplied[{i}].value")),
        ))
    return out


def _shipping_option(node: Json) -> str | None:
    spg = node.get("shippingPriceGroup")
    if isinstance(spg, Mapping) and isinstance(spg.get("shippingOption"), Mapping):
        uri = spg["shippingOption"].get("uri")
        return str(uri) if uri else None
    return None


def _order(node: Json) -> CentraOrder:
    number = int(node["number"])
    grand = node["grandTotal"]
    currency = order_currency(node)
    totals = node["totals"]
    tax_added = _money(totals["taxAdded"], currency, "totals.taxAdded")
    tax_included = _money(totals["taxIncluded"], currency, "totals.taxIncluded")
    shown = _tax_mode(tax_added, tax_included, number)
    mode = "Ex" if shown is False else "Inc"
    lines = [_line(ln, i, currency, mode) for i, ln in enumerate(node.get("lines") or ())]

    vouchers = _vouchers(node, currency)
    shipping_option = _shipping_option(node)
    customer = node.get("customer")
    billing = _address(node.get("billingAddress"))
    email = str(customer.get("email") or "") if isinstance(customer, Mapping) else ""
    store = node["store"]
    market = node.get("market") or {}
    conversion = grand.get("conversionRate", 1)
    zero = Money.zero(currency)
    shipping_tax_field = "shippingTaxAdded" if shown is False else "shippingTaxIncluded"
    return CentraOrder(
        id=str(node["id"]),
        number=number,
        status=OrderStatus(str(node["status"])),
        store_id=int(store["id"]),
        market_id=int(market.get("id") or 0),
        market_name=str(market.get("name") or ""),
        currency=currency,
        conversion_rate=_decimal(conversion, "grandTotal.conversionRate"),
        prices_include_tax=shown,
        order_date=parse_datetime(node["orderDate"], field="orderDate"),
        created_at=_opt_datetime(node.get("createdAt"), "createdAt"),
        updated_at=parse_datetime(node["updatedAt"], field="updatedAt"),
        is_on_hold=bool(node.get("isOnHold")),
        is_waiting_for_payment=bool(node.get("isWaitingForPayment")),
        is_locked=bool(node.get("isLocked")),
        shipping_option=shipping_option,
        customer_email=email or billing.email,
        shipping_address=_address(node.get("shippingAddress")),
        billing_address=billing,
        lines=tuple(lines),
        shipping=_money(totals["shipping"], currency, "totals.shipping"),
        shipping_tax=(_money(totals[shipping_tax_field], currency, f"totals.{shipping_tax_field}")
                      if totals.get(shipping_tax_field) is not None else zero),
        handling=(_money(totals["handling"], currency, "totals.handling")
                  if totals.get("handling") is not None else zero),
        voucher_discount=_positive(_money(totals["discounts"], currency, "totals.discounts")),
        vouchers=tuple(vouchers),
        tax_total={True: tax_included, False: tax_added, None: zero}[shown],
        grand_total=_money(grand, currency, "grandTotal"),
        payments=tuple(payment_from_json(p, currency) for p in node.get("paymentHistory") or ()),
    )


def shipment_from_json(node: Json) -> CentraShipment:
    try:
        carrier = node.get("carrierInformation") or {}
        order = node.get("order") or {}
        return CentraShipment(
            id=int(node["id"]),
            number=str(node["number"]),
            order_number=int(order.get("number") or str(node["number"]).split("-")[0]),
            external_id=str(node["externalId"]) if node.get("externalId") else None,
            lines=tuple(ShipmentLine(id=int(ln["id"]), quantity=int(ln["quantity"]))
                        for ln in node.get("lines") or ()),
            is_good_to_go=bool(node.get("isGoodToGo")),
            is_paid=bool(node.get("isPaid")),
            is_shipped=bool(node.get("isShipped")),
            shipped_at=_opt_datetime(node.get("shippedAt"), "shippedAt"),
            carrier=str(carrier.get("carrierName") or ""),
            service=str(carrier.get("serviceName") or ""),
            tracking_number=str(node.get("trackingNumber") or ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRecord(f"centra shipment: malformed ({exc!r})") from exc


def stock_levels_from_json(node: Json, warehouse_id: int) -> list[StockLevel]:
    """One ``productSizes`` item with its ``stock(where: {warehouseId})`` rows → levels."""
    out = []
    for row in node.get("stock") or ():
        wh = row.get("warehouse") or {}
        if wh.get("id") is not None and int(wh["id"]) != warehouse_id:
            continue
        out.append(StockLevel(sku=str(node.get("SKU") or ""), ean=str(node.get("EAN") or ""),
                              physical=int(row["physicalQuantity"]),
                              allocated=int(row["allocatedQuantity"]),
                              free_to_allocate=int(row["freeToAllocateQuantity"])))
    return out


def rate_limit_from_json(node: Json) -> RateLimitStatus:
    return RateLimitStatus(type=str(node["type"]), interval=str(node["intervalSeconds"]),
                           quota=int(node["quota"]), used=int(node["usedQuota"]),
                           remaining=int(node["remainingQuota"]))
