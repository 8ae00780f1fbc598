"""The stock flow's Prometheus metrics, read from the store at scrape time (so they count every
worker process's runs; registered on ``/metrics`` by the web app).

- ``seamline_stock_sync_lag_seconds``: from BlueCherry publishing a cycle to Centra confirming
  its sizes, the last run that read a new cycle (worst size of that run).
- ``seamline_stock_sizes_pending``: sizes whose figure has not reached Centra yet.
- ``seamline_stock_sizes_unknown``: BlueCherry SKUs Centra does not know (not sent until a full
  sync).
- ``seamline_stock_cycle{warehouse}``: the latest BlueCherry cycle read, per warehouse.
- ``seamline_stock_last_run_age_seconds``: how long ago the last sync finished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from seamline.exceptions import SeamlineError
from seamline.services.stock.watch import last_run
from seamline.services.unit_of_work import Store

__all__ = ["StockGauges"]


def _now() -> datetime:
    return datetime.now(UTC)


class StockGauges(Collector):
    """The stock gauges, read on every scrape."""

    def __init__(self, store: Callable[[], Store], *,
                 clock: Callable[[], datetime] = _now) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.store().read() as uow:
                summary = uow.stock.summary()
                last = last_run(uow)
        except SeamlineError:
            return  # seamline_store_up says why
        pending = GaugeMetricFamily("seamline_stock_sizes_pending",
                                    "Sizes whose figure has not reached Centra yet.")
        pending.add_metric([], summary["pending"])
        unknown = GaugeMetricFamily("seamline_stock_sizes_unknown",
                                    "BlueCherry SKUs that are not sizes Centra knows.")
        unknown.add_metric([], summary["unknown"])
        yield pending
        yield unknown
        if last is None:
            return
        cycles = GaugeMetricFamily("seamline_stock_cycle",
                                   "The latest BlueCherry ATS cycle read, per warehouse.",
                                   labels=["warehouse"])
        for warehouse, cycle in sorted(dict(last.get("cycles") or {}).items()):
            cycles.add_metric([str(warehouse)], float(cycle))
        yield cycles
        age = GaugeMetricFamily("seamline_stock_last_run_age_seconds",
                                "Seconds since the last stock sync finished.")
        finished = datetime.fromisoformat(str(last["finished_at"]))
        age.add_metric([], max(0.0, (self.clock() - finished).total_seconds()))
        yield age
        lag = last.get("last_lag_s")
        if lag is not None:
            gauge = GaugeMetricFamily(
                "seamline_stock_sync_lag_seconds",
                "Seconds from BlueCherry publishing a cycle to Centra confirming its sizes "
                "(the last run that read a new cycle).")
            gauge.add_metric([], float(lag))
            yield gauge
