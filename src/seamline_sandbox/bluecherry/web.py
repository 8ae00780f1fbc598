"""HTTP plumbing shared by the sandbox's routes: the runtime object, auth, body limits, JSON
parsing (Decimal, never float), cursors, the error envelope and the fault-aware wrapper."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from seamline_sandbox.bluecherry import warehouse
from seamline_sandbox.bluecherry.faults import RateLimiter, hold_then_drop
from seamline_sandbox.bluecherry.state import ApiError, BlueCherryState
from seamline_sandbox.faults import FaultKind, FaultPlan

__all__ = ["SandboxRuntime", "api", "decode_cursor", "encode_cursor", "error_response",
           "int_cursor", "json_body", "ok", "page_size_of", "paged", "parse_json", "read_body",
           "timestamp_param"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass
class SandboxRuntime:
    """Everything one sandbox app holds (``app.state.sandbox``)."""

    state: BlueCherryState
    faults: FaultPlan
    limiter: RateLimiter
    #: api key → key name (``updated_by: api:<name>``)
    api_keys: dict[str, str]
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    alt_auth_headers: tuple[str, ...] = ("Ocp-Apim-Subscription-Key",)
    max_body_bytes: int = 1_000_000
    #: Seconds a timeout / commit-then-drop fault holds the request before dropping it.
    hold_seconds: float = 30.0
    #: Fixed added latency in seconds, by operation ("*" for every operation).
    latency: dict[str, float] = field(default_factory=dict)
    control_token: str | None = None
    #: Schedules (seconds; None = only on command through the control API).
    ats_cycle_seconds: float | None = None
    ats_lag_seconds: float = 0.0
    warehouse_seconds: float | None = None
    warehouse_options: dict[str, Any] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scheduler_loop: asyncio.AbstractEventLoop | None = None

    # -- schedules -------------------------------------------------------------------------------

    def ensure_scheduler(self) -> None:
        """Start the periodic ATS cycle / warehouse runs on the serving loop (once per loop)."""
        loop = asyncio.get_running_loop()
        if self.scheduler_loop is loop:
            return
        self.scheduler_loop = loop
        self.tasks = [loop.create_task(self._every("ats")),
                      loop.create_task(self._every("warehouse"))]

    async def _every(self, job: str) -> None:
        while True:
            seconds = self.ats_cycle_seconds if job == "ats" else self.warehouse_seconds
            if not seconds:
                await asyncio.sleep(0.2)
                continue
            await asyncio.sleep(seconds)
            seconds = self.ats_cycle_seconds if job == "ats" else self.warehouse_seconds
            if not seconds:
                continue
            if job == "ats":
                self.state.ats.run_cycle(self.state, lag_seconds=self.ats_lag_seconds)
            else:
                warehouse.run(self.state, **self.warehouse_options)

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks = []
        self.scheduler_loop = None


# -- plumbing -----------------------------------------------------------------------------------


def error_response(exc: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def parse_json(raw: bytes) -> Any:
    """Decode a body; JSON numbers with a fraction become Decimal, never float."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(422, "MALFORMED", f"the body is not JSON: {str(exc)[:200]}",
                       [{"field": "", "code": "MALFORMED", "message": "not JSON"}]) from exc


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, "PAYLOAD_TOO_LARGE", f"the body is over {limit} bytes")
        except ValueError as exc:
            raise ApiError(400, "MALFORMED", "bad Content-Length") from exc
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(422, "BAD_CURSOR", "the cursor is not one this API issued",
                       [{"field": "cursor", "code": "BAD_CURSOR", "message": "unreadable"}]
                       ) from exc


def page_size_of(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ApiError(422, "MALFORMED", f"page_size must be 1..{MAX_PAGE_SIZE}",
                       [{"field": "page_size", "code": "MALFORMED", "message": "out of range"}])
    return int(raw)


def timestamp_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        ts = datetime.fromisoformat(raw.replace(" ", "+").replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(422, "MALFORMED", f"{name} must be an ISO 8601 timestamp",
                       [{"field": name, "code": "MALFORMED", "message": "not a timestamp"}]
                       ) from exc
    if ts.tzinfo is None:
        raise ApiError(422, "MALFORMED", f"{name} needs a UTC offset",
                       [{"field": name, "code": "MALFORMED", "message": "no offset"}])
    return ts


def int_cursor(cursor: str | None, kind: str) -> int:
    if not cursor:
        return 0
    value = decode_cursor(cursor)
    if not isinstance(value, list) or len(value) != 2 or value[0] != kind \
            or not isinstance(value[1], int) or value[1] < 0:
        raise ApiError(422, "BAD_CURSOR", "the cursor is not one this list issued",
                       [{"field": "cursor", "code": "BAD_CURSOR", "message": "wrong list"}])
    return int(value[1])


def paged(items: list[Any], request: Request, kind: str) -> dict[str, Any]:
    """Offset paging behind an opaque cursor (for lists that only grow at the end)."""
    size = page_size_of(request)
    start = int_cursor(request.query_params.get("cursor"), kind)
    chunk = items[start:start + size]
    end = start + len(chunk)
    return {"items": chunk, "next_cursor": encode_cursor([kind, end]) if end < len(items) else None}


Handler = Callable[[Request, SandboxRuntime, str], Awaitable[Response]]


class _Dropped(Response):
    """A response that never arrives (see ``faults.hold_then_drop``)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(status_code=200)
        self.hold = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await hold_then_drop(receive, send, self.hold)


def api(operation: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a contract endpoint: auth, rate limit, faults, the error envelope."""

    async def endpoint(request: Request) -> Response:
        rt: SandboxRuntime = request.app.state.sandbox
        rt.ensure_scheduler()
        try:
            who = authenticate(request, rt)
        except ApiError as exc:
            return error_response(exc, {"WWW-Authenticate": rt.auth_scheme or "ApiKey"})
        wait = rt.limiter.acquire()
        if wait:
            return error_response(
                ApiError(429, "RATE_LIMITED", f"over the rate limit; retry in {wait}s"),
                {"Retry-After": str(wait)})
        delay = rt.latency.get(operation, rt.latency.get("*", 0.0))
        if delay > 0:
            await asyncio.sleep(delay)
        fault = rt.faults.next_for(operation)
        if fault is not None:
            if fault.kind is FaultKind.LATENCY:
                await asyncio.sleep(fault.delay_s)
            elif fault.kind is FaultKind.RATE_LIMITED:
                wait = max(1, math.ceil(fault.retry_after))
                return error_response(
                    ApiError(429, "RATE_LIMITED", "too many requests (injected)"),
                    {"Retry-After": str(wait)})
            elif fault.status is not None:
                return error_response(ApiError(fault.status, "SERVER_ERROR",
                                               f"injected {fault.kind.value}"))
            elif fault.kind is FaultKind.TIMEOUT:
                return _Dropped(fault.delay_s or rt.hold_seconds)
        try:
            response = await handler(request, rt, who)
        except ApiError as exc:
            return error_response(exc)
        if fault is not None and fault.kind is FaultKind.COMMIT_THEN_DROP:
            return _Dropped(fault.delay_s or rt.hold_seconds)
        return response

    return endpoint


def authenticate(request: Request, rt: SandboxRuntime) -> str:
    """The ``updated_by`` of the caller (``api:<key name>``), or 401."""
    presented: str | None = None
    raw = request.headers.get(rt.auth_header)
    if raw is not None:
        if rt.auth_scheme:
            scheme, _, value = raw.partition(" ")
            if scheme.lower() == rt.auth_scheme.lower():
                presented = value.strip()
        else:
            presented = raw.strip()
    if presented is None:
        for name in rt.alt_auth_headers:
            alt = request.headers.get(name)
            if alt is not None:
                presented = alt.strip()
                break
    if presented is None:
        raise ApiError(401, "UNAUTHORIZED", f"missing API key ({rt.auth_header})")
    key_name = rt.api_keys.get(presented)
    if key_name is None:
        raise ApiError(401, "UNAUTHORIZED", "the API key is not valid")
    return f"api:{key_name}"


async def json_body(request: Request, rt: SandboxRuntime) -> Any:
    return parse_json(await read_body(request, rt.max_body_bytes))


def ok(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)
