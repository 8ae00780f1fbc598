"""Centra's GraphQL Integration API: the client, its classification, limiter, paging,
translation into the domain, webhook receiver and events-queue reader."""

from __future__ import annotations

from seamline.adapters.centra.client import CentraClient, InlineRetry
from seamline.adapters.centra.errors import classify, parse_retry_after
from seamline.adapters.centra.events import drain_events
from seamline.adapters.centra.limiter import (
    LeasedBucketStore,
    MemoryBucketStore,
    RateLimiter,
)
from seamline.adapters.centra.types import (
    CentraShipment,
    RateLimitStatus,
    ShipmentLine,
    StockLevel,
)
from seamline.adapters.centra.webhooks import webhook_router

__all__ = [
    "CentraClient",
    "CentraShipment",
    "InlineRetry",
    "LeasedBucketStore",
    "MemoryBucketStore",
    "RateLimitStatus",
    "RateLimiter",
    "ShipmentLine",
    "StockLevel",
    "classify",
    "drain_events",
    "parse_retry_after",
    "webhook_router",
]
