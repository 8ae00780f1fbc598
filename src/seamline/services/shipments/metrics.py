"""The shipment flow's Prometheus metrics (registered on ``/metrics`` by the web app).

- ``seamline_shipment_lag_seconds`` (histogram): from BlueCherry confirming a shipment to
  Centra shipping it (the dispatch email), observed by the process that completed it.
- ``seamline_shipments_not_in_centra{state}`` and
  ``seamline_shipment_oldest_not_in_centra_seconds`` (gauges, read from the store at scrape
  time, so they count every worker process's shipments): BlueCherry shipments Centra has not
  shipped yet, and how long ago BlueCherry confirmed the oldest of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from seamline.domain.shipments import PENDING_STATES, erp_shipment_from_dict
from seamline.exceptions import SeamlineError
from seamline.services.shipments.core import KIND
from seamline.services.unit_of_work import Store

__all__ = ["SHIPMENT_LAG", "PendingShipments", "observe_lag"]

SHIPMENT_LAG = Histogram(
    "seamline_shipment_lag_seconds",
    "Seconds from BlueCherry confirming a shipment to Centra shipping it.",
    buckets=(60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, float("inf")),
    registry=None,
)


def observe_lag(seconds: float) -> None:
    """Record one shipment's lag."""
    SHIPMENT_LAG.observe(max(0.0, seconds))


def _now() -> datetime:
    return datetime.now(UTC)


class PendingShipments(Collector):
    """Shipments not (yet) shipped in Centra, by ledger state, read on every scrape."""

    def __init__(self, store: Callable[[], Store], *,
                 clock: Callable[[], datetime] = _now) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_state = GaugeMetricFamily(
            "seamline_shipments_not_in_centra",
            "BlueCherry shipments not shipped in Centra yet, by ledger state.", labels=["state"])
        oldest = GaugeMetricFamily(
            "seamline_shipment_oldest_not_in_centra_seconds",
            "Seconds since BlueCherry confirmed the oldest shipment Centra has not shipped.")
        first: datetime | None = None
        try:
            with self.store().read() as uow:
                for state in PENDING_STATES:
                    rows = uow.ledger.in_state(KIND, state.value)
                    by_state.add_metric([state.value], len(rows))
                    for row in rows:
                        at = erp_shipment_from_dict(row.data["shipment"]).shipped_at
                        first = at if first is None or at < first else first
        except SeamlineError:
            return  # seamline_store_up says why
        oldest.add_metric([], max(0.0, (self.clock() - first).total_seconds()) if first else 0)
        yield by_state
        yield oldest
