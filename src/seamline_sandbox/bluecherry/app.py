"""The BlueCherry sandbox as an ASGI app (Starlette): the REST contract under ``/api/v1`` and a
control API under ``/_sandbox``.

``create_app(seed=1, api_key="sandbox-bluecherry-key", ...)`` returns the app; its state object is
``app.state.sandbox`` (a :class:`SandboxRuntime`: ``.state`` is the
:class:`~seamline_sandbox.bluecherry.state.BlueCherryState`, ``.faults`` the
:class:`~seamline_sandbox.faults.FaultPlan` (shared with the Centra sandbox), ``.limiter``
the rate limiter).

Starlette rather than FastAPI routes: the contract's error envelope with coded details for every
problem, money kept as strings and hand-checked bodies leave nothing for FastAPI's model layer to
do, and skipping it keeps order creation fast (the benchmark measures it).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seamline_sandbox.bluecherry import control, finance
from seamline_sandbox.bluecherry.faults import RateLimiter
from seamline_sandbox.bluecherry.state import ApiError, BlueCherryState, utcnow
from seamline_sandbox.bluecherry.validation import validate_order
from seamline_sandbox.bluecherry.web import (
    Handler,
    SandboxRuntime,
    api,
    decode_cursor,
    encode_cursor,
    error_response,
    json_body,
    ok,
    page_size_of,
    paged,
    timestamp_param,
)
from seamline_sandbox.faults import FaultPlan

__all__ = ["DEFAULT_API_KEY", "SandboxRuntime", "create_app"]

DEFAULT_API_KEY = "sandbox-bluecherry-key"
BASE = "/api/v1"


# -- master data ----------------------------------------------------------------------------------


def master_handler(kind: str) -> Handler:
    async def handler(request: Request, rt: SandboxRuntime, who: str) -> Response:
        return ok(paged(rt.state.master_lists()[kind], request, kind))

    return handler


async def list_skus(request: Request, rt: SandboxRuntime, who: str) -> Response:
    since = timestamp_param(request, "updated_since")
    st = rt.state
    skus = st.sku_order if since is None else [
        s for s in st.sku_order if st.sku_updated_at[s] >= since]
    page = paged(skus, request, "skus")
    page["items"] = [st.sku_dict(s) for s in page["items"]]
    return ok(page)


# -- sales orders ---------------------------------------------------------------------------------


async def create_order(request: Request, rt: SandboxRuntime, who: str) -> Response:
    body = await json_body(request, rt)
    order, details = validate_order(body, rt.state.master)
    if order is None:
        codes = {d["code"] for d in details}
        code = details[0]["code"] if len(codes) == 1 else "VALIDATION_FAILED"
        raise ApiError(422, code, f"the sales order has {len(details)} problem(s)", details)
    created = rt.state.create_order(order, by=who)
    return ok(created.to_dict(), 201)


async def get_order(request: Request, rt: SandboxRuntime, who: str) -> Response:
    return ok(rt.state.get_order(request.path_params["order_no"]).to_dict())


async def lookup_orders(request: Request, rt: SandboxRuntime, who: str) -> Response:
    st = rt.state
    q = request.query_params
    ext = q.get("external_reference")
    po = q.get("customer_po")
    customer = q.get("customer")
    since = timestamp_param(request, "updated_since")
    if ext is not None:
        found = st.by_ext_ref.get(ext)
        orders = [found] if found else []
        return ok({"items": [o.to_dict() for o in orders], "next_cursor": None})
    if po is not None:
        if customer:
            found = st.by_po.get((customer, po))
            orders = [found] if found else []
        else:
            orders = [o for o in st.orders if o.customer_po == po]
        return ok({"items": [o.to_dict() for o in orders], "next_cursor": None})
    size = page_size_of(request)
    if since is None:
        page = paged(st.orders, request, "orders")
        page["items"] = [o.to_dict() for o in page["items"]]
        return ok(page)
    # changed since a time: ordered by (updated_at, seq); the cursor is the last key returned
    cursor = q.get("cursor")
    after: tuple[datetime, int] | None = None
    if cursor:
        value = decode_cursor(cursor)
        if not (isinstance(value, list) and len(value) == 3 and value[0] == "updated"
                and isinstance(value[1], str) and isinstance(value[2], int)):
            raise ApiError(422, "BAD_CURSOR", "the cursor is not one this list issued")
        try:
            after = (datetime.fromisoformat(value[1]), value[2])
        except ValueError as exc:
            raise ApiError(422, "BAD_CURSOR", "the cursor is not one this list issued") from exc
        if after[0].tzinfo is None:
            raise ApiError(422, "BAD_CURSOR", "the cursor is not one this list issued")
    rows = sorted(((o.updated_at, o.seq, o) for o in st.orders if o.updated_at >= since),
                  key=lambda r: (r[0], r[1]))
    if after is not None:
        rows = [r for r in rows if (r[0], r[1]) > after]
    chunk = rows[:size]
    next_cursor = None
    if len(rows) > size:
        last = chunk[-1]
        next_cursor = encode_cursor(["updated", last[0].isoformat(), last[1]])
    return ok({"items": [r[2].to_dict() for r in chunk], "next_cursor": next_cursor})


async def cancel_order(request: Request, rt: SandboxRuntime, who: str) -> Response:
    body = await json_body(request, rt)
    status, result = rt.state.cancel(request.path_params["order_no"], body, by=who)
    return ok(result, status)


# -- inventory ------------------------------------------------------------------------------------


async def get_ats(request: Request, rt: SandboxRuntime, who: str) -> Response:
    book = rt.state.ats
    latest = book.latest
    assert latest is not None
    q = request.query_params
    wh = q.get("warehouse") or None
    if wh is not None and wh not in rt.state.master.warehouses:
        raise ApiError(422, "UNKNOWN_WAREHOUSE", f"no warehouse {wh[:20]!r}",
                       [{"field": "warehouse", "code": "UNKNOWN_WAREHOUSE", "message": "unknown"}])
    raw_since = q.get("changed_since_cycle")
    since: int | None = None
    if raw_since not in (None, ""):
        assert raw_since is not None
        if not (raw_since.isascii() and raw_since.isdigit()) or len(raw_since) > 18:
            raise ApiError(422, "MALFORMED", "changed_since_cycle must be a cycle id",
                           [{"field": "changed_since_cycle", "code": "MALFORMED",
                             "message": "not an integer"}])
        since = int(raw_since)
    size = page_size_of(request)
    cycle = latest
    offset = 0
    cursor = q.get("cursor")
    if cursor:
        value = decode_cursor(cursor)
        if not (isinstance(value, list) and len(value) == 3 and value[0] == "ats"
                and isinstance(value[1], int) and isinstance(value[2], int)):
            raise ApiError(422, "BAD_CURSOR", "the cursor is not one this list issued")
        pinned = book.cycles.get(value[1])
        if pinned is None:
            raise ApiError(410, "CURSOR_EXPIRED", "that cycle is no longer kept; start again")
        cycle, offset = pinned, max(value[2], 0)
    keys = cycle.keys
    if since is not None:
        changed = book.changed_since(since, cycle.id)
        keys = [k for k in keys if k in changed]
    if wh is not None:
        keys = [k for k in keys if k[0] == wh]
    chunk = keys[offset:offset + size]
    items = []
    upc_by_sku = rt.state.master.upc_by_sku
    for k in chunk:
        on_hand, allocated, demand, ats = cycle.figures[k]
        changed_at = book.changed_at.get(k, cycle.published_at)
        items.append({"sku": k[1], "upc": upc_by_sku[k[1]], "warehouse": k[0],
                      "on_hand": on_hand, "allocated": allocated, "open_demand": demand,
                      "ats": ats, "updated_at": min(changed_at, cycle.published_at).isoformat(),
                      "updated_by": "system:ats"})
    end = offset + len(chunk)
    return ok({"cycle": cycle.to_dict(), "items": items,
               "next_cursor": encode_cursor(["ats", cycle.id, end]) if end < len(keys) else None})


# -- app ------------------------------------------------------------------------------------------


def create_app(
    *,
    seed: int = 1,
    api_key: str = DEFAULT_API_KEY,
    key_name: str = "seamline",
    extra_api_keys: dict[str, str] | None = None,
    auth_header: str = "Authorization",
    auth_scheme: str = "Bearer",
    alt_auth_headers: tuple[str, ...] = ("Ocp-Apim-Subscription-Key",),
    rate_limit: float | None = None,
    rate_burst: int | None = None,
    max_body_bytes: int = 1_000_000,
    hold_seconds: float = 30.0,
    ats_cycle_seconds: float | None = None,
    ats_lag_seconds: float = 0.0,
    warehouse_seconds: float | None = None,
    warehouse_options: dict[str, Any] | None = None,
    control_token: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    styles: int = 40,
) -> Starlette:
    """The BlueCherry sandbox app; ``app.state.sandbox`` is its :class:`SandboxRuntime`."""
    keys = {api_key: key_name, **(extra_api_keys or {})}
    runtime = SandboxRuntime(
        state=BlueCherryState(seed=seed, clock=clock, key_names=keys, styles=styles),
        faults=FaultPlan(),
        limiter=RateLimiter(rate_limit, rate_burst),
        api_keys=keys,
        auth_header=auth_header,
        auth_scheme=auth_scheme,
        alt_auth_headers=alt_auth_headers,
        max_body_bytes=max_body_bytes,
        hold_seconds=hold_seconds,
        control_token=control_token,
        ats_cycle_seconds=ats_cycle_seconds,
        ats_lag_seconds=ats_lag_seconds,
        warehouse_seconds=warehouse_seconds,
        warehouse_options=dict(warehouse_options or {}),
    )
    routes = [
        *[Route(f"{BASE}/{kind}", api("master_data", master_handler(kind)), methods=["GET"])
          for kind in ("divisions", "warehouses", "customers", "ship-vias", "order-types",
                       "terms", "seasons")],
        Route(f"{BASE}/skus", api("skus", list_skus), methods=["GET"]),
        Route(f"{BASE}/sales-orders", api("create_order", create_order), methods=["POST"]),
        Route(f"{BASE}/sales-orders", api("lookup_orders", lookup_orders), methods=["GET"]),
        Route(f"{BASE}/sales-orders/{{order_no}}", api("get_order", get_order), methods=["GET"]),
        Route(f"{BASE}/sales-orders/{{order_no}}/cancel", api("cancel_order", cancel_order),
              methods=["POST"]),
        Route(f"{BASE}/inventory/ats", api("ats", get_ats), methods=["GET"]),
        Route(f"{BASE}/shipments", api("shipments", finance.list_shipments), methods=["GET"]),
        Route(f"{BASE}/invoices", api("invoices", finance.list_invoices), methods=["GET"]),
        Route(f"{BASE}/cash-receipts", api("cash_receipt", finance.create_receipt),
              methods=["POST"]),
        Route(f"{BASE}/cash-receipts", api("list_cash_receipts", finance.list_receipts),
              methods=["GET"]),
        Route(f"{BASE}/credit-memos", api("credit_memo", finance.create_credit_memo),
              methods=["POST"]),
        Route(f"{BASE}/credit-memos", api("list_credit_memos", finance.list_credit_memos),
              methods=["GET"]),
        *control.routes(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime.ensure_scheduler()
        try:
            yield
        finally:
            runtime.stop()

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _not_allowed})
    app.state.sandbox = runtime
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(404, "NOT_FOUND", f"no route {request.url.path[:100]}"))


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(405, "METHOD_NOT_ALLOWED", f"{request.method} not allowed"))
