"""The dashboard's read side and its actions: what the web pages show, queried through a read
port (``DashboardReads``; SQL in ``seamline.adapters.store.dashboard``) and the unit of work,
and what people do (retry, edit-and-retry, skip, resolve, bulk retry) through the exceptions
service with the signed-in person as the actor. The web handlers stay thin."""
from __future__ import annotations

from seamline.services.dashboard.flows import FLOWS, Flow
from seamline.services.dashboard.reads import (
    DashboardReads,
    NoReports,
    ReconciliationProvider,
    ReportRef,
)
from seamline.services.dashboard.service import DashboardService, Page

__all__ = [
    "FLOWS",
    "DashboardReads",
    "DashboardService",
    "Flow",
    "NoReports",
    "Page",
    "ReconciliationProvider",
    "ReportRef",
]
