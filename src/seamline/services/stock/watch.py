"""The stock flow's watch: exceptions when stock stops reaching Centra, and the last run kept
for the dashboard and ``/metrics``.

- ``STOCK_SYNC_FAILED`` (operations, key ``stock:sync``): this many runs in a row could not read
  BlueCherry or push every size; resolves on the first clean run.
- ``STOCK_SYNC_STALE`` (operations, key ``stock:stale``): this many published cycles have not
  fully reached Centra; resolves once one has.
- ``STOCK_SKU_UNKNOWN`` (operations, key ``stock:unknown:<Centra warehouse>``): the BlueCherry
  SKUs Centra does not know, counted and listed once per run that met them (they are not sent
  again until a full sync).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seamline.domain.erp import AtsCycle
from seamline.services.stock.plan import StockPlan
from seamline.services.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from seamline.services.stock.sync import SyncReport

__all__ = ["FAILED_KEY", "LAST_RUN", "STALE_KEY", "keep_watch", "last_run", "unknown_key"]

FAILED_KEY = "stock:sync"
STALE_KEY = "stock:stale"
LAST_RUN = "stock:last_run"
_FAILED_RUNS = "stock:failed_runs"
_OK_CYCLE = "stock:ok_cycle"
#: SKUs listed in the exception's details (the message names the first few).
LIST_MAX = 1000


def unknown_key(centra_warehouse: int) -> str:
    return f"stock:unknown:{centra_warehouse}"


def keep_watch(uow: UnitOfWork, plan: StockPlan, report: SyncReport,
               cycles: Mapping[str, AtsCycle], *, now: datetime) -> None:
    """Raise or resolve the stock exceptions after a run, and keep the run's summary."""
    _failed(uow, plan, report, now)
    _stale(uow, plan, report, cycles, now)
    for centra_wh, skus in report.unknown.items():
        uow.exceptions.raise_(
            type="STOCK_SKU_UNKNOWN", owner="operations", business_key=unknown_key(centra_wh),
            severity="warning",
            message=(f"{len(skus)} BlueCherry SKU(s) are not sizes Centra knows in warehouse "
                     f"{centra_wh} (e.g. {', '.join(skus[:5])}); create them in Centra or map "
                     "them under [sku_overrides]; they are sent again by the next full sync"),
            details={"count": len(skus), "skus": skus[:LIST_MAX]}, now=now)
    before = last_run(uow) or {}
    summary = {**report.as_dict(), "finished_at": now.isoformat(),
               # the lag of the last run that read a new cycle (kept across quiet runs)
               "last_lag_s": report.lag_s if report.lag_s is not None
               else before.get("last_lag_s"),
               "cycle_published_at": max((c.published_at for c in cycles.values()),
                                         default=None)}
    uow.cursors.set(LAST_RUN, json.dumps(summary, default=str), now=now)


def _failed(uow: UnitOfWork, plan: StockPlan, report: SyncReport, now: datetime) -> None:
    runs = int(uow.cursors.get(_FAILED_RUNS) or 0)
    runs = runs + 1 if report.failed else 0
    uow.cursors.set(_FAILED_RUNS, str(runs), now=now)
    if runs >= plan.failed_after_runs:
        uow.exceptions.raise_(
            type="STOCK_SYNC_FAILED", owner="operations", business_key=FAILED_KEY,
            message=(f"the stock sync failed {runs} runs in a row: {report.failed}; "
                     f"{report.pending} size(s) wait to reach Centra"),
            details={"runs": runs, "error": report.failed, "pending": report.pending}, now=now)
    elif runs == 0:
        uow.exceptions.resolve_for_key(FAILED_KEY, actor="system",
                                       note="stock sync ran cleanly", now=now)


def _stale(uow: UnitOfWork, plan: StockPlan, report: SyncReport,
           cycles: Mapping[str, AtsCycle], now: datetime) -> None:
    if not cycles:
        return
    latest = max(c.id for c in cycles.values())
    adjusted = sum(len(v) for v in report.adjusted.values())
    if report.pending <= adjusted and report.failed is None:
        uow.cursors.set(_OK_CYCLE, str(latest), now=now)
    ok = int(uow.cursors.get(_OK_CYCLE) or 0)
    behind = latest - ok
    if behind >= plan.stale_after_cycles:
        uow.exceptions.raise_(
            type="STOCK_SYNC_STALE", owner="operations", business_key=STALE_KEY,
            message=(f"Centra's stock is {behind} BlueCherry cycle(s) behind (latest cycle "
                     f"{latest}, last fully pushed {ok or 'never'}); Centra may sell stock "
                     "that is gone"),
            details={"latest_cycle": latest, "ok_cycle": ok, "pending": report.pending},
            now=now)
    elif behind == 0:
        uow.exceptions.resolve_for_key(STALE_KEY, actor="system",
                                       note=f"cycle {latest} reached Centra", now=now)


def last_run(uow: UnitOfWork) -> dict[str, Any] | None:
    """The last run's summary (``SyncReport.as_dict`` plus ``finished_at``), if any."""
    raw = uow.cursors.get(LAST_RUN)
    return None if raw is None else dict(json.loads(raw))
