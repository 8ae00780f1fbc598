"""The stock flow: BlueCherry's available-to-sell into Centra, delta-only, never overselling.

``sync`` reads each BlueCherry warehouse's published ATS cycle (the SKUs changed since the cycle
last read; every SKU on a full run), computes what each Centra size should physically hold
(``seamline.domain.stock``: ``max(ATS − buffer, 0) + counted``, the rule and a worked example in
``docs/adr-0001-stock-figure.md``) and pushes the sizes whose figure changed, many per
``setStock``. ``demand`` keeps the posted web demand Centra still holds allocated (written by the
order flow as orders post, cancel and ship). ``watch`` raises ``STOCK_SYNC_FAILED``,
``STOCK_SYNC_STALE`` and ``STOCK_SKU_UNKNOWN``. ``tasks`` registers ``stock.sync``.
"""

from __future__ import annotations

from seamline.services.stock.demand import record_demand
from seamline.services.stock.plan import StockPlan
from seamline.services.stock.sync import StockSync, SyncReport
from seamline.services.stock.tasks import register_stock_tasks

__all__ = ["StockPlan", "StockSync", "SyncReport", "record_demand", "register_stock_tasks"]
