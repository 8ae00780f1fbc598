"""Posting: one ``orders.post`` job per order gates, maps, prices and validates it, freezes the
payload on the ledger before the first attempt, and submits it; every retry sends the frozen
payload (read back first when an earlier attempt may have reached BlueCherry)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

from seamline.domain.exception_keys import MappingKey, OrderKey, SkuKey
from seamline.domain.ledger import OrderRecord, OrderState
from seamline.domain.orders import CentraOrder, order_from_dict
from seamline.domain.posting import (
    Catalogue,
    MarketCodes,
    build_sales_order,
    business_day,
    cutoff_instant,
    gate,
)
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import MappingMissing, Rejected, TotalMismatch, UnknownSku
from seamline.services.orders.batches import Batches, batch_cursor
from seamline.services.orders.catalogue import CatalogueSync
from seamline.services.orders.catalogue_cache import CATALOGUE_CURSOR
from seamline.services.orders.fingerprints import digest, fingerprints
from seamline.services.orders.parking import Park
from seamline.services.stock.demand import record_demand
from seamline.services.submit import submit_sales_order
from seamline.services.unit_of_work import JobScope, UnitOfWork

__all__ = ["Posting"]

KIND = "order"


class Posting(CatalogueSync, Batches):
    """The ``orders.post`` job."""

    def post(self, ctx: JobScope, number: int, *, batch_day: date | None = None) -> None:
        """The ``orders.post`` job for one order.

        Write transactions per posted order: one to freeze the payload (and count the attempt
        about to be made), one to record the outcome and complete the job. Reads take no write
        lock.
        """
        for _ in range(5):
            with self.store.read() as uow:
                row = uow.orders.get(number)
                catalogue = self.catalogue_cache.get(uow, self.rules)
            if row is None:
                ctx.log.warning("order not on the ledger", number=number)
                return
            if row.state.is_done:
                return
            frozen = row.data.frozen
            if frozen is not None:
                with self.store.for_job(ctx) as uow:
                    now_row = self._patch(uow, number, state=OrderState.POSTING, set_={
                        "erp_attempts": row.data.erp_attempts + 1})
                attempts = now_row.data.erp_attempts - 1
                self._submit(ctx, number, SalesOrder.from_dict(frozen), attempts=attempts)
                return
            snapshot = row.data.snapshot
            order = order_from_dict(snapshot)
            so = self._prepare(ctx, row, order, batch_day=batch_day, catalogue=catalogue)
            if so is None:
                if self._snapshot_moved(number, snapshot):
                    continue  # decide again on what Centra holds now
                return
            with self.store.for_job(ctx) as uow:
                self._patch(uow, number, state=OrderState.POSTING, set_={
                    "frozen": so.to_dict(), "erp_attempts": 1,
                    "posted_from": {**fingerprints(order), "snapshot": digest(snapshot)},
                })
                uow.audit.append(KIND, str(number), "frozen", f"job:{ctx.job.id}",
                                 {"total": so.totals.total.wire(), "currency": so.currency})
            self._submit(ctx, number, so, attempts=0)
            return

    def _submit(self, ctx: JobScope, number: int, so: SalesOrder, *, attempts: int) -> None:
        """Send the frozen payload (read back first when an earlier attempt may have reached
        BlueCherry), then record the outcome and complete the job in one transaction."""
        try:
            outcome = submit_sales_order(self.erp, so, may_have_reached=attempts > 0)
        except Rejected:
            # A 422 is definite: nothing was created. Unfreeze, so a fix to the mapping is used
            # by the next attempt, and let the queue raise POST_REJECTED.
            with self.store.for_job(ctx) as uow:
                self._patch(uow, number, state=OrderState.PARKED,
                            drop=("frozen", "posted_from"), set_={"erp_attempts": 0})
            raise
        with self.store.for_job(ctx, complete=True) as uow:
            current = uow.orders.get(number, for_update=True)
            data = dict(current.data.raw) if current is not None else {}
            held = order_from_dict(data["snapshot"])
            market = self._market(held)
            # Change detection starts from what was posted: the snapshot the payload was built
            # from, not whatever Centra says now.
            posted_from = data.get("posted_from") or {
                **fingerprints(held), "snapshot": digest(data["snapshot"])}
            posted = self._patch(uow, number, row=current, state=OrderState.POSTED, set_={
                "order_no": outcome.order_no,
                "erp_created_at": outcome.created_at.isoformat(),
                "posted_at": self.clock().isoformat(),
                "posted_how": outcome.how,
                "line_map": {str(k): v for k, v in so.line_map().items()},
                "conversion_rate": str(so.conversion_rate),
                "confirm": bool(market is not None and market.confirm_after_post),
                **{k: v for k, v in posted_from.items() if k != "snapshot"},
            }, posted_hash=so.posted_hash())
            record_demand(uow, number, posted.data.raw, held, now=self.clock())
            uow.audit.append(KIND, str(number), "posted", f"job:{ctx.job.id}",
                             {"order_no": outcome.order_no, "how": outcome.how})
            self._release_parks(uow, number, why=f"order {number} posted")
            uow.outbox.enqueue("centra.writeback", {}, queue="writeback",
                               dedupe_key="centra.writeback")
            if digest(data["snapshot"]) != posted_from["snapshot"]:
                # Centra changed the order while it was being posted: check it now.
                uow.outbox.enqueue("orders.reconcile", {"number": number},
                                   queue="orders", dedupe_key=f"order:reconcile:{number}")

    def _prepare(self, ctx: JobScope, row: OrderRecord, order: CentraOrder,
                 *, batch_day: date | None, catalogue: Catalogue) -> SalesOrder | None:
        """Gate, map, price and validate; ``None`` when the order waits or is parked."""
        g = gate(order, self.rules)
        if g.never:
            self._set_state(ctx, order.number, OrderState.NEVER, reason=g.reason)
            return None
        if g.waiting:
            # Eligibility starts afresh when the order is released.
            self._set_state(ctx, order.number, OrderState.WAITING, reason=g.reason,
                            drop=("eligible_at", "business_day"))
            return None
        market = self._market(order)
        catalogue = self._catalogue_before_mapping(ctx, catalogue)
        parks = self._build_or_parks(order, market, catalogue)
        if not isinstance(parks, SalesOrder):
            # Gaps are found when the order is taken in, in every posting mode: a daily-batch
            # order that lacks a mapping or a SKU parks now, not at the cut-off.
            self._park(ctx, order, parks)
            return None
        if market is not None and market.mode == "daily" and batch_day is None:
            eligible = row.data.eligible_at or order.updated_at.isoformat()
            day = business_day(datetime.fromisoformat(eligible), market)
            if not self._straggler(ctx, order.number, market, day, eligible):
                return None
            # Its day's batch has closed: post now, as part of that day.
        return parks

    def _catalogue_before_mapping(self, ctx: JobScope, catalogue: Catalogue) -> Catalogue:
        """The catalogue, synced first when it never was: on a fresh store the first order
        waits for BlueCherry's catalogue instead of parking every SKU as unknown or failing an
        attempt. One sync per process at a time (another process's sync is harmless: the
        rows are upserts)."""
        if len(catalogue):
            return catalogue  # synced (an empty one is checked against its cursor)
        with self.store.read() as uow:
            synced = uow.cursors.get(CATALOGUE_CURSOR) is not None
        if synced:
            return catalogue
        with self._first_sync:
            with self.store.read() as uow:
                synced = uow.cursors.get(CATALOGUE_CURSOR) is not None
            if not synced:
                ctx.log.info("syncing BlueCherry's SKU catalogue before the first order is "
                             "mapped")

                def tx() -> AbstractContextManager[UnitOfWork]:
                    ctx.heartbeat()
                    return self.store.for_job(ctx)

                self.sync_catalogue(tx)
        with self.store.read() as uow:
            return self.catalogue_cache.get(uow, self.rules)

    def _build_or_parks(self, order: CentraOrder, market: MarketCodes | None,
                        catalogue: Catalogue) -> SalesOrder | list[Park]:
        """The sales order, or what the order must be parked on."""
        try:
            if market is None:
                raise MappingMissing(kind="market",
                                     key=f"market:{order.market_id}/{order.currency.upper()}")
            return build_sales_order(order, market=market, rules=self.rules, catalogue=catalogue)
        except MappingMissing as exc:
            return [(MappingKey.of(exc.key), exc)]
        except UnknownSku as exc:
            unknown = exc.details.get("unknown") or [{"sku": exc.sku, "gtin": exc.gtin}]
            return [(SkuKey(u["sku"]), UnknownSku(sku=u["sku"], gtin=u.get("gtin", "")))
                    for u in unknown]
        except TotalMismatch as exc:
            return [(OrderKey(order.number, "totals"), exc)]

    def _straggler(self, ctx: JobScope, number: int, market: MarketCodes, day: date,
                   eligible: str) -> bool:
        """File a daily-batch order under its business day ``day``: it waits for that day's
        batch (False), or, when that batch has already closed, it is a straggler of that day
        and posts at once (True), counted late on the day's batch report.

        Decided under the market's batch lock, which ``run_batches`` holds while it closes a
        day: either the batch sees this order waiting, or this order sees the day closed."""
        cursor = batch_cursor(market)
        now = self.clock()
        with self.store.for_job(ctx) as uow:
            uow.cursors.lock(cursor)
            closed = uow.cursors.get(cursor)
            if closed is None or date.fromisoformat(closed) < day:
                self._patch(uow, number, state=OrderState.BATCH, set_={
                    "reason": f"daily batch {day.isoformat()}",
                    "eligible_at": eligible, "business_day": day.isoformat()})
                return False
            late_s = max(0, int((now - cutoff_instant(day, market)).total_seconds()))
            self._patch(uow, number, set_={
                "reason": f"straggler of the closed daily batch {day.isoformat()}",
                "eligible_at": eligible, "business_day": day.isoformat(), "late_s": late_s})
            self._note_straggler(uow, market, day, number, late_s)
            uow.audit.append(KIND, str(number), "straggler", f"job:{ctx.job.id}",
                             {"business_day": day.isoformat(), "late_s": late_s})
        return True

    def _set_state(self, ctx: JobScope, number: int, state: OrderState, *, reason: str,
                   set_: Mapping[str, Any] | None = None, drop: Iterable[str] = ()) -> None:
        with self.store.for_job(ctx) as uow:
            self._patch(uow, number, state=state, set_={**(set_ or {}), "reason": reason},
                        drop=drop)
