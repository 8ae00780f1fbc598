"""The dashboard's reads over the in-memory store (``seamline.testing.store``): the fake that
passes the same contract suite as the SQL reads (``tests/contract/test_dashboard_reads_contract``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from seamline.domain.dashboard import (
    ExceptionFilter,
    ExceptionRow,
    JobLine,
    LedgerLine,
    QueueFigures,
    StateFigures,
)
from seamline.testing.store import InMemoryStore

__all__ = ["InMemoryDashboardReads"]


class InMemoryDashboardReads:
    """``DashboardReads`` over an ``InMemoryStore`` (no job events are kept in memory)."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store

    @property
    def _s(self) -> Any:
        return self.store.state

    def queue_figures(self, *, since: datetime, now: datetime,
                      queues: Sequence[str] = ()) -> list[QueueFigures]:
        shown = set(queues) | {j["queue"] for j in self._s.jobs.values()
                               if j["status"] in ("todo", "doing", "failed")}
        out: dict[str, dict[str, Any]] = {q: {} for q in shown}
        for j in self._s.jobs.values():
            if j["queue"] not in shown:
                continue
            f = out[j["queue"]]
            st = str(j["status"])
            if st in ("todo", "doing", "failed"):
                f[st] = f.get(st, 0) + 1
            if st in ("succeeded", "failed") and j["updated_at"] >= since:
                f[f"{st}_recent"] = f.get(f"{st}_recent", 0) + 1
            if st == "todo" and j["run_at"] <= now:
                f["oldest_due"] = min(f.get("oldest_due", j["run_at"]), j["run_at"])
            if st == "succeeded":
                f["last_success"] = max(f.get("last_success", j["updated_at"]), j["updated_at"])
        return [QueueFigures(queue=q, **f) for q, f in sorted(out.items())]

    def ledger_states(self, kind: str, states: Sequence[str]) -> list[StateFigures]:
        out: dict[str, tuple[int, datetime | None]] = {}
        for (k, _key), e in self._s.ledger.items():
            if k != kind or e.state not in states:
                continue
            n, oldest = out.get(e.state, (0, None))
            at = getattr(e, "updated_at", None)
            out[e.state] = (n + 1, at if oldest is None or (at is not None and at < oldest)
                            else oldest)
        return [StateFigures(s, n, o) for s, (n, o) in sorted(out.items())]

    def ledger_page(self, kind: str, state: str, *, offset: int,
                    limit: int) -> tuple[list[LedgerLine], int]:
        rows = sorted((e for (k, _key), e in self._s.ledger.items()
                       if k == kind and e.state == state),
                      key=lambda e: (e.updated_at, e.id))
        return [LedgerLine(e.business_key, e.state, e.updated_at,
                           None if e.data.get("reason") is None else str(e.data["reason"]))
                for e in rows[offset:offset + limit]], len(rows)

    def open_exception_ages(self) -> list[tuple[str, datetime, int]]:
        held: dict[int, int] = {}
        for i, _k in self._s.holds:
            held[i] = held.get(i, 0) + 1
        return [(e["owner"], e["first_seen"], held.get(i, 0))
                for i, e in self._s.exceptions.items() if e["state"] == "open"]

    def exception_types(self) -> list[str]:
        return sorted({e["type"] for e in self._s.exceptions.values()})

    def _match(self, f: ExceptionFilter, now: datetime) -> list[dict[str, Any]]:
        term = (f.q or "").strip()
        holding = {i for i, k in self._s.holds if k == term}
        out = []
        for e in self._s.exceptions.values():
            if any(want is not None and e[name] != want for name, want in (
                    ("state", f.state), ("owner", f.owner), ("type", f.type))):
                continue
            if f.older_than_h is not None and e["first_seen"] > now - timedelta(
                    hours=f.older_than_h):
                continue
            if term and not (term in e["business_key"] or term in e["message"]
                             or e["id"] in holding):
                continue
            out.append(e)
        return out

    def _row(self, e: dict[str, Any]) -> ExceptionRow:
        held = sum(1 for i, _k in self._s.holds if i == e["id"])
        return ExceptionRow(e["id"], e["type"], e["owner"], e["severity"], e["business_key"],
                            e["state"], e["count"], e["message"], e["first_seen"],
                            e["last_seen"], held)

    def find_exceptions(self, f: ExceptionFilter, *, now: datetime, offset: int,
                        limit: int) -> tuple[list[ExceptionRow], int]:
        found = sorted(self._match(f, now), key=lambda e: (e["last_seen"], e["id"]),
                       reverse=True)
        return [self._row(e) for e in found[offset:offset + limit]], len(found)

    def exception_ids(self, f: ExceptionFilter, *, now: datetime, limit: int) -> list[int]:
        return sorted(e["id"] for e in self._match(f, now))[:limit]

    def _job(self, j: dict[str, Any]) -> JobLine:
        return JobLine(j["id"], j["queue"], j["task"], str(j["status"]), j["attempts"],
                       j["max_attempts"], j["created_at"], j["updated_at"], j["last_error"])

    def jobs(self, ids: Iterable[int]) -> list[JobLine]:
        wanted = set(ids)
        return [self._job(j) for i, j in sorted(self._s.jobs.items()) if i in wanted]

    def order_jobs(self, business_key: str) -> list[JobLine]:
        return [self._job(j) for _i, j in sorted(self._s.jobs.items())
                if j["business_key"] == business_key]

    def order_exceptions(self, business_key: str, order_key: str,
                         also_keys: Sequence[str] = ()) -> list[ExceptionRow]:
        holding = {i for i, k in self._s.holds if k == order_key}
        keys = {business_key, *also_keys}
        return [self._row(e) for i, e in sorted(self._s.exceptions.items())
                if e["business_key"] in keys or i in holding][:50]

    def shipments_for(self, order_number: int, *, limit: int = 50) -> list[dict[str, Any]]:
        out = []
        for (k, key), e in sorted(self._s.ledger.items()):
            if k == "shipment" and str(e.data.get("order")) == str(order_number):
                out.append({"shipment": key, "state": e.state, "data": dict(e.data),
                            "updated_at": getattr(e, "updated_at", None)})
        return out[:limit]
