"""``seamline stock sync|status``: the stock flow by hand.

- ``sync [--full] [--sku PATTERN]``: read BlueCherry's latest ATS cycle, compute each Centra
  size's figure and push the ones that changed (``--full``: read every SKU and send every size
  again), with a progress bar on a terminal.
- ``status``: the last run, the sizes waiting to reach Centra, the buffer rules in force.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ._output import print_json, print_record, print_table
from ._state import err_console, out_console, state
from ._wiring import build_runtime

__all__ = ["stock_app"]

stock_app = typer.Typer(help="Push BlueCherry's available-to-sell stock into Centra.",
                        no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@stock_app.command("sync")
def sync(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option(
        "--full", help="Read every SKU and send every size again (repairs Centra).")] = False,
    sku: Annotated[str | None, typer.Option(
        "--sku", metavar="PATTERN",
        help="Only BlueCherry SKUs matching this shell pattern, e.g. 'ST1001-*'.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Sync stock now: BlueCherry's latest cycle into Centra, changed sizes only."""
    state(ctx).setup_logging()
    rt = build_runtime(state(ctx).settings())
    show = err_console.is_terminal and not as_json
    try:
        with Progress(TextColumn("pushing sizes"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err_console, disable=not show,
                      transient=True) as bar:
            task = bar.add_task("push", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = rt.stock.run(full=full, sku_pattern=sku, progress=progress)
    finally:
        rt.close()
    result = report.as_dict()
    if as_json:
        print_json(result)
    else:
        cycles = ", ".join(f"{w} cycle {c}" for w, c in sorted(report.cycles.items()))
        out_console.print(
            f"read {report.sizes_read} SKU figure(s) ({cycles or 'no cycle published yet'}); "
            f"{report.targets} size(s) computed; pushed {report.pushed} in "
            f"{report.mutations} setStock mutation(s); {report.pending} still to push",
            markup=False)
        for wh, skus in sorted(report.unknown.items()):
            out_console.print(f"Centra warehouse {wh} does not know {len(skus)} SKU(s), e.g. "
                              f"{', '.join(skus[:5])}", markup=False)
        if report.deferred:
            out_console.print(f"paused for the Centra budget (the rest goes with the next "
                              f"run): {report.deferred}", markup=False)
        if report.failed:
            err_console.print(f"stopped: {report.failed}", markup=False)
    if report.failed:
        raise typer.Exit(1)


@stock_app.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The last sync, what waits to reach Centra, and the buffer rules in force."""
    from seamline.services.stock.watch import last_run  # noqa: PLC0415 - lazy start-up

    rt = build_runtime(state(ctx).settings())
    try:
        with rt.store.read() as uow:
            summary = uow.stock.summary()
            last = last_run(uow)
        buffers = rt.stock.plan.buffers.describe()
    finally:
        rt.close()
    result: dict[str, Any] = {"sizes": summary, "last_run": last, "buffers": buffers}
    if as_json:
        print_json(result)
        return
    print_record({"sizes known": summary["sizes"], "waiting to reach Centra":
                  summary["pending"], "unknown to Centra": summary["unknown"],
                  "posted web demand (units)": summary["demand_units"],
                  "last run": (last or {}).get("finished_at", "never"),
                  "last run's cycles": json.dumps((last or {}).get("cycles", {})),
                  "last lag (s)": (last or {}).get("lag_s")})
    print_table([{"warehouse": b["warehouse"] if b["warehouse"] is not None else "any",
                  "sku": b["sku"] or "any", "units": b["units"]} for b in buffers],
                ("warehouse", "sku", "units"), empty="no buffers")
