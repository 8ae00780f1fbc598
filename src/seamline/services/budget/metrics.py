"""The Centra budget's Prometheus gauges, read from the shared budget at scrape time:

- ``seamline_centra_budget_used_ratio{bucket}``: share of each of Centra's six buckets spent;
- ``seamline_centra_budget_backlog{flow}``: mutations waiting, per flow;
- ``seamline_centra_budget_drain_seconds{flow}``: time until that flow's backlog is sent;
- ``seamline_centra_budget_backoff_seconds``: time every process still holds back after a 429.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from seamline.exceptions import SeamlineError
from seamline.ports import BudgetView

__all__ = ["BudgetGauges"]


class BudgetGauges(Collector):
    def __init__(self, view: Callable[[], BudgetView]) -> None:
        self.view = view

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            v = self.view()
        except SeamlineError:
            return
        used = GaugeMetricFamily("seamline_centra_budget_used_ratio",
                                 "Share of each Centra rate-limit bucket spent", labels=["bucket"])
        for b in v.buckets:
            used.add_metric([b.name], b.used_share)
        yield used
        backlog = GaugeMetricFamily("seamline_centra_budget_backlog",
                                    "Centra mutations waiting, per flow", labels=["flow"])
        drain = GaugeMetricFamily("seamline_centra_budget_drain_seconds",
                                  "Seconds until the flow's Centra backlog is sent",
                                  labels=["flow"])
        for flow, seconds in sorted(v.drain_s.items()):
            backlog.add_metric([flow], float(v.backlog.get(flow, 0)))
            drain.add_metric([flow], seconds)
        yield backlog
        yield drain
        yield GaugeMetricFamily("seamline_centra_budget_backoff_seconds",
                                "Seconds every process still holds back after a Centra 429",
                                value=v.backoff_s)
