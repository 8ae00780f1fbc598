"""After posting: BlueCherry's numbers written back to Centra (batched, PENDING orders
confirmed where the market says so), and posted orders that change in Centra reconciled:
cancellations reach BlueCherry as idempotent cancels, other changes raise
``POSTED_ORDER_CHANGED``."""

from __future__ import annotations

from typing import Any

from seamline.domain.exception_keys import OrderKey
from seamline.domain.ledger import OrderData, OrderRecord, OrderState
from seamline.domain.orders import CentraOrder, OrderStatus, order_from_dict
from seamline.domain.posting import ALL, plan_cancel
from seamline.exceptions import AmbiguousWrite, Conflict, TransientError
from seamline.services.orders.core import FlowCore
from seamline.services.orders.fingerprints import fingerprints
from seamline.services.stock.demand import record_demand
from seamline.services.unit_of_work import JobScope

__all__ = ["WRITEBACK_BATCH", "AfterPost"]

KIND = "order"
WRITEBACK_BATCH = 100


class AfterPost(FlowCore):
    """The ``centra.writeback`` and ``orders.reconcile`` jobs."""

    def writeback(self, ctx: JobScope) -> int:
        """Write BlueCherry order numbers back to Centra (batched) and confirm PENDING orders."""
        done = 0
        while True:
            with self.store.read() as uow:
                rows = uow.orders.in_state(OrderState.POSTED, limit=WRITEBACK_BATCH)
            if not rows:
                return done
            self.centra.set_external_ids([(r.number, str(r.data.order_no)) for r in rows])
            confirmed, failure = self._confirm(rows)
            if self.lock_after_post and confirmed:
                self.centra.set_orders_lock([r.number for r in confirmed], True)
            ctx.heartbeat()
            with self.store.for_job(ctx) as uow:
                uow.orders.mark([r.number for r in confirmed],
                                {"written_back_at": self.clock().isoformat()},
                                state=OrderState.SYNCED, now=self.clock())
            done += len(confirmed)
            if failure is not None:
                raise failure

    def _confirm(self, rows: list[OrderRecord]) -> tuple[list[OrderRecord], Exception | None]:
        """Confirm the PENDING orders whose market says so, and return those done with the
        first failure. A passing failure of one order (a 5xx, a timeout: already read back and
        retried once by the client) does not stop the others: they are kept, and the job's
        retry starts with the ones left. Anything else (a long rate limit, refused
        credentials) stops the batch there, keeping what was done before it."""
        confirmed: list[OrderRecord] = []
        failure: Exception | None = None
        for r in rows:
            if r.data.confirm and r.data.snapshot["status"] == OrderStatus.PENDING.value:
                try:
                    self.centra.confirm_order(r.number)
                except (AmbiguousWrite, TransientError) as exc:
                    failure = failure or exc
                    continue
                except Exception as exc:  # re-raised by the caller, once the progress is kept
                    return confirmed, failure or exc
            confirmed.append(r)
        return confirmed, failure

    def reconcile(self, ctx: JobScope, number: int) -> None:
        """A posted order changed in Centra: cancel in BlueCherry, or raise the change."""
        for _ in range(5):
            with self.store.read() as uow:
                row = uow.orders.get(number)
            if row is None or not row.state.in_bluecherry:
                return
            snapshot = row.data.snapshot
            order = order_from_dict(snapshot)
            with self.store.for_job(ctx) as uow:
                # Centra's allocation moved with the change (a cancel, a shipment): the stock
                # figure's web demand follows it whatever BlueCherry says of the cancel.
                record_demand(uow, number, row.data.raw, order, now=self.clock())
            self._reconcile(ctx, number, row.data, order)
            if not self._snapshot_moved(number, snapshot):
                return

    def _reconcile(self, ctx: JobScope, number: int, data: OrderData,
                   order: CentraOrder) -> None:
        now_fp = fingerprints(order)
        static_changed = now_fp["fp_static"] != data.fp_static
        cancelled_more = (order.is_cancelled
                          or now_fp["cancelled_units"] > data.cancelled_units)
        amounts_changed = now_fp["fp_amounts"] != data.fp_amounts
        if static_changed or (amounts_changed and not cancelled_more):
            self._raise_changed(ctx, number, data, now_fp, static=static_changed,
                                amounts=amounts_changed)
        if cancelled_more:
            self._cancel(ctx, number, data, order, now_fp)

    def _raise_changed(self, ctx: JobScope, number: int, data: OrderData,
                       now_fp: dict[str, Any], *, static: bool, amounts: bool) -> None:
        with self.store.for_job(ctx) as uow:
            uow.exceptions.raise_(
                type="POSTED_ORDER_CHANGED", owner="operations",
                business_key=str(OrderKey(number, "changed")),
                message=(f"Centra order {number} changed after it was posted to BlueCherry "
                         f"as {data.order_no}; make the same change in BlueCherry "
                         "or revert it in Centra"),
                details={"order_no": data.order_no,
                         "what": [w for w, c in (("address/lines/shipping option", static),
                                                  ("amounts", amounts)) if c]},
                now=self.clock(),
            )
            self._patch(uow, number, set_={"fp_static": now_fp["fp_static"],
                                           "fp_amounts": now_fp["fp_amounts"]})

    def _cancel(self, ctx: JobScope, number: int, data: OrderData, order: CentraOrder,
                now_fp: dict[str, Any]) -> None:
        erp_order = self.erp.get_sales_order(str(data.order_no))
        plan = plan_cancel(order, data.line_map, erp_order)
        cancel_key = str(OrderKey(number, "cancel"))
        if not plan.is_empty:
            try:
                self.erp.cancel_sales_order(
                    plan.order_no, reference=plan.reference,
                    lines=None if plan.lines == ALL else list(plan.lines),
                    reason="cancelled in Centra")
            except Conflict as exc:
                with self.store.for_job(ctx) as uow:
                    uow.exceptions.raise_(
                        type="CANCEL_REFUSED", owner="operations", business_key=cancel_key,
                        message=(f"BlueCherry refused to cancel order {plan.order_no} (Centra "
                                 f"{number}): the units are picked or shipped. Stop the "
                                 "shipment or arrange a return."),
                        details={"order_no": plan.order_no, "reference": plan.reference,
                                 "error": exc.message},
                        now=self.clock(),
                    )
                return
        with self.store.for_job(ctx) as uow:
            current = uow.orders.get(number, for_update=True)
            cancels = current.data.cancels if current is not None else []
            self._patch(uow, number, row=current, set_={
                "cancelled_units": now_fp["cancelled_units"],
                "fp_amounts": now_fp["fp_amounts"],
                "cancels": [*cancels, plan.reference],
            })
            uow.audit.append(KIND, str(number), "cancelled", f"job:{ctx.job.id}",
                             {"reference": plan.reference, "order_no": plan.order_no})
            uow.exceptions.resolve_for_key(cancel_key, actor="system", note="cancel applied",
                                           now=self.clock())
