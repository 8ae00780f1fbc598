"""The daily reconciliation report (issue 13): Centra orders against BlueCherry sales orders,
invoices, receipts and credit memos, per business day, market and currency."""
from __future__ import annotations

from seamline.services.reconcile.service import (
    REPORT_KIND,
    MarketScope,
    Reconciler,
    ReconcileSources,
    Report,
)

__all__ = ["REPORT_KIND", "MarketScope", "ReconcileSources", "Reconciler", "Report"]
