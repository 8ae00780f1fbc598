"""Operations gauges for ``/metrics``, read from the store at scrape time (every process's work
counts, whichever process is scraped):

- ``seamline_circuit_open{system}`` (1 while Centra or BlueCherry is down: the jobs that need
  it wait), ``seamline_circuit_failures{system}`` (failures since it last answered) and
  ``seamline_circuit_down_seconds{system}``;
- ``seamline_orders{state}``: the order ledger by state — the backlog is ``new``, ``waiting``
  (hold, payment), ``batch`` (waiting for the market's daily batch), ``parked`` (an exception
  holds it) and ``posting``;
- ``seamline_order_oldest_unposted_seconds{state}``: how long the oldest order in each of those
  states has been known (intake), and ``seamline_order_oldest_unposted_seconds{state="any"}``;
- ``seamline_alert_deliveries{kind,status}``: alerts ``sent``, ``pending`` (retrying) and
  ``failed``, by kind (``exception``, ``outage``, ``recovery``, ``stuck``, ``digest``, ``test``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from seamline.domain.ledger import OrderState
from seamline.exceptions import SeamlineError
from seamline.queue.circuit import SystemState
from seamline.services.unit_of_work import Store

__all__ = ["BACKLOG_STATES", "OperationsGauges"]

SYSTEMS = ("centra", "bluecherry")
BACKLOG_STATES = (OrderState.NEW, OrderState.WAITING, OrderState.BATCH, OrderState.PARKED,
                  OrderState.POSTING)


def _now() -> datetime:
    return datetime.now(UTC)


class OperationsGauges(Collector):
    def __init__(self, store: Callable[[], Store], *,
                 clock: Callable[[], datetime] = _now) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        circuit = GaugeMetricFamily("seamline_circuit_open",
                                    "1 while the system is down (its jobs wait), else 0.",
                                    labels=["system"])
        failures = GaugeMetricFamily("seamline_circuit_failures",
                                     "Failed calls since the system last answered.",
                                     labels=["system"])
        down_for = GaugeMetricFamily("seamline_circuit_down_seconds",
                                     "Seconds the system has been down (0 when up).",
                                     labels=["system"])
        orders = GaugeMetricFamily("seamline_orders", "Orders on the ledger by state.",
                                   labels=["state"])
        oldest = GaugeMetricFamily(
            "seamline_order_oldest_unposted_seconds",
            "Age (since intake) of the oldest order not yet in BlueCherry, by state.",
            labels=["state"])
        alerts = GaugeMetricFamily("seamline_alert_deliveries",
                                   "Alert deliveries by kind and status.",
                                   labels=["kind", "status"])
        try:
            with self.store().read() as uow:
                for system in SYSTEMS:
                    st = SystemState.from_json(system, uow.cursors.get(f"outage:{system}"))
                    circuit.add_metric([system], 1 if st.down else 0)
                    failures.add_metric([system], st.failures)
                    down_for.add_metric([system], max(0.0, (now - st.down_since)
                                                      .total_seconds()) if st.down_since else 0)
                by_state = uow.orders.count_by_state()
                for state in OrderState:
                    orders.add_metric([state.value], by_state.get(state.value, 0))
                first_any: datetime | None = None
                for state in BACKLOG_STATES:
                    first: datetime | None = None
                    if by_state.get(state.value):
                        for row in uow.orders.in_state(state):
                            seen = row.data.first_seen
                            at = datetime.fromisoformat(seen) if seen else None
                            if at is not None and (first is None or at < first):
                                first = at
                    oldest.add_metric([state.value], _age(first, now))
                    if first is not None and (first_any is None or first < first_any):
                        first_any = first
                oldest.add_metric(["any"], _age(first_any, now))
                for (kind, status), n in sorted(uow.alerts.counts().items()):
                    alerts.add_metric([kind, status], n)
        except SeamlineError:
            return  # seamline_store_up says why
        yield from (circuit, failures, down_for, orders, oldest, alerts)


def _age(at: datetime | None, now: datetime) -> float:
    return max(0.0, (now - at).total_seconds()) if at is not None else 0.0
