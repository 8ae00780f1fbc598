"""The order flow's tasks on the job queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from seamline.ports import working_for
from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.centra_guard import parked_flows
from seamline.services.orders.flow import OrderFlow

__all__ = ["register_order_tasks"]


def parked(ctx: JobContext, flow: OrderFlow) -> bool:
    """Intake waits while Centra refuses the flow's operations (one exception says so)."""
    with flow.store.read() as uow:
        stopped = "orders" in parked_flows(uow)
    if stopped:
        ctx.log.warning("order intake parked: Centra refuses its operations; see the "
                        "CENTRA_SCHEMA_MISMATCH exception")
    return stopped


def register_order_tasks(registry: TaskRegistry, flow_factory: Callable[[], OrderFlow]) -> None:
    """Register the order-flow tasks; ``flow_factory`` builds (or returns) the process's flow."""

    def post(ctx: JobContext, args: dict[str, Any]) -> None:
        day = args.get("batch_day")
        flow_factory().post(ctx, int(args["number"]),
                            batch_day=date.fromisoformat(day) if day else None)

    def reconcile(ctx: JobContext, args: dict[str, Any]) -> None:
        flow_factory().reconcile(ctx, int(args["number"]))

    def writeback(ctx: JobContext, args: dict[str, Any]) -> None:
        with working_for("orders"):
            flow_factory().writeback(ctx)

    def fetch(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        flow.fetch([int(n) for n in args["numbers"]], lambda: flow.store.for_job(ctx))

    def poll(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        if parked(ctx, flow):
            return
        if args.get("events"):
            flow.drain_events(lambda: flow.store.for_job(ctx))
        flow.poll(lambda: flow.store.for_job(ctx))

    def events(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        if not parked(ctx, flow):
            flow.drain_events(lambda: flow.store.for_job(ctx))

    def sweep(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        if not parked(ctx, flow):
            flow.sweep(lambda: flow.store.for_job(ctx), days=args.get("days"))

    def batches(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        with flow.store.for_job(ctx) as uow:
            flow.run_batches(uow)

    def catalogue(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        flow.sync_catalogue(lambda: flow.store.for_job(ctx))

    bluecherry, centra = ("bluecherry",), ("centra",)
    registry.register("orders.post", post, queue="orders", needs=bluecherry)
    registry.register("orders.reconcile", reconcile, queue="orders",
                      exception_type="POST_FAILED", needs=bluecherry)
    registry.register("centra.writeback", writeback, queue="writeback",
                      exception_type="WRITEBACK_FAILED", needs=centra)
    registry.register("orders.fetch", fetch, queue="intake", needs=centra)
    registry.register("orders.poll", poll, queue="intake", needs=centra)
    registry.register("centra.events", events, queue="intake", needs=centra)
    registry.register("orders.sweep", sweep, queue="intake", needs=centra)
    registry.register("orders.batch", batches, queue="intake")
    registry.register("catalogue.sync", catalogue, queue="intake", needs=bluecherry)
