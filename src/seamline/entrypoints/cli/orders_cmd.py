"""``seamline orders sync|post|show``: the order flow by hand.

- ``sync``: intake now — Centra's events queue (when ``[centra].use_events_queue`` or
  ``--events``) and polling by ``updatedAt``.
- ``post [--batch DATE]``: release the daily batches that are due (or batch DATE), then run the
  order, write-back and intake queues until nothing is left that can run within ``--wait``.
- ``show NUMBER``: the whole story of one order across both systems.
"""

from __future__ import annotations

import time
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from seamline.exceptions import NotFound, SeamlineError

from ._output import (
    format_time,
    print_heading,
    print_json,
    print_record,
    print_table,
    print_text,
    print_tree,
)
from ._state import err_console, out_console, state
from ._wiring import build_runtime

if TYPE_CHECKING:
    from seamline.bootstrap import Container

__all__ = ["order_story", "orders_app"]

orders_app = typer.Typer(help="Move orders from Centra to BlueCherry by hand, and trace one.",
                         no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
POST_QUEUES = ("orders", "writeback", "intake")


def _ledger_states(rt: Container) -> dict[str, int]:
    with rt.store.read() as uow:
        return uow.orders.count_by_state()


@orders_app.command("sync")
def sync(
    ctx: typer.Context,
    events: Annotated[bool | None, typer.Option(
        "--events/--no-events", help=escape("Drain Centra's events queue first (default: "
                                            "[centra].use_events_queue)."))] = None,
    as_json: JsonOpt = False,
) -> None:
    """Intake now: read new and changed orders from Centra onto the ledger, and re-queue the
    parked orders whose mapping or SKU now exists."""
    state(ctx).setup_logging()
    rt = build_runtime(state(ctx).settings())
    if events is None:
        events = bool(getattr(rt.settings.centra, "use_events_queue", False))
    try:
        flow = rt.orders
        drained = flow.drain_events() if events else 0
        seen = flow.poll()
        # Parked orders whose mapping or SKU exists in this configuration go again now.
        with rt.store.begin() as uow:
            requeued = flow.requeue_parked(uow)
        states = _ledger_states(rt)
    finally:
        rt.close()
    result = {"events": drained, "orders_read": seen, "parked_requeued": requeued,
              "ledger": states}
    if as_json:
        print_json(result)
        return
    out_console.print(f"read {seen} order(s) from Centra"
                      + (f" and {drained} event(s)" if events else "")
                      + (f"; {requeued} parked order(s) re-queued" if requeued else ""),
                      markup=False)
    print_table([{"state": k, "orders": v} for k, v in sorted(states.items())],
                ("state", "orders"), empty="no orders on the ledger")


def _due_wait(rt: Container, queues: tuple[str, ...]) -> float | None:
    """Seconds until the next waiting job in ``queues`` may run (None if none waits)."""
    with rt.store.read() as uow:
        first = uow.outbox.next_due(queues)
    if first is None:
        return None
    return max(0.0, float((first - rt.queue.clock()).total_seconds()))


@orders_app.command("post")
def post(
    ctx: typer.Context,
    batch: Annotated[str | None, typer.Option(
        "--batch", metavar="DATE",
        help="Release the daily batch of this business day (YYYY-MM-DD) instead of the "
             "batches that are due.")] = None,
    wait: Annotated[float, typer.Option(
        min=0, help="Wait up to this many seconds for retries that are due soon.")] = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Release due daily batches (or --batch DATE) and post until the queues are drained."""
    day: date | None = None
    if batch is not None:
        try:
            day = date.fromisoformat(batch)
        except ValueError:
            raise SeamlineError(f"--batch {batch!r} is not a date; use YYYY-MM-DD") from None
    state(ctx).setup_logging()
    rt = build_runtime(state(ctx).settings())
    try:
        with rt.store.begin() as uow:
            released = rt.orders.run_batches(uow, day=day)
        worker = rt.worker(queues=[q for q in POST_QUEUES if q in rt.known_queues()],
                           concurrency=1)
        ran = 0
        deadline = time.monotonic() + wait
        while True:
            ran += worker.drain()
            pause = _due_wait(rt, POST_QUEUES)
            if pause is None or time.monotonic() + pause > deadline:
                break
            time.sleep(min(pause, 1.0) or 0.05)
        pending = _due_wait(rt, POST_QUEUES)
        states = _ledger_states(rt)
        report: list[dict[str, Any]] = []
        if day is not None:
            with rt.store.read() as uow:
                report = rt.orders.batch_report(uow, day)
    finally:
        rt.close()
    result = {"batch_released": released, "jobs_run": ran, "ledger": states,
              "jobs_waiting": pending is not None}
    if day is not None:
        result["batch_report"] = report
    if as_json:
        print_json(result)
        return
    what = f"batch {day.isoformat()}" if day else "due daily batches"
    out_console.print(f"{released} order(s) released from {what}; {ran} job(s) run",
                      markup=False)
    print_table([{"state": k, "orders": v} for k, v in sorted(states.items())],
                ("state", "orders"), empty="no orders on the ledger")
    if report:
        print_table(report, ("market", "day", "closed_at:closed", "released", "late",
                             "late_max_s:late max (s)", "late_mean_s:late mean (s)"),
                    empty="")
    if pending is not None:
        err_console.print(f"some jobs wait for a later retry (next in {pending:.0f}s); "
                          "`seamline worker` or `seamline run` will post them", markup=False)


# -- show -----------------------------------------------------------------------------------


def _centra_view(snap: dict[str, Any]) -> dict[str, Any]:
    """The order's fields people look at, from a snapshot (live or recorded at intake)."""
    return {
        "status": snap.get("status"), "market": snap.get("market_id"),
        "currency": snap.get("currency"), "grand_total": snap.get("grand_total"),
        "tax_total": snap.get("tax_total"), "shipping": snap.get("shipping"),
        "vouchers": snap.get("voucher_discount"), "on_hold": snap.get("is_on_hold"),
        "waiting_for_payment": snap.get("is_waiting_for_payment"),
        "shipping_option": snap.get("shipping_option"),
        "lines": [{"id": ln.get("id"), "sku": ln.get("sku"), "quantity": ln.get("quantity"),
                   "cancelled": ln.get("cancelled_quantity"),
                   "line_value": ln.get("line_value")} for ln in snap.get("lines", [])],
        "updated_at": snap.get("updated_at"),
    }


def _payload_view(frozen: dict[str, Any] | None) -> dict[str, Any] | None:
    """The frozen BlueCherry payload, in short."""
    return None if frozen is None else {
        "customer_po": frozen.get("customer_po"),
        "external_reference": frozen.get("external_reference"),
        "customer": frozen.get("customer"), "division": frozen.get("division"),
        "warehouse": frozen.get("warehouse"), "ship_via": frozen.get("ship_via"),
        "currency": frozen.get("currency"), "totals": frozen.get("totals"),
        "lines": len(frozen.get("lines", [])),
    }


def _centra_live(rt: Container, number: int) -> dict[str, Any]:
    """The order as Centra holds it now (read live), or why it could not be read."""
    from seamline.domain.orders import order_to_dict  # noqa: PLC0415 - lazy start-up

    try:
        order = rt.centra.get_order(number)
        external = rt.centra.get_external_ids([number]).get(number) if order else None
    except SeamlineError as exc:
        return {"read": "failed", "error": f"Centra could not be reached: {exc.message}"}
    if order is None:
        return {"read": "live", "error": f"Centra has no order {number} now"}
    # The external id (the BlueCherry order number written back) is Centra's id conversion,
    # not a field of the order: the intake snapshot never holds it.
    return {"read": "live", **_centra_view(order_to_dict(order)), "external_id": external}


def order_story(rt: Container, number: int) -> dict[str, Any]:
    """Everything known about Centra order ``number``, BlueCherry's copy read live."""
    key = str(number)
    business_key = f"order:{number}"
    with rt.store.read() as uow:
        row = uow.orders.get(number)
        if row is None:
            raise NotFound(f"order {number} is not on the ledger; run `seamline orders sync` "
                           "(or check the number in Centra)")
        data = row.raw
        exc_rows = uow.exceptions.find(
            state=None, business_keys=[business_key, *row.data.parks],
            key_prefix=f"{business_key}:", limit=10_000, newest_first=False,
            with_orders=False)
        job_rows = uow.outbox.jobs_for(business_key, [
            f"order:post:{key}", f"order:reconcile:{key}", f"order:fetch:{key}"])
        audit_rows = uow.audit.for_entity("order", key)
    snapshot = _centra_view(data.get("snapshot") or {})
    snapshot["recorded_at"] = data.get("snapshot_at")
    centra = _centra_live(rt, number)
    payload = _payload_view(data.get("frozen"))
    bluecherry: dict[str, Any] | None = None
    order_no = data.get("order_no")
    if order_no:
        try:
            erp = rt.erp.get_sales_order(str(order_no))
            bluecherry = {
                "order_no": erp.order_no, "status": erp.status, "customer_po": erp.customer_po,
                "external_reference": erp.external_reference, "currency": erp.currency,
                "total": erp.total.wire(), "tax": erp.tax.wire(),
                "updated_by": erp.updated_by, "updated_at": erp.updated_at.isoformat(),
                "lines": [{"line_no": ln.line_no, "sku": ln.sku, "ordered": ln.ordered_quantity,
                           "cancelled": ln.cancelled_quantity, "shipped": ln.shipped_quantity}
                          for ln in erp.lines],
            }
        except SeamlineError as exc:
            bluecherry = {"order_no": order_no, "error": exc.message}
    return {
        "number": number,
        "state": row.state.value,
        "reason": data.get("reason"),
        "business_day": data.get("business_day"),
        "late_s": data.get("late_s"),
        "order_no": order_no,
        "posted_at": data.get("posted_at"),
        "posted_how": data.get("posted_how"),
        "written_back_at": data.get("written_back_at"),
        "centra": centra,
        "intake_snapshot": snapshot,
        "payload": payload,
        "bluecherry": bluecherry,
        "line_map": data.get("line_map"),
        "exceptions": [{"id": e.id, "type": e.type, "owner": e.owner, "state": e.state,
                        "business_key": e.business_key, "count": e.count,
                        "message": e.message} for e in exc_rows],
        "jobs": [{"id": j.id, "task": j.task, "queue": j.queue, "status": j.status,
                  "attempts": j.attempts, "last_error": j.last_error} for j in job_rows],
        "audit": audit_rows,
    }


@orders_app.command("show")
def show(ctx: typer.Context, number: int, as_json: JsonOpt = False) -> None:
    """The whole story of one Centra order: ledger, Centra, payload, BlueCherry, exceptions."""
    rt = build_runtime(state(ctx).settings())
    try:
        story = order_story(rt, number)
    finally:
        rt.close()
    if as_json:
        print_json(story)
        return
    head = {k: story[k] for k in ("number", "state", "reason", "business_day", "late_s",
                                  "order_no", "posted_at", "posted_how", "written_back_at")
            if story[k] is not None}
    print_record(head)
    recorded = story["intake_snapshot"].get("recorded_at")
    titles = {
        "centra": "centra (live, read now)" if story["centra"].get("read") == "live"
        else "centra (live read failed)",
        "intake_snapshot": "intake snapshot (as Centra showed it when Seamline last recorded "
                           "it" + (f", {format_time(recorded)})" if recorded else ")"),
        "payload": "payload (frozen, as sent to BlueCherry)",
        "bluecherry": "bluecherry (live)", "line_map": "line map",
    }
    for section, title in titles.items():
        print_heading(title)
        value = story[section]
        if section == "centra":
            value = {k: v for k, v in value.items() if k != "read"}
        elif section == "intake_snapshot":
            value = {k: v for k, v in value.items() if k != "recorded_at"}
        if value is None:
            print_text("  -")
        else:
            print_tree(value, indent=2)
    print_heading("exceptions")
    for e in story["exceptions"]:
        out_console.print(f"  #{e['id']} {e['type']} ({e['owner']}, {e['state']}, "
                          f"×{e['count']}) {e['business_key']}: {e['message']}",
                          markup=False)
    if not story["exceptions"]:
        out_console.print("  none", markup=False)
    print_heading("jobs")
    print_table(story["jobs"], ("id", "task", "status", "attempts", "last_error:error"),
                empty="  none")
    print_heading("audit")
    print_table(story["audit"], ("at", "action", "actor", "detail"), empty="  none")
