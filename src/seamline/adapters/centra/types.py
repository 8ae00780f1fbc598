"""Typed results of the Centra calls the later flows need (shipments, stock, rate limits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["CentraShipment", "RateLimitStatus", "ShipmentLine", "StockLevel"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ShipmentLine:
    """A shipment line as Centra publishes it: its own id and quantity. Centra's schema has no
    link from a shipment line back to the order line: the caller keeps which order lines it
    sent (``createShipment`` lines, in order) alongside the shipment."""

    id: int
    quantity: int


@dataclass(frozen=True, kw_only=True, slots=True)
class CentraShipment:
    id: int
    #: ``"<order number>-<seq>"``.
    number: str
    order_number: int
    #: The BlueCherry shipment number kept on the shipment (read-back key of createShipment).
    external_id: str | None = None
    lines: tuple[ShipmentLine, ...] = ()
    is_good_to_go: bool = False
    is_paid: bool = False
    is_shipped: bool = False
    shipped_at: datetime | None = None
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""

    @property
    def tracking_numbers(self) -> tuple[str, ...]:
        """The tracking numbers (Centra keeps one field; several are comma-separated)."""
        return tuple(t.strip() for t in self.tracking_number.split(",") if t.strip())

    @property
    def quantity(self) -> int:
        """Units in the shipment."""
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, kw_only=True, slots=True)
class StockLevel:
    sku: str
    ean: str
    physical: int
    allocated: int
    free_to_allocate: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RateLimitStatus:
    #: ``REQUEST_COUNT``, ``MUTATION_COUNT`` or ``QUERY_COMPLEXITY``.
    type: str
    #: ``TEN_SECONDS`` or ``ONE_HOUR``.
    interval: str
    quota: int
    used: int
    remaining: int
