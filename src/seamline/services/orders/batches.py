"""Daily batches: a daily market's orders wait for their business day's batch, released once
intake has read Centra past the day's cut-off; stragglers are counted on the day's report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from seamline.domain.ledger import OrderRecord, OrderState
from seamline.domain.posting import MarketCodes, cutoff_instant, due_batches
from seamline.services.orders.core import FlowCore, order_key
from seamline.services.orders.intake import POLL_CURSOR
from seamline.services.unit_of_work import UnitOfWork

__all__ = ["BATCH_KIND", "Batches", "batch_cursor"]

#: A daily batch's report (one ledger row per market and day): released, late.
BATCH_KIND = "batch"


def batch_cursor(market: MarketCodes) -> str:
    """The cursor (and lock name) of a daily market's batches: the last day closed."""
    return f"batch:{market.centra_market}/{market.currency or '*'}"


def _report_key(market: MarketCodes, day: date) -> str:
    return f"{batch_cursor(market)}:{day.isoformat()}"


class Batches(FlowCore):
    """Close due daily batches; keep each day's report."""

    def run_batches(self, uow: UnitOfWork, *, day: date | None = None) -> int:
        """Release every due daily batch (or batch ``day`` explicitly) into the queue.

        A due day closes only once intake has read Centra past its cut-off (the poll cursor is
        the watermark), so an order placed before the cut-off but read late is in its batch;
        one read after its day closed posts at once as a straggler of that day (``post``).
        ``day`` given: that day is released now, watermark or not (stragglers still post).
        Each order is its own job with its dedupe key, so re-running a day posts nothing twice.
        """
        daily = sorted((m for m in self.markets if m.mode == "daily"), key=batch_cursor)
        for market in daily:  # one lock order for every closer and every straggler
            uow.cursors.lock(batch_cursor(market))
        raw_mark = uow.cursors.get(POLL_CURSOR)
        # Read after the locks: an order filed under a day meanwhile has committed.
        waiting = uow.orders.in_state(OrderState.BATCH)
        now = self.clock()
        return sum(self._release_market(uow, market, waiting, day=day, raw_mark=raw_mark,
                                        now=now)
                   for market in daily)

    def _release_market(self, uow: UnitOfWork, market: MarketCodes,
                        waiting: list[OrderRecord], *, day: date | None,
                        raw_mark: str | None, now: datetime) -> int:
        watermark = datetime.fromisoformat(raw_mark) if raw_mark else None
        cursor = batch_cursor(market)
        last = uow.cursors.get(cursor)
        days = [day] if day is not None else due_batches(
            now, market, date.fromisoformat(last) if last else None)
        released = 0
        for d in days:
            if day is None and (watermark is None or watermark < cutoff_instant(d, market)):
                uow.audit.append("batch", cursor, "waiting", "scheduler", {
                    "day": d.isoformat(), "watermark": raw_mark,
                    "why": "intake has not read Centra past the cut-off yet"})
                break
            n = self._release_day(uow, market, waiting, d)
            released += n
            if day is None or (last is None or d.isoformat() > last):
                uow.cursors.set(cursor, d.isoformat(), now=now)
            self._close_report(uow, market, d, released=n, watermark=raw_mark)
            uow.audit.append("batch", cursor, "released", "scheduler",
                             {"day": d.isoformat(), "released": n, "watermark": raw_mark})
        return released

    @staticmethod
    def _release_day(uow: UnitOfWork, market: MarketCodes, waiting: list[OrderRecord],
                     d: date) -> int:
        n = 0
        for row in waiting:
            snap = row.data.snapshot
            if not market.covers(int(snap["market_id"]), str(snap["currency"])):
                continue
            if date.fromisoformat(str(row.data.business_day)) > d:
                continue
            if uow.outbox.enqueue("orders.post",
                                  {"number": row.number, "batch_day": d.isoformat()},
                                  queue="orders", dedupe_key=f"order:post:{row.number}",
                                  business_key=order_key(row.number)):
                n += 1
        return n

    def _close_report(self, uow: UnitOfWork, market: MarketCodes, d: date, *, released: int,
                      watermark: str | None) -> None:
        report_key = _report_key(market, d)
        row = uow.ledger.get(BATCH_KIND, report_key, for_update=True)
        data: dict[str, Any] = (dict(row.data) if row is not None
                                else {"day": d.isoformat(), "released": 0})
        data.update({"released": int(data.get("released", 0)) + released,
                     "closed_at": self.clock().isoformat(), "watermark": watermark})
        uow.ledger.save(BATCH_KIND, report_key, state="closed", data=data, now=self.clock())

    def _note_straggler(self, uow: UnitOfWork, market: MarketCodes, day: date, number: int,
                        late_s: int) -> None:
        """Count a straggler on its day's batch report (the caller holds the batch lock)."""
        report_key = _report_key(market, day)
        row = uow.ledger.get(BATCH_KIND, report_key, for_update=True)
        data: dict[str, Any] = (dict(row.data) if row is not None
                                else {"day": day.isoformat(), "released": 0})
        late = [str(k) for k in data.get("late_orders", [])]
        if str(number) in late:
            return  # the same order decided twice (a retried job): counted once
        late.append(str(number))
        data.update({"late": len(late), "late_orders": late,
                     "late_max_s": max(int(data.get("late_max_s", 0)), late_s),
                     "late_total_s": int(data.get("late_total_s", 0)) + late_s})
        uow.ledger.save(BATCH_KIND, report_key, state=row.state if row else "closed",
                        data=data, now=self.clock())

    def batch_report(self, uow: UnitOfWork, day: date) -> list[dict[str, Any]]:
        """Daily batch ``day`` per daily market: closed or not, how many orders it released,
        and how many came late (read after it closed, posted at once as stragglers of the day)
        and by how much (seconds after the cut-off: the longest and the mean)."""
        out = []
        for market in self.markets:
            if market.mode != "daily":
                continue
            row = uow.ledger.get(BATCH_KIND, _report_key(market, day))
            data: dict[str, Any] = row.data if row is not None else {}
            late = int(data.get("late", 0))
            out.append({
                "market": batch_cursor(market).removeprefix("batch:"), "day": day.isoformat(),
                "cutoff": cutoff_instant(day, market).isoformat(),
                "closed_at": data.get("closed_at"), "released": int(data.get("released", 0)),
                "late": late, "late_max_s": int(data.get("late_max_s", 0)),
                "late_mean_s": round(int(data.get("late_total_s", 0)) / late) if late else 0,
                "late_orders": [int(k) for k in data.get("late_orders", [])],
            })
        return out
