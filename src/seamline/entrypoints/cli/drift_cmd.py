"""Drift and missing orders by hand, registered on ``orders`` and ``exceptions``.

- ``orders drift [--order N]``: scan BlueCherry's changed orders now (or compare one order) and
  list the open ``ORDER_DRIFT`` exceptions with their diffs.
- ``orders missing``: Centra orders that should be in BlueCherry by now, each with the reason
  it waits (or none: ``ORDER_MISSING_IN_ERP``); ``--watch`` raises and resolves those now.
- ``exceptions accept-drift ID`` / ``exceptions correct-drift ID``: the two choices on a drift.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ._output import print_json, print_table
from ._state import out_console, state
from ._wiring import build_runtime
from .exceptions_cmd import JsonOpt, NoteOpt, _actor, exceptions_app
from .orders_cmd import orders_app

__all__: list[str] = []


def _diff_rows(record: Any) -> list[dict[str, Any]]:
    details = record.details or {}
    return [{"exception": record.id, "order": details.get("order"),
             "order_no": details.get("order_no"), "owner": record.owner, **d}
            for d in details.get("diff", [])]


@orders_app.command("drift")
def drift(
    ctx: typer.Context,
    order: Annotated[int | None, typer.Option(
        "--order", metavar="N", help="Compare this Centra order with BlueCherry now.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find BlueCherry orders that differ from what Seamline posted, field by field.

    Scans BlueCherry's orders changed since the last scan (or compares one order with --order)
    and lists the open drift exceptions: Centra says / BlueCherry says."""
    state(ctx).setup_logging()
    rt = build_runtime(state(ctx).settings())
    try:
        service = rt.drift
        summary: dict[str, Any]
        if order is not None:
            rows = service.check_order(order)
            summary = {"order": order, "differences": len(rows)}
        else:
            result = service.scan()
            summary = {"read": result.read, "compared": result.compared,
                       "raised": result.raised, "updated": result.updated,
                       "resolved": result.resolved}
        found = service.open_drifts(order)
        diffs = [d for r in found for d in _diff_rows(r)]
        if as_json:
            print_json({**summary, "open": [
                {"id": r.id, "owner": r.owner, "business_key": r.business_key,
                 "message": r.message, "diff": (r.details or {}).get("diff", [])}
                for r in found]})
            return
        out_console.print(", ".join(f"{k} {v}" for k, v in summary.items())
                          + f"; {len(found)} open drift exception(s)", markup=False)
        if not found:
            out_console.print("no drift", markup=False)
        for r in found:
            details = r.details or {}
            out_console.print(
                f"exception {r.id}: Centra order {details.get('order')}, BlueCherry "
                f"{details.get('order_no')}, owner {r.owner}, changed by "
                f"{(details.get('version') or {}).get('updated_by', '?')}", markup=False)
            print_table([d for d in diffs if d["exception"] == r.id],
                        ("field", "centra:Centra says", "bluecherry:BlueCherry says"))
    finally:
        rt.close()


@orders_app.command("missing")
def missing(
    ctx: typer.Context,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Also raise ORDER_MISSING_IN_ERP for those waiting for no named "
                        "reason, and resolve the ones no longer missing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Centra orders that should be in BlueCherry by now, with the reason each waits."""
    from seamline.services.drift import missing_rows  # noqa: PLC0415 - lazy start-up

    state(ctx).setup_logging()
    rt = build_runtime(state(ctx).settings())
    try:
        dog = rt.missing_in_erp
        if watch:
            dog.watch()
        rows = missing_rows(dog.report())
        if as_json:
            print_json(rows)
            return
        print_table(rows, ("order", "state", "mode", "due_at:due at", "minutes_late:late (min)",
                           "reason"), empty="no order is missing in BlueCherry")
    finally:
        rt.close()


@exceptions_app.command("accept-drift")
def accept_drift(ctx: typer.Context, exception_id: int, note: NoteOpt = None) -> None:
    """Accept BlueCherry's version of a drifted order as a known adjustment.

    Recorded and audited; later scans do not raise that version again unless the order changes
    again."""
    rt = build_runtime(state(ctx).settings())
    try:
        rt.drift.accept(exception_id, actor=_actor(), note=note or "")
    finally:
        rt.close()
    out_console.print(f"exception {exception_id}: BlueCherry's version accepted", markup=False)


@exceptions_app.command("correct-drift")
def correct_drift(ctx: typer.Context, exception_id: int, note: NoteOpt = None) -> None:
    """Correct a drifted order from Centra as far as BlueCherry allows.

    Cancels the open units BlueCherry holds beyond what was posted; anything else needs a person
    in BlueCherry (the exception stays open and says what to change)."""
    rt = build_runtime(state(ctx).settings())
    try:
        result = rt.drift.correct(exception_id, actor=_actor(), note=note or "")
    finally:
        rt.close()
    if result.done:
        units = ", ".join(f"line {n}: {q}" for n, q in result.cancels)
        out_console.print(f"exception {exception_id}: corrected (cancelled in BlueCherry: "
                          f"{units})", markup=False)
        return
    out_console.print(f"exception {exception_id} stays open: {result.instructions}",
                      markup=False)
