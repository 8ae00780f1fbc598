"""Ports: one Protocol per external system. Each has a real adapter and an in-memory fake
(``seamline.testing``), and both pass one contract suite (``tests/contract``).

Every method raises only from ``seamline.exceptions``: ``RetriableError`` (incl. ``RateLimited``,
``TransientError``) for reads that may be retried; ``AmbiguousWrite`` when a write may have been
applied (read back by its key before any retry); ``PermanentError`` subclasses otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

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
from seamline.domain.events import CentraEvent
from seamline.domain.orders import CentraOrder
from seamline.domain.sales_order import SalesOrder
from seamline.domain.shipments import CentraShipment
from seamline.domain.stock import StockPush

__all__ = [
    "BlueCherryGateway",
    "Bucket",
    "BucketStore",
    "BucketUse",
    "BudgetBoard",
    "BudgetView",
    "CallCounter",
    "CentraBudget",
    "CentraGateway",
    "Clock",
    "FinanceGateway",
    "Notifier",
    "ShipmentFeed",
    "current_flow",
    "working_for",
]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class CentraGateway(Protocol):
    """Centra's GraphQL Integration API, as the order flow needs it."""

    def get_order(self, number: int) -> CentraOrder | None:
        """One order by number (``None`` when Centra has no such order)."""
        ...

    def get_orders(self, numbers: Sequence[int]) -> list[CentraOrder]:
        """Several orders by number, in one or a few requests; unknown numbers are left out."""
        ...

    def iter_orders(
        self,
        *,
        updated_from: datetime | None = None,
        updated_to: datetime | None = None,
        created_from: datetime | None = None,
    ) -> Iterator[CentraOrder]:
        """Direct-to-consumer orders in a window, oldest ``updatedAt`` first, paged by cursor.

        Includes orders on hold and waiting for payment (the caller's gates decide).
        """
        ...

    def set_external_ids(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Write ``(order number, external id)`` pairs with ``setIdConversions`` (for orders,
        Centra's internal id is the order number).

        Idempotent: repeating it changes nothing.
        """
        ...

    def get_external_ids(self, numbers: Sequence[int]) -> dict[int, str]:
        """The external ids kept on these orders, by order number (``idConversions``)."""
        ...

    def confirm_order(self, number: int) -> None:
        """PENDING → CONFIRMED. An order already past PENDING is left as it is (no error)."""
        ...

    def set_orders_lock(self, numbers: Sequence[int], locked: bool) -> None:
        """Lock or unlock orders (naturally idempotent)."""
        ...

    def ensure_event_listeners(self) -> None:
        """Subscribe this integration to Order events (additive, idempotent)."""
        ...

    def fetch_events(self, limit: int = 100) -> list[CentraEvent]:
        """The oldest unconfirmed events of this integration."""
        ...

    def confirm_events(self, ids: Sequence[int]) -> None:
        """Confirm events that have been durably recorded."""
        ...

    def set_stock_sizes(self, warehouse_id: int, sizes: Sequence[tuple[str, int]], *,
                        description: str = "Seamline stock sync") -> StockPush:
        """Absolute PHYSICAL stock for ``(SKU or EAN, quantity)`` sizes in one warehouse, in
        one ``setStock`` (a second one without the sizes Centra does not know, which are
        returned). Safe to repeat."""
        ...

    # -- shipments ----------------------------------------------------------------------------

    def get_shipments(self, order: int) -> list[CentraShipment]:
        """Every shipment of order number ``order``, oldest first."""
        ...

    def get_shipment(self, shipment_id: int) -> CentraShipment | None:
        """One shipment by id (the read-back of ``complete_shipment``: ``is_shipped``)."""
        ...

    def find_shipment(self, order: int, external_id: str) -> CentraShipment | None:
        """The order's shipment with that external id (the read-back of ``create_shipment``)."""
        ...

    def create_shipment(self, order_number: int, lines: Sequence[tuple[int, int]], *,
                        external_id: str, good_to_go: bool = True,
                        capture: bool = True, paid: bool = False) -> CentraShipment:
        """Create a shipment of ``(order line id, quantity)`` pairs keyed by ``external_id``,
        without an email; ``capture`` through Centra's PSP, or ``paid`` (captured outside).
        Never repeated blindly: ``AmbiguousWrite`` means read back with ``find_shipment``
        first; ``Rejected`` carries Centra's userErrors."""
        ...

    def complete_shipment(self, shipment_id: int, carrier: str, service: str,
                          tracking_numbers: Sequence[str], send_email: bool, *,
                          packages: int | None = None) -> CentraShipment:
        """Ship it with carrier, service and tracking; ``send_email`` sends the dispatch email.
        Never repeated blindly: ``AmbiguousWrite`` means read ``get_shipment(id).is_shipped``."""
        ...

    def cancel_order_lines(self, number: int, lines: Sequence[tuple[int, int]], *,
                           comment: str = "") -> None:
        """Cancel ``(order line id, units)`` on a direct-to-consumer order (units released back
        to the warehouse). Not idempotent: after ``AmbiguousWrite`` read the lines'
        ``cancelled_quantity`` before any retry."""
        ...


class BlueCherryGateway(Protocol):
    """BlueCherry's REST API (the assumed contract v1), as the order flow needs it."""

    def create_sales_order(self, order: SalesOrder) -> PostResult:
        """POST a sales order. 201 → ``created=True``; 409 → ``created=False`` with the existing
        order, for the caller to compare (never a silent success). 422 raises ``Rejected`` with
        the codes; a timeout/5xx/reset raises ``AmbiguousWrite``; 429 raises ``RateLimited``.
        """
        ...

    def find_by_external_reference(self, reference: str) -> ErpSalesOrder | None:
        """Company-wide look-up (ambiguous-failure recovery)."""
        ...

    def find_by_customer_po(self, customer_po: str, customer: str) -> ErpSalesOrder | None: ...

    def get_sales_order(self, order_no: str) -> ErpSalesOrder:
        """The order as BlueCherry holds it now; ``NotFound`` when it does not exist."""
        ...

    def iter_sales_orders_updated_since(self, since: datetime) -> Iterator[ErpSalesOrder]: ...

    def cancel_sales_order(
        self,
        order_no: str,
        *,
        reference: str,
        lines: Sequence[tuple[int, int]] | None,
        reason: str,
    ) -> ErpSalesOrder:
        """Cancel open units (``(line_no, quantity)`` pairs, ``None`` = all open units).

        ``reference`` makes it idempotent: a repeat returns the stored result. Units picked or
        shipped raise ``Conflict`` (code ``LINE_PICKED_OR_SHIPPED``); more than is open raises
        ``Rejected``. Returns the order after the cancel.
        """
        ...

    def master_data(self) -> MasterData: ...

    def iter_skus(self, updated_since: datetime | None = None) -> Iterator[CatalogueItem]: ...

    def iter_ats(self, warehouse: str, changed_since_cycle: int | None = None
                 ) -> tuple[AtsCycle, list[AtsItem]]:
        """The latest ATS cycle of a warehouse with every SKU's figures, or only those that
        changed in cycles after ``changed_since_cycle``; ``NotFound`` before any cycle."""
        ...

    def iter_shipments(self, since: str | None = None) -> tuple[list[ErpShipment], str]:
        """Shipments confirmed after the feed cursor ``since`` (None: from the start), in the
        order they were confirmed, and the cursor to resume from."""
        ...


class ShipmentFeed(Protocol):
    """Where BlueCherry shipments are read from: the REST feed (``BlueCherryGateway``), or an
    EDI 856 reader later. Reading is by cursor; the reader never marks anything as done."""

    def iter_shipments(self, since: str | None = None) -> tuple[list[ErpShipment], str]: ...


class FinanceGateway(Protocol):
    """BlueCherry's finance calls (contract §Invoices, §Cash receipts, §Credit memos): the
    invoices feed, cash receipts and credit memos keyed by a unique ``reference``, and the
    day listings that are the read-back of an ambiguous write and the daily reconciliation."""

    def iter_invoices(self, since: str | None = None) -> tuple[list[ErpInvoice], str]:
        """Invoices issued after the feed cursor ``since`` (None: from the start), in the order
        they were issued, and the cursor to resume from."""
        ...

    def post_cash_receipt(self, receipt: CashReceipt) -> WriteResult[CashReceipt]:
        """POST a receipt. 201 → ``created=True``; a repeat of its ``reference`` (409) →
        ``created=False`` with the stored receipt. ``UNKNOWN_INVOICE`` / ``OVERAPPLIED`` raise
        ``Rejected``; a timeout/5xx raises ``AmbiguousWrite`` (read back by date or repeat the
        same reference before anything else)."""
        ...

    def post_credit_memo(self, memo: CreditMemo) -> WriteResult[CreditMemo]:
        """POST a credit memo; ``reference`` unique as for receipts (409 → the stored memo)."""
        ...

    def list_cash_receipts(self, day: date) -> list[CashReceipt]:
        """Every receipt dated ``day`` (``GET /cash-receipts?date=``), as BlueCherry holds it
        (with its unapplied cash)."""
        ...

    def list_credit_memos(self, day: date) -> list[CreditMemo]:
        """Every credit memo created on ``day`` (``GET /credit-memos?date=``: not in the
        contract; assumed as the analogue of the receipts listing, see docs/configuration.md)."""
        ...


# -- rate-limit state: the Centra adapter meters, the store (or memory) keeps the levels -----


@dataclass(frozen=True, slots=True)
class Bucket:
    """One token bucket: ``capacity`` tokens, refilled at ``capacity / interval_s`` per second."""

    name: str
    capacity: float
    interval_s: float

    @property
    def rate(self) -> float:
        return self.capacity / self.interval_s

    def wait_for(self, level: float, cost: float) -> float:
        """Seconds until a bucket at ``level`` holds ``cost`` (capped at its capacity)."""
        cost = min(cost, self.capacity)
        return max(0.0, (cost - level) / self.rate)


class BucketStore(Protocol):
    """Where bucket levels live (process memory, or the store's table shared by processes)."""

    def take(self, costs: Mapping[Bucket, float], now: float) -> float:
        """Take every cost at once, or nothing. Returns 0.0 on success, else the seconds until
        the emptiest bucket would hold its cost."""
        ...

    def debit(self, costs: Mapping[Bucket, float], now: float) -> None:
        """Take unconditionally (a bucket may go negative: later takers wait it off)."""
        ...

    def level(self, bucket: Bucket, now: float) -> float:
        """The bucket's level at ``now`` (the budget's view and its calibration)."""
        ...


@dataclass(frozen=True, slots=True)
class BucketUse:
    name: str
    capacity: float
    level: float

    @property
    def used_share(self) -> float:
        """Share of the bucket spent (0..1; above 1 when it is in debt)."""
        return max(0.0, (self.capacity - self.level) / self.capacity)


@dataclass(frozen=True, slots=True)
class BudgetView:
    """What the budget looks like now (``/metrics``, ``seamline centra budget``, dashboard)."""

    buckets: tuple[BucketUse, ...]
    #: Mutations waiting, per flow (fresh announcements only).
    backlog: dict[str, int]
    #: Seconds until each flow's backlog is sent: everything of its priority or before it, at
    #: the sustainable mutation rate.
    drain_s: dict[str, float]
    #: Sustainable mutations per second (the slowest mutation bucket's refill).
    mutation_rate: float
    #: Seconds every process still holds back after a 429 (0 when none).
    backoff_s: float
    dispatch_delay_alert_s: float

    @property
    def dispatch_delayed(self) -> bool:
        """True when waiting shipments would delay dispatch emails beyond the alert's limit."""
        return self.drain_s.get("shipments", 0.0) > self.dispatch_delay_alert_s


class CentraBudget(Protocol):
    """The Centra budget as the services see it (the adapter's ``BudgetGovernor``)."""

    def view(self) -> BudgetView:
        """Buckets, backlog per flow, time to drain."""
        ...

    def announce(self, flow: str, backlog: int) -> None:
        """``flow`` has ``backlog`` mutations waiting (0: none)."""
        ...


class BudgetBoard(Protocol):
    """Small named figures shared by every process of the Centra budget (demand per priority,
    a back-off after a 429, calibrated quotas): the store's table, or process memory."""

    def put(self, name: str, value: float, now: float) -> None:
        """Set ``name`` to ``value``, stamped ``now``."""
        ...

    def read(self, prefix: str) -> dict[str, tuple[float, float]]:
        """Every figure whose name starts with ``prefix``: ``{name: (value, stamped)}``."""
        ...


# -- which flow a Centra call is for (its priority in the Centra budget) ------------------------

_flow: ContextVar[str] = ContextVar("seamline_centra_flow", default="shipments")


def current_flow() -> str:
    """The flow the current Centra calls are made for (``shipments`` unless said otherwise)."""
    return _flow.get()


@contextmanager
def working_for(flow: str) -> Iterator[None]:
    """Make the Centra calls inside this block on behalf of ``flow`` (one of
    ``seamline.config.BUDGET_FLOWS``; its priority in the Centra budget)."""
    token = _flow.set(flow)
    try:
        yield
    finally:
        _flow.reset(token)


class Notifier(Protocol):
    """Sends one notification to one route URL (apprise: ``mailto://``, ``slack://``,
    ``msteams://``, ``json://`` ...). Adapter: ``seamline.adapters.notify``; fake:
    ``seamline.testing.notifier``."""

    def describe(self, url: str) -> str:
        """The URL with its secrets (passwords, tokens) masked: safe to store and print."""
        ...

    def send(self, url: str, title: str, body: str) -> None:
        """Deliver it, or raise ``AlertNotDelivered`` (its message free of the URL's secrets)."""
        ...


class CallCounter(Protocol):
    """Counts the calls an adapter makes to its system, by outcome (``ok``, ``error``,
    ``rate_limited``); the metrics read them (``seamline.services.metrics``)."""

    def count(self, system: str, outcome: str) -> None: ...
