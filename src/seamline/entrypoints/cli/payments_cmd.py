"""``seamline payments batch|show``: the daily payment batch by hand, and what it posted.

- ``batch [--date D] [--market M]``: Centra's captures of business day D into BlueCherry cash
  receipts and its refunds into credit memos (every market, or one); without ``--date``, each
  market's latest business day whose batch time has passed. Safe to repeat: nothing is posted
  twice.
- ``show [--date D]``: the receipts and memos of business day D (default: yesterday), their
  state, amounts, unapplied cash and BlueCherry numbers.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ._output import print_json, print_table
from ._state import out_console, state
from ._wiring import build_runtime

if TYPE_CHECKING:
    from seamline.services.payments import BatchResult

__all__ = ["payments_app"]

payments_app = typer.Typer(
    help="Post Centra captures and refunds to BlueCherry as cash receipts and credit memos.",
    no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
DateOpt = Annotated[str | None, typer.Option(
    "--date", help=escape("Business day YYYY-MM-DD [default: the latest one due]."))]


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)",
                                 param_hint="--date") from exc


def _money_rows(result: BatchResult) -> list[dict[str, Any]]:
    currencies = sorted(set(result.received) | set(result.refunded) | set(result.unapplied))

    def f(d: dict[str, Decimal], c: str) -> str:
        return format(d[c], "f") if c in d else "-"

    return [{"currency": c, "received": f(result.received, c),
             "refunded": f(result.refunded, c), "unapplied": f(result.unapplied, c)}
            for c in currencies]


@payments_app.command("batch")
def batch(
    ctx: typer.Context,
    day: DateOpt = None,
    market: Annotated[str | None, typer.Option(
        "--market", help="One market: CENTRA_MARKET or CENTRA_MARKET/CURRENCY, e.g. 1/SEK.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Post a business day's captures as cash receipts and refunds as credit memos."""
    state(ctx).setup_logging()
    wanted = _day(day)
    rt = build_runtime(state(ctx).settings())
    try:
        flow = rt.payments
        from seamline.services.payments import BatchResult  # noqa: PLC0415

        total = BatchResult()
        runs = ({market: wanted} if wanted is not None
                else dict(flow.latest_days(market)))
        for key, d in sorted(runs.items(), key=lambda kv: str(kv[0])):
            one = flow.run(day=d, market=key)
            _merge(total, one)
    finally:
        rt.close()
    if as_json:
        print_json(total.as_dict())
        return
    out_console.print(
        f"payments batch {', '.join(total.days) or 'nothing'}: {total.receipts} receipt(s) and "
        f"{total.memos} credit memo(s) posted, {total.repeats} already in BlueCherry, "
        f"{total.rejected} refused", markup=False)
    print_table(_money_rows(total), ("currency", "received", "refunded", "unapplied"),
                empty="no captures or refunds to post")
    if total.unapplied:
        out_console.print("unapplied cash is open as RECEIPT_UNAPPLIED for finance "
                          "(seamline exceptions list --type RECEIPT_UNAPPLIED)", markup=False)


def _merge(total: BatchResult, one: BatchResult) -> None:
    total.days += one.days
    total.receipts += one.receipts
    total.memos += one.memos
    total.repeats += one.repeats
    total.rejected += one.rejected
    for mine, theirs in ((total.received, one.received), (total.refunded, one.refunded),
                         (total.unapplied, one.unapplied)):
        for k, v in theirs.items():
            mine[k] = mine.get(k, Decimal(0)) + v
    for cust, amounts in one.by_customer.items():
        into = total.by_customer.setdefault(cust, {})
        for k, v in amounts.items():
            into[k] = into.get(k, Decimal(0)) + v


ShowDateOpt = Annotated[str | None, typer.Option(
    "--date", help=escape("Business day YYYY-MM-DD [default: yesterday, UTC].") )]


@payments_app.command("show")
def show(ctx: typer.Context, day: ShowDateOpt = None, as_json: JsonOpt = False) -> None:
    """The receipts and credit memos of a business day (default: yesterday)."""
    rt = build_runtime(state(ctx).settings())
    try:
        when = _day(day) or (rt.queue.clock().date() - timedelta(days=1))
        with rt.store.read() as uow:
            docs = uow.payments.documents(day=when)
            waiting = len(uow.payments.pending_records(when))
    finally:
        rt.close()
    rows = [{"reference": d.reference, "kind": d.kind, "state": d.state,
             "customer": d.customer, "currency": d.currency, "amount": d.amount.wire(),
             "unapplied": d.unapplied.wire() if d.kind == "receipt" else "-",
             "bluecherry": (d.result or {}).get("receipt_no") or (d.result or {}).get(
                 "memo_no"),
             "orders": ", ".join(str(n) for n in d.orders[:5])
             + (" …" if len(d.orders) > 5 else "")} for d in docs]
    if as_json:
        print_json({"day": when.isoformat(), "documents": rows, "waiting": waiting})
        return
    out_console.print(f"payments of {when.isoformat()}: {len(rows)} document(s); {waiting} "
                      "capture(s)/refund(s) waiting for a batch", markup=False)
    print_table(rows, ("reference", "kind", "state", "customer", "currency", "amount",
                       "unapplied", "bluecherry", "orders"),
                empty="nothing posted for that day")
