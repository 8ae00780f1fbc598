"""The order flow: Centra orders into BlueCherry sales orders, exactly once.

Intake (events, webhooks, polling, sweeps) records each Centra order on its ledger row
(``kind='order'``, key = Centra order number) and enqueues one ``orders.post`` job per order
(dedupe key ``order:post:<n>``) in the same transaction. The post job gates, maps, prices and
validates the order, freezes the payload on the ledger *before* the first attempt, and submits it
with :func:`seamline.services.submit.submit_sales_order`; every retry sends the frozen payload.
After BlueCherry accepted it, one ``centra.writeback`` job writes the BlueCherry numbers back to
Centra in batches and confirms PENDING orders where the market says so. A posted order that
changes in Centra is checked by ``orders.reconcile``: cancellations reach BlueCherry as
idempotent cancels, other changes raise ``POSTED_ORDER_CHANGED``.

Ledger states of an order: ``new`` → ``waiting`` (hold, payment, status) | ``batch`` (waiting for
its daily batch) | ``parked`` (an exception holds it) | ``never`` (cancelled before posting) |
``posting`` (payload frozen) → ``posted`` (in BlueCherry) → ``synced`` (written back to Centra).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.db import Database
from seamline.adapters.store.repos import (
    Hold,
    LedgerEntry,
    audit,
    get_cursor,
    get_ledger,
    get_ledgers,
    hold_order,
    lock_name,
    lock_open_exceptions,
    merge_ledger_data,
    open_holds,
    release_held_order,
    set_cursor,
    upsert_ledger,
)
from seamline.adapters.store.schema import ledger as ledger_table
from seamline.domain.erp import CatalogueItem
from seamline.domain.events import CentraEvent
from seamline.domain.orders import CentraOrder, OrderStatus, order_from_dict, order_to_dict
from seamline.domain.posting import (
    ALL,
    Catalogue,
    MarketCodes,
    PostingRules,
    build_sales_order,
    business_day,
    cutoff_instant,
    due_batches,
    find_market,
    gate,
    plan_cancel,
)
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import (
    Conflict,
    MappingMissing,
    Rejected,
    TotalMismatch,
    TransientError,
    UnknownSku,
)
from seamline.ports import BlueCherryGateway, CentraGateway
from seamline.queue.core import JobQueue
from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.centra_guard import parked_flows
from seamline.services.exceptions import raise_exception, resolve_for_key, resolve_ids
from seamline.services.rules import (
    catalogue_from_items,
    market_codes_from_settings,
    posting_rules_from_settings,
)
from seamline.services.submit import submit_sales_order

__all__ = ["OrderFlow", "order_key", "register_order_tasks"]

KIND = "order"
SKU_KIND = "sku"
#: A daily batch's report (one ledger row per market and day): released, late.
BATCH_KIND = "batch"
POLL_CURSOR = "centra.orders.updated_at"
CATALOGUE_CURSOR = "bluecherry.skus.synced_at"
WRITEBACK_BATCH = 100

def _batch_cursor(market: MarketCodes) -> str:
    """The cursor (and lock name) of a daily market's batches: the last day closed."""
    return f"batch:{market.centra_market}/{market.currency or '*'}"


def order_key(number: int) -> str:
    """The business key of an order's jobs and exceptions."""
    return f"order:{number}"


def _now() -> datetime:
    return datetime.now(UTC)


# -- change fingerprints ---------------------------------------------------------------------


def _digest(body: object) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def static_fingerprint(order: CentraOrder) -> str:
    """What a cancellation leaves alone: addresses, shipping option, lines as ordered."""
    d = order_to_dict(order)
    return _digest({
        "ship": d["shipping_address"], "bill": d["billing_address"],
        "option": d["shipping_option"], "currency": d["currency"], "market": d["market_id"],
        "lines": sorted(
            (ln.id, ln.sku, ln.ean, ln.quantity + ln.cancelled_quantity,
             ln.unit_original_price.wire(), ln.unit_price.wire())
            for ln in order.lines
        ),
    })


def amounts_fingerprint(order: CentraOrder) -> str:
    """The amounts; they may only move together with a cancellation."""
    return _digest([order.grand_total.wire(), order.shipping.wire(), order.tax_total.wire(),
                    order.voucher_discount.wire()])


def cancelled_units(order: CentraOrder) -> int:
    return sum(ln.cancelled_quantity for ln in order.lines)


def fingerprints(order: CentraOrder) -> dict[str, Any]:
    """What change detection compares after posting."""
    return {"fp_static": static_fingerprint(order), "fp_amounts": amounts_fingerprint(order),
            "cancelled_units": cancelled_units(order)}


# -- the catalogue, cached per process -------------------------------------------------------


class CatalogueCache:
    """BlueCherry's SKU catalogue as kept on the ledger, indexed once per sync."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._catalogue: Catalogue | None = None

    def get(self, conn: Connection, rules: PostingRules) -> Catalogue:
        version = get_cursor(conn, CATALOGUE_CURSOR) or ""
        with self._lock:
            if self._catalogue is not None and version == self._version:
                return self._catalogue
        rows = conn.execute(
            sa.select(ledger_table.c.business_key, ledger_table.c.data)
            .where(ledger_table.c.kind == SKU_KIND, ledger_table.c.state == "active")
        ).all()
        items = [
            CatalogueItem(sku=key, upc=str(data.get("upc", "")),
                          division=str(data.get("division", "")),
                          style=str(data.get("style", "")), color=str(data.get("color", "")),
                          size=str(data.get("size", "")),
                          description=str(data.get("description", "")))
            for key, data in rows
        ]
        catalogue = catalogue_from_items(items, rules)
        with self._lock:
            self._catalogue, self._version = catalogue, version
        return catalogue


# -- the flow --------------------------------------------------------------------------------

Tx = Callable[[], AbstractContextManager[Connection]]


@dataclass
class OrderFlow:
    """Everything the order flow needs; one per process, built by the composition root."""

    db: Database
    queue: JobQueue
    centra: CentraGateway
    erp: BlueCherryGateway
    markets: tuple[MarketCodes, ...]
    rules: PostingRules
    lock_after_post: bool = False
    poll_overlap_s: int = 120
    sweep_days: int = 7
    clock: Callable[[], datetime] = _now
    catalogue_cache: CatalogueCache = field(default_factory=CatalogueCache)
    _listening: bool = field(default=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Any, *, db: Database, queue: JobQueue,
                      centra: CentraGateway, erp: BlueCherryGateway,
                      clock: Callable[[], datetime] | None = None) -> OrderFlow:
        return cls(
            db=db, queue=queue, centra=centra, erp=erp,
            markets=market_codes_from_settings(settings),
            rules=posting_rules_from_settings(settings),
            lock_after_post=settings.orders.lock_after_post,
            poll_overlap_s=settings.orders.poll_overlap_s,
            sweep_days=settings.orders.sweep_days,
            clock=clock or _now,
        )

    # -- intake ----------------------------------------------------------------------------

    def record(self, conn: Connection,
               orders: Iterable[CentraOrder | tuple[CentraOrder, dict[str, Any]]]) -> int:
        """Record orders seen in Centra and enqueue what they imply; returns how many changed.

        Re-seeing an order changes nothing unless the order changed in Centra. An order may come
        with its snapshot (``snapshots``) already made, outside the caller's transaction.
        """
        changed = 0
        now = self.clock()
        seen = [o if isinstance(o, tuple) else (o, order_to_dict(o)) for o in orders]
        rows = get_ledgers(conn, KIND, [str(o.number) for o, _ in seen], for_update=True)
        for order, snap in seen:
            key = str(order.number)
            row = rows.get(key)
            if row is not None and row.data.get("snapshot") == snap:
                continue
            changed += 1
            data: dict[str, Any] = (dict(row.data) if row is not None
                                    else {"first_seen": now.isoformat()})
            data["snapshot"] = snap
            state = row.state if row is not None else "new"
            rows[key] = upsert_ledger(conn, KIND, key, state=state, data=data, now=now)
            if state in ("posted", "synced"):
                if row is not None and _own_writebacks_only(row.data.get("snapshot"), snap):
                    continue  # our external id / confirmation / lock came back: nothing to check
                self.queue.enqueue(conn, "orders.reconcile", {"number": order.number},
                                   queue="orders", dedupe_key=f"order:reconcile:{key}")
            else:
                self.queue.enqueue(conn, "orders.post", {"number": order.number},
                                   queue="orders", dedupe_key=f"order:post:{key}",
                                   business_key=order_key(order.number))
        return changed

    @staticmethod
    def snapshots(orders: Iterable[CentraOrder]) -> list[tuple[CentraOrder, dict[str, Any]]]:
        """Orders with their ledger snapshots, made before a write transaction opens (the
        snapshot is the costly part of recording, and nothing else waits on it there)."""
        return [(o, order_to_dict(o)) for o in orders]

    def poll(self, tx: Tx) -> int:
        """Poll Centra by ``updatedAt`` from the stored cursor (minus the overlap) up to now.

        The cursor moves forward only, in the same transaction as the orders it covers, and never
        past the start of this run.
        """
        started = self.clock()
        with tx() as conn:
            raw = get_cursor(conn, POLL_CURSOR)
        since = (datetime.fromisoformat(raw) - timedelta(seconds=self.poll_overlap_s)
                 if raw else started - timedelta(days=self.sweep_days))
        seen = 0
        for page in _chunks(self.centra.iter_orders(updated_from=since, updated_to=started), 100):
            newest = max(o.updated_at for o in page)
            prepared = self.snapshots(page)
            with tx() as conn:
                self.record(conn, prepared)
                lock_name(conn, POLL_CURSOR)  # two polls at once: the cursor never goes back
                current = get_cursor(conn, POLL_CURSOR)
                mark = min(newest, started)
                if current is None or datetime.fromisoformat(current) < mark:
                    set_cursor(conn, POLL_CURSOR, mark.isoformat())
            seen += len(page)
        with tx() as conn:
            # Every order updated before ``started`` has now been read: the cursor is the
            # intake watermark the daily batches wait for (see ``run_batches``).
            lock_name(conn, POLL_CURSOR)
            current = get_cursor(conn, POLL_CURSOR)
            if current is None or datetime.fromisoformat(current) < started:
                set_cursor(conn, POLL_CURSOR, started.isoformat())
            self._ensure_writeback(conn)
        return seen

    def _ensure_writeback(self, conn: Connection) -> None:
        """Safety net for a lost wake-up: a post that commits while the write-back job is
        finishing finds it still live (its enqueue is deduped away), and the job has already
        seen no ``posted`` row — that order would wait for the next post. Every poll re-queues
        the write-back while any posted order is not written back."""
        waiting = conn.execute(
            sa.select(ledger_table.c.id)
            .where(ledger_table.c.kind == KIND, ledger_table.c.state == "posted").limit(1)
        ).first()
        if waiting is not None:
            self.queue.enqueue(conn, "centra.writeback", {}, queue="writeback",
                               dedupe_key="centra.writeback")

    def sweep(self, tx: Tx, *, days: int | None = None) -> int:
        """Re-read every order created in the last ``days`` (recovery)."""
        since = self.clock() - timedelta(days=days or self.sweep_days)
        seen = 0
        for page in _chunks(self.centra.iter_orders(created_from=since), 100):
            prepared = self.snapshots(page)
            with tx() as conn:
                self.record(conn, prepared)
            seen += len(page)
        return seen

    def fetch(self, tx: Tx, numbers: Sequence[int]) -> int:
        """Fetch named orders (a webhook or an event named them) and record them."""
        orders = self.centra.get_orders(list(numbers))
        prepared = self.snapshots(orders)
        with tx() as conn:
            self.record(conn, prepared)
        return len(orders)

    def drain_events(self, tx: Tx, *, limit: int = 200) -> int:
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
            self.fetch(tx, numbers)
        self.centra.confirm_events([e.id for e in events])
        return len(events)

    def enqueue_fetch(self, events: Sequence[CentraEvent]) -> int:
        """Webhook path: enqueue one fetch per named order (deduped while waiting)."""
        n = 0
        with self.db.begin() as conn:
            for e in events:
                if e.object_type.lower() != "order" or not e.object_reference.isdigit():
                    continue
                number = int(e.object_reference)
                if self.queue.enqueue(conn, "orders.fetch", {"numbers": [number]},
                                      queue="intake", dedupe_key=f"order:fetch:{number}"):
                    n += 1
        return n

    # -- posting -----------------------------------------------------------------------------

    def _market(self, order: CentraOrder) -> MarketCodes | None:
        return find_market(self.markets, order.market_id, order.currency)

    def _patch(self, conn: Connection, key: str, *, state: str | None = None,
               set_: Mapping[str, Any] | None = None, drop: Iterable[str] = (),
               row: LedgerEntry | None = None, **kw: Any) -> LedgerEntry:
        """Change some fields of an order's ledger row *as it is now* (read under lock in this
        transaction, or ``row`` when the caller just did), so a snapshot that intake recorded
        meanwhile is never overwritten."""
        if row is None:
            row = get_ledger(conn, KIND, key, for_update=True)
        data = dict(row.data) if row is not None else {}
        for name in drop:
            data.pop(name, None)
        data.update(set_ or {})
        new_state = state or (row.state if row is not None else "new")
        if row is not None and row.state == "parked" and new_state != "parked":
            # Leaving parking (re-queued and mapped now, cancelled, on hold...): the order
            # leaves the exceptions that held it, in this same transaction.
            self._release_parks(conn, int(key), why=f"order {key} is {new_state} now")
        return upsert_ledger(conn, KIND, key, state=new_state, data=data, now=self.clock(), **kw)

    def _snapshot_moved(self, key: str, seen: Mapping[str, Any]) -> bool:
        """Whether intake recorded a newer Centra snapshot while this job worked on ``seen``
        (its own job could not be enqueued then: the running job holds the dedupe key)."""
        with self.db.read() as conn:
            row = get_ledger(conn, KIND, key)
        return row is not None and row.data.get("snapshot") != seen

    def post(self, ctx: JobContext, number: int, *, batch_day: date | None = None) -> None:
        """The ``orders.post`` job for one order.

        Write transactions per posted order: one to freeze the payload (and count the attempt
        about to be made), one to record the outcome and complete the job. Reads take no write
        lock.
        """
        key = str(number)
        for _ in range(5):
            with self.db.read() as conn:
                row = get_ledger(conn, KIND, key)
                catalogue = self.catalogue_cache.get(conn, self.rules)
            if row is None:
                ctx.log.warning("order not on the ledger", number=number)
                return
            if row.state in ("posted", "synced", "never"):
                return
            frozen = row.data.get("frozen")
            if frozen is not None:
                with ctx.transaction() as conn:
                    now_row = self._patch(conn, key, state="posting", set_={
                        "erp_attempts": int(row.data.get("erp_attempts", 0)) + 1})
                attempts = int(now_row.data["erp_attempts"]) - 1
                self._submit(ctx, number, SalesOrder.from_dict(frozen), attempts=attempts)
                return
            snapshot = row.data["snapshot"]
            order = order_from_dict(snapshot)
            so = self._prepare(ctx, row.data, order, batch_day=batch_day, catalogue=catalogue)
            if so is None:
                if self._snapshot_moved(key, snapshot):
                    continue  # decide again on what Centra holds now
                return
            with ctx.transaction() as conn:
                self._patch(conn, key, state="posting", set_={
                    "frozen": so.to_dict(), "erp_attempts": 1,
                    "posted_from": {**fingerprints(order), "snapshot": _digest(snapshot)},
                })
                audit(conn, KIND, key, "frozen", f"job:{ctx.job.id}",
                      {"total": so.totals.total.wire(), "currency": so.currency})
            self._submit(ctx, number, so, attempts=0)
            return

    def _submit(self, ctx: JobContext, number: int, so: SalesOrder, *, attempts: int) -> None:
        """Send the frozen payload (read back first when an earlier attempt may have reached
        BlueCherry), then record the outcome and complete the job in one transaction."""
        key = str(number)
        try:
            outcome = submit_sales_order(self.erp, so, may_have_reached=attempts > 0)
        except Rejected:
            # A 422 is definite: nothing was created. Unfreeze, so a fix to the mapping is used
            # by the next attempt, and let the queue raise POST_REJECTED.
            with ctx.transaction() as conn:
                self._patch(conn, key, state="parked", drop=("frozen", "posted_from"),
                            set_={"erp_attempts": 0})
            raise
        with ctx.transaction(complete=True) as conn:
            current = get_ledger(conn, KIND, key, for_update=True)
            data = dict(current.data) if current is not None else {}
            held = order_from_dict(data["snapshot"])
            market = self._market(held)
            # Change detection starts from what was posted: the snapshot the payload was built
            # from, not whatever Centra says now.
            posted_from = data.get("posted_from") or {
                **fingerprints(held),
                "snapshot": _digest(data["snapshot"])}
            self._patch(conn, key, row=current, state="posted", set_={
                "order_no": outcome.order_no,
                "erp_created_at": outcome.created_at.isoformat(),
                "posted_at": self.clock().isoformat(),
                "posted_how": outcome.how,
                "line_map": {str(k): v for k, v in so.line_map().items()},
                "conversion_rate": str(so.conversion_rate),
                "confirm": bool(market is not None and market.confirm_after_post),
                **{k: v for k, v in posted_from.items() if k != "snapshot"},
            }, posted_hash=so.posted_hash())
            audit(conn, KIND, key, "posted", f"job:{ctx.job.id}",
                  {"order_no": outcome.order_no, "how": outcome.how})
            self._release_parks(conn, number, why=f"order {number} posted")
            self.queue.enqueue(conn, "centra.writeback", {}, queue="writeback",
                               dedupe_key="centra.writeback")
            if _digest(data["snapshot"]) != posted_from["snapshot"]:
                # Centra changed the order while it was being posted: check it now.
                self.queue.enqueue(conn, "orders.reconcile", {"number": number},
                                   queue="orders", dedupe_key=f"order:reconcile:{key}")

    def _prepare(self, ctx: JobContext, data: Mapping[str, Any], order: CentraOrder,
                 *, batch_day: date | None, catalogue: Catalogue) -> SalesOrder | None:
        """Gate, map, price and validate; ``None`` when the order waits or is parked."""
        key = str(order.number)
        g = gate(order, self.rules)
        if g.never:
            self._set_state(ctx, key, "never", reason=g.reason)
            return None
        if g.waiting:
            # Eligibility starts afresh when the order is released.
            self._set_state(ctx, key, "waiting", reason=g.reason,
                            drop=("eligible_at", "business_day"))
            return None
        market = self._market(order)
        if market is not None and market.mode == "daily" and batch_day is None:
            eligible = data.get("eligible_at") or order.updated_at.isoformat()
            day = business_day(datetime.fromisoformat(eligible), market)
            if not self._straggler(ctx, key, market, day, eligible):
                return None
            batch_day = day  # its day's batch has closed: post now, as part of that day
        if len(catalogue) == 0:
            # Never synced: an empty catalogue would make every SKU "unknown".
            with ctx.transaction() as conn:
                self.queue.enqueue(conn, "catalogue.sync", {}, queue="intake",
                                   dedupe_key="catalogue.sync")
            raise TransientError("BlueCherry's SKU catalogue has not been synced yet; a sync "
                                 "is queued", retry_after=5.0, system="bluecherry")
        try:
            if market is None:
                raise MappingMissing(kind="market",
                                     key=f"market:{order.market_id}/{order.currency.upper()}")
            return build_sales_order(order, market=market, rules=self.rules, catalogue=catalogue)
        except MappingMissing as exc:
            self._park(ctx, order, [(f"mapping:{exc.key}", exc)])
        except UnknownSku as exc:
            unknown = exc.details.get("unknown") or [{"sku": exc.sku, "gtin": exc.gtin}]
            self._park(ctx, order, [
                (f"sku:{u['sku']}", UnknownSku(sku=u["sku"], gtin=u.get("gtin", "")))
                for u in unknown
            ])
        except TotalMismatch as exc:
            self._park(ctx, order, [(f"{order_key(order.number)}:totals", exc)])
        return None

    def _straggler(self, ctx: JobContext, key: str, market: MarketCodes, day: date,
                   eligible: str) -> bool:
        """File a daily-batch order under its business day ``day``: it waits for that day's
        batch (False), or, when that batch has already closed, it is a straggler of that day
        and posts at once (True), counted late on the day's batch report.

        Decided under the market's batch lock, which ``run_batches`` holds while it closes a
        day: either the batch sees this order waiting, or this order sees the day closed."""
        cursor = _batch_cursor(market)
        now = self.clock()
        with ctx.transaction() as conn:
            lock_name(conn, cursor)
            closed = get_cursor(conn, cursor)
            if closed is None or date.fromisoformat(closed) < day:
                self._patch(conn, key, state="batch", set_={
                    "reason": f"daily batch {day.isoformat()}",
                    "eligible_at": eligible, "business_day": day.isoformat()})
                return False
            late_s = max(0, int((now - cutoff_instant(day, market)).total_seconds()))
            self._patch(conn, key, set_={
                "reason": f"straggler of the closed daily batch {day.isoformat()}",
                "eligible_at": eligible, "business_day": day.isoformat(), "late_s": late_s})
            self._note_straggler(conn, market, day, key, late_s)
            audit(conn, KIND, key, "straggler", f"job:{ctx.job.id}",
                  {"business_day": day.isoformat(), "late_s": late_s})
        return True

    def _note_straggler(self, conn: Connection, market: MarketCodes, day: date, key: str,
                        late_s: int) -> None:
        """Count a straggler on its day's batch report (the caller holds the batch lock)."""
        report_key = f"{_batch_cursor(market)}:{day.isoformat()}"
        row = get_ledger(conn, BATCH_KIND, report_key, for_update=True)
        data: dict[str, Any] = (dict(row.data) if row is not None
                                else {"day": day.isoformat(), "released": 0})
        late = [str(k) for k in data.get("late_orders", [])]
        if key in late:
            return  # the same order decided twice (a retried job): counted once
        late.append(key)
        data.update({"late": len(late), "late_orders": late,
                     "late_max_s": max(int(data.get("late_max_s", 0)), late_s),
                     "late_total_s": int(data.get("late_total_s", 0)) + late_s})
        upsert_ledger(conn, BATCH_KIND, report_key, state=row.state if row else "closed",
                      data=data, now=self.clock())

    def _set_state(self, ctx: JobContext, key: str, state: str, *, reason: str,
                   set_: Mapping[str, Any] | None = None, drop: Iterable[str] = ()) -> None:
        with ctx.transaction() as conn:
            self._patch(conn, key, state=state, set_={**(set_ or {}), "reason": reason},
                        drop=drop)

    def _park(self, ctx: JobContext, order: CentraOrder,
              parks: list[tuple[str, MappingMissing | UnknownSku | TotalMismatch]]) -> None:
        """Park the order on one exception per missing mapping: one row per (exception, order)
        in the exception–order relation, written in the transaction that parks the order."""
        key = str(order.number)
        parks = sorted(parks, key=lambda p: p[0])  # one lock order for every parker
        with ctx.transaction() as conn:
            held_by: list[int] = []
            for business_key, exc in parks:
                exc_id = raise_exception(
                    conn, type=exc.exception_type, owner=exc.owner_for(),
                    business_key=business_key,
                    message=_park_message(exc, order.number),
                    details={k: v for k, v in exc.details.items() if k != "unknown"},
                    now=self.clock(),
                )
                hold_order(conn, exc_id, key, now=self.clock())
                held_by.append(exc_id)
            # Parked on something else than before (the order changed in Centra): it leaves
            # the exceptions that held it for a cause it no longer has.
            self._release_parks(conn, order.number, keep=held_by,
                                why=f"order {key} now waits on something else")
            self._patch(conn, key, state="parked", set_={
                "parks": [b for b, _ in parks],
                "reason": "; ".join(e.message for _, e in parks)})

    def _release_parks(self, conn: Connection, number: int, *, keep: Iterable[int] = (),
                       why: str) -> None:
        """Take the order off every exception that holds it (but ``keep``); an exception that
        then holds no order resolves: nothing waits on it any more."""
        empty = release_held_order(conn, str(number), keep=keep)
        resolve_ids(conn, empty, actor="system", note=why, now=self.clock())

    def requeue_parked(self, conn: Connection) -> int:
        """Re-queue the orders held by exceptions whose missing mapping or SKU now exists (read
        from the exception–order relation). Run after a configuration change and after each
        catalogue sync. Each such exception resolves once the last order it holds leaves it
        (posted, or parked on something else); one that holds none resolves now."""
        catalogue = self.catalogue_cache.get(conn, self.rules)
        # Lock first, then read who is held: a park committing meanwhile is seen, not lost.
        fixable = lock_open_exceptions(conn, None, types=_FIXABLE)
        holds = open_holds(conn)
        by_order: dict[str, list[Hold]] = {}
        for h in holds:
            by_order.setdefault(h.order_key, []).append(h)
        n = 0
        for key, on in by_order.items():
            # An order held on its own totals waits for a person (edit-and-retry), not a fix;
            # one held on two mappings waits until both exist.
            if not all(h.type in _FIXABLE and self._mapping_exists(h.business_key, catalogue)
                       for h in on):
                continue
            if self.queue.enqueue(conn, "orders.post", {"number": int(key)}, queue="orders",
                                  dedupe_key=f"order:post:{key}",
                                  business_key=order_key(int(key))):
                n += 1
        holding = {h.exception_id for h in holds}
        resolve_ids(conn, [i for i, _, business_key in fixable if i not in holding
                           and self._mapping_exists(business_key, catalogue)],
                    actor="system", note="the mapping now exists; no order waits on it",
                    now=self.clock())
        return n

    def _mapping_exists(self, park: str, catalogue: Catalogue) -> bool:
        kind, _, rest = park.partition(":")
        if kind == "sku":
            return rest in catalogue or bool(self.rules.sku_overrides.get(rest))
        if kind == "mapping":
            sub, _, value = rest.partition(":")
            if sub == "market":
                market_id, _, currency = value.partition("/")
                return find_market(self.markets, int(market_id), currency) is not None
            if sub == "shipping_option":
                return value in self.rules.shipping_options
        return False

    # -- daily batches -----------------------------------------------------------------------

    def run_batches(self, conn: Connection, *, day: date | None = None) -> int:
        """Release every due daily batch (or batch ``day`` explicitly) into the queue.

        A due day closes only once intake has read Centra past its cut-off (the poll cursor is
        the watermark), so an order placed before the cut-off but read late is in its batch;
        one read after its day closed posts at once as a straggler of that day (``post``).
        ``day`` given: that day is released now, watermark or not (stragglers still post).
        Each order is its own job with its dedupe key, so re-running a day posts nothing twice.
        """
        now = self.clock()
        released = 0
        daily = sorted((m for m in self.markets if m.mode == "daily"), key=_batch_cursor)
        for market in daily:  # one lock order for every closer and every straggler
            lock_name(conn, _batch_cursor(market))
        raw_mark = get_cursor(conn, POLL_CURSOR)
        watermark = datetime.fromisoformat(raw_mark) if raw_mark else None
        # Read after the locks: an order filed under a day meanwhile has committed.
        waiting = conn.execute(
            sa.select(ledger_table.c.business_key, ledger_table.c.data)
            .where(ledger_table.c.kind == KIND, ledger_table.c.state == "batch")
        ).all()
        for market in daily:
            cursor = _batch_cursor(market)
            last = get_cursor(conn, cursor)
            days = [day] if day is not None else due_batches(
                now, market, date.fromisoformat(last) if last else None)
            for d in days:
                if day is None and (watermark is None
                                    or watermark < cutoff_instant(d, market)):
                    audit(conn, "batch", cursor, "waiting", "scheduler", {
                        "day": d.isoformat(), "watermark": raw_mark,
                        "why": "intake has not read Centra past the cut-off yet"})
                    break
                n = 0
                for key, data in waiting:
                    snap = data["snapshot"]
                    if not market.covers(int(snap["market_id"]), str(snap["currency"])):
                        continue
                    if date.fromisoformat(data["business_day"]) > d:
                        continue
                    if self.queue.enqueue(conn, "orders.post",
                                          {"number": int(key), "batch_day": d.isoformat()},
                                          queue="orders", dedupe_key=f"order:post:{key}",
                                          business_key=order_key(int(key))):
                        n += 1
                released += n
                if day is None or (last is None or d.isoformat() > last):
                    set_cursor(conn, cursor, d.isoformat(), now=now)
                self._close_report(conn, market, d, released=n, watermark=raw_mark)
                audit(conn, "batch", cursor, "released", "scheduler",
                      {"day": d.isoformat(), "released": n, "watermark": raw_mark})
        return released

    def _close_report(self, conn: Connection, market: MarketCodes, d: date, *, released: int,
                      watermark: str | None) -> None:
        report_key = f"{_batch_cursor(market)}:{d.isoformat()}"
        row = get_ledger(conn, BATCH_KIND, report_key, for_update=True)
        data: dict[str, Any] = (dict(row.data) if row is not None
                                else {"day": d.isoformat(), "released": 0})
        data.update({"released": int(data.get("released", 0)) + released,
                     "closed_at": self.clock().isoformat(), "watermark": watermark})
        upsert_ledger(conn, BATCH_KIND, report_key, state="closed", data=data,
                      now=self.clock())

    def batch_report(self, conn: Connection, day: date) -> list[dict[str, Any]]:
        """Daily batch ``day`` per daily market: closed or not, how many orders it released,
        and how many came late (read after it closed, posted at once as stragglers of the day)
        and by how much (seconds after the cut-off: the longest and the mean)."""
        out = []
        for market in self.markets:
            if market.mode != "daily":
                continue
            cursor = _batch_cursor(market)
            row = get_ledger(conn, BATCH_KIND, f"{cursor}:{day.isoformat()}")
            data: dict[str, Any] = row.data if row is not None else {}
            late = int(data.get("late", 0))
            out.append({
                "market": cursor.removeprefix("batch:"), "day": day.isoformat(),
                "cutoff": cutoff_instant(day, market).isoformat(),
                "closed_at": data.get("closed_at"), "released": int(data.get("released", 0)),
                "late": late, "late_max_s": int(data.get("late_max_s", 0)),
                "late_mean_s": round(int(data.get("late_total_s", 0)) / late) if late else 0,
                "late_orders": [int(k) for k in data.get("late_orders", [])],
            })
        return out

    # -- after posting -----------------------------------------------------------------------

    def writeback(self, ctx: JobContext) -> int:
        """Write BlueCherry order numbers back to Centra (batched) and confirm PENDING orders."""
        done = 0
        while True:
            with self.db.read() as conn:
                rows = conn.execute(
                    sa.select(ledger_table.c.business_key, ledger_table.c.data)
                    .where(ledger_table.c.kind == KIND, ledger_table.c.state == "posted")
                    .order_by(ledger_table.c.id).limit(WRITEBACK_BATCH)
                ).all()
            if not rows:
                return done
            pairs = [(int(key), str(d["order_no"])) for key, d in rows]
            self.centra.set_external_ids(pairs)
            # Keep the orders confirmed before a failing confirm: a retry starts after them,
            # so one flaky confirm cannot throw away (and starve) a whole batch's progress.
            confirmed = []
            failure: Exception | None = None
            for key, d in rows:
                if d.get("confirm") and d["snapshot"]["status"] == OrderStatus.PENDING.value:
                    try:
                        self.centra.confirm_order(int(key))
                    except Exception as exc:  # re-raised below, once the progress is kept
                        failure = exc
                        break
                confirmed.append((key, d))
            if self.lock_after_post and confirmed:
                self.centra.set_orders_lock([int(k) for k, _ in confirmed], True)
            ctx.heartbeat()
            with ctx.transaction() as conn:
                merge_ledger_data(conn, KIND, [key for key, _ in confirmed],
                                  {"written_back_at": self.clock().isoformat()},
                                  state="synced", now=self.clock())
            done += len(confirmed)
            if failure is not None:
                raise failure

    def reconcile(self, ctx: JobContext, number: int) -> None:
        """A posted order changed in Centra: cancel in BlueCherry, or raise the change."""
        key = str(number)
        for _ in range(5):
            with self.db.read() as conn:
                row = get_ledger(conn, KIND, key)
            if row is None or row.state not in ("posted", "synced"):
                return
            snapshot = row.data["snapshot"]
            self._reconcile(ctx, number, row.data, order_from_dict(snapshot))
            if not self._snapshot_moved(key, snapshot):
                return

    def _reconcile(self, ctx: JobContext, number: int, data: Mapping[str, Any],
                   order: CentraOrder) -> None:
        key = str(number)
        now_fp = fingerprints(order)
        static_changed = now_fp["fp_static"] != data.get("fp_static")
        cancelled_more = (order.is_cancelled
                          or now_fp["cancelled_units"] > int(data.get("cancelled_units", 0)))
        amounts_changed = now_fp["fp_amounts"] != data.get("fp_amounts")
        if static_changed or (amounts_changed and not cancelled_more):
            with ctx.transaction() as conn:
                raise_exception(
                    conn, type="POSTED_ORDER_CHANGED", owner="operations",
                    business_key=f"{order_key(number)}:changed",
                    message=(f"Centra order {number} changed after it was posted to BlueCherry "
                             f"as {data.get('order_no')}; make the same change in BlueCherry "
                             "or revert it in Centra"),
                    details={"order_no": data.get("order_no"),
                             "what": [w for w, c in (("address/lines/shipping option",
                                                       static_changed),
                                                      ("amounts", amounts_changed)) if c]},
                    now=self.clock(),
                )
                self._patch(conn, key, set_={"fp_static": now_fp["fp_static"],
                                             "fp_amounts": now_fp["fp_amounts"]})
        if not cancelled_more:
            return
        erp_order = self.erp.get_sales_order(str(data["order_no"]))
        line_map = {int(k): int(v) for k, v in data.get("line_map", {}).items()}
        plan = plan_cancel(order, line_map, erp_order)
        if not plan.is_empty:
            try:
                self.erp.cancel_sales_order(
                    plan.order_no, reference=plan.reference,
                    lines=None if plan.lines == ALL else list(plan.lines),
                    reason="cancelled in Centra")
            except Conflict as exc:
                with ctx.transaction() as conn:
                    raise_exception(
                        conn, type="CANCEL_REFUSED", owner="operations",
                        business_key=f"{order_key(number)}:cancel",
                        message=(f"BlueCherry refused to cancel order {plan.order_no} (Centra "
                                 f"{number}): the units are picked or shipped. Stop the "
                                 "shipment or arrange a return."),
                        details={"order_no": plan.order_no, "reference": plan.reference,
                                 "error": exc.message},
                        now=self.clock(),
                    )
                return
        with ctx.transaction() as conn:
            current = get_ledger(conn, KIND, key, for_update=True)
            cancels = list(current.data.get("cancels", [])) if current is not None else []
            self._patch(conn, key, row=current, set_={
                "cancelled_units": now_fp["cancelled_units"],
                "fp_amounts": now_fp["fp_amounts"],
                "cancels": [*cancels, plan.reference],
            })
            audit(conn, KIND, key, "cancelled", f"job:{ctx.job.id}",
                  {"reference": plan.reference, "order_no": plan.order_no})
            resolve_for_key(conn, f"{order_key(number)}:cancel", actor="system",
                            note="cancel applied", now=self.clock())

    # -- catalogue ---------------------------------------------------------------------------

    def sync_catalogue(self, tx: Tx) -> int:
        """Copy BlueCherry's SKU catalogue onto the ledger, then re-queue orders it unblocks."""
        n = 0
        started = self.clock()
        for chunk in _chunks(self.erp.iter_skus(), 500):
            with tx() as conn:
                for item in chunk:
                    upsert_ledger(conn, SKU_KIND, item.sku, state="active", data={
                        "upc": item.upc, "division": item.division, "style": item.style,
                        "color": item.color, "size": item.size,
                        "description": item.description,
                    }, now=started)
            n += len(chunk)
        with tx() as conn:
            set_cursor(conn, CATALOGUE_CURSOR, f"{started.isoformat()}#{n}", now=started)
            self.requeue_parked(conn)
        return n


#: What Seamline itself writes to a Centra order after posting (and the timestamp that moves
#: with it): a snapshot that differs only in these has not been changed by anyone else.
_WRITEBACK_FIELDS = ("is_locked", "updated_at")


def _own_writebacks_only(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether ``new`` differs from ``old`` only by Seamline's own write-backs (external id,
    lock, PENDING → CONFIRMED)."""
    if old is None:
        return False

    def strip(snap: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in snap.items() if k not in _WRITEBACK_FIELDS}
        if out.get("status") == OrderStatus.CONFIRMED.value:
            out["status"] = OrderStatus.PENDING.value
        return out

    return strip(old) == strip(new)


#: Exceptions that hold orders until a mapping or a SKU exists (they re-queue themselves).
_FIXABLE = ("MAPPING_MISSING", "UNKNOWN_SKU")


def _park_message(exc: MappingMissing | UnknownSku | TotalMismatch, number: int) -> str:
    """The cause and the fix; which orders wait is derived from the exception–order relation
    when the exception is read (see ``ExceptionRecord``), never stored in the message."""
    if isinstance(exc, MappingMissing):
        what = exc.key.split(":", 1)[-1]
        hint = ("add a [[markets]] entry for it" if exc.kind == "market"
                else "add it under [shipping_options]")
        return f"no {exc.kind.replace('_', ' ')} mapping for {what}: {hint}"
    if isinstance(exc, UnknownSku):
        return (f"SKU {exc.sku} (GTIN {exc.gtin or '-'}) is not in BlueCherry's catalogue: add it "
                "in BlueCherry or map it under [sku_overrides]")
    return f"{exc.message} (Centra order {number})"


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def register_order_tasks(registry: TaskRegistry, flow_factory: Callable[[], OrderFlow]) -> None:
    """Register the order-flow tasks; ``flow_factory`` builds (or returns) the process's flow."""

    def post(ctx: JobContext, args: dict[str, Any]) -> None:
        day = args.get("batch_day")
        flow_factory().post(ctx, int(args["number"]),
                            batch_day=date.fromisoformat(day) if day else None)

    def reconcile(ctx: JobContext, args: dict[str, Any]) -> None:
        flow_factory().reconcile(ctx, int(args["number"]))

    def writeback(ctx: JobContext, args: dict[str, Any]) -> None:
        flow_factory().writeback(ctx)

    def fetch(ctx: JobContext, args: dict[str, Any]) -> None:
        flow_factory().fetch(ctx.transaction, [int(n) for n in args["numbers"]])

    def parked(ctx: JobContext) -> bool:
        """Intake waits while Centra refuses the flow's operations (one exception says so)."""
        with ctx.db.read() as conn:
            stopped = "orders" in parked_flows(conn)
        if stopped:
            ctx.log.warning("order intake parked: Centra refuses its operations; see the "
                            "CENTRA_SCHEMA_MISMATCH exception")
        return stopped

    def poll(ctx: JobContext, args: dict[str, Any]) -> None:
        if parked(ctx):
            return
        flow = flow_factory()
        if args.get("events"):
            flow.drain_events(ctx.transaction)
        flow.poll(ctx.transaction)

    def events(ctx: JobContext, args: dict[str, Any]) -> None:
        if not parked(ctx):
            flow_factory().drain_events(ctx.transaction)

    def sweep(ctx: JobContext, args: dict[str, Any]) -> None:
        if not parked(ctx):
            flow_factory().sweep(ctx.transaction, days=args.get("days"))

    def batches(ctx: JobContext, args: dict[str, Any]) -> None:
        with ctx.transaction() as conn:
            flow_factory().run_batches(conn)

    def catalogue(ctx: JobContext, args: dict[str, Any]) -> None:
        flow_factory().sync_catalogue(ctx.transaction)

    registry.register("orders.post", post, queue="orders")
    registry.register("orders.reconcile", reconcile, queue="orders",
                      exception_type="POST_FAILED")
    registry.register("centra.writeback", writeback, queue="writeback",
                      exception_type="WRITEBACK_FAILED")
    registry.register("orders.fetch", fetch, queue="intake")
    registry.register("orders.poll", poll, queue="intake")
    registry.register("centra.events", events, queue="intake")
    registry.register("orders.sweep", sweep, queue="intake")
    registry.register("orders.batch", batches, queue="intake")
    registry.register("catalogue.sync", catalogue, queue="intake")
