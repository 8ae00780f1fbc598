"""Typed results of the Centra calls the later flows need (stock, rate limits); the shipment
types live in the domain (``seamline.domain.shipments``) and are re-exported here."""

from __future__ import annotations

from dataclasses import dataclass

from seamline.domain.shipments import CentraShipment, ShipmentLine

__all__ = ["CentraShipment", "RateLimitStatus", "ShipmentLine", "StockLevel"]


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
