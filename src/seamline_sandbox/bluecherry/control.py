"""The control API under ``/_sandbox`` (JSON; no auth unless the app was given a
``control_token``, then header ``X-Sandbox-Token``).

- ``GET /_sandbox/state``: counts, the latest ATS cycle, the fault plan, the knobs.
- ``GET /_sandbox/orders[?external_reference=]``: every order in the sandbox (all customers) and
  ``external_reference_counts`` (duplicates are counted over the whole sandbox).
- ``POST /_sandbox/ats/cycle`` ``{"lag_seconds"?}``: run an ATS cycle now.
- ``POST /_sandbox/warehouse/run`` ``{"orders"?: N, "order_nos"?: [...],
  "partial_probability"?, "short_probability"?, "pick_only"?, "seed"?}``: pick, ship, invoice.
- ``POST /_sandbox/orders/{order_no}/edit`` ``{"login", "lines"?: [{"line_no", "quantity"?,
  "unit_price"?, "discount"?}], "warehouse"?, "hold"?, "ship_via"?, "ship_to"?: {address
  fields}, "cancel"?: [{"line_no", "quantity"}]}``: a person's edit (``updated_by:
  user:<login>``, ``updated_at`` now: listed by ``GET /sales-orders?updated_since=``, which pages
  by cursor in ``(updated_at, seq)`` order).
- ``POST /_sandbox/stock`` ``{"sku", "warehouse", "on_hand"}``: set physical stock.
- ``POST /_sandbox/orders/keyed`` ``{"customer", "warehouse", "lines": [{"sku", "quantity"}],
  "login"?}``: a person keys an order into BlueCherry (wholesale demand between cycles).
- ``POST /_sandbox/faults`` ``{"faults": [{"kind", "count"?, "match"?, "retry_after"?,
  "delay_s"?}]}`` (or one fault as the body): the next ``count`` requests whose operation matches
  ``match`` (fnmatch; absent = all) fail. Kinds (``seamline_sandbox.faults``): ``429``, ``500``,
  ``503``, ``timeout``, ``latency``, ``commit_then_drop``; operations in ``bluecherry/faults.py``.
- ``POST /_sandbox/faults/rates`` ``{"rates": {kind: p}, "match"?, "delay_s"?, "retry_after"?,
  "seed"?}``: random faults.
- ``DELETE /_sandbox/faults``: clear planned faults, rates and latency.
- ``POST /_sandbox/latency`` ``{"seconds", "operation"?}``: fixed added latency.
- ``POST /_sandbox/rate-limit`` ``{"per_second": n | null, "burst"?}``: over it, 429 +
  ``Retry-After``.
- ``POST /_sandbox/schedule`` ``{"ats_cycle_seconds"?, "ats_lag_seconds"?,
  "warehouse_seconds"?, "warehouse"?: {run options}}``: periodic runs (null = on command only).
- ``POST /_sandbox/reset`` ``{"seed"?}``: back to the seeded world; faults and limits cleared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from seamline_sandbox.bluecherry import warehouse
from seamline_sandbox.bluecherry.state import ApiError
from seamline_sandbox.bluecherry.web import SandboxRuntime, error_response, json_body

__all__ = ["routes"]

Body = dict[str, Any]
ControlHandler = Callable[[SandboxRuntime, Body, Request], Any]


def _wrap(fn: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        rt: SandboxRuntime = request.app.state.sandbox
        rt.ensure_scheduler()
        if rt.control_token and request.headers.get("x-sandbox-token") != rt.control_token:
            return error_response(ApiError(401, "UNAUTHORIZED", "X-Sandbox-Token required"))
        try:
            body: Body = {}
            if request.method in ("POST", "PUT"):
                raw = await json_body(request, rt) if await request.body() else {}
                if raw is None:
                    raw = {}
                if not isinstance(raw, dict):
                    raise ApiError(422, "MALFORMED", "the body must be a JSON object")
                body = raw
            result = fn(rt, body, request)
        except ApiError as exc:
            return error_response(exc)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            return error_response(ApiError(422, "MALFORMED", f"bad control call: {exc!r}"[:300]))
        return JSONResponse(result)

    return endpoint


def state(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    return {**rt.state.summary(), "faults": rt.faults.snapshot(), "latency": dict(rt.latency),
            "rate_limit": rt.limiter.per_second,
            "schedule": {"ats_cycle_seconds": rt.ats_cycle_seconds,
                         "ats_lag_seconds": rt.ats_lag_seconds,
                         "warehouse_seconds": rt.warehouse_seconds}}


def orders(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    ext = request.query_params.get("external_reference")
    rows = [o for o in rt.state.orders if ext is None or o.external_reference == ext]
    return {"count": len(rows), "orders": [o.to_dict() for o in rows],
            "external_reference_counts": rt.state.external_reference_counts()}


def ats_cycle(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    lag = float(body.get("lag_seconds", rt.ats_lag_seconds))
    cycle = rt.state.ats.run_cycle(rt.state, lag_seconds=lag)
    return {"cycle": cycle.to_dict(), "changed": len(cycle.changed)}


def keyed_order(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    try:
        lines = [(str(x["sku"]), int(x["quantity"])) for x in body["lines"]]
        order = rt.state.key_in_order(customer=str(body["customer"]),
                                      warehouse=str(body["warehouse"]), lines=lines,
                                      login=str(body.get("login", "sales")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(422, "MALFORMED", f"customer, warehouse and lines are required: {exc}"
                       ) from None
    return order.to_dict()


def warehouse_run(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    allowed = {"orders", "order_nos", "partial_probability", "short_probability", "pick_only",
               "seed"}
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(422, "MALFORMED", f"unknown fields {sorted(unknown)}")
    return warehouse.run(
        rt.state,
        orders=None if body.get("orders") is None else int(body["orders"]),
        order_nos=body.get("order_nos"),
        partial_probability=float(body.get("partial_probability", 0.0)),
        short_probability=float(body.get("short_probability", 0.0)),
        pick_only=bool(body.get("pick_only", False)),
        seed=None if body.get("seed") is None else int(body["seed"]),
    )


def edit(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    login = body.get("login", "sandbox.user")
    if not isinstance(login, str) or not login:
        raise ApiError(422, "MALFORMED", "login must be a string")
    order = rt.state.edit_order(request.path_params["order_no"], login=login,
                                lines=body.get("lines"), warehouse=body.get("warehouse"),
                                hold=body.get("hold"), ship_via=body.get("ship_via"),
                                ship_to=body.get("ship_to"), cancel=body.get("cancel"))
    return order.to_dict()


def stock(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    sku, wh, qty = str(body["sku"]), str(body["warehouse"]), int(body["on_hand"])
    if (sku, wh) not in rt.state.on_hand:
        raise ApiError(422, "UNKNOWN_SKU", f"no SKU {sku!r} in {wh!r}")
    rt.state.on_hand[(sku, wh)] = qty
    return {"sku": sku, "warehouse": wh, "on_hand": qty}


def _match(value: Any) -> str | None:
    return None if value in (None, "", "*") else str(value)


def faults_add(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    items = body.get("faults")
    if items is None:
        items = [body]
    for f in items:
        rt.faults.add(str(f["kind"]), int(f.get("count", 1)),
                      match=_match(f.get("match", f.get("operation"))),
                      retry_after=float(f.get("retry_after", 1)),
                      delay_s=float(f.get("delay_s") or f.get("seconds") or 0.0))
    return rt.faults.snapshot()


def faults_rates(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    rates = {str(k): float(v) for k, v in dict(body.get("rates", {})).items()}
    rt.faults.set_rates(rates, None if body.get("seed") is None else int(body["seed"]),
                        match=_match(body.get("match", body.get("operation"))),
                        retry_after=float(body.get("retry_after", 1)),
                        delay_s=float(body.get("delay_s") or body.get("seconds") or 0.0))
    return rt.faults.snapshot()


def faults_clear(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    rt.faults.clear()
    rt.latency.clear()
    return rt.faults.snapshot()


def latency(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    seconds = float(body.get("seconds", 0.0))
    if seconds < 0:
        raise ApiError(422, "MALFORMED", "seconds must be ≥ 0")
    rt.latency[str(body.get("operation", "*"))] = seconds
    return {"latency": dict(rt.latency)}


def rate_limit(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    per_second = body.get("per_second")
    rt.limiter.configure(None if per_second is None else float(per_second),
                         None if body.get("burst") is None else int(body["burst"]))
    return {"per_second": rt.limiter.per_second, "burst": rt.limiter.burst}


def schedule(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    if "ats_cycle_seconds" in body:
        v = body["ats_cycle_seconds"]
        rt.ats_cycle_seconds = None if v is None else float(v)
    if "ats_lag_seconds" in body:
        rt.ats_lag_seconds = float(body["ats_lag_seconds"])
    if "warehouse_seconds" in body:
        v = body["warehouse_seconds"]
        rt.warehouse_seconds = None if v is None else float(v)
    if "warehouse" in body:
        rt.warehouse_options = dict(body["warehouse"])
    return {"ats_cycle_seconds": rt.ats_cycle_seconds, "ats_lag_seconds": rt.ats_lag_seconds,
            "warehouse_seconds": rt.warehouse_seconds, "warehouse": rt.warehouse_options}


def reset(rt: SandboxRuntime, body: Body, request: Request) -> Any:
    seed = body.get("seed")
    rt.state.reset(None if seed is None else int(seed))
    rt.faults.clear()
    rt.latency.clear()
    rt.limiter.configure(None)
    return rt.state.summary()


def routes() -> list[Route]:
    p = "/_sandbox"
    return [
        Route(f"{p}/state", _wrap(state), methods=["GET"]),
        Route(f"{p}/orders", _wrap(orders), methods=["GET"]),
        Route(f"{p}/ats/cycle", _wrap(ats_cycle), methods=["POST"]),
        Route(f"{p}/warehouse/run", _wrap(warehouse_run), methods=["POST"]),
        Route(f"{p}/orders/keyed", _wrap(keyed_order), methods=["POST"]),
        Route(f"{p}/orders/{{order_no}}/edit", _wrap(edit), methods=["POST"]),
        Route(f"{p}/stock", _wrap(stock), methods=["POST"]),
        Route(f"{p}/faults", _wrap(faults_add), methods=["POST"]),
        Route(f"{p}/faults/rates", _wrap(faults_rates), methods=["POST"]),
        Route(f"{p}/faults", _wrap(faults_clear), methods=["DELETE"]),
        Route(f"{p}/latency", _wrap(latency), methods=["POST"]),
        Route(f"{p}/rate-limit", _wrap(rate_limit), methods=["POST"]),
        Route(f"{p}/schedule", _wrap(schedule), methods=["POST"]),
        Route(f"{p}/reset", _wrap(reset), methods=["POST"]),
    ]

