"""``seamline shipments sync|show|late``: the shipment flow by hand.

- ``sync``: read BlueCherry's shipment feed now and run the shipments queue until every new
  shipment is in Centra (or waits for a later retry within ``--wait``).
- ``show SHIPMENT_NO``: one BlueCherry shipment: ledger state, Centra shipment, tracking, email,
  its exceptions.
- ``late``: shipments BlueCherry confirmed that Centra has not shipped after
  ``[shipments].not_in_centra_after_h`` hours, oldest first.
- ``unshipped [--days N]``: orders in BlueCherry for N days (``[shipments].unshipped_after_days``)
  of which no shipment has come yet — the report operations chase the warehouse with.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from seamline.exceptions import NotFound

from ._output import print_heading, print_json, print_record, print_table
from ._state import err_console, out_console, state
from ._wiring import build_runtime

if TYPE_CHECKING:
    from seamline.bootstrap import Container

__all__ = ["shipments_app"]

shipments_app = typer.Typer(help="Bring BlueCherry shipments into Centra by hand, and trace one.",
                            no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
QUEUES = ("shipments",)
STATES = ("new", "creating", "created", "completing", "completed", "held")


def _states(rt: Container) -> dict[str, int]:
    with rt.store.read() as uow:
        return {s: n for s in STATES if (n := len(uow.ledger.in_state("shipment", s)))}


def _drain(rt: Container, wait: float) -> tuple[int, float | None]:
    """Run the shipments queue until nothing can run within ``wait`` seconds."""
    worker = rt.worker(queues=list(QUEUES), concurrency=1)
    ran = 0
    deadline = time.monotonic() + wait
    while True:
        ran += worker.drain()
        with rt.store.read() as uow:
            first = uow.outbox.next_due(QUEUES)
        pause = None if first is None else max(
            0.0, float((first - rt.queue.clock()).total_seconds()))
        if pause is None or time.monotonic() + pause > deadline:
            return ran, pause
        time.sleep(min(pause, 1.0) or 0.05)


@shipments_app.command("sync")
def sync(
    ctx: typer.Context,
    wait: Annotated[float, typer.Option(
        min=0, help="Wait up to this many seconds for retries that are due soon.")] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Read BlueCherry's shipment feed now and bring every new shipment into Centra."""
    state(ctx).setup_logging()
    rt = build_runtime(state(ctx).settings())
    try:
        result = rt.shipments.sync()
        ran, pending = _drain(rt, wait)
        states = _states(rt)
    finally:
        rt.close()
    out = {"read": result.read, "new": result.new, "jobs_run": ran, "ledger": states,
           "jobs_waiting": pending is not None}
    if as_json:
        print_json(out)
        return
    out_console.print(f"read {result.read} shipment(s) from BlueCherry, {result.new} new; "
                      f"{ran} job(s) run", markup=False)
    print_table([{"state": k, "shipments": v} for k, v in states.items()],
                ("state", "shipments"), empty="no shipments on the ledger")
    if pending is not None:
        err_console.print(f"some shipments wait for a later retry (next in {pending:.0f}s); "
                          "`seamline worker` or `seamline run` will finish them", markup=False)


def _story(rt: Container, shipment_no: str) -> dict[str, Any]:
    with rt.store.read() as uow:
        row = uow.ledger.get("shipment", shipment_no)
        if row is None:
            raise NotFound(f"no BlueCherry shipment {shipment_no} on the ledger; "
                           "`seamline shipments sync` reads the feed")
        excs = uow.exceptions.find(state=None, business_key=f"shipment:{shipment_no}")
    data = row.data
    return {
        "shipment_no": shipment_no, "state": row.state, "order": data.get("order"),
        "order_no": data.get("shipment", {}).get("order_no"),
        "shipped_at": data.get("shipment", {}).get("shipped_at"),
        "centra_shipment": data.get("centra_number"), "carrier": data.get("carrier"),
        "service": data.get("service"), "tracking": data.get("tracking"),
        "email_sent": data.get("email_sent"), "completed_at": data.get("completed_at"),
        "lag_s": data.get("lag_s"), "problem": data.get("problem"),
        "shorts": data.get("shorts"),
        "exceptions": [{"id": e.id, "type": e.type, "owner": e.owner, "state": e.state,
                        "message": e.message} for e in excs],
    }


@shipments_app.command("show")
def show(ctx: typer.Context, shipment_no: str, as_json: JsonOpt = False) -> None:
    """One BlueCherry shipment: where it is, its Centra shipment, tracking and exceptions."""
    rt = build_runtime(state(ctx).settings())
    try:
        story = _story(rt, shipment_no)
    finally:
        rt.close()
    if as_json:
        print_json(story)
        return
    print_record({k: v for k, v in story.items() if k != "exceptions" and v is not None})
    print_heading("exceptions")
    print_table(story["exceptions"], ("id", "type", "owner", "state", "message"),
                empty="  none")


@shipments_app.command("late")
def late(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Shipments BlueCherry confirmed that Centra has not shipped within the limit."""
    rt = build_runtime(state(ctx).settings())
    try:
        rows = [{"shipment_no": s.shipment_no, "order_no": s.order_no, "state": s.state,
                 "hours": round(s.hours, 1)} for s in rt.shipments.late_shipments()]
    finally:
        rt.close()
    if as_json:
        print_json(rows)
        return
    print_table(rows, ("shipment_no", "order_no", "state", "hours"),
                empty="no shipment is late")


@shipments_app.command("unshipped")
def unshipped(
    ctx: typer.Context,
    days: Annotated[float | None, typer.Option(
        min=0, help=escape("Days since posting (default: [shipments].unshipped_after_days)."))
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Orders posted to BlueCherry N days ago of which no shipment has come yet."""
    rt = build_runtime(state(ctx).settings())
    try:
        limit = days if days is not None else rt.settings.shipments.unshipped_after_days
        rows = [{"order": o.number, "order_no": o.order_no, "posted_at": o.posted_at,
                 "days": round(o.days, 1)} for o in rt.shipments.unshipped_orders(limit)]
    finally:
        rt.close()
    if as_json:
        print_json(rows)
        return
    print_table(rows, ("order", "order_no", "posted_at", "days"),
                empty=f"every order posted {limit:g}+ days ago has shipped at least in part")
