"""The Centra budget as the business sees it: the dispatch-delay watch (``CENTRA_BUDGET_DELAY``),
the report behind ``seamline centra budget`` and the dashboard, and the ``/metrics`` gauges.
The budget itself is the Centra adapter's ``BudgetGovernor`` (``seamline.ports.CentraBudget``)."""
from __future__ import annotations

from seamline.services.budget.metrics import BudgetGauges
from seamline.services.budget.report import budget_report
from seamline.services.budget.tasks import register_budget_tasks
from seamline.services.budget.watch import DELAY_TYPE, BudgetWatch

__all__ = ["DELAY_TYPE", "BudgetGauges", "BudgetWatch", "budget_report", "register_budget_tasks"]
