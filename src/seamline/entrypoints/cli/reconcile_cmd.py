"""``seamline reconcile --date D [--market M] [--format csv|html|json] [--output FILE]``.

The day's reconciliation report per market and currency, printed or written to a file, and its
summary kept in the store (``reconcile history`` lists them). Exit codes: 0 the day reconciles,
4 differences were found (the report lists them), 1–3 as for every command (an error).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ._output import print_json, print_table
from ._state import err_console, out_console, state
from ._wiring import build_runtime

__all__ = ["EXIT_DIFFERENCES", "reconcile_app"]

#: The exit code when the report lists differences (0 when the day reconciles).
EXIT_DIFFERENCES = 4

reconcile_app = typer.Typer(
    help="The daily reconciliation report: Centra against BlueCherry orders, invoices, "
         "receipts and credit memos, per market and currency. Exit code 0: the day reconciles; "
         "4: the report lists differences.",
    invoke_without_command=True)


def _day(value: str | None) -> date:
    if value is None:
        return datetime.now().astimezone().date()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("must be a date such as 2026-11-28") from exc


@reconcile_app.callback(invoke_without_command=True)
def reconcile(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option(
        "--date", help=escape("Business day YYYY-MM-DD [default: today].")
    )] = None,
    market: Annotated[str | None, typer.Option(
        help="Only this market (its BlueCherry store code or Centra market id).")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="csv, html or json.")] = "csv",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", dir_okay=False, help="Write the report to this file.")] = None,
) -> None:
    """Reconcile one business day; exit code 4 when differences were found."""
    if ctx.invoked_subcommand is not None:
        return
    if fmt not in ("csv", "html", "json"):
        raise typer.BadParameter("must be csv, html or json", param_hint="--format")
    the_day = _day(day)
    state(ctx).setup_logging()
    rt = build_runtime(state(ctx).settings())
    try:
        from seamline.services.reconcile.render import render  # noqa: PLC0415 - lazy start-up

        reports = rt.reconcile.run(the_day, market)
    finally:
        rt.close()
    if not reports:
        err_console.print(f"No market matches {escape(market or '')!s}: see [[markets]].",
                          markup=False)
        raise typer.Exit(1)
    text = render(reports, fmt)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        for r in reports:
            t = r.totals
            err_console.print(f"{r.day} {r.market} {r.currency}: {t.orders} orders, "
                              f"{t.differences} difference(s)", markup=False)
        err_console.print(f"Report written to {output}", markup=False)
    else:
        out_console.file.write(text)
    if any(r.rows for r in reports):
        raise typer.Exit(EXIT_DIFFERENCES)


@reconcile_app.command("history")
def history(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """The stored report summaries, newest day first."""
    rt = build_runtime(state(ctx).settings())
    try:
        rows = rt.reconcile.history()
    finally:
        rt.close()
    if as_json:
        print_json(rows)
        return
    print_table([{"day": r["day"], "market": r["market"], "currency": r["currency"],
                  "orders": r["totals"]["orders"], "differences": r["totals"]["differences"],
                  "difference": r["totals"]["rows_difference"]} for r in rows],
                ["day", "market", "currency", "orders", "differences", "difference"],
                empty="no reconciliation report kept yet")
