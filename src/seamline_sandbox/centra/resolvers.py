"""Resolvers binding ``schema.graphql`` to :class:`CentraState` (ariadne, schema-first)."""

from __future__ import annotations

import base64
import heapq
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

from ariadne import (
    InterfaceType,
    MutationType,
    ObjectType,
    QueryType,
    ScalarType,
    UnionType,
    load_schema_from_path,
    make_executable_schema,
)
from graphql import GraphQLError, GraphQLSchema
from graphql import GraphQLResolveInfo as _Info

from seamline.domain.money import minor_digits
from seamline_sandbox.centra.mutations import bind_mutations
from seamline_sandbox.centra.state import (
    CentraState,
    LineRec,
    OrderRec,
    SandboxError,
    ShipmentRec,
    TokenRec,
)
from seamline_sandbox.generator import q
from seamline_sandbox.world import CENTRA_WAREHOUSES, MARKETS, CatalogueItem

Info: TypeAlias = _Info  # graphql-core 3.2: not generic

__all__ = ["SCHEMA_PATH", "build_schema", "to_float"]

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
HUNDRED = Decimal(100)
CURRENCY_IDS = {"SEK": 1, "EUR": 2, "GBP": 3, "JPY": 4, "USD": 5, "NOK": 6}
BASE_CURRENCY = "SEK"


def to_float(value: Decimal) -> float:
    """The one place money becomes a Float: refused if binary floating point would change it."""
    f = float(value)
    if Decimal(repr(f)) != value:
        raise ValueError(f"{value} cannot travel exactly as a Float")
    return f


# -- views -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MV:
    value: Decimal
    currency: str
    rate: Decimal


@dataclass(frozen=True, slots=True)
class LineView:
    order: OrderRec
    line: LineRec


@dataclass(frozen=True, slots=True)
class StockView:
    state: CentraState
    warehouse: int
    item: CatalogueItem


def currency_obj(code: str) -> dict[str, Any]:
    return {"id": CURRENCY_IDS.get(code, 99), "code": code, "name": code,
            "isBase": code == BASE_CURRENCY, "decimalDigits": minor_digits(code)}


def mv(o: OrderRec, amount: Decimal) -> MV:
    return MV(q(amount, o.currency), o.currency, o.market.conversion_rate)


def in_mode(o: OrderRec, amount: Decimal, rate: Decimal, including_tax: bool) -> Decimal:
    """An amount in the order's price mode, restated with or without tax."""
    if including_tax == o.market.prices_include_tax:
        return amount
    if including_tax:
        return q(amount * (HUNDRED + rate) / HUNDRED, o.currency)
    return q(amount * HUNDRED / (HUNDRED + rate), o.currency)


# -- context helpers ---------------------------------------------------------------------------

def ctx_state(info: Info) -> CentraState:
    state: CentraState = info.context["state"]
    return state


def need(info: Info, permission: str) -> bool:
    token: TokenRec = info.context["token"]
    used: list[str] = info.context["permissionsUsed"]
    if permission not in used:
        used.append(permission)
    if token.permissions is not None and permission not in token.permissions:
        raise GraphQLError(
            f"You need {permission} permission to access {info.field_name}.",
            extensions={"category": "authorization"},
        )
    return True


def check_limit(value: int | None, name: str) -> None:
    if value is not None and not 1 <= value <= 200:
        raise GraphQLError(f"{name.capitalize()} must be in range 1 - 200",
                           extensions={"category": "validation"})


def page_slice(items: list[Any], limit: int | None, page: int | None) -> list[Any]:
    check_limit(limit, "limit")
    lim = limit or 20
    pg = page or 1
    if pg < 1:
        raise GraphQLError("Page must be 1 or more", extensions={"category": "validation"})
    return items[(pg - 1) * lim: pg * lim]


def payload(errors: list[SandboxError] | None = None, warnings: list[str] | None = None,
            **fields: Any) -> dict[str, Any]:
    return {
        **fields,
        "userErrors": [{"message": e.message, "path": e.path} for e in errors or []],
        "userWarnings": [{"message": w, "path": None} for w in warnings or []],
    }


# -- scalars -----------------------------------------------------------------------------------

datetime_scalar = ScalarType("DateTimeTz")


@datetime_scalar.serializer
def _serialize_dt(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


@datetime_scalar.value_parser
def _parse_dt(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTimeTz must be a string")
    text = value.strip()
    if text == "now":
        return datetime.now(UTC)
    dt: datetime = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@datetime_scalar.literal_parser
def _parse_dt_literal(ast: Any, _variables: Any = None) -> datetime:
    parsed: datetime = _parse_dt(getattr(ast, "value", None))
    return parsed


# -- order filtering and sorting ---------------------------------------------------------------

def _in_range(value: datetime, rng: dict[str, Any] | None) -> bool:
    if not rng:
        return True
    lo, hi = rng.get("from"), rng.get("to")
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def filter_orders(state: CentraState, where: dict[str, Any] | None) -> list[OrderRec]:
    w = where or {}
    out = []
    numbers = set(w["number"]) if w.get("number") is not None else None
    ids = set(w["id"]) if w.get("id") is not None else None
    statuses = set(w["status"]) if w.get("status") is not None else None
    external = set(w["externalId"]) if w.get("externalId") is not None else None
    markets = set(w["marketId"]) if w.get("marketId") is not None else None
    stores = set(w["storeId"]) if w.get("storeId") is not None else None
    currencies = set(w["currencyId"]) if w.get("currencyId") is not None else None
    flags = [(a, w[f]) for f, a in (("isOnHold", "is_on_hold"), ("isLocked", "is_locked"),
                                    ("isWaitingForPayment", "is_waiting_for_payment"))
             if w.get(f) is not None]
    candidates = ([state.orders[n] for n in numbers if n in state.orders]
                  if numbers is not None else list(state.orders.values()))
    for o in candidates:
        if ids is not None and o.id not in ids:
            continue
        if statuses is not None and o.status not in statuses:
            continue
        if w.get("storeType") not in (None, "DIRECT_TO_CONSUMER"):
            continue
        if external is not None and o.external_id not in external:
            continue
        if markets is not None and o.market.id not in markets:
            continue
        if stores is not None and o.store_id not in stores:
            continue
        if currencies is not None and CURRENCY_IDS.get(o.currency) not in currencies:
            continue
        if flags and any(getattr(o, a) != v for a, v in flags):
            continue
        if not (_in_range(o.created_at, w.get("createdAt"))
                and _in_range(o.updated_at, w.get("updatedAt"))
                and _in_range(o.order_date, w.get("orderDate"))):
            continue
        out.append(o)
    return out


_SORT_FIELDS: dict[str, Callable[[OrderRec], float]] = {
    "id": lambda o: float(o.number),
    "number": lambda o: float(o.number),
    "orderDate": lambda o: o.order_date.timestamp(),
    "createdAt": lambda o: o.created_at.timestamp(),
    "updatedAt": lambda o: o.updated_at.timestamp(),
}


def sort_key(sort: list[str] | None) -> Callable[[OrderRec], tuple[float, ...]]:
    specs = [(s.rsplit("_", 1)[0], s.endswith("_DESC")) for s in (sort or ["number_ASC"])]

    def key(o: OrderRec) -> tuple[float, ...]:
        parts = [(-1.0 if desc else 1.0) * _SORT_FIELDS[f](o) for f, desc in specs]
        return (*parts, float(o.number))

    return key


def _first_item(pair: tuple[tuple[float, ...], OrderRec]) -> tuple[float, ...]:
    return pair[0]


def encode_cursor(key: tuple[float, ...]) -> str:
    return base64.b64encode(("orderCursor:" + json.dumps(list(key))).encode()).decode()


def decode_cursor(cursor: str) -> tuple[float, ...]:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        if not text.startswith("orderCursor:"):
            raise ValueError(text)
        values = json.loads(text.removeprefix("orderCursor:"))
        return tuple(float(v) for v in values)
    except (ValueError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor {cursor!r}",
                           extensions={"category": "validation"}) from exc


# -- schema ------------------------------------------------------------------------------------

def build_schema() -> GraphQLSchema:
    query = QueryType()
    mutation = MutationType()
    order_iface = InterfaceType("Order")
    dtc = ObjectType("DirectToConsumerOrder")
    line_t = ObjectType("ProductOrderLine")
    line_iface = InterfaceType("OrderLine")
    money_t = ObjectType("MonetaryValue")
    totals_t = ObjectType("OrderTotals")
    ship_iface = InterfaceType("Shipment")
    ship_t = ObjectType("DirectToConsumerShipment")
    stock_t = ObjectType("Stock")
    size_t = ObjectType("ProductSize")
    wh_t = ObjectType("Warehouse")
    event_t = ObjectType("Event")
    discount_iface = InterfaceType("OrderDiscount")
    event_obj = UnionType("EventObject")
    payload_iface = InterfaceType("Payload")

    order_iface.set_type_resolver(lambda *_: "DirectToConsumerOrder")
    line_iface.set_type_resolver(lambda *_: "ProductOrderLine")
    ship_iface.set_type_resolver(lambda *_: "DirectToConsumerShipment")
    discount_iface.set_type_resolver(lambda *_: "AppliedVoucher")
    payload_iface.set_type_resolver(lambda *_: None)

    @event_obj.type_resolver
    def _event_obj_type(obj: Any, *_: Any) -> str:
        return "DirectToConsumerShipment" if isinstance(obj, ShipmentRec) \
            else "DirectToConsumerOrder"

    # ---- money
    money_t.set_field("value", lambda m, _i: to_float(m.value))
    money_t.set_field("currency", lambda m, _i: currency_obj(m.currency))
    money_t.set_field("formattedValue", lambda m, _i: f"{m.value:f} {m.currency}")
    money_t.set_field("conversionRate", lambda m, _i: to_float(m.rate))

    # ---- queries
    @query.field("orders")
    def _orders(_: Any, info: Info, where: Any = None, sort: Any = None,
                limit: int | None = 20, page: int | None = 1) -> list[OrderRec]:
        need(info, "Order:read")
        check_limit(limit, "limit")
        st = ctx_state(info)
        items = sorted(filter_orders(st, where), key=sort_key(sort))
        return page_slice(items, limit, page)

    @query.field("orderConnection")
    def _order_connection(_: Any, info: Info, where: Any = None,  # noqa: PLR0917
                          sort: Any = None, first: int | None = None, after: str | None = None,
                          last: int | None = None, before: str | None = None) -> dict[str, Any]:
        need(info, "Order:read")
        check_limit(first, "first")
        check_limit(last, "last")
        key = sort_key(sort)
        keyed = [(key(o), o) for o in filter_orders(ctx_state(info), where)]
        total = len(keyed)
        if after:
            ak = decode_cursor(after)
            keyed = [(k, o) for k, o in keyed if k > ak]
        if before:
            bk = decode_cursor(before)
            keyed = [(k, o) for k, o in keyed if k < bk]
        before_len = len(keyed)
        if first is None and last is None:
            first = 20
        # Keys are unique (the number breaks ties): a forward page needs only its first + 1
        # keys in order, not the whole set sorted.
        if first is not None and last is None:
            keyed = heapq.nsmallest(first + 1, keyed, key=_first_item)
        else:
            keyed.sort(key=_first_item)
        has_next = has_prev = False
        if first is not None:
            has_next = len(keyed) > first
            keyed = keyed[:first]
        if last is not None:
            has_prev = len(keyed) > last
            keyed = keyed[-last:]
        if after and before_len:
            has_prev = True
        edges = [{"node": o, "cursor": encode_cursor(k)} for k, o in keyed]
        return {"totalCount": total, "edges": edges, "pageInfo": {
            "hasNextPage": has_next, "hasPreviousPage": has_prev,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None}}

    @query.field("order")
    def _order(_: Any, info: Info, id: str) -> OrderRec | None:
        need(info, "Order:read")
        return ctx_state(info).orders_by_id.get(id)

    @query.field("shipments")
    def _shipments(_: Any, info: Info, where: Any = None, sort: Any = None,
                   limit: int | None = 20, page: int | None = 1) -> list[ShipmentRec]:
        need(info, "Shipment:read")
        w = where or {}
        out = []
        for s in ctx_state(info).shipments.values():
            if w.get("id") is not None and s.id not in w["id"]:
                continue
            if w.get("number") is not None and s.number not in w["number"]:
                continue
            if w.get("orderNumber") is not None and s.order_number not in w["orderNumber"]:
                continue
            if w.get("isShipped") is not None and s.is_shipped != w["isShipped"]:
                continue
            if w.get("externalId") is not None and s.external_id not in w["externalId"]:
                continue
            out.append(s)
        out.sort(key=lambda s: s.id, reverse=bool(sort and sort[0] == "id_DESC"))
        return page_slice(out, limit, page)

    @query.field("shipment")
    def _shipment(_: Any, info: Info, id: int) -> ShipmentRec | None:
        need(info, "Shipment:read")
        return ctx_state(info).shipments.get(id)

    @query.field("warehouses")
    def _warehouses(_: Any, info: Info, where: Any = None, limit: int = 20,
                    page: int = 1) -> list[dict[str, Any]]:
        need(info, "Warehouse:read")
        w = where or {}
        out = [{"id": i, "name": n} for i, (n, _bc) in CENTRA_WAREHOUSES.items()
               if (w.get("id") is None or i in w["id"])
               and (w.get("name") is None or n in w["name"])]
        return page_slice(out, limit, page)

    @query.field("markets")
    def _markets(_: Any, _info: Info, limit: int = 20,
                 page: int = 1) -> list[dict[str, Any]]:
        return page_slice([{"id": m.id, "name": m.name} for m in MARKETS], limit, page)

    @query.field("stores")
    def _stores(_: Any, _info: Info, limit: int = 20,
                page: int = 1) -> list[dict[str, Any]]:
        return page_slice([{"id": 1, "name": "Retail", "type": "DIRECT_TO_CONSUMER"}],
                          limit, page)

    @query.field("currencies")
    def _currencies(_: Any, _info: Info, where: Any = None, limit: int = 20,
                    page: int = 1) -> list[dict[str, Any]]:
        w = where or {}
        out = [currency_obj(c) for c in CURRENCY_IDS
               if (w.get("isBase") is None or (c == BASE_CURRENCY) == w["isBase"])
               and (w.get("code") is None or c in w["code"])]
        return page_slice(out, limit, page)

    def _sizes_matching(st: CentraState, w: dict[str, Any]) -> list[CatalogueItem]:
        if w.get("id") is not None:
            return [st.items_by_size[i] for i in w["id"] if i in st.items_by_size]
        if w.get("productSizeId") is not None:
            return [st.items_by_size[i] for i in w["productSizeId"] if i in st.items_by_size]
        if w.get("SKU") is not None:
            return [st.world.by_sku[s] for s in w["SKU"] if s in st.world.by_sku]
        if w.get("EAN") is not None:
            return [st.world.by_ean[e] for e in w["EAN"] if e in st.world.by_ean]
        return list(st.world.catalogue)

    @query.field("productSizes")
    def _product_sizes(_: Any, info: Info, where: Any = None, limit: int = 20,
                       page: int = 1) -> list[CatalogueItem]:
        need(info, "Product:read")
        return page_slice(_sizes_matching(ctx_state(info), where or {}), limit, page)

    def _stock_rows(st: CentraState, w: dict[str, Any],
                    warehouses: list[int] | None = None) -> list[StockView]:
        whs = warehouses or w.get("warehouseId") or list(CENTRA_WAREHOUSES)
        return [StockView(st, wh, it) for wh in whs for it in _sizes_matching(st, w)]

    @query.field("stock")
    def _stock(_: Any, info: Info, where: Any = None, limit: int = 20,
               page: int = 1) -> list[StockView]:
        need(info, "Warehouse:read")
        return page_slice(_stock_rows(ctx_state(info), where or {}), limit, page)

    wh_t.set_field("stock", lambda w, info, where=None, limit=20, page=1: page_slice(
        _stock_rows(ctx_state(info), where or {}, [w["id"]]), limit, page))

    def _wh(i: int) -> dict[str, Any]:
        return {"id": i, "name": CENTRA_WAREHOUSES.get(i, ("?", ""))[0]}

    stock_t.set_field("warehouse", lambda s, _i: _wh(s.warehouse))
    stock_t.set_field("productSize", lambda s, _i: s.item)
    for fname, fn in (
        ("physicalQuantity", lambda s: s.state.inventory.get((s.warehouse, s.item.size_id),
                                                             [0, 0])[0]),
        ("allocatedQuantity", lambda s: s.state.inventory.get((s.warehouse, s.item.size_id),
                                                              [0, 0])[1]),
        ("freeToAllocateQuantity", lambda s: s.state.fta(s.warehouse, s.item.size_id)),
        ("availableNowQuantity", lambda s: s.state.fta(s.warehouse, s.item.size_id)),
        ("availableQuantity", lambda s: s.state.fta(s.warehouse, s.item.size_id)),
        ("demandQuantity", lambda s: 0),
        ("incomingQuantity", lambda s: 0),
    ):
        stock_t.set_field(fname, lambda s, _i, fn=fn: fn(s))

    size_t.set_field("id", lambda it, _i: it.size_id)
    size_t.set_field("SKU", lambda it, _i: it.sku)
    size_t.set_field("EAN", lambda it, _i: it.ean)
    size_t.set_field("UPC", lambda it, _i: it.upc)
    size_t.set_field("description", lambda it, _i: it.size)
    size_t.set_field("size", lambda it, _i: {"id": it.size_id, "name": it.size})
    size_t.set_field("product", lambda it, _i: _product(it))
    size_t.set_field("productVariant", lambda it, _i: _variant(it))
    size_t.set_field("stock", lambda it, info, where=None: [
        StockView(ctx_state(info), wh, it) for wh in
        ((where or {}).get("warehouseId") or list(CENTRA_WAREHOUSES))])

    @size_t.field("stockTotals")
    def _stock_totals(it: CatalogueItem, info: Info) -> dict[str, int]:
        st = ctx_state(info)
        phys = sum(st.inventory.get((wh, it.size_id), [0, 0])[0] for wh in CENTRA_WAREHOUSES)
        alloc = sum(st.inventory.get((wh, it.size_id), [0, 0])[1] for wh in CENTRA_WAREHOUSES)
        return {"physicalQuantity": phys, "allocatedQuantity": alloc,
                "freeToAllocateQuantity": phys - alloc, "availableNowQuantity": phys - alloc,
                "availableQuantity": phys - alloc, "demandQuantity": 0,
                "unshippedQuantity": alloc}

    def _product(it: CatalogueItem) -> dict[str, Any]:
        return {"id": it.product_id, "name": it.name, "productNumber": it.style}

    def _variant(it: CatalogueItem) -> dict[str, Any]:
        return {"id": it.variant_id, "name": it.colour_name, "product": _product(it)}

    # ---- events, id conversions, rate limits
    @query.field("events")
    def _events(_: Any, info: Info, where: Any = None,
                limit: int = 200) -> list[Any]:
        need(info, "Event:read")
        check_limit(limit, "limit")
        st = ctx_state(info)
        w = where or {}
        integ = info.context["token"].integration
        out = [e for e in st.events if e.integration == integ
               and (w.get("objectType") is None or e.object_type in w["objectType"])
               and (w.get("changeType") is None or e.change_type in w["changeType"])
               and (w.get("storeId") is None or e.store_id in w["storeId"])
               and (w.get("marketId") is None or e.market_id in w["marketId"])]
        return out[:limit]

    event_t.set_field("objectType", lambda e, _i: e.object_type)
    event_t.set_field("changeType", lambda e, _i: e.change_type)
    event_t.set_field("objectReference", lambda e, _i: e.reference)
    event_t.set_field("createdAt", lambda e, _i: e.created_at)
    event_t.set_field("store", lambda e, _i: None if e.store_id is None else {
        "id": e.store_id, "name": "Retail", "type": "DIRECT_TO_CONSUMER"})
    event_t.set_field("market", lambda e, _i: None if e.market_id is None else {
        "id": e.market_id, "name": next((m.name for m in MARKETS if m.id == e.market_id), "")})

    @event_t.field("object")
    def _event_object(e: Any, info: Info) -> Any:
        st = ctx_state(info)
        if e.object_type == "Order" and e.reference.isdigit():
            return st.orders.get(int(e.reference))
        if e.object_type == "Shipment" and e.reference.isdigit():
            return st.shipments.get(int(e.reference))
        return None

    @query.field("eventListeners")
    def _event_listeners(_: Any, info: Info) -> list[dict[str, Any]]:
        need(info, "Event:read")
        return _listeners(info)

    def _listeners(info: Info) -> list[dict[str, Any]]:
        st = ctx_state(info)
        ls = st.listeners.get(info.context["token"].integration, {})
        every = ["CREATED", "UPDATED", "DELETED", "COMPLETED", "DEPENDENT_DATA_CHANGED"]
        return [{"objectType": t, "changeTypes": sorted(c) if c is not None else every}
                for t, c in ls.items()]

    @query.field("idConversions")
    def _id_conversions(_: Any, info: Info, where: Any = None, limit: int = 20,
                        page: int = 1) -> list[dict[str, Any]]:
        need(info, "IdConversion:read")
        w = where or {}
        integ = info.context["token"].integration
        out = [{"objectType": t, "internalId": i, "externalId": x}
               for (n, t, i), x in ctx_state(info).id_conversions.items()
               if n == integ and (w.get("objectType") is None or t in w["objectType"])
               and (w.get("internalId") is None or i in w["internalId"])
               and (w.get("externalId") is None or x in w["externalId"])]
        return page_slice(out, limit, page)

    @query.field("rateLimits")
    def _rate_limits(_: Any, info: Info) -> list[dict[str, Any]]:
        snap: list[dict[str, Any]] = info.context["limiter"].snapshot()
        return snap

    # ---- order fields
    def _f(name: str, fn: Callable[..., Any]) -> None:
        dtc.set_field(name, fn)

    _f("isOnHold", lambda o, _i: o.is_on_hold)
    _f("isLocked", lambda o, _i: o.is_locked)
    _f("isWaitingForPayment", lambda o, _i: o.is_waiting_for_payment)
    _f("externalId", lambda o, _i: o.external_id)
    _f("createdAt", lambda o, _i, format=None: o.created_at)
    _f("updatedAt", lambda o, _i, format=None: o.updated_at)
    _f("orderDate", lambda o, _i, format=None: o.order_date)
    _f("store", lambda o, _i: {"id": o.store_id, "name": "Retail",
                               "type": "DIRECT_TO_CONSUMER"})
    _f("market", lambda o, _i: {"id": o.market.id, "name": o.market.name})
    _f("pricelist", lambda o, _i: {"id": o.market.id, "name": f"{o.market.name} "
                                   f"{o.currency}"})
    _f("currency", lambda o, _i: currency_obj(o.currency))
    _f("internalComment", lambda o, info: (need(info, "Order.internalComment:read"),
                                           o.internal_comment)[1])
    _f("customer", lambda o, _i: {"id": 10_000 + o.number, **o.customer})
    _f("shippingPriceGroup", lambda o, _i: {
        "id": 1, "name": o.shipping_option_name, "shippingOption": {
            "id": zlib.crc32(o.shipping_option.encode()) % 1000, "name": o.shipping_option_name,
            "uri": o.shipping_option}})
    _f("paymentMethod", lambda o, _i: {"id": 1, "name": o.payment_method.title(),
                                       "uri": o.payment_method, "plugin": o.payment_method})
    _f("grandTotal", lambda o, _i, includingTax=True: mv(
        o, o.grand_total if includingTax else o.grand_total - o.totals.tax_total))
    _f("totals", lambda o, _i: o)
    _f("lines", lambda o, _i, includeFullyCancelled=False: [
        LineView(o, ln) for ln in o.lines if includeFullyCancelled or ln.quantity > 0])
    _f("discountsApplied", lambda o, _i: [
        {"value": mv(o, -amount), "date": o.created_at,
         "voucher": {"id": i + 1, "name": v.name, "code": v.code,
                     "type": "CODE" if v.code else "AUTOMATIC"}}
        for i, (v, amount) in enumerate(zip(o.vouchers, o.totals.voucher_values,
                                            strict=False))])
    _f("shipments", lambda o, info: [ctx_state(info).shipments[i] for i in o.shipment_ids])

    def _address(o: OrderRec, a: dict[str, str]) -> dict[str, Any]:
        country = next((m for m in MARKETS if m.country == a.get("country")), None)
        return {**a, "country": None if country is None else {
            "id": country.id, "name": country.name, "code": country.country},
            "state": None}

    _f("shippingAddress", lambda o, info: (need(info, "Order.shippingAddress:read"),
                                           _address(o, o.shipping_address))[1])
    _f("billingAddress", lambda o, info: (need(info, "Order.billingAddress:read"),
                                          _address(o, o.billing_address))[1])

    def _history(o: OrderRec, info: Info, where: Any = None) -> list[Any]:
        need(info, "PaymentHistory:read")
        w = where or {}
        return [{"id": p.id, "createdAt": p.created_at, "status": p.status,
                 "entryType": p.entry_type, "externalReference": p.external_reference,
                 "value": mv(o, p.value), "paymentMethod": o.payment_method,
                 "paramsJSON": "{}"} for p in o.payments
                if (w.get("entryType") is None or p.entry_type in w["entryType"])
                and (w.get("status") is None or p.status in w["status"])]

    _f("paymentHistory", _history)

    # ---- totals (obj is the OrderRec)
    def _t(name: str, fn: Callable[[OrderRec], Any]) -> None:
        totals_t.set_field(name, lambda o, _i: fn(o))

    def _zero(o: OrderRec) -> MV:
        return mv(o, Decimal(0))

    def _by_mode(o: OrderRec, amount: Decimal, inclusive: bool) -> MV:
        return mv(o, amount if o.market.prices_include_tax == inclusive else Decimal(0))

    _t("quantity", lambda o: sum(ln.quantity for ln in o.lines))
    _t("originalQuantity", lambda o: sum(ln.quantity + ln.cancelled for ln in o.lines))
    _t("cancelledQuantity", lambda o: sum(ln.cancelled for ln in o.lines))
    _t("unexpeditedQuantity", lambda o: sum(ln.quantity - ln.shipped for ln in o.lines))
    _t("lineValues", lambda o: mv(o, o.totals.line_values))
    _t("handling", _zero)
    _t("shipping", lambda o: mv(o, o.totals.shipping))
    _t("shippingTaxAdded", lambda o: _by_mode(o, o.totals.shipping_tax, False))
    _t("shippingTaxIncluded", lambda o: _by_mode(o, o.totals.shipping_tax, True))
    _t("shippingTaxDeducted", _zero)
    _t("shippingTaxRules", lambda o: [{"name": f"{o.market.code} standard",
                                       "taxPercent": to_float(o.market.tax_rate)}])
    _t("discounts", lambda o: mv(o, -o.totals.discount))
    _t("taxAdded", lambda o: _by_mode(o, o.totals.tax_total, False))
    _t("taxIncluded", lambda o: _by_mode(o, o.totals.tax_total, True))
    _t("taxDeducted", _zero)
    _t("taxBreakdown", lambda o: [{"taxPercent": to_float(r), "value": mv(o, v)}
                                  for r, v in o.totals.tax_breakdown])
    _t("grandTotal", lambda o: mv(o, o.grand_total))

    # ---- lines (obj is a LineView)
    def _l(name: str, fn: Callable[..., Any]) -> None:
        line_t.set_field(name, fn)

    _l("id", lambda v, _i: v.line.id)
    _l("quantity", lambda v, _i: v.line.quantity)
    _l("cancelledQuantity", lambda v, _i: v.line.cancelled)
    _l("returnedQuantity", lambda v, _i: 0)
    _l("shippedQuantity", lambda v, _i: v.line.shipped)
    _l("productNumber", lambda v, _i: v.line.item.style)
    _l("size", lambda v, _i: v.line.item.size)
    _l("productName", lambda v, _i: v.line.item.name)
    _l("productVariantName", lambda v, _i: v.line.item.colour_name)
    _l("productBrand", lambda v, _i: "Seamline Sandbox")
    _l("comment", lambda v, _i: None)
    _l("taxPercent", lambda v, _i: to_float(v.line.tax_percent))
    _l("unitOriginalPrice", lambda v, _i, includingTax=True: mv(v.order, in_mode(
        v.order, v.line.unit_original_price, v.line.tax_percent, includingTax)))
    _l("unitPrice", lambda v, _i, includingTax=True: mv(v.order, in_mode(
        v.order, v.line.unit_price, v.line.tax_percent, includingTax)))
    _l("lineValue", lambda v, _i, includingTax=True: mv(v.order, in_mode(
        v.order, v.line.line_value, v.line.tax_percent, includingTax)))
    _l("discountPercent", lambda v, _i: to_float(
        Decimal(0) if not v.line.unit_original_price else
        ((1 - v.line.unit_price / v.line.unit_original_price) * HUNDRED).quantize(
            Decimal("0.01"))))
    _l("hasAnyDiscount", lambda v, _i: v.line.unit_price < v.line.unit_original_price)
    _l("product", lambda v, _i: _product(v.line.item))
    _l("productVariant", lambda v, _i: _variant(v.line.item))
    _l("productSize", lambda v, _i: v.line.item)

    # ---- shipments (obj is a ShipmentRec)
    def _s(name: str, fn: Callable[..., Any]) -> None:
        ship_t.set_field(name, fn)

    for gql, attr in (("isGoodToGo", "is_good_to_go"), ("isShipped", "is_shipped"),
                      ("isPaid", "is_paid"), ("isCaptured", "is_captured"),
                      ("createdAt", "created_at"), ("updatedAt", "updated_at"),
                      ("shippedAt", "shipped_at"), ("paidAt", "paid_at"),
                      ("capturedAt", "captured_at"), ("numberOfPackages", "packages"),
                      ("trackingNumber", "tracking"), ("returnTrackingNumber",
                                                       "return_tracking"),
                      ("additionalMessage", "additional_message"),
                      ("externalId", "external_id")):
        _s(gql, lambda s, _i, attr=attr: getattr(s, attr))
    _s("carrierInformation", lambda s, _i: None if s.carrier is None and s.service is None
       else {"carrierName": s.carrier, "serviceName": s.service})
    _s("order", lambda s, info: ctx_state(info).orders[s.order_number])

    @ship_t.field("grandTotal")
    def _ship_total(s: ShipmentRec, info: Info,
                    includingTax: bool = True) -> MV:
        st = ctx_state(info)
        o = st.orders[s.order_number]
        total = sum((in_mode(o, o.line(lid).unit_price * qty, o.line(lid).tax_percent,
                             includingTax) for lid, qty in s.lines), Decimal(0))
        return mv(o, total)


    @ship_t.field("lines")
    def _ship_lines(s: ShipmentRec, info: Info) -> list[dict[str, Any]]:
        o = ctx_state(info).orders[s.order_number]
        out = []
        for n, (lid, qty) in enumerate(s.lines):
            ln = o.line(lid)
            out.append({"id": s.id * 1000 + n + 1, "quantity": qty, "orderLine":
                        LineView(o, ln), "_o": o, "_ln": ln})
        return out

    ship_line_t = ObjectType("ShipmentLine")
    ship_line_t.set_field("lineValue", lambda d, _i, includingTax=True: mv(d["_o"], in_mode(
        d["_o"], d["_ln"].unit_price * d["quantity"], d["_ln"].tax_percent, includingTax)))

    # ---- mutations
    bind_mutations(mutation, need, payload, mv)

    sdl = load_schema_from_path(str(SCHEMA_PATH))
    return make_executable_schema(
        sdl, [query, mutation, order_iface, dtc, line_t, line_iface, money_t, totals_t,
              ship_iface, ship_t, ship_line_t, stock_t, size_t, wh_t, event_t, discount_iface,
              event_obj, payload_iface, datetime_scalar])
