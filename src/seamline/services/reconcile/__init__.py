"""The daily reconciliation report (issue 13): Centra orders against BlueCherry sales orders,
invoices, receipts and credit memos, per business day, market and currency."""
from __future__ import annotations

from seamline.services.reconcile.service import (
    EXCEPTION_TYPE,
    REPORT_KIND,
    MarketScope,
    Reconciler,
    ReconcileSources,
    Report,
)
from seamline.services.reconcile.tasks import register_reconcile_tasks

__all__ = ["EXCEPTION_TYPE", "REPORT_KIND", "MarketScope", "ReconcileSources", "Reconciler",
           "Report", "register_reconcile_tasks"]
