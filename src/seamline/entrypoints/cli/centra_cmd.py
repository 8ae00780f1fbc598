"""``seamline centra budget``: the one Centra API budget every flow shares.

Prints each of Centra's six rate-limit buckets (capacity, level, share spent), the mutations
waiting per flow, the estimated time until each flow's backlog is sent, the back-off after a
429, and whether waiting shipments would delay dispatch emails past the alert's limit.
"""

from __future__ import annotations

from typing import Annotated

import typer

from seamline.services.budget import budget_report

from ._output import print_json, print_table
from ._state import out_console, state
from ._wiring import build_runtime

__all__ = ["centra_app"]

centra_app = typer.Typer(help="Centra's API budget, shared by every flow.",
                         no_args_is_help=True)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


@centra_app.command("budget")
def budget(ctx: typer.Context, as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of text.")] = False) -> None:
    """Budget use, backlog per flow and time to drain."""
    rt = build_runtime(state(ctx).settings())
    try:
        waiting, view = rt.budget_watch.current()
    finally:
        rt.close()
    report = {"waiting_shipments": waiting, **budget_report(view)}
    if as_json:
        print_json(report)
        return
    print_table(report["buckets"], ["name", "capacity", "level", "used_share"],
                title="Centra rate-limit buckets (Seamline's share)")
    rows = [{"flow": f, "backlog": view.backlog.get(f, 0), "drain": _minutes(s)}
            for f, s in sorted(view.drain_s.items())]
    print_table(rows, ["flow", "backlog", "drain"], title="Mutations waiting, per flow")
    out_console.print(
        f"{report['mutations_per_hour']} mutations/hour sustainable; "
        f"{waiting} shipment(s) waiting; back-off {view.backoff_s:.0f} s", markup=False)
    if view.dispatch_delayed:
        out_console.print(
            f"DISPATCH DELAYED: shipments need {_minutes(view.drain_s['shipments'])} "
            f"(limit {_minutes(view.dispatch_delay_alert_s)}); see the runbook", markup=False)
