"""The shipment flow's Prometheus metrics (registered on ``/metrics`` by the web app).

``seamline_shipment_lag_seconds``: from BlueCherry confirming a shipment to Centra shipping it
(the dispatch email), observed by the process that completed it.
"""

from __future__ import annotations

from prometheus_client import Histogram

__all__ = ["SHIPMENT_LAG", "observe_lag"]

SHIPMENT_LAG = Histogram(
    "seamline_shipment_lag_seconds",
    "Seconds from BlueCherry confirming a shipment to Centra shipping it.",
    buckets=(60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, float("inf")),
    registry=None,
)


def observe_lag(seconds: float) -> None:
    """Record one shipment's lag."""
    SHIPMENT_LAG.observe(max(0.0, seconds))
