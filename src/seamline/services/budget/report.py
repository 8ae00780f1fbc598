"""``budget_report``: the budget's view as plain data (``seamline centra budget --json``, the
dashboard)."""

from __future__ import annotations

from typing import Any

from seamline.ports import BudgetView

__all__ = ["budget_report"]


def budget_report(view: BudgetView) -> dict[str, Any]:
    """Buckets (capacity, level, share used), backlog and time to drain per flow, the
    sustainable mutation rate, the back-off, and whether dispatch emails are being delayed."""
    return {
        "buckets": [{"name": b.name, "capacity": round(b.capacity, 1),
                     "level": round(b.level, 1), "used_share": round(b.used_share, 4)}
                    for b in view.buckets],
        "backlog": dict(sorted(view.backlog.items())),
        "drain_s": {k: round(v, 1) for k, v in sorted(view.drain_s.items())},
        "mutations_per_hour": round(view.mutation_rate * 3600, 1),
        "backoff_s": round(view.backoff_s, 1),
        "dispatch_delay_alert_s": view.dispatch_delay_alert_s,
        "dispatch_delayed": view.dispatch_delayed,
    }
