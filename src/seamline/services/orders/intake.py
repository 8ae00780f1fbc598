"""Intake: Centra orders onto the ledger, one ``orders.post`` job per order in the same unit of
work (events, webhooks, polling by ``updatedAt``, sweeps)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from seamline.domain.events import CentraEvent
from seamline.domain.ledger import OrderState
from seamline.domain.orders import CentraOrder, order_to_dict
from seamline.services.orders.core import FlowCore, Tx, chunks, order_key
from seamline.services.orders.fingerprints import own_writebacks_only
from seamline.services.unit_of_work import UnitOfWork

__all__ = ["POLL_CURSOR", "Intake"]

POLL_CURSOR = "centra.orders.updated_at"

Seen = CentraOrder | tuple[CentraOrder, dict[str, Any]]


class Intake(FlowCore):
    """Record what Centra holds; enqueue what it implies."""

    def record(self, uow: UnitOfWork, orders: Iterable[Seen]) -> int:
        """Record orders seen in Centra and enqueue what they imply; returns how many changed.

        Re-seeing an order changes nothing unless the order changed in Centra. An order may come
        with its snapshot (``snapshots``) already made, outside the caller's transaction.
        """
        changed = 0
        now = self.clock()
        seen = [o if isinstance(o, tuple) else (o, order_to_dict(o)) for o in orders]
        rows = uow.orders.get_many([o.number for o, _ in seen], for_update=True)
        for order, snap in seen:
            row = rows.get(order.number)
            old = row.data.raw.get("snapshot") if row is not None else None
            if row is not None and old == snap:
                continue
            changed += 1
            data: dict[str, Any] = (dict(row.data.raw) if row is not None
                                    else {"first_seen": now.isoformat()})
            data["snapshot"] = snap
            data["snapshot_at"] = now.isoformat()
            state = row.state if row is not None else OrderState.NEW
            rows[order.number] = uow.orders.save(order.number, state=state, data=data, now=now)
            if state.in_bluecherry:
                if row is not None and own_writebacks_only(old, snap):
                    continue  # our external id / confirmation / lock came back: nothing to check
                uow.outbox.enqueue("orders.reconcile", {"number": order.number},
                                   queue="orders", dedupe_key=f"order:reconcile:{order.number}")
            else:
                uow.outbox.enqueue("orders.post", {"number": order.number},
                                   queue="orders", dedupe_key=f"order:post:{order.number}",
                                   business_key=order_key(order.number))
        return changed

    @staticmethod
    def snapshots(orders: Iterable[CentraOrder]) -> list[tuple[CentraOrder, dict[str, Any]]]:
        """Orders with their ledger snapshots, made before a write transaction opens (the
        snapshot is the costly part of recording, and nothing else waits on it there)."""
        return [(o, order_to_dict(o)) for o in orders]

    def poll(self, tx: Tx | None = None) -> int:
        """Poll Centra by ``updatedAt`` from the stored cursor (minus the overlap) up to now.

        The cursor moves forward only, in the same transaction as the orders it covers, and never
        past the start of this run.
        """
        tx = tx or self.store.begin
        started = self.clock()
        with tx() as uow:
            raw = uow.cursors.get(POLL_CURSOR)
        since = (datetime.fromisoformat(raw) - timedelta(seconds=self.poll_overlap_s)
                 if raw else started - timedelta(days=self.sweep_days))
        seen = 0
        for page in chunks(self.centra.iter_orders(updated_from=since, updated_to=started), 100):
            newest = max(o.updated_at for o in page)
            prepared = self.snapshots(page)
            with tx() as uow:
                self.record(uow, prepared)
                self._advance_poll_cursor(uow, min(newest, started))
            seen += len(page)
        with tx() as uow:
            # Every order updated before ``started`` has now been read: the cursor is the
            # intake watermark the daily batches wait for (see ``run_batches``).
            self._advance_poll_cursor(uow, started)
            self._ensure_writeback(uow)
        return seen

    @staticmethod
    def _advance_poll_cursor(uow: UnitOfWork, mark: datetime) -> None:
        uow.cursors.lock(POLL_CURSOR)  # two polls at once: the cursor never goes back
        current = uow.cursors.get(POLL_CURSOR)
        if current is None or datetime.fromisoformat(current) < mark:
            uow.cursors.set(POLL_CURSOR, mark.isoformat())

    @staticmethod
    def _ensure_writeback(uow: UnitOfWork) -> None:
        """Safety net for a lost wake-up: a post that commits while the write-back job is
        finishing finds it still live (its enqueue is deduped away), and the job has already
        seen no ``posted`` row — that order would wait for the next post. Every poll re-queues
        the write-back while any posted order is not written back."""
        if uow.orders.in_state(OrderState.POSTED, limit=1):
            uow.outbox.enqueue("centra.writeback", {}, queue="writeback",
                               dedupe_key="centra.writeback")

    def sweep(self, tx: Tx | None = None, *, days: int | None = None) -> int:
        """Re-read every order created in the last ``days`` (recovery)."""
        tx = tx or self.store.begin
        since = self.clock() - timedelta(days=days or self.sweep_days)
        seen = 0
        for page in chunks(self.centra.iter_orders(created_from=since), 100):
            prepared = self.snapshots(page)
            with tx() as uow:
                self.record(uow, prepared)
            seen += len(page)
        return seen

    def fetch(self, numbers: Sequence[int], tx: Tx | None = None) -> int:
        """Fetch named orders (a webhook or an event named them) and record them."""
        orders = self.centra.get_orders(list(numbers))
        prepared = self.snapshots(orders)
        with (tx or self.store.begin)() as uow:
            self.record(uow, prepared)
        return len(orders)

    def drain_events(self, tx: Tx | None = None, *, limit: int = 200) -> int:
        """Read Centra's events queue; confirm only what has been durably recorded.

        Every event is confirmed once its orders are on the ledger, including events Seamline
        ignores (Centra keeps returning unconfirmed ones).
        """
        if not self._listening:
            self.centra.ensure_event_listeners()
            self._listening = True
        events = self.centra.fetch_events(limit)
        if not events:
            return 0
        numbers = sorted({int(e.object_reference) for e in events
                          if e.object_type.lower() == "order" and e.object_reference.isdigit()})
        if numbers:
            self.fetch(numbers, tx)
        self.centra.confirm_events([e.id for e in events])
        return len(events)

    def enqueue_fetch(self, events: Sequence[CentraEvent]) -> int:
        """Webhook path: enqueue one fetch per named order (deduped while waiting)."""
        n = 0
        with self.store.begin() as uow:
            for e in events:
                if e.object_type.lower() != "order" or not e.object_reference.isdigit():
                    continue
                number = int(e.object_reference)
                if uow.outbox.enqueue("orders.fetch", {"numbers": [number]},
                                      queue="intake", dedupe_key=f"order:fetch:{number}"):
                    n += 1
        return n
