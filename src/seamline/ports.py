"""Ports: one Protocol per external system. Each has a real adapter and an in-memory fake
(``seamline.testing``), and both pass one contract suite (``tests/contract``).

Every method raises only from ``seamline.exceptions``: ``RetriableError`` (incl. ``RateLimited``,
``TransientError``) for reads that may be retried; ``AmbiguousWrite`` when a write may have been
applied (read back by its key before any retry); ``PermanentError`` subclasses otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from seamline.domain.erp import (
    AtsCycle,
    AtsItem,
    CatalogueItem,
    ErpSalesOrder,
    MasterData,
    PostResult,
)
from seamline.domain.events import CentraEvent
from seamline.domain.orders import CentraOrder
from seamline.domain.sales_order import SalesOrder
from seamline.domain.stock import StockPush

__all__ = ["BlueCherryGateway", "Bucket", "BucketStore", "CentraGateway", "Clock"]


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
