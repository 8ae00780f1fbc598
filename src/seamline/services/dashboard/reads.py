"""The ports the dashboard reads through: the store's read side and the reconciliation
reports (provided by the reconciliation flow; none by default)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from seamline.domain.dashboard import (
    ExceptionFilter,
    ExceptionRow,
    JobLine,
    LedgerLine,
    QueueFigures,
    StateFigures,
)

__all__ = ["DashboardReads", "NoReports", "ReconciliationProvider", "ReportRef"]


class DashboardReads(Protocol):
    """Counted and paged by the store (``seamline.adapters.store.dashboard``)."""

    def queue_figures(self, *, since: datetime, now: datetime,
                      queues: Sequence[str] = ()) -> list[QueueFigures]:
        """``queues`` and every queue with a live or failed job."""
        ...

    def ledger_states(self, kind: str, states: Sequence[str]) -> list[StateFigures]: ...

    def ledger_page(self, kind: str, state: str, *, offset: int,
                    limit: int) -> tuple[list[LedgerLine], int]:
        """Rows in ``state``, longest waiting first, and how many there are."""
        ...

    def open_exception_ages(self) -> list[tuple[str, datetime, int]]: ...

    def exception_types(self) -> list[str]: ...

    def find_exceptions(self, f: ExceptionFilter, *, now: datetime, offset: int,
                        limit: int) -> tuple[list[ExceptionRow], int]: ...

    def exception_ids(self, f: ExceptionFilter, *, now: datetime, limit: int) -> list[int]: ...

    def jobs(self, ids: Iterable[int]) -> list[JobLine]: ...

    def order_jobs(self, business_key: str) -> list[JobLine]: ...

    def order_exceptions(self, business_key: str, order_key: str,
                         also_keys: Sequence[str] = ()) -> list[ExceptionRow]: ...

    def shipments_for(self, order_number: int, *, limit: int = 50) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class ReportRef:
    """One reconciliation report: its business day and market, and a one-line summary."""

    day: date
    market: str
    summary: str = ""


class ReconciliationProvider(Protocol):
    """What the Reconciliation page shows; the reconciliation flow provides one."""

    def list_reports(self) -> Sequence[ReportRef]: ...

    def render_html(self, day: date, market: str) -> str | None:
        """The report as an HTML fragment (escaped by the provider), or None if absent."""
        ...


class NoReports:
    """The default provider: no reports yet."""

    def list_reports(self) -> Sequence[ReportRef]:
        return ()

    def render_html(self, day: date, market: str) -> str | None:
        return None
