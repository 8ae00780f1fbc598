"""``CentraClient``: Seamline's gateway to Centra's GraphQL Integration API.

One ``POST`` per operation, each operation a packaged ``.graphql`` document (``queries/``).
Every exchange goes through ``errors.classify`` (the one place that decides what a response
means), JSON is parsed with floats as ``Decimal``, and every request first takes its tokens from
the shared ``RateLimiter`` so N worker processes stay inside one Centra budget.

Retries (stamina), bounded by ``InlineRetry.budget_s`` (well under a queue lease):

- reads: on ``TransientError`` and on ``RateLimited`` whose ``Retry-After`` ≤
  ``max_inline_wait_s`` (longer waits are raised: the queue reschedules the job);
- writes that are safe to repeat: ``setIdConversions`` (idempotent), ``setStock`` (absolute),
  ``setOrdersLock``, ``setEventListeners``, ``confirmEvents`` (idempotent) and ``confirmOrder``
  (after an ambiguous failure the client reads the status back first);
- other writes (``createShipment``, ``completeShipment``, ``captureOrder``) are never repeated:
  an ambiguous failure raises ``AmbiguousWrite``; the caller reads back first (``find_shipment``,
  ``get_shipment``, ``get_order(...).payments``; DESIGN "Writes that cannot be repeated blindly").
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import stamina

from seamline.adapters.centra import queries
from seamline.adapters.centra.errors import classify, refused_sizes, size_indexes
from seamline.adapters.centra.events import event_from_json
from seamline.adapters.centra.limiter import RateLimiter
from seamline.adapters.centra.pagination import iter_connection, iter_pages
from seamline.adapters.centra.schema_check import INTROSPECTION_QUERY, SchemaProblem, check_live
from seamline.adapters.centra.shipments import ShipmentCalls
from seamline.adapters.centra.translate import (
    order_from_json,
    payment_from_json,
    rate_limit_from_json,
    stock_levels_from_json,
)
from seamline.adapters.centra.transport import BearerAuth, iso, json_default
from seamline.adapters.centra.types import RateLimitStatus, StockLevel
from seamline.adapters.http import InlineRetry, call_outcome
from seamline.clock import SystemClock
from seamline.config import CentraSettings
from seamline.domain.events import CentraEvent
from seamline.domain.orders import CentraOrder, OrderStatus, PaymentEntry
from seamline.domain.stock import StockPush
from seamline.exceptions import (
    AmbiguousWrite,
    AuthFailed,
    ConfigError,
    ExternalError,
    NotFound,
    PermanentError,
    RateLimited,
    Rejected,
    TransientError,
)
from seamline.ports import CallCounter, Clock
from seamline.reachability import answered

__all__ = ["CentraClient", "InlineRetry"]

log = logging.getLogger(__name__)

#: Centra's documented maximum for ``limit`` / ``first``.
MAX_PAGE = 200
#: Lines read with each order of a page (``erpOrder``'s ``lines(limit: 10)``: nested lists
#: multiply a query's complexity); a full first page means the order may have more, read again
#: with ``order_lines``, 200 a page.
LINES_FIRST_PAGE = 10
#: Sizes per ``setStock`` mutation (no documented limit; many per call saves mutation tokens).
STOCK_CHUNK = 100
#: Complexity estimate per order node (settled against ``extensions.complexity`` afterwards).
ORDER_COMPLEXITY = 60


class CentraClient(ShipmentCalls):
    """Implements ``seamline.ports.CentraGateway`` plus what the later flows need."""

    def __init__(
        self,
        settings: CentraSettings,
        *,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        retry: InlineRetry | None = None,
        counter: CallCounter | None = None,
    ) -> None:
        if settings.token is None:
            raise ConfigError("centra.token is not set (SEAMLINE_CENTRA_TOKEN)")
        self.settings = settings
        #: API calls by outcome (``/metrics``); None: not counted.
        self.counter = counter
        self.retry = retry or InlineRetry()
        self.clock: Clock = clock or SystemClock()
        self.limiter = limiter if limiter is not None else RateLimiter(
            settings.rate_limits, max_wait_s=self.retry.max_inline_wait_s)
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s, connect=min(5.0, settings.timeout_s)),
            headers={"Content-Type": "application/json", "Accept": "application/json",
                     "User-Agent": "seamline"},
        )
        self._auth = BearerAuth(settings)
        self.page_size = min(settings.page_size, MAX_PAGE)

    def __repr__(self) -> str:
        return f"CentraClient(base_url={self.settings.base_url!r})"

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> CentraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ----------------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _send(self, operation: str, variables: Mapping[str, Any], *, complexity: float,
              mutation: bool, document: str | None = None) -> dict[str, Any]:
        """One exchange: limiter, POST, classification. No retries here."""
        if operation != "rate_limits" and self.limiter.calibration_due():
            self._calibrate()
        self.limiter.acquire(mutation=mutation, complexity=complexity)
        body = json.dumps({"query": document or queries.load(operation),
                           "variables": dict(variables), "operationName": None},
                          default=json_default)
        started = time.monotonic()
        try:
            response = self.http.post(self.settings.base_url, content=body.encode("utf-8"),
                                      auth=self._auth,
                                      headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            if self.counter is not None:
                self.counter.count("centra", call_outcome(None))
            log.info("centra %s failed after %.2fs: %s", operation, time.monotonic() - started,
                     type(exc).__name__)
            classify(exc, mutation=mutation, operation=operation, now=self._now())
            raise  # pragma: no cover - classify always raises for exceptions
        if self.counter is not None:
            self.counter.count("centra", call_outcome(response.status_code))
        if response.status_code < 500 and response.status_code != 429:
            answered("centra")  # the queue's outage circuit: Centra is up
        try:
            result = classify(response, mutation=mutation, operation=operation, now=self._now())
        except RateLimited as exc:
            self.limiter.throttled(exc.retry_after)
            raise
        ext = result.get("extensions")
        if isinstance(ext, Mapping) and isinstance(ext.get("complexity"), int | Decimal):
            self.limiter.settle_complexity(complexity, float(ext["complexity"]))
        data: dict[str, Any] = result["data"]
        return data

    def _retry_hook(self, idempotent: bool) -> Callable[[Exception], bool | float]:
        max_wait = self.retry.max_inline_wait_s

        def hook(exc: Exception) -> bool | float:
            if isinstance(exc, RateLimited):
                if exc.retry_after is None:
                    return True
                if exc.retry_after <= max_wait:
                    return max(exc.retry_after, 0.01)
                return False
            if isinstance(exc, TransientError):
                return True
            return idempotent and isinstance(exc, AmbiguousWrite)

        return hook

    def _call(self, operation: str, variables: Mapping[str, Any] | None = None, *,
              complexity: float = 10, idempotent: bool = False) -> dict[str, Any]:
        """Run ``operation`` with bounded retries. Refusals that prove nothing was applied
        (429, a connection never made) are retried for every operation; 5xx/timeouts after
        sending are retried for reads and for ``idempotent`` writes only, and otherwise raised
        as ``AmbiguousWrite``."""
        mutation = queries.is_mutation(operation)
        vars_ = dict(variables or {})
        for attempt in stamina.retry_context(
            on=self._retry_hook(idempotent=idempotent),
            attempts=self.retry.attempts,
            timeout=self.retry.budget_s,
            wait_initial=self.retry.wait_initial_s,
            wait_max=self.retry.wait_max_s,
            wait_jitter=self.retry.wait_jitter_s,
        ):
            with attempt:
                return self._send(operation, vars_, complexity=complexity, mutation=mutation)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- orders -------------------------------------------------------------------------------

    def get_order(self, number: int) -> CentraOrder | None:
        found = self.get_orders([number])
        return found[0] if found else None

    def get_orders(self, numbers: Sequence[int]) -> list[CentraOrder]:
        wanted = list(dict.fromkeys(int(n) for n in numbers))
        out: list[CentraOrder] = []
        for i in range(0, len(wanted), self.page_size):
            chunk = wanted[i:i + self.page_size]
            data = self._call("orders_by_number", {"numbers": chunk, "limit": len(chunk)},
                              complexity=ORDER_COMPLEXITY * len(chunk))
            out.extend(self._order(node) for node in data["orders"])
        return out

    def _order(self, node: Mapping[str, Any]) -> CentraOrder:
        """Translate one order node, first reading all its lines again when the first page of
        lines came back full (Centra pages nested lists: 20 by default, at most 200)."""
        lines = node.get("lines")
        if isinstance(lines, list) and len(lines) >= LINES_FIRST_PAGE:
            node = {**node, "lines": self._all_lines(int(node["number"]))}
        return order_from_json(node)

    def _all_lines(self, number: int) -> list[Any]:
        def fetch(page: int) -> list[Any]:
            data = self._call("order_lines", {"number": number, "limit": MAX_PAGE, "page": page},
                              complexity=30 * MAX_PAGE)
            rows = data["orders"]
            return list(rows[0]["lines"]) if rows else []

        return list(iter_pages(fetch, limit=MAX_PAGE))

    def iter_orders(
        self,
        *,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        created_from: datetime | None = None,
    ) -> Iterator[CentraOrder]:
        """Direct-to-consumer orders, oldest ``updatedAt`` first (ties by number), held and
        unpaid ones included, paged by ``orderConnection`` cursor."""
        base = {"updatedFrom": iso(updated_from), "updatedTo": iso(updated_to),
                "createdFrom": iso(created_from), "first": self.page_size}

        def fetch(after: str | None) -> Mapping[str, Any]:
            data = self._call("orders_updated", {**base, "after": after},
                              complexity=ORDER_COMPLEXITY * self.page_size)
            conn: Mapping[str, Any] = data["orderConnection"]
            return conn

        for node in iter_connection(fetch):
            yield self._order(node)

    def iter_orders_paged(self, where: Mapping[str, Any] | None = None) -> Iterator[CentraOrder]:
        """Every order matching an ``OrderFilter`` by ``orders(limit, page)``, by number."""

        def fetch(page: int) -> list[Any]:
            data = self._call("orders_page", {"where": dict(where or {}),
                                              "limit": self.page_size, "page": page},
                              complexity=ORDER_COMPLEXITY * self.page_size)
            return list(data["orders"])

        for node in iter_pages(fetch, limit=self.page_size):
            yield self._order(node)

    def _order_state(self, number: int) -> Mapping[str, Any] | None:
        data = self._call("order_state", {"number": number}, complexity=20)
        rows = data["orders"]
        return rows[0] if rows else None

    def set_external_ids(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Keep each ``(order number, external id)`` as the order's ID conversion (for orders
        the internal id is the order number). Idempotent."""
        if not pairs:
            return
        for i in range(0, len(pairs), MAX_PAGE):
            chunk = pairs[i:i + MAX_PAGE]
            self._call("set_id_conversions", {"input": [
                {"objectType": "Order", "internalId": int(number), "externalId": str(ext)}
                for number, ext in chunk]}, idempotent=True)

    def get_external_ids(self, numbers: Sequence[int]) -> dict[int, str]:
        """The external ids this integration keeps on the given orders, by order number
        (orders without one are left out)."""
        wanted = list(dict.fromkeys(int(n) for n in numbers))
        out: dict[int, str] = {}
        for i in range(0, len(wanted), MAX_PAGE):
            chunk = wanted[i:i + MAX_PAGE]

            def fetch(page: int, chunk: list[int] = chunk) -> list[Any]:
                data = self._call("id_conversions",
                                  {"internalIds": chunk, "limit": MAX_PAGE, "page": page},
                                  complexity=2 * MAX_PAGE)
                return list(data["idConversions"])

            for entry in iter_pages(fetch, limit=MAX_PAGE):
                out[int(entry["internalId"])] = str(entry["externalId"])
        return out

    def confirm_order(self, number: int) -> None:
        """PENDING → CONFIRMED; an order already past PENDING is left alone. After an
        ambiguous failure the status is read back before the one retry."""
        for _ in range(2):
            try:
                self._call("confirm_order", {"number": number})
                return
            except Rejected:
                state = self._order_state(number)
                if state is None:
                    raise NotFound(f"centra order {number} does not exist",
                                   system="centra") from None
                if state["status"] != OrderStatus.PENDING.value:
                    return
                raise
            except AmbiguousWrite:
                state = self._order_state(number)
                if state is not None and state["status"] != OrderStatus.PENDING.value:
                    return
        raise AmbiguousWrite(f"centra confirmOrder {number}: still unconfirmed after a retry",
                             system="centra")

    def set_orders_lock(self, numbers: Sequence[int], locked: bool) -> None:
        if not numbers:
            return
        self._call("set_orders_lock", {"orders": [{"number": int(n)} for n in numbers],
                                       "locked": locked}, idempotent=True)

    def capture_order(self, number: int) -> PaymentEntry:
        """Capture the order's authorisation. Not repeated on an ambiguous failure: read the
        order's ``payments`` (``externalReference``) before trying again."""
        data = self._call("capture_order", {"number": number})
        entry = data["captureOrder"]["paymentHistoryEntry"]
        if entry is None:
            raise ExternalError(f"centra captureOrder {number}: no payment entry returned",
                                system="centra")
        code = entry["value"]["currency"]["code"]
        return payment_from_json(entry, str(code).upper())

    # -- events -------------------------------------------------------------------------------

    def ensure_event_listeners(self) -> None:
        self._call("set_event_listeners", {"input": [{"objectType": "Order"}]}, idempotent=True)

    def fetch_events(self, limit: int = 100) -> list[CentraEvent]:
        data = self._call("events", {"limit": max(1, min(limit, MAX_PAGE))},
                          complexity=5 * limit)
        return [event_from_json(e) for e in data["events"]]

    def confirm_events(self, ids: Sequence[int]) -> None:
        ids = [int(i) for i in ids]
        for i in range(0, len(ids), MAX_PAGE):
            self._call("confirm_events", {"ids": ids[i:i + MAX_PAGE]}, idempotent=True)

    # -- stock --------------------------------------------------------------------------------

    def set_stock(self, warehouse_id: int, levels: Sequence[tuple[str, int]], *,
                  description: str = "Seamline stock sync") -> int:
        """Absolute PHYSICAL stock for ``(SKU or EAN, quantity)`` pairs, up to
        ``STOCK_CHUNK`` sizes per mutation. A key of digits only is sent as an EAN, anything
        else as a SKU. Safe to repeat. Returns the number of mutations sent."""
        sent = 0
        for i in range(0, len(levels), STOCK_CHUNK):
            sizes = _stock_sizes(levels[i:i + STOCK_CHUNK])
            self._call("set_stock", {"warehouse": int(warehouse_id), "description": description,
                                     "sizes": sizes}, idempotent=True, complexity=len(sizes))
            sent += 1
        return sent

    def set_stock_sizes(self, warehouse_id: int, sizes: Sequence[tuple[str, int]], *,
                        description: str = "Seamline stock sync") -> StockPush:
        """One ``setStock`` (PHYSICAL) for these ``(key, quantity)`` sizes; a key of digits only
        is sent as an EAN, anything else as a SKU. When Centra refuses sizes it does not know
        (``userErrors`` whose path names ``productSizes`` entries), the others are sent again
        without them and the refused keys are returned. Safe to repeat."""
        pending = list(sizes)
        unknown: list[str] = []
        mutations = 0
        warned: set[int] = set()
        while pending:
            mutations += 1
            try:
                data = self._call("set_stock", {
                    "warehouse": int(warehouse_id), "description": description,
                    "sizes": _stock_sizes(pending)}, idempotent=True, complexity=len(pending))
            except Rejected as exc:
                bad = refused_sizes(exc, len(pending))
                if not bad:
                    raise
                unknown.extend(pending[i][0] for i in sorted(bad))
                pending = [s for i, s in enumerate(pending) if i not in bad]
                continue
            warned = size_indexes(data["setStock"].get("userWarnings") or (), len(pending))
            break
        return StockPush(mutations=mutations, unknown=tuple(unknown),
                         adjusted=tuple(pending[i][0] for i in sorted(warned)))

    def get_stock(self, warehouse_id: int, skus: Sequence[str]) -> list[StockLevel]:
        """Stock of the given SKUs in one warehouse (``productSizes`` by SKU, each with its
        ``stock`` in that warehouse)."""
        out: list[StockLevel] = []
        skus = list(dict.fromkeys(skus))
        for i in range(0, len(skus), MAX_PAGE):
            chunk = skus[i:i + MAX_PAGE]
            data = self._call("stock_levels", {"warehouse": int(warehouse_id), "skus": chunk,
                                               "limit": len(chunk)}, complexity=4 * len(chunk))
            for node in data["productSizes"]:
                out.extend(stock_levels_from_json(node, int(warehouse_id)))
        return out

    # -- schema preflight ---------------------------------------------------------------------

    def introspect(self) -> dict[str, Any]:
        """The environment's schema as this token sees it (GraphQL introspection ``data``)."""
        for attempt in stamina.retry_context(
            on=self._retry_hook(idempotent=True), attempts=self.retry.attempts,
            timeout=self.retry.budget_s, wait_initial=self.retry.wait_initial_s,
            wait_max=self.retry.wait_max_s, wait_jitter=self.retry.wait_jitter_s,
        ):
            with attempt:
                return self._send("introspection", {}, complexity=500, mutation=False,
                                  document=INTROSPECTION_QUERY)
        raise AssertionError("unreachable")  # pragma: no cover

    def check_schema(self) -> list[SchemaProblem]:
        """Every operation held against this environment's schema and this token's
        permissions (``schema_check.check_live``): empty when all of them can run."""
        return check_live(self)

    def probe(self, operation: str, variables: Mapping[str, Any]) -> list[str]:
        """Run a read once and return Centra's error messages (empty: it was answered).
        Refusals of the whole request (credentials, rate limit, outage) still raise."""
        if queries.is_mutation(operation):
            raise ValueError(f"{operation} is a write; only reads are probed")
        try:
            self._call(operation, variables, complexity=50)
        except AuthFailed as exc:
            if exc.status in (401, 403):
                raise
            return list(exc.details.get("messages") or [exc.message])
        except PermanentError as exc:
            return list(exc.details.get("messages") or [exc.message])
        return []

    # -- rate limits --------------------------------------------------------------------------

    def rate_limits(self) -> list[RateLimitStatus]:
        data = self._call("rate_limits", complexity=20)
        return [rate_limit_from_json(r) for r in data["rateLimits"]]

    def _calibrate(self) -> None:
        """Read ``rateLimits`` once and hand it to the limiter; a failure here is the
        caller's call's business (it is tried again at the next call)."""
        try:
            statuses = [rate_limit_from_json(r) for r in
                        self._send("rate_limits", {}, complexity=20, mutation=False)["rateLimits"]]
        except (RateLimited, TransientError):
            return
        self.limiter.calibrate(statuses)

    # -- markets and currencies (configuration checks) -----------------------------------------

    def markets_and_currencies(self) -> tuple[dict[int, str], set[str]]:
        """Centra's markets (``{id: name}``) and currency codes. Centra's schema does not say
        which currencies a market sells in, so only existence can be checked."""
        data = self._call("markets_and_currencies", complexity=20)
        markets = {int(m["id"]): str(m.get("name") or "") for m in data["markets"]}
        return markets, {str(c["code"]) for c in data["currencies"]}


def _stock_sizes(levels: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """``StockSetProductSizeInput`` entries: a key of digits only is an EAN, else a SKU."""
    sizes = []
    for key, qty in levels:
        if qty < 0:
            raise ValueError(f"stock for {key} is negative ({qty})")
        ident = {"EAN": key} if key.isdigit() else {"SKU": key}
        sizes.append({"productSize": ident, "quantity": int(qty)})
    return sizes
