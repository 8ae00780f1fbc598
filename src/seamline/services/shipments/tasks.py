"""The shipment flow's tasks on the job queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seamline.ports import working_for
from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.centra_guard import parked_flows
from seamline.services.shipments.core import QUEUE
from seamline.services.shipments.flow import ShipmentFlow

__all__ = ["register_shipment_tasks"]


def register_shipment_tasks(registry: TaskRegistry,
                            flow_factory: Callable[[], ShipmentFlow]) -> None:
    """Register ``shipments.sync`` (read the feed), ``shipments.apply`` (one shipment into
    Centra) and ``shipments.watchdog``."""

    def sync(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        with flow.store.read() as uow:
            if "shipments" in parked_flows(uow):
                ctx.log.warning("shipments parked: Centra refuses their operations; see the "
                                "CENTRA_SCHEMA_MISMATCH exception")
                return
        flow.sync(lambda: flow.store.for_job(ctx))

    def apply(ctx: JobContext, args: dict[str, Any]) -> None:
        with working_for("shipments"):
            flow_factory().apply(ctx, str(args["shipment_no"]))

    def watchdog(ctx: JobContext, args: dict[str, Any]) -> None:
        flow = flow_factory()
        flow.watch(lambda: flow.store.for_job(ctx))

    # While a system is down its jobs wait, not failing (queue.circuit).
    registry.register("shipments.sync", sync, queue=QUEUE, needs=("bluecherry",))
    registry.register("shipments.apply", apply, queue=QUEUE,
                      exception_type="SHIPMENT_NOT_IN_CENTRA", needs=("centra", "bluecherry"))
    registry.register("shipments.watchdog", watchdog, queue=QUEUE)
