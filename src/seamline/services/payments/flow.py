"""``PaymentFlow``: the payment flow's parts put together (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from seamline.domain.mapping import MarketCodes
from seamline.domain.payments import due_days
from seamline.exceptions import ConfigError
from seamline.ports import CentraGateway, FinanceGateway
from seamline.services.payments.batch import BatchResult, Poster
from seamline.services.payments.collect import Collector
from seamline.services.payments.core import batch_cursor, market_key, payment_rules_from_settings
from seamline.services.rules import market_codes_from_settings
from seamline.services.unit_of_work import Store, Tx

__all__ = ["PaymentFlow"]


class PaymentFlow(Collector, Poster):
    """Everything the payment flow does; one per process, built by the composition root."""

    @classmethod
    def from_settings(cls, settings: Any, *, store: Store, centra: CentraGateway,
                      finance: FinanceGateway,
                      clock: Callable[[], datetime] | None = None) -> PaymentFlow:
        flow = cls(store=store, centra=centra, finance=finance,
                   markets=market_codes_from_settings(settings),
                   rules=payment_rules_from_settings(settings),
                   lookback_days=settings.payments.lookback_days)
        if clock is not None:
            flow.clock = clock
        return flow

    def _markets(self, market: str | None) -> list[MarketCodes]:
        if market is None:
            return sorted(self.markets, key=market_key)
        found = self.market_named(market)
        if found is None:
            raise ConfigError(f"no market {market!r} under [[markets]] (markets: "
                              f"{', '.join(market_key(m) for m in self.markets) or 'none'})")
        return [found]

    def due(self, market: str | None = None) -> dict[str, list[date]]:
        """Business days whose batch is due now and not done, by market key."""
        now = self.clock()
        out: dict[str, list[date]] = {}
        with self.store.read() as uow:
            for m in self._markets(market):
                last = uow.cursors.get(batch_cursor(m))
                days = due_days(now, m.tz, self.rules.batch_time,
                                date.fromisoformat(last) if last else None)
                if days:
                    out[market_key(m)] = days
        return out

    def latest_days(self, market: str | None = None) -> dict[str, date]:
        """Each market's most recent business day whose batch time has passed."""
        now = self.clock()
        return {market_key(m): due_days(now, m.tz, self.rules.batch_time, None)[0]
                for m in self._markets(market)}

    def run(self, tx: Tx | None = None, *, day: date | None = None, market: str | None = None,
            keep_alive: Callable[[], object] | None = None) -> BatchResult:
        """The batch: business ``day`` (every market, or ``market``), or every day due now.

        Reads BlueCherry's new invoices and Centra's payments, freezes the day's receipts and
        memos, then posts every one not posted yet (an earlier run's included). Run again, it
        posts nothing twice.
        """
        tx = tx or self.store.begin
        result = BatchResult()
        markets = self._markets(market)
        if day is None:
            due = self.due(market)
            with self.store.read() as uow:
                waiting = uow.payments.documents(states=["planned", "attempted"])
            if not due and not waiting:
                return result
            plan = [(m, d) for m in markets for d in due.get(market_key(m), [])]
        else:
            plan = [(m, day) for m in markets]
        self.sync_invoices(tx)
        self.collect_payments(tx)
        for m, d in plan:
            self.plan_day(tx, d, m)
            result.days.append(f"{market_key(m)} {d.isoformat()}")
            with tx() as uow:
                uow.cursors.lock(batch_cursor(m))
                last = uow.cursors.get(batch_cursor(m))
                if last is None or last < d.isoformat():
                    uow.cursors.set(batch_cursor(m), d.isoformat(), now=self.clock())
        self.post_planned(tx, result, keep_alive)
        return result
