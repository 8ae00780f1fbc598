"""Resolvers binding ``schema.graphql`` (Centra's published shapes) to :class:`CentraState`.

ariadne, schema-first. The SDL is Centra's as published (see the header of ``schema.graphql``);
what the published schema has no field for (the shipment line → order line link, the order's
handling fee and tax exemption, sandbox controls) stays in the state and on the control API.
"""

from __future__ import annotations

import base64
import heapq
import json
import zlib
from collections.abc import Callable, Iterable
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
from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    IntValueNode,
    StringValueNode,
)
from graphql import GraphQLResolveInfo as _Info

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

__all__ = ["SCHEMA_PATH", "build_schema", "hide_fields", "php_date", "to_float"]

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
HUNDRED = Decimal(100)
CURRENCY_IDS = {"SEK": 1, "EUR": 2, "GBP": 3, "JPY": 4, "USD": 5, "NOK": 6}
CURRENCY_NAMES = {"SEK": "Swedish krona", "EUR": "Euro", "GBP": "Pound sterling",
                  "JPY": "Japanese yen", "USD": "US dollar", "NOK": "Norwegian krone"}
BASE_CURRENCY = "SEK"
STORE = {"id": 1, "name": "Retail", "type": "DIRECT_TO_CONSUMER"}
BRAND = {"id": 1, "name": "Seamline Sandbox"}
EVERY_CHANGE = ["CREATED", "UPDATED", "DELETED", "COMPLETED", "DEPENDENT_DATA_CHANGED"]


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
class ShipmentLineView:
    id: int
    quantity: int
    order: OrderRec
    line: LineRec


@dataclass(frozen=True, slots=True)
class StockView:
    state: CentraState
    warehouse: int
    item: CatalogueItem


def currency_obj(code: str) -> dict[str, Any]:
    return {"id": CURRENCY_IDS.get(code, 99), "code": code,
            "name": CURRENCY_NAMES.get(code, code), "isBase": code == BASE_CURRENCY}


def mv(o: OrderRec, amount: Decimal) -> MV:
    return MV(q(amount, o.currency), o.currency, o.market.conversion_rate)


def tax_in(o: OrderRec, amount: Decimal, rate: Decimal) -> Decimal:
    """The tax of a price-mode amount at ``rate``: inside it (VAT) or on top (sales tax)."""
    if o.market.prices_include_tax:
        return q(amount * rate / (HUNDRED + rate), o.currency)
    return q(amount * rate / HUNDRED, o.currency)


def in_mode(o: OrderRec, amount: Decimal, rate: Decimal, including_tax: bool) -> Decimal:
    """A price-mode amount with or without its tax; the two differ by exactly its tax."""
    if o.market.prices_include_tax:
        return amount if including_tax else amount - tax_in(o, amount, rate)
    return amount + tax_in(o, amount, rate) if including_tax else amount


# -- context helpers ---------------------------------------------------------------------------

def ctx_state(info: Info) -> CentraState:
    state: CentraState = info.context["state"]
    return state


def integration_of(info: Info) -> str:
    token: TokenRec = info.context["token"]
    return token.integration


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
    pg = 1 if page is None else page
    if pg < 1:
        raise GraphQLError("Page must be 1 or more", extensions={"category": "validation"})
    return items[(pg - 1) * lim: pg * lim]


def payload(errors: list[SandboxError] | None = None,
            warnings: list[str | tuple[str, list[str]]] | None = None,
            **fields: Any) -> dict[str, Any]:
    """A mutation payload; a warning is a message, or ``(message, path)``."""
    return {
        **fields,
        "userErrors": [{"message": e.message, "path": e.path} for e in errors or []],
        "userWarnings": [{"message": w, "path": None} if isinstance(w, str)
                         else {"message": w[0], "path": w[1]} for w in warnings or []],
    }


# -- scalars -----------------------------------------------------------------------------------

datetime_scalar = ScalarType("DateTimeTz")
int64_scalar = ScalarType("Int64")

_PHP_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PHP_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


def _offset(dt: datetime, colon: bool) -> str:
    off = dt.utcoffset()
    secs = int(off.total_seconds()) if off is not None else 0
    sign = "-" if secs < 0 else "+"
    hh, mm = divmod(abs(secs) // 60, 60)
    return f"{sign}{hh:02d}:{mm:02d}" if colon else f"{sign}{hh:02d}{mm:02d}"


def _offset_seconds(dt: datetime) -> str:
    off = dt.utcoffset()
    return str(int(off.total_seconds())) if off is not None else "0"


def php_date(dt: datetime, fmt: str) -> str:
    """``dt`` formatted with a PHP ``date()`` format (the ``format:`` argument of Centra's
    DateTimeTz fields). Written here because no Python library formats PHP date strings; the
    common characters are supported, ``\\`` escapes, anything else is copied."""
    out: list[str] = []
    chars = iter(fmt)
    for ch in chars:
        if ch == "\\":
            out.append(next(chars, ""))
            continue
        out.append({
            "d": f"{dt.day:02d}", "j": str(dt.day), "D": _PHP_DAYS[dt.weekday()][:3],
            "l": _PHP_DAYS[dt.weekday()], "N": str(dt.isoweekday()),
            "w": str(dt.isoweekday() % 7), "z": str(dt.timetuple().tm_yday - 1),
            "W": f"{dt.isocalendar()[1]:02d}", "F": _PHP_MONTHS[dt.month - 1],
            "M": _PHP_MONTHS[dt.month - 1][:3], "m": f"{dt.month:02d}", "n": str(dt.month),
            "Y": str(dt.year), "y": f"{dt.year % 100:02d}", "a": "am" if dt.hour < 12 else "pm",
            "A": "AM" if dt.hour < 12 else "PM", "g": str(dt.hour % 12 or 12),
            "G": str(dt.hour), "h": f"{dt.hour % 12 or 12:02d}", "H": f"{dt.hour:02d}",
            "i": f"{dt.minute:02d}", "s": f"{dt.second:02d}", "u": f"{dt.microsecond:06d}",
            "v": f"{dt.microsecond // 1000:03d}", "e": dt.tzname() or "UTC",
            "T": dt.tzname() or "UTC", "O": _offset(dt, colon=False), "P": _offset(dt, colon=True),
            "Z": _offset_seconds(dt),
            "c": dt.isoformat(timespec="seconds"), "U": str(int(dt.timestamp())),
        }.get(ch, ch))
    return "".join(out)


def dt_out(value: datetime | None, format: str | None) -> datetime | str | None:
    """A DateTimeTz field's value: the datetime, or the string of its ``format:`` argument."""
    if value is None or format is None:
        return value
    return php_date(value.astimezone(UTC), format)


@datetime_scalar.serializer
def _serialize_dt(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
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


@int64_scalar.serializer
def _serialize_int64(value: Any) -> int:
    return int(value)


def _int64(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("Int64 must be an integer")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("Int64 out of range")
    return number


@int64_scalar.value_parser
def _parse_int64(value: Any) -> int:
    return _int64(value)


@int64_scalar.literal_parser
def _parse_int64_literal(ast: Any, _variables: Any = None) -> int:
    if not isinstance(ast, (IntValueNode, StringValueNode)):
        raise ValueError("Int64 must be an integer")
    return _int64(ast.value)


# -- order filtering and sorting ---------------------------------------------------------------

def _in_range(value: datetime, rng: dict[str, Any] | None) -> bool:
    if not rng:
        return True
    lo, hi = rng.get("from"), rng.get("to")
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def filter_orders(state: CentraState, where: dict[str, Any] | None,
                  integration: str | None = None) -> list[OrderRec]:
    w = where or {}
    out = []
    numbers = set(w["number"]) if w.get("number") is not None else None
    ids = set(w["id"]) if w.get("id") is not None else None
    statuses = set(w["status"]) if w.get("status") is not None else None
    markets = set(w["marketId"]) if w.get("marketId") is not None else None
    stores = set(w["storeId"]) if w.get("storeId") is not None else None
    customers = set(w["customerId"]) if w.get("customerId") is not None else None
    if w.get("externalId") is not None:
        found = (state.order_by_external_id(integration, x) for x in w["externalId"])
        by_external = {o.number for o in found if o is not None}
        numbers = by_external if numbers is None else numbers & by_external
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
        if markets is not None and o.market.id not in markets:
            continue
        if stores is not None and o.store_id not in stores:
            continue
        if customers is not None and customer_id(o) not in customers:
            continue
        if flags and any(getattr(o, a) != v for a, v in flags):
            continue
        if not (_in_range(o.created_at, w.get("createdAt"))
                and _in_range(o.updated_at, w.get("updatedAt"))
                and _in_range(o.order_date, w.get("orderDate"))):
            continue
        out.append(o)
    return out


def customer_id(o: OrderRec) -> int:
    return 10_000 + o.number


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


# -- hiding fields (tests: a Centra that lacks a field) -----------------------------------------

def hide_fields(schema: GraphQLSchema, names: Iterable[str]) -> None:
    """Remove ``Type.field`` entries from a freshly built schema, before its first use.

    A field of an interface goes from the interface and every type implementing it (a real
    Centra without the field lacks it everywhere); naming a field an object type has from an
    interface is refused (hide it on the interface). Input object fields can be hidden too.
    Unknown names are refused, so a typo does not pass silently.
    """
    for name in names:
        type_name, _, field_name = name.partition(".")
        t = schema.type_map.get(type_name)
        if not isinstance(t, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)) \
                or field_name not in t.fields:
            raise ValueError(f"no field {name!r} in the sandbox's schema")
        targets: list[GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType] = [t]
        if isinstance(t, GraphQLInterfaceType):
            impl = schema.get_implementations(t)
            targets += [*impl.objects, *impl.interfaces]
        elif isinstance(t, GraphQLObjectType):
            owner = next((i for i in t.interfaces if field_name in i.fields), None)
            if owner is not None:
                raise ValueError(f"{name} comes from interface {owner.name}: hide "
                                 f"{owner.name}.{field_name}")
        for target in targets:
            target.fields.pop(field_name, None)


# -- schema ------------------------------------------------------------------------------------

def build_schema(hidden: Iterable[str] = ()) -> GraphQLSchema:
    """The executable schema; ``hidden`` names ``Type.field`` entries it must not serve."""
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
    ship_line_t = ObjectType("ShipmentLine")
    stock_t = ObjectType("Stock")
    size_t = ObjectType("ProductSize")
    product_t = ObjectType("Product")
    variant_t = ObjectType("ProductVariant")
    event_t = ObjectType("Event")
    history_t = ObjectType("PaymentHistoryEntry")
    id_conv_t = ObjectType("IdConversionEntry")
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

    # ---- queries: orders
    @query.field("orders")
    def _orders(_: Any, info: Info, where: Any = None, sort: Any = None,
                limit: int | None = 20, page: int | None = 1) -> list[OrderRec]:
        need(info, "Order:read")
        check_limit(limit, "limit")
        st = ctx_state(info)
        items = sorted(filter_orders(st, where, integration_of(info)), key=sort_key(sort))
        return page_slice(items, limit, page)

    @query.field("orderConnection")
    def _order_connection(_: Any, info: Info, where: Any = None,  # noqa: PLR0917
                          sort: Any = None, first: int | None = None, after: str | None = None,
                          last: int | None = None, before: str | None = None) -> dict[str, Any]:
        need(info, "Order:read")
        check_limit(first, "first")
        check_limit(last, "last")
        key = sort_key(sort)
        keyed = [(key(o), o) for o in filter_orders(ctx_state(info), where,
                                                    integration_of(info))]
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

    # ---- queries: shipments, warehouses, markets, stores, currencies
    @query.field("shipments")
    def _shipments(_: Any, info: Info, where: Any = None, limit: int | None = 20,
                   page: int | None = 1) -> list[ShipmentRec]:
        need(info, "Shipment:read")
        w = where or {}
        out = []
        for s in ctx_state(info).shipments.values():
            if w.get("id") is not None and s.id not in w["id"]:
                continue
            if w.get("orderNumber") is not None and s.order_number not in w["orderNumber"]:
                continue
            if w.get("isShipped") is not None and s.is_shipped != w["isShipped"]:
                continue
            out.append(s)
        out.sort(key=lambda s: s.id)
        return page_slice(out, limit, page)

    def _wh(i: int) -> dict[str, Any]:
        return {"id": i, "name": CENTRA_WAREHOUSES.get(i, ("?", ""))[0]}

    @query.field("warehouses")
    def _warehouses(_: Any, info: Info, limit: int | None = 20,
                    page: int | None = 1) -> list[dict[str, Any]]:
        need(info, "Warehouse:read")
        return page_slice([_wh(i) for i in CENTRA_WAREHOUSES], limit, page)

    @query.field("markets")
    def _markets(_: Any, _info: Info, where: Any = None) -> list[dict[str, Any]]:
        w = where or {}
        if w.get("storeId") is not None and w["storeId"] != STORE["id"]:
            return []
        return [{"id": m.id, "name": m.name} for m in MARKETS
                if w.get("id") is None or m.id in w["id"]]

    @query.field("stores")
    def _stores(_: Any, _info: Info) -> list[dict[str, Any]]:
        return [dict(STORE)]

    @query.field("currencies")
    def _currencies(_: Any, _info: Info, where: Any = None) -> list[dict[str, Any]]:
        w = where or {}
        return [currency_obj(c) for c in CURRENCY_IDS
                if (w.get("isBase") is None or (c == BASE_CURRENCY) == w["isBase"])
                and (w.get("code") is None or c in w["code"])]

    # ---- queries: products and stock
    def _sizes_matching(st: CentraState, w: dict[str, Any]) -> list[CatalogueItem]:
        items = list(st.world.catalogue)
        if w.get("id") is not None:
            ids = set(w["id"])
            items = [i for i in items if i.size_id in ids]
        if w.get("SKU") is not None:
            skus = set(w["SKU"])
            items = [i for i in items if i.sku in skus]
        if w.get("EAN") is not None:
            eans = set(w["EAN"])
            items = [i for i in items if i.ean in eans]
        return items

    @query.field("productSizes")
    def _product_sizes(_: Any, info: Info, where: Any = None, limit: int | None = 20,
                       page: int | None = 1) -> list[CatalogueItem]:
        need(info, "Product:read")
        return page_slice(_sizes_matching(ctx_state(info), where or {}), limit, page)

    @query.field("products")
    def _products(_: Any, info: Info, limit: int | None = 20,
                  page: int | None = 1) -> list[dict[str, Any]]:
        need(info, "Product:read")
        seen: dict[int, CatalogueItem] = {}
        for it in ctx_state(info).world.catalogue:
            seen.setdefault(it.product_id, it)
        return page_slice([_product(it) for it in seen.values()], limit, page)

    def _product(it: CatalogueItem) -> dict[str, Any]:
        return {"id": it.product_id, "name": it.name, "productNumber": it.style}

    def _variant(it: CatalogueItem) -> dict[str, Any]:
        return {"id": it.variant_id, "name": it.colour_name, "product": _product(it)}

    @product_t.field("variants")
    def _product_variants(p: dict[str, Any], info: Info) -> list[dict[str, Any]]:
        seen: dict[int, CatalogueItem] = {}
        for it in ctx_state(info).world.catalogue:
            if it.product_id == p["id"]:
                seen.setdefault(it.variant_id, it)
        return [_variant(it) for it in seen.values()]

    variant_t.set_field("productSizes", lambda v, info: [
        it for it in ctx_state(info).world.catalogue if it.variant_id == v["id"]])

    stock_t.set_field("warehouse", lambda s, _i: _wh(s.warehouse))
    stock_t.set_field("productSize", lambda s, _i: s.item)

    def _inv(s: StockView) -> list[int]:
        return s.state.inventory.get((s.warehouse, s.item.size_id), [0, 0])

    for fname, fn in (
        ("physicalQuantity", lambda s: _inv(s)[0]),
        ("allocatedQuantity", lambda s: _inv(s)[1]),
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
    size_t.set_field("GTIN", lambda it, _i: it.ean)
    size_t.set_field("description", lambda it, _i: it.size)
    size_t.set_field("preorder", lambda it, _i: False)
    size_t.set_field("product", lambda it, _i: _product(it))
    size_t.set_field("productVariant", lambda it, _i: _variant(it))
    size_t.set_field("stock", lambda it, info, where=None: [
        StockView(ctx_state(info), wh, it) for wh in
        ((where or {}).get("warehouseId") or list(CENTRA_WAREHOUSES))
        if wh in CENTRA_WAREHOUSES])

    @size_t.field("stockTotals")
    def _stock_totals(it: CatalogueItem, info: Info) -> dict[str, int]:
        st = ctx_state(info)
        phys = sum(st.inventory.get((wh, it.size_id), [0, 0])[0] for wh in CENTRA_WAREHOUSES)
        alloc = sum(st.inventory.get((wh, it.size_id), [0, 0])[1] for wh in CENTRA_WAREHOUSES)
        return {"physicalQuantity": phys, "allocatedQuantity": alloc,
                "freeToAllocateQuantity": phys - alloc, "availableNowQuantity": phys - alloc,
                "availableQuantity": phys - alloc, "demandQuantity": 0,
                "unshippedQuantity": alloc, "incomingQuantity": 0,
                "linkedIncomingQuantity": 0, "unlinkedIncomingQuantity": 0}

    # ---- events, listeners, id conversions, rate limits
    @query.field("events")
    def _events(_: Any, info: Info, where: Any = None,
                limit: int | None = 200) -> list[Any]:
        need(info, "Event:read")
        check_limit(limit, "limit")
        st = ctx_state(info)
        w = where or {}
        integ = integration_of(info)
        out = [e for e in st.events if e.integration == integ
               and (w.get("objectType") is None or e.object_type in w["objectType"])
               and (w.get("changeType") is None or e.change_type in w["changeType"])
               and (w.get("storeId") is None or e.store_id in w["storeId"])
               and (w.get("marketId") is None or e.market_id in w["marketId"])]
        return out[:limit or 200]

    event_t.set_field("objectType", lambda e, _i: e.object_type)
    event_t.set_field("changeType", lambda e, _i: e.change_type)
    event_t.set_field("objectReference", lambda e, _i: e.reference)
    event_t.set_field("createdAt", lambda e, _i, format=None: dt_out(e.created_at, format))
    event_t.set_field("store", lambda e, _i: None if e.store_id is None else dict(STORE))
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
        ls = ctx_state(info).listeners.get(integration_of(info), {})
        return [{"objectType": t, "changeTypes": sorted(c) if c is not None else EVERY_CHANGE}
                for t, c in ls.items()]

    @query.field("idConversions")
    def _id_conversions(_: Any, info: Info, where: Any = None, limit: int | None = 20,
                        page: int | None = 1) -> list[Any]:
        need(info, "IdConversion:read")
        w = where or {}
        integ = integration_of(info)
        match = w.get("externalId") or {}
        out = [rec for rec in ctx_state(info).id_conversions.values()
               if rec.integration == integ
               and (w.get("id") is None or rec.id in w["id"])
               and (w.get("objectType") is None or rec.object_type in w["objectType"])
               and (w.get("internalId") is None or rec.internal_id in w["internalId"])
               and (match.get("equals") is None or rec.external_id == match["equals"])
               and (match.get("contains") is None or match["contains"] in rec.external_id)]
        out.sort(key=lambda rec: rec.id)
        return page_slice(out, limit, page)

    id_conv_t.set_field("externalId", lambda r, _i: r.external_id)
    id_conv_t.set_field("internalId", lambda r, _i: r.internal_id)
    id_conv_t.set_field("objectType", lambda r, _i: r.object_type)
    id_conv_t.set_field("integrationName", lambda r, _i: r.integration)

    @query.field("rateLimits")
    def _rate_limits(_: Any, info: Info) -> list[dict[str, Any]]:
        snap: list[dict[str, Any]] = info.context["limiter"].snapshot()
        return snap

    # ---- order fields (obj is the OrderRec)
    def _f(name: str, fn: Callable[..., Any]) -> None:
        dtc.set_field(name, fn)

    _f("isOnHold", lambda o, _i: o.is_on_hold)
    _f("isLocked", lambda o, _i: o.is_locked)
    _f("isWaitingForPayment", lambda o, _i: o.is_waiting_for_payment)
    _f("createdAt", lambda o, _i, format=None: dt_out(o.created_at, format))
    _f("updatedAt", lambda o, _i, format=None: dt_out(o.updated_at, format))
    _f("orderDate", lambda o, _i, format=None: dt_out(o.order_date, format))
    _f("store", lambda o, _i: dict(STORE))
    _f("market", lambda o, _i: {"id": o.market.id, "name": o.market.name})
    _f("pricelist", lambda o, _i: {"id": o.market.id, "name": f"{o.market.name} "
                                   f"{o.currency}"})
    _f("internalComment", lambda o, info: (need(info, "Order.internalComment:read"),
                                           o.internal_comment)[1])
    _f("userIP", lambda o, _i: None)
    _f("customer", lambda o, _i: {"id": customer_id(o), **o.customer})
    _f("shippingPriceGroup", lambda o, _i: {"shippingOption": {
        "id": zlib.crc32(o.shipping_option.encode()) % 1000, "name": o.shipping_option_name,
        "uri": o.shipping_option}})
    _f("paymentMethod", lambda o, _i: {"uri": o.payment_method, "plugin": o.payment_method})
    _f("grandTotal", lambda o, _i, includingTax=True: mv(
        o, o.grand_total if includingTax else o.grand_total - o.totals.tax_total))
    _f("totals", lambda o, _i: o)
    _f("lines", lambda o, _i, includeFullyCancelled=False, limit=20, page=1: page_slice(
        [LineView(o, ln) for ln in o.lines if includeFullyCancelled or ln.quantity > 0],
        limit, page))
    _f("discountsApplied", lambda o, _i: [
        {"value": mv(o, -amount), "date": o.created_at,
         "voucher": {"name": v.name, "code": v.code, "type": "CODE" if v.code else "AUTOMATIC"}}
        for v, amount in zip(o.vouchers, o.totals.voucher_values, strict=False)])
    _f("shipments", lambda o, info, limit=20, page=1: page_slice(
        [ctx_state(info).shipments[i] for i in sorted(o.shipment_ids)], limit, page))

    def _address(a: dict[str, str]) -> dict[str, Any]:
        country = next((m for m in MARKETS if m.country == a.get("country")), None)
        return {**a, "country": None if country is None else {
            "id": country.id, "name": country.name, "code": country.country},
            "state": None}

    _f("shippingAddress", lambda o, info: (need(info, "Order.shippingAddress:read"),
                                           _address(o.shipping_address))[1])
    _f("billingAddress", lambda o, info: (need(info, "Order.billingAddress:read"),
                                          _address(o.billing_address))[1])

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
    history_t.set_field("createdAt", lambda p, _i, format=None: dt_out(p["createdAt"], format))

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
    _t("handling", lambda o: mv(o, o.totals.handling))
    _t("shipping", lambda o: mv(o, o.totals.shipping))
    _t("shippingTaxAdded", lambda o: _by_mode(o, o.totals.shipping_tax, False))
    _t("shippingTaxIncluded", lambda o: _by_mode(o, o.totals.shipping_tax, True))
    _t("shippingTaxDeducted", _zero)
    _t("discounts", lambda o: mv(o, -o.totals.discount))
    _t("taxAdded", lambda o: _by_mode(o, o.totals.tax_total, False))
    _t("taxIncluded", lambda o: _by_mode(o, o.totals.tax_total, True))
    _t("taxDeducted", _zero)

    # ---- lines (obj is a LineView)
    def _l(name: str, fn: Callable[..., Any]) -> None:
        line_t.set_field(name, fn)

    _l("id", lambda v, _i: v.line.id)
    _l("quantity", lambda v, _i: v.line.quantity)
    _l("cancelledQuantity", lambda v, _i: v.line.cancelled)
    _l("returnedQuantity", lambda v, _i: 0)
    _l("productNumber", lambda v, _i: v.line.item.style)
    _l("size", lambda v, _i: v.line.item.size)
    _l("productName", lambda v, _i: v.line.item.name)
    _l("productVariantName", lambda v, _i: v.line.item.colour_name)
    _l("productBrand", lambda v, _i: BRAND["name"])
    _l("brand", lambda v, _i: dict(BRAND))
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
    _l("allocations", lambda v, _i: [] if v.line.quantity - v.line.shipped <= 0 else [
        {"id": v.line.id, "quantity": v.line.quantity - v.line.shipped,
         "warehouse": _wh(v.order.warehouse_id)}])

    # ---- shipments (obj is a ShipmentRec)
    def _s(name: str, fn: Callable[..., Any]) -> None:
        ship_t.set_field(name, fn)

    for gql, attr in (("isGoodToGo", "is_good_to_go"), ("isShipped", "is_shipped"),
                      ("isPaid", "is_paid"), ("isCaptured", "is_captured"),
                      ("trackingNumber", "tracking"), ("returnTrackingNumber",
                                                       "return_tracking"),
                      ("additionalMessage", "additional_message"),
                      ("externalId", "external_id")):
        _s(gql, lambda s, _i, attr=attr: getattr(s, attr))
    for gql, attr in (("createdAt", "created_at"), ("updatedAt", "updated_at"),
                      ("shippedAt", "shipped_at"), ("paidAt", "paid_at"),
                      ("capturedAt", "captured_at")):
        _s(gql, lambda s, _i, attr=attr, format=None: dt_out(getattr(s, attr), format))
    _s("numberOfPackages", lambda s, _i: s.packages or 0)
    _s("carrierInformation", lambda s, _i: None if s.carrier is None and s.service is None
       else {"carrierName": s.carrier, "serviceName": s.service})
    _s("order", lambda s, info: ctx_state(info).orders[s.order_number])
    _s("discountsApplied", lambda s, _i: [])
    _s("adminUser", lambda s, _i: None)
    _s("shipmentPlugin", lambda s, _i: None)
    _s("shippingAddress", lambda s, info: (need(info, "Order.shippingAddress:read"), _address(
        ctx_state(info).orders[s.order_number].shipping_address))[1])

    @ship_t.field("internalShippingCost")
    def _internal_cost(s: ShipmentRec, info: Info) -> MV | None:
        if s.internal_shipping_cost is None:
            return None
        amount, cur = s.internal_shipping_cost
        o = ctx_state(info).orders[s.order_number]
        return MV(amount, cur, o.market.conversion_rate if cur == o.currency else Decimal(1))

    @ship_t.field("grandTotal")
    def _ship_total(s: ShipmentRec, info: Info, includingTax: bool = True) -> MV:
        o = ctx_state(info).orders[s.order_number]
        total = sum((in_mode(o, o.line(lid).unit_price * qty, o.line(lid).tax_percent,
                             includingTax) for lid, qty in s.lines), Decimal(0))
        return mv(o, total)

    @ship_t.field("lines")
    def _ship_lines(s: ShipmentRec, info: Info) -> list[ShipmentLineView]:
        o = ctx_state(info).orders[s.order_number]
        return [ShipmentLineView(sl_id, qty, o, o.line(lid))
                for sl_id, (lid, qty) in zip(s.line_ids, s.lines, strict=True)]

    ship_line_t.set_field("lineValue", lambda v, _i, includingTax=True: mv(v.order, in_mode(
        v.order, v.line.unit_price * v.quantity, v.line.tax_percent, includingTax)))

    # ---- mutations
    bind_mutations(mutation, need, payload, mv)

    sdl = load_schema_from_path(str(SCHEMA_PATH))
    schema = make_executable_schema(
        sdl, [query, mutation, order_iface, dtc, line_t, line_iface, money_t, totals_t,
              ship_iface, ship_t, ship_line_t, stock_t, size_t, product_t, variant_t, event_t,
              history_t, id_conv_t, discount_iface, event_obj, payload_iface, datetime_scalar,
              int64_scalar])
    hide_fields(schema, hidden)
    return schema
