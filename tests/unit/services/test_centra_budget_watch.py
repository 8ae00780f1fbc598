"""The Centra budget as the business sees it: waiting shipments become the shipments flow's
backlog, ``CENTRA_BUDGET_DELAY`` opens when they would delay dispatch emails past the limit and
resolves itself once they would not; the report and the ``/metrics`` gauges show the same."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest

from seamline.adapters.centra.budget import BudgetGovernor
from seamline.config import BudgetSettings, RateLimitSettings
from seamline.domain.shipments import PENDING_STATES
from seamline.services.budget import DELAY_TYPE, BudgetGauges, BudgetWatch, budget_report
from seamline.services.shipments.core import KIND
from seamline.testing.store import InMemoryStore

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
#: 360 mutations an hour: 6 a minute, so 2 waiting shipments (4 mutations) take 40 s.
LIMITS = RateLimitSettings(mutations_per_10s=10, mutations_per_hour=360)


def setup(shipments: int, *, alert_min: int = 1, owner: str = "cx",
          ) -> tuple[InMemoryStore, BudgetGovernor, BudgetWatch]:
    store = InMemoryStore(clock=lambda: NOW)
    with store.begin() as uow:
        for i in range(shipments):
            uow.ledger.save(KIND, f"SH{i}", state=PENDING_STATES[0].value, data={}, now=NOW)
    t = [1_000_000.0]
    gov = BudgetGovernor(LIMITS, settings=BudgetSettings(headroom=1.0,
                                                         dispatch_delay_alert_min=alert_min,
                                                         delay_owner=owner),
                         time_fn=lambda: t[0])
    watch = BudgetWatch(store, gov, gov.settings, clock=lambda: NOW)
    return store, gov, watch


def open_delays(store: InMemoryStore) -> list[dict[str, object]]:
    return [e for e in store.state.exceptions.values()
            if e["type"] == DELAY_TYPE and e["state"] == "open"]


def test_a_backlog_that_drains_in_time_raises_nothing() -> None:
    store, _gov, watch = setup(2)
    view = watch.run()
    assert view.backlog["shipments"] == 4
    assert view.drain_s["shipments"] == 40.0
    assert not view.dispatch_delayed
    assert open_delays(store) == []


def test_shipments_that_would_delay_dispatch_emails_raise_centra_budget_delay() -> None:
    """20 shipments = 40 mutations = 400 s at 6 a minute: past the 1-minute limit."""
    store, _gov, watch = setup(20, owner="cx")
    watch.run()
    watch.run()
    [delay] = open_delays(store)
    assert delay["owner"] == "cx"
    assert delay["count"] == 2
    assert "20 shipment(s)" in str(delay["message"])
    assert "7 min late" in str(delay["message"])


def test_the_delay_resolves_itself_once_the_backlog_drains_in_time() -> None:
    store, _gov, watch = setup(20)
    watch.run()
    with store.begin() as uow:
        for i in range(18):
            uow.ledger.save(KIND, f"SH{i}", state="completed", data={}, now=NOW)
    watch.run()
    assert open_delays(store) == []


def test_the_report_and_the_gauges_show_the_same_budget() -> None:
    _store, gov, watch = setup(3)
    gov.announce("stock_sweep", 90)
    waiting, view = watch.current()
    assert waiting == 3
    report = budget_report(view)
    assert report["backlog"] == {"shipments": 6, "stock_sweep": 90}
    assert report["mutations_per_hour"] == 360.0
    assert len(report["buckets"]) == 6
    registry = CollectorRegistry()
    registry.register(BudgetGauges(gov.view))
    text = generate_latest(registry).decode()
    assert 'seamline_centra_budget_backlog{flow="stock_sweep"} 90.0' in text
    assert 'seamline_centra_budget_drain_seconds{flow="stock_sweep"} 960.0' in text
    assert 'seamline_centra_budget_used_ratio{bucket="centra:mutations:1h"} 0.0' in text
