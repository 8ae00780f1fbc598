"""The Centra sandbox as an ASGI app: ``POST /graphql`` plus the ``/_sandbox/`` control API.

Request pipeline for ``/graphql``: authentication (Bearer token or ``graphql-access`` cookie;
unknown → 401) → JSON body (malformed → 400) → parse and validate (errors at HTTP 200, as PHP
GraphQL servers answer) → rate limits (→ 429 + ``Retry-After``) → injected faults → execution
under the state lock. Every answer carries ``extensions {complexity, permissionsUsed,
appVersion}``.

Commit-then-drop is faithful: the mutation is applied, then the TCP connection is aborted with
no bytes written (:func:`seamline_sandbox.faults.abort_connection`), which is what a client sees
when a proxy dies after the server committed. A ``timeout`` fault sleeps ``delay_s`` and then
aborts the same way without applying anything.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute,
    parse,
    validate,
)
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from seamline_sandbox.centra.control import ExplicitOrder, build_control_router
from seamline_sandbox.centra.ratelimit import RateLimiter
from seamline_sandbox.centra.resolvers import build_schema
from seamline_sandbox.centra.state import ALL_PERMISSIONS, CentraState, SandboxError, TokenRec
from seamline_sandbox.centra.webhooks import WebhookEmitter
from seamline_sandbox.faults import Fault, FaultKind, FaultPlan, abort_connection
from seamline_sandbox.generator import GeneratedOrder, VoucherSpec, line_for, make_order

__all__ = ["APP_VERSION", "CentraSandbox", "create_app"]

APP_VERSION = "v1.1.1-seamline-sandbox"
RAW_RECEIVE = "seamline.raw_receive"


@lru_cache(maxsize=1)
def _schema() -> GraphQLSchema:
    return build_schema()


Parsed = tuple[DocumentNode | None, tuple[dict[str, Any], ...]]


def _parser(schema: GraphQLSchema) -> Callable[[str], Parsed]:
    """A cached parse-and-validate against one schema (each sandbox may hide fields)."""

    @lru_cache(maxsize=512)
    def parse_and_validate(query: str) -> Parsed:
        try:
            doc = parse(query)
        except GraphQLError as exc:
            return None, (dict(exc.formatted),)
        except RecursionError:
            return None, ({"message": "Query is nested too deeply."},)
        errors = validate(schema, doc)
        return (None, tuple(dict(e.formatted) for e in errors)) if errors else (doc, ())

    return parse_and_validate


def _operation(doc: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in ops if o.name and o.name.value == name), None)
    return ops[0] if len(ops) == 1 else None


def complexity(doc: DocumentNode, op: OperationDefinitionNode,
               variables: dict[str, Any]) -> int:
    """1 per field; a nested list is multiplied by its ``limit``/``first`` (default 20). [I]

    ``freeToAllocateQuantity`` costs nothing, as Centra documents.
    """
    fragments = {d.name.value: d for d in doc.definitions if hasattr(d, "type_condition")
                 and hasattr(d, "name") and d.name is not None}

    def count(sel: SelectionSetNode | None, depth: int) -> int:
        if sel is None or depth > 30:
            return 0
        total = 0
        for node in sel.selections:
            if isinstance(node, FieldNode):
                if node.name.value == "freeToAllocateQuantity":
                    continue
                mult = 1
                limited = False
                for arg in node.arguments or ():
                    if arg.name.value in ("limit", "first", "last"):
                        v = getattr(arg.value, "value", None)
                        if v is None and hasattr(arg.value, "name"):
                            v = variables.get(arg.value.name.value)
                        try:
                            if v is not None:
                                mult, limited = max(1, min(200, int(v))), True
                        except (TypeError, ValueError):
                            mult = 1
                inner = count(node.selection_set, depth + 1)
                # A list asked for without a limit costs its default page (20).
                if node.selection_set is not None and not limited and node.name.value in (
                        "orders", "lines", "shipments", "stock", "productSizes", "events"):
                    mult = 20
                total += 1 + inner * mult
            elif isinstance(node, InlineFragmentNode):
                total += count(node.selection_set, depth + 1)
            elif isinstance(node, FragmentSpreadNode):
                frag = fragments.get(node.name.value)
                total += count(getattr(frag, "selection_set", None), depth + 1)
        return total

    return count(op.selection_set, 0)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    status_code=status, headers=headers, media_type="application/json")


def _errors(message: str, category: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"category": category}}]}


class CentraSandbox:
    """One sandbox instance: state, rate limits, faults, webhooks and the ASGI app."""

    def __init__(self, *, seed: int = 1, token: str = "sandbox-centra-token",  # noqa: S107
                 orders: int = 0, state: CentraState | None = None,
                 hide_fields: Iterable[str] = ()) -> None:
        self.state = state or CentraState(seed=seed, token=token)
        self.limiter = RateLimiter(clock=lambda: time.monotonic() + self.state.clock.offset)
        self.faults = FaultPlan()
        self.webhooks: WebhookEmitter | None = None
        self.state.event_hooks.append(self._on_event)
        self.hidden_fields: tuple[str, ...] = ()
        self.set_hidden_fields(hide_fields)
        if orders:
            self.state.generate(orders)
        self.api = self._build_api()

    def set_hidden_fields(self, names: Iterable[str]) -> None:
        """Serve the published schema without these ``Type.field`` entries (tests: a Centra
        lacking a field). Introspection stops listing them and a query selecting one gets the
        standard "Cannot query field ..." error. An empty list restores the full schema."""
        hidden = tuple(dict.fromkeys(names))
        self.schema = build_schema(hidden) if hidden else _schema()
        self.hidden_fields = hidden
        self._parse = _parser(self.schema)

    # -- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_RECEIVE] = receive
        await self.api(scope, receive, send)

    @property
    def app(self) -> CentraSandbox:
        return self

    def _on_event(self, ev: Any) -> None:
        if self.webhooks is None:
            return
        action = {"CREATED": "insert" if ev.object_type == "Order" else "create",
                  "UPDATED": "update", "COMPLETED": "shipped", "DELETED": "delete"}.get(
            ev.change_type, "update")
        self.webhooks.emit([{"type": ev.object_type.lower(), "action": action,
                             "date": ev.created_at.strftime("%Y-%m-%d %H:%M:%S.%f"),
                             "id": int(ev.reference) if ev.reference.isdigit()
                             else ev.reference}])

    # -- GraphQL -----------------------------------------------------------------------------

    def _token(self, request: Request) -> TokenRec | None:
        auth = request.headers.get("authorization", "")
        tok = auth[7:].strip() if auth[:7].lower() == "bearer " else \
            request.cookies.get("graphql-access", "")
        return self.state.tokens.get(tok) if tok else None

    async def graphql(self, request: Request) -> Response:
        token = self._token(request)
        ext: dict[str, Any] = {"complexity": 0, "permissionsUsed": [],
                               "appVersion": APP_VERSION}
        if token is None:
            return _json(401, {**_errors("Unauthorized: missing or invalid access token.",
                                         "authentication"), "extensions": ext})
        raw = await request.body()
        try:
            body = json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            return _json(400, {**_errors("Request body is not valid JSON.", "validation"),
                               "extensions": ext})
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _json(400, {**_errors("Body must be an object with a string 'query'.",
                                         "validation"), "extensions": ext})
        variables = body.get("variables") or {}
        op_name = body.get("operationName")
        if not isinstance(variables, dict) or not (op_name is None or isinstance(op_name, str)):
            return _json(400, {**_errors("'variables' must be an object and 'operationName' "
                                         "a string.", "validation"), "extensions": ext})
        variables = json.loads(json.dumps(variables, default=float))  # Decimal → JSON number
        doc, errors = self._parse(body["query"])
        if doc is None:
            return _json(200, {"errors": list(errors), "extensions": ext})
        op = _operation(doc, op_name)
        if op is None:
            return _json(200, {**_errors("Unknown or ambiguous operation.", "validation"),
                               "extensions": ext})
        kind = op.operation.value
        first = next((s.name.value for s in op.selection_set.selections
                      if isinstance(s, FieldNode)), "")
        op_kind = f"{kind}:{first}"
        cost = complexity(doc, op, variables)
        ext["complexity"] = cost
        wait = self.limiter.take(mutation=kind == "mutation", complexity=cost)
        if wait is not None:
            return _json(429, {**_errors("Too many requests", "rateLimit"), "extensions": ext},
                         headers={"Retry-After": self.limiter.retry_after_header(wait)})
        fault = self.faults.next_for(op_kind)
        if fault is not None:
            early = await self._pre_fault(fault, request, ext)
            if early is not None:
                return early
        context = {"state": self.state, "token": token, "permissionsUsed": [],
                   "limiter": self.limiter}
        with self.state.lock:
            result = execute(self.schema, doc, variable_values=variables,
                             operation_name=op_name, context_value=context)
        if not isinstance(result, ExecutionResult):  # resolvers are synchronous
            raise TypeError("asynchronous execution is not supported")
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        out["data"] = result.data
        ext["permissionsUsed"] = context["permissionsUsed"]
        out["extensions"] = ext
        if fault is not None and fault.kind is FaultKind.COMMIT_THEN_DROP:
            await self._drop(request)
        return _json(200, out)

    async def _pre_fault(self, fault: Fault, request: Request,
                         ext: dict[str, Any]) -> Response | None:
        if fault.kind is FaultKind.LATENCY:
            await asyncio.sleep(fault.delay_s)
            return None
        if fault.kind is FaultKind.TIMEOUT:
            await asyncio.sleep(fault.delay_s)
            await self._drop(request)
            return _json(504, {**_errors("Gateway timeout", "internal"), "extensions": ext})
        if fault.kind is FaultKind.COMMIT_THEN_DROP:
            return None
        headers = {"Retry-After": self.limiter.retry_after_header(fault.retry_after)} \
            if fault.status == 429 else None
        message = {429: "Too many requests", 500: "Internal server error",
                   503: "Service unavailable"}[fault.status or 500]
        category = "rateLimit" if fault.status == 429 else "internal"
        return _json(fault.status or 500, {**_errors(message, category), "extensions": ext},
                     headers=headers)

    @staticmethod
    async def _drop(request: Request) -> None:
        await abort_connection(request.scope.get(RAW_RECEIVE, request.receive))

    # -- control API -------------------------------------------------------------------------

    def _build_api(self) -> FastAPI:
        api = FastAPI(title="Centra sandbox", docs_url="/_sandbox/docs",
                      openapi_url="/_sandbox/openapi.json", redoc_url=None)
        api.add_api_route("/graphql", self.graphql, methods=["POST"])
        api.include_router(build_control_router(self), prefix="/_sandbox")

        @api.exception_handler(SandboxError)
        async def _sandbox_error(_: Request, exc: SandboxError) -> JSONResponse:
            return JSONResponse({"error": exc.message, "path": exc.path}, status_code=409)

        @api.exception_handler(ValueError)
        async def _value_error(_: Request, exc: ValueError) -> JSONResponse:
            return JSONResponse({"error": str(exc)}, status_code=400)

        @api.exception_handler(KeyError)
        async def _key_error(_: Request, exc: KeyError) -> JSONResponse:
            return JSONResponse({"error": f"not found: {exc}"}, status_code=404)

        return api

    # -- helpers for tests and the demo ------------------------------------------------------

    def add_token(self, token: str, permissions: list[str] | None,
                  integration: str = "seamline") -> None:
        perms = None if permissions is None else frozenset(permissions)
        self.state.tokens[token] = TokenRec(token, perms, integration)

    def place_explicit(self, spec: ExplicitOrder) -> GeneratedOrder:
        st = self.state
        market = st.world.market(spec.market_id)
        lines = []
        for ln in spec.lines:
            item = st.find_size({"SKU": ln.sku} if ln.sku else {"EAN": ln.ean})
            lines.append(line_for(st.world, market, item, ln.quantity,
                                  campaign_percent=Decimal(str(ln.campaign_percent)),
                                  line_discount_percent=Decimal(str(ln.line_discount_percent))))
        vouchers = []
        if spec.voucher_percent:
            vouchers.append(VoucherSpec("PCT", "Percent voucher",
                                        percent=Decimal(str(spec.voucher_percent))))
        if spec.voucher_fixed:
            vouchers.append(VoucherSpec("FIX", "Fixed voucher", fixed=Decimal(spec.voucher_fixed)))
        g = make_order(market, lines, seq=len(st.orders), order_date=spec.order_date or st.now(),
                       vouchers=vouchers, shipping_option=spec.shipping_option,
                       status=spec.status, on_hold=spec.on_hold,
                       waiting_for_payment=spec.waiting_for_payment,
                       inconsistent=spec.inconsistent,
                       handling=None if spec.handling is None else Decimal(spec.handling),
                       tax_exempt=spec.tax_exempt)
        if spec.number is not None:
            g.number = spec.number
        st.place(g)
        return g


def create_app(*, seed: int = 1, token: str = "sandbox-centra-token",  # noqa: S107
               orders: int = 0, hide_fields: Iterable[str] = ()) -> CentraSandbox:
    """A ready sandbox (itself an ASGI app); ``hide_fields``: ``Type.field`` names not served."""
    return CentraSandbox(seed=seed, token=token, orders=orders, hide_fields=hide_fields)


ALL = sorted(ALL_PERMISSIONS)
