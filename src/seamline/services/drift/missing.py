"""The missing-in-ERP watchdog: a Centra order with no BlueCherry order when it should have one.

An order is *due* in BlueCherry ``[watchdogs].missing_in_erp_after_min`` minutes after Centra
created it (real-time markets), or that many minutes after its business day's cut-off (daily
markets: the batch has run by then). A due order that is not posted is either **waiting for a
named reason** — on hold, awaiting payment or a status that does not post (ledger ``waiting``),
held by an exception (``parked``: ``MAPPING_MISSING``, ``UNKNOWN_SKU``, ``TOTAL_MISMATCH``), or
with an open exception on the order itself (``POST_FAILED``, ``POST_REJECTED``,
``POST_CONFLICT``…) — and is reported with that reason, never alarmed twice; or it waits for
nothing anyone has named, and that is ``ORDER_MISSING_IN_ERP`` for ecommerce (key ``order:<n>``,
the key of the order's post job: the job's success resolves it, and so does the next watchdog
run once the order is in BlueCherry, cancelled, or waiting for a named reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from seamline.domain.batch import cutoff_instant
from seamline.domain.exception_keys import OrderKey, parse_key
from seamline.domain.ledger import OrderRecord, OrderState
from seamline.domain.mapping import MarketCodes, find_market
from seamline.services.unit_of_work import Store, Tx, UnitOfWork

__all__ = ["EXCEPTION", "MissingInErp", "MissingOrder"]

EXCEPTION = "ORDER_MISSING_IN_ERP"
#: Ledger states of orders not (yet) in BlueCherry that should get there.
UNPOSTED = (OrderState.NEW, OrderState.WAITING, OrderState.BATCH, OrderState.PARKED,
            OrderState.POSTING)
#: Exceptions on an order that are not a reason it waits.
_NOT_REASONS = frozenset({EXCEPTION, "ORDER_DRIFT", "POSTED_ORDER_CHANGED"})


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class MissingOrder:
    """A due order not in BlueCherry; ``reason`` empty: it waits for nothing named."""

    number: int
    state: str
    mode: str
    due_at: datetime
    minutes_late: float
    reason: str = ""


@dataclass
class MissingInErp:
    """``watchdogs.missing_in_erp``."""

    store: Store
    markets: tuple[MarketCodes, ...]
    after: timedelta = timedelta(minutes=30)
    clock: Callable[[], datetime] = _now

    def due_at(self, row: OrderRecord) -> tuple[str, datetime | None]:
        """The market's mode and when the order should be in BlueCherry (None: unknown)."""
        snap = row.data.snapshot
        market = find_market(self.markets, int(snap.get("market_id", 0)),
                             str(snap.get("currency", "")))
        if market is not None and market.mode == "daily":
            day = row.data.business_day
            if day:
                return "daily", cutoff_instant(date.fromisoformat(day), market) + self.after
        created = snap.get("created_at") or snap.get("order_date") or row.data.first_seen
        if not created:
            return market.mode if market else "realtime", None
        when = datetime.fromisoformat(str(created))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (market.mode if market else "realtime"), when + self.after

    def report(self, uow: UnitOfWork | None = None) -> list[MissingOrder]:
        """Every due order not in BlueCherry, most late first, each with its reason if any."""
        if uow is None:
            with self.store.read() as read:
                return self.report(read)
        now = self.clock()
        reasons = self._reasons(uow)
        out = []
        for state in UNPOSTED:
            for row in uow.orders.in_state(state):
                mode, due = self.due_at(row)
                if due is None or due > now:
                    continue
                why = list(reasons.get(row.number, []))
                if state is OrderState.WAITING:
                    why.insert(0, row.data.reason or "waiting")
                elif state is OrderState.PARKED and not why:
                    why.append(row.data.reason or "parked")
                out.append(MissingOrder(row.number, state.value, mode, due,
                                        (now - due).total_seconds() / 60, "; ".join(why)))
        return sorted(out, key=lambda m: (-m.minutes_late, m.number))

    @staticmethod
    def _reasons(uow: UnitOfWork) -> dict[int, list[str]]:
        """Order number → the open exceptions that name why it waits (holds included)."""
        out: dict[int, list[str]] = {}
        for h in uow.exceptions.open_holds():
            if h.order_key.isdigit():
                out.setdefault(int(h.order_key), []).append(f"{h.type} ({h.business_key})")
        for e in uow.exceptions.find(key_prefix="order:", limit=1_000_000,
                                     newest_first=False, with_orders=False):
            key = parse_key(e.business_key)
            if isinstance(key, OrderKey) and e.type not in _NOT_REASONS:
                out.setdefault(key.number, []).append(f"{e.type} ({e.business_key})")
        return out

    def watch(self, tx: Tx | None = None) -> tuple[int, int]:
        """Raise ``ORDER_MISSING_IN_ERP`` for due orders waiting for nothing named; resolve
        the open ones whose order is posted, cancelled or now waits for a named reason.
        Returns ``(raised or still open, resolved)``."""
        now = self.clock()
        with (tx or self.store.begin)() as uow:
            missing = self.report(uow)
            alarmed = {m.number for m in missing if not m.reason}
            for m in missing:
                if m.reason:
                    continue
                self._raise(uow, m, now)
            stale = [e.id for e in uow.exceptions.find(type=EXCEPTION, limit=1_000_000,
                                                       with_orders=False)
                     if (k := parse_key(e.business_key)) is not None
                     and isinstance(k, OrderKey) and k.number not in alarmed]
            resolved = uow.exceptions.resolve_ids(
                stale, actor="system", now=now,
                note="the order is in BlueCherry, cancelled, or waits for a named reason")
        return len(alarmed), len(resolved)

    def _raise(self, uow: UnitOfWork, m: MissingOrder, now: datetime) -> None:
        when = ("its daily batch's cut-off" if m.mode == "daily"
                else "Centra created it")
        existing = uow.exceptions.find(type=EXCEPTION, business_key=str(OrderKey(m.number)),
                                       limit=1, with_orders=False)
        if existing:
            return  # one per order: the age is read from first_seen, not counted every run
        uow.exceptions.raise_(
            type=EXCEPTION, owner="ecommerce", business_key=str(OrderKey(m.number)),
            message=(f"Centra order {m.number} is not in BlueCherry {int(m.minutes_late)} min "
                     f"after it was due ({self.after.total_seconds() / 60:.0f} min after "
                     f"{when}); ledger state {m.state}, and no exception or hold names a "
                     "reason. `seamline orders show {m.number}` tells its story; `seamline "
                     "orders post` posts what is due"),
            details={"order": m.number, "state": m.state, "mode": m.mode,
                     "due_at": m.due_at.isoformat()},
            now=now)


def missing_rows(items: Sequence[MissingOrder]) -> list[dict[str, object]]:
    """Rows for the CLI and the dashboard."""
    return [{"order": m.number, "state": m.state, "mode": m.mode,
             "due_at": m.due_at.isoformat(timespec="seconds"),
             "minutes_late": round(m.minutes_late, 1),
             "reason": m.reason or "none: ORDER_MISSING_IN_ERP"} for m in items]
