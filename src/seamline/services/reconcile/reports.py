"""The reconciliation reports as the dashboard lists and shows them.

The list is the kept summaries (``Reconciler.history``); a report is produced again when it is
opened (re-running a day gives the same rows, so the page shows BlueCherry as it is now, not a
stale copy)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from seamline.services.dashboard.reads import ReportRef
from seamline.services.reconcile.render import render_html_sections
from seamline.services.reconcile.service import Reconciler

__all__ = ["ReconcileReports"]


class ReconcileReports:
    """``ReconciliationProvider`` over the reconciler (the dashboard's Reconciliation page)."""

    def __init__(self, reconciler: Reconciler, *, most: int = 200) -> None:
        self.reconciler = reconciler
        self.most = most

    def list_reports(self) -> Sequence[ReportRef]:
        refs: dict[tuple[str, str], list[str]] = {}
        for kept in self.reconciler.history():
            totals = kept.get("totals") or {}
            diffs = int(totals.get("differences", 0) or 0)
            refs.setdefault((kept["day"], kept["market"]), []).append(
                f"{kept['currency']}: {totals.get('orders', 0)} orders, "
                f"{diffs or 'no'} difference(s)")
        return [ReportRef(day=date.fromisoformat(day), market=market, summary="; ".join(parts))
                for (day, market), parts in list(refs.items())[: self.most]]

    def render_html(self, day: date, market: str) -> str | None:
        if not self.reconciler.scopes(market):
            return None
        reports = self.reconciler.run(day, market, keep=False)
        return render_html_sections(reports) if reports else None
