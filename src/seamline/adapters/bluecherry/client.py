"""The BlueCherry REST client (assumed contract v1): ``seamline.ports.BlueCherryGateway``.

Everything a deployment may change comes from ``BlueCherrySettings``: base URL, auth header name
and scheme (the key is a ``SecretStr``; it is only ever put in a request header, never in a log
line or an exception), page size, timeout, client-side request ceiling. What an answer means is
decided in one place (``classify``); field translation lives in ``translate``.

Retries: reads retry in-process with stamina (jittered exponential backoff, Retry-After honoured,
bounded by attempts *and* a time budget; ``stamina.set_testing`` switches them off in tests).
A ``Retry-After`` longer than ``max_inline_wait_s`` is not slept on: ``RateLimited`` goes up so
the queue can release the job with a later run time. Writes are never retried here: a write that
may have been applied raises ``AmbiguousWrite`` and the caller reads back by its key first.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import stamina

from seamline.adapters.bluecherry import translate as tr
from seamline.adapters.bluecherry.classify import DUPLICATE_CODES, SYSTEM, classify
from seamline.adapters.http import InlineRetry, call_outcome
from seamline.clock import SystemClock
from seamline.config import BlueCherrySettings
from seamline.domain.erp import (
    AtsCycle,
    AtsItem,
    CashReceipt,
    CatalogueItem,
    CreditMemo,
    ErpInvoice,
    ErpSalesOrder,
    ErpShipment,
    MasterData,
    PostResult,
    WriteResult,
)
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import (
    AmbiguousWrite,
    Conflict,
    ExternalError,
    RateLimited,
    TransientError,
)
from seamline.ports import CallCounter, Clock
from seamline.reachability import answered

__all__ = ["BlueCherryClient", "RateCeiling"]


class RateCeiling:
    """At most ``per_second`` request starts per second, spaced evenly (thread-safe).

    Hand-written because it is a dozen lines and must share the client's sleep function (tests
    replace it); 0 disables the ceiling.
    """

    def __init__(self, per_second: float, *, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._sleep = sleep
        self._monotonic = monotonic
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class BlueCherryClient:
    """httpx client for BlueCherry; one instance per process (it pools connections)."""

    def __init__(
        self,
        settings: BlueCherrySettings,
        *,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        read_attempts: int = 5,
        read_budget_s: float = 20.0,
        max_inline_wait_s: float = 5.0,
        max_feed_pages: int = 50,
        sleep: Callable[[float], None] = time.sleep,
        counter: CallCounter | None = None,
    ) -> None:
        self.settings = settings
        #: API calls by outcome (``/metrics``); None: not counted.
        self.counter = counter
        self.clock: Clock = clock or SystemClock()
        self._base = settings.base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s, connect=min(settings.timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10,
                                keepalive_expiry=30.0),
            headers={"Accept": "application/json", "User-Agent": "seamline"},
        )
        self._ceiling = RateCeiling(settings.max_requests_per_s, sleep=sleep)
        self.retry = InlineRetry(
            attempts=read_attempts, budget_s=read_budget_s, wait_initial_s=0.1,
            wait_max_s=min(max_inline_wait_s, 5.0) or 0.1, wait_jitter_s=1.0,
            max_inline_wait_s=max_inline_wait_s)
        self.max_feed_pages = max_feed_pages

    # -- lifecycle ----

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> BlueCherryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows the key
        return f"BlueCherryClient(base_url={self._base!r})"

    # -- transport ----

    def _auth_headers(self) -> dict[str, str]:
        key = self.settings.api_key
        if key is None:
            return {}
        secret = key.get_secret_value()
        scheme = self.settings.auth_scheme.strip()
        return {self.settings.auth_header: f"{scheme} {secret}" if scheme else secret}

    def _call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
        body: Any = None, write: bool,
    ) -> tuple[int, Any]:
        """One HTTP exchange; returns ``(status, parsed JSON)`` or raises the classified error."""
        what = f"{method} {path}"
        self._ceiling.wait()
        content = None
        headers = self._auth_headers()
        if body is not None:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, self._base + path, params=clean,
                                          content=content, headers=headers)
        except httpx.HTTPError as exc:
            if self.counter is not None:
                self.counter.count(SYSTEM, call_outcome(None))
            err = classify(exc, write=write, what=what)
            assert err is not None
            raise err from exc
        if self.counter is not None:
            self.counter.count(SYSTEM, call_outcome(response.status_code))
        if response.status_code < 500 and response.status_code != 429:
            answered(SYSTEM)  # the queue's outage circuit: BlueCherry is up
        err = classify(response, write=write, what=what)
        if err is not None:
            raise err
        try:
            parsed = json.loads(response.content or b"null", parse_float=Decimal)
        except ValueError as exc:
            kind = AmbiguousWrite if write else TransientError
            raise kind(f"{what}: answer is not JSON", system=SYSTEM,
                       status=response.status_code) from exc
        return response.status_code, parsed

    def _retry_hook(self, exc: Exception) -> bool | float:
        if isinstance(exc, RateLimited):
            if exc.retry_after is None:
                return True
            return exc.retry_after if exc.retry_after <= self.retry.max_inline_wait_s else False
        if isinstance(exc, TransientError):
            return exc.retry_after if exc.retry_after is not None else True
        return False

    def _read(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        for attempt in stamina.retry_context(
            on=self._retry_hook, attempts=self.retry.attempts, timeout=self.retry.budget_s,
            wait_initial=self.retry.wait_initial_s, wait_max=self.retry.wait_max_s,
            wait_jitter=self.retry.wait_jitter_s,
        ):
            with attempt:
                return self._call("GET", path, params=params, write=False)[1]
        raise AssertionError("unreachable")  # pragma: no cover

    def _paged(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            page = self._read(path, {**(params or {}), "page_size": self.settings.page_size,
                                     "cursor": cursor})
            yield from _items(page, path)
            cursor = page.get("next_cursor") if isinstance(page, dict) else None
            if not cursor:
                return

    def _list(self, path: str) -> list[dict[str, Any]]:
        """A master-data list: a bare JSON array or a paged ``{items, next_cursor}``."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._read(path, {"page_size": self.settings.page_size, "cursor": cursor})
            if isinstance(page, list):
                return [x for x in page if isinstance(x, dict)]
            out.extend(_items(page, path))
            cursor = page.get("next_cursor") if isinstance(page, dict) else None
            if not cursor:
                return out

    # -- sales orders ----

    def create_sales_order(self, order: SalesOrder) -> PostResult:
        try:
            _, body = self._call("POST", "/sales-orders", body=tr.sales_order_to_wire(order),
                                 write=True)
        except Conflict as exc:
            code = str(exc.details.get("code", ""))
            if code in DUPLICATE_CODES and exc.existing is not None:
                return PostResult(created=False, order=tr.sales_order_from_wire(exc.existing),
                                  duplicate_code=code)
            raise
        return PostResult(created=True, order=tr.sales_order_from_wire(_record(body, "order")))

    def _find_one(self, params: Mapping[str, Any]) -> ErpSalesOrder | None:
        page = self._read("/sales-orders", {**params, "page_size": self.settings.page_size})
        items = _items(page, "/sales-orders")
        return tr.sales_order_from_wire(items[0]) if items else None

    def find_by_external_reference(self, reference: str) -> ErpSalesOrder | None:
        return self._find_one({"external_reference": reference})

    def find_by_customer_po(self, customer_po: str, customer: str) -> ErpSalesOrder | None:
        return self._find_one({"customer_po": customer_po, "customer": customer})

    def get_sales_order(self, order_no: str) -> ErpSalesOrder:
        body = self._read(f"/sales-orders/{quote(order_no, safe='')}")
        return tr.sales_order_from_wire(_record(body, "order"))

    def iter_sales_orders_updated_since(self, since: datetime) -> Iterator[ErpSalesOrder]:
        for item in self._paged("/sales-orders", {"updated_since": since.isoformat()}):
            yield tr.sales_order_from_wire(item)

    def cancel_sales_order(
        self, order_no: str, *, reference: str, lines: Sequence[tuple[int, int]] | None,
        reason: str,
    ) -> ErpSalesOrder:
        _, body = self._call(
            "POST", f"/sales-orders/{quote(order_no, safe='')}/cancel",
            body=tr.cancel_to_wire(reference, lines, reason), write=True,
        )
        return tr.sales_order_from_wire(_record(body, "order"))

    # -- master data ----

    def master_data(self) -> MasterData:
        return tr.master_data_from_wire(
            divisions=self._list("/divisions"),
            warehouses=self._list("/warehouses"),
            customers=self._list("/customers"),
            ship_vias=self._list("/ship-vias"),
            order_types=self._list("/order-types"),
            terms=self._list("/terms"),
            seasons=self._list("/seasons"),
        )

    def iter_skus(self, updated_since: datetime | None = None) -> Iterator[CatalogueItem]:
        params = {"updated_since": updated_since.isoformat() if updated_since else None}
        for item in self._paged("/skus", params):
            yield tr.catalogue_item_from_wire(item)

    # -- later flows ----

    def iter_ats(
        self, warehouse: str, changed_since_cycle: int | None = None
    ) -> tuple[AtsCycle, list[AtsItem]]:
        """The latest cycle's ATS for a warehouse (all SKUs, or those changed since a cycle).

        Reads every page; if a new cycle is published while paging, starts again so the items
        all belong to the one cycle returned.
        """
        for _ in range(3):
            cycle: AtsCycle | None = None
            items: list[AtsItem] = []
            cursor: str | None = None
            consistent = True
            while True:
                page = self._read("/inventory/ats", {
                    "warehouse": warehouse, "changed_since_cycle": changed_since_cycle,
                    "page_size": self.settings.page_size, "cursor": cursor,
                })
                page_cycle = tr.ats_cycle_from_wire(_record(page, "cycle", nested=True))
                if cycle is None:
                    cycle = page_cycle
                elif page_cycle.id != cycle.id:
                    consistent = False
                    break
                items.extend(tr.ats_item_from_wire(x) for x in _items(page, "/inventory/ats"))
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            if consistent and cycle is not None:
                return cycle, items
        raise TransientError("ATS cycles kept changing while reading", system=SYSTEM)

    def _feed(self, path: str, since: str | None) -> tuple[list[dict[str, Any]], str]:
        out: list[dict[str, Any]] = []
        cursor = since
        for _ in range(self.max_feed_pages):
            page = self._read(path, {"since": cursor, "page_size": self.settings.page_size})
            out.extend(_items(page, path))
            nxt = page.get("next_cursor") if isinstance(page, dict) else None
            cursor = str(nxt) if nxt else cursor
            if not page.get("has_more"):
                break
        return out, cursor or ""

    def iter_shipments(self, since: str | None = None) -> tuple[list[ErpShipment], str]:
        """Shipments confirmed after ``since`` (a feed cursor) and the resume point."""
        items, cursor = self._feed("/shipments", since)
        return [tr.shipment_from_wire(x) for x in items], cursor

    def iter_invoices(self, since: str | None = None) -> tuple[list[ErpInvoice], str]:
        """Invoices issued after ``since`` (a feed cursor) and the resume point."""
        items, cursor = self._feed("/invoices", since)
        return [tr.invoice_from_wire(x) for x in items], cursor

    def _keyed_write(self, path: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        try:
            _, answer = self._call("POST", path, body=body, write=True)
        except Conflict as exc:
            if exc.existing is not None:
                return False, exc.existing
            raise
        return True, answer if isinstance(answer, dict) else {}

    def post_cash_receipt(self, receipt: CashReceipt) -> WriteResult[CashReceipt]:
        """Post a receipt; a repeat of its ``reference`` returns ``created=False`` + the stored
        one. ``UNKNOWN_INVOICE`` / ``OVERAPPLIED`` raise ``Rejected``."""
        created, body = self._keyed_write("/cash-receipts", tr.cash_receipt_to_wire(receipt))
        return WriteResult(created=created,
                           record=tr.cash_receipt_from_wire(_record(body, "receipt")))

    def post_credit_memo(self, memo: CreditMemo) -> WriteResult[CreditMemo]:
        created, body = self._keyed_write("/credit-memos", tr.credit_memo_to_wire(memo))
        return WriteResult(created=created,
                           record=tr.credit_memo_from_wire(_record(body, "credit_memo")))

    def list_cash_receipts(self, day: date) -> list[CashReceipt]:
        """A day's receipts (``GET /cash-receipts?date=``, every page)."""
        return [tr.cash_receipt_from_wire(x)
                for x in self._paged("/cash-receipts", {"date": day.isoformat()})]

    def list_credit_memos(self, day: date) -> list[CreditMemo]:
        """A day's credit memos (``GET /credit-memos?date=``: assumed, as for receipts)."""
        return [tr.credit_memo_from_wire(x)
                for x in self._paged("/credit-memos", {"date": day.isoformat()})]

    # -- streamed reads (the daily reconciliation: one page in memory at a time) ----

    def iter_cash_receipts(self, day: date) -> Iterator[CashReceipt]:
        """A day's receipts as ``list_cash_receipts``, page by page."""
        for x in self._paged("/cash-receipts", {"date": day.isoformat()}):
            yield tr.cash_receipt_from_wire(x)

    def iter_credit_memos(self, day: date) -> Iterator[CreditMemo]:
        """A day's credit memos as ``list_credit_memos``, page by page."""
        for x in self._paged("/credit-memos", {"date": day.isoformat()}):
            yield tr.credit_memo_from_wire(x)

    def iter_invoice_pages(self, since: str | None = None
                           ) -> Iterator[tuple[list[ErpInvoice], str]]:
        """The invoices feed after ``since`` one page at a time, each with the cursor that
        resumes after it (``iter_invoices`` gathers up to ``max_feed_pages`` into one list)."""
        cursor = since
        while True:
            page = self._read("/invoices", {"since": cursor, "page_size": self.settings.page_size})
            nxt = page.get("next_cursor") if isinstance(page, dict) else None
            cursor = str(nxt) if nxt else cursor
            yield [tr.invoice_from_wire(x) for x in _items(page, "/invoices")], cursor or ""
            if not (isinstance(page, dict) and page.get("has_more")):
                return


def _items(page: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(page, list):
        return [x for x in page if isinstance(x, dict)]
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise TransientError(f"GET {path}: answer has no items list", system=SYSTEM)
    return [x for x in page["items"] if isinstance(x, dict)]


def _record(body: Any, key: str, *, nested: bool = False) -> dict[str, Any]:
    """The record in an answer: ``body[key]`` when it is wrapped, else the body itself."""
    if isinstance(body, dict):
        inner = body.get(key)
        if isinstance(inner, dict):
            return inner
        if not nested:
            return body
    raise ExternalError(f"BlueCherry answer carries no {key}", system=SYSTEM)
