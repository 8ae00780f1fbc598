"""The daily reconciliation: one business day, one market and currency, streamed.

Centra's side is the ledger (each order as taken in from Centra and what was posted), read in
key order in chunks. BlueCherry's side is read in bulk — the sales orders changed since the
day began (``GET /sales-orders?updated_since=`` pages), the invoices feed, the day's receipts
and credit memos — and spilled to a temporary file (``spill``), so memory stays flat however
many orders the day had. Nothing is fetched per order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from seamline.config import Settings
from seamline.domain.erp import CashReceipt, CreditMemo, ErpInvoice, ErpSalesOrder
from seamline.domain.ledger import LedgerEntry, OrderData, OrderState
from seamline.domain.reconcile import (
    Difference,
    ErpOrderFigures,
    OrderFigures,
    ReportTotals,
    compare_invoice,
    compare_order,
    compare_refunds,
    unapplied_cash,
)
from seamline.services.reconcile.spill import Spill
from seamline.services.unit_of_work import Store

__all__ = ["REPORT_KIND", "MarketScope", "ReconcileSources", "Reconciler", "Report"]

#: The ledger kind of a stored report summary (key ``<day>:<market>:<currency>``).
REPORT_KIND = "reconcile_report"
CHUNK = 1000
#: The exception a day with differences raises (owner finance).
EXCEPTION_TYPE = "RECONCILIATION_DIFFERENCES"
#: Cursor names ``reconcile.invoices.<day>``: where the invoices feed reaches that day.
HINT = "reconcile.invoices."
#: How many days back a run looks for a remembered starting point in the invoices feed.
HINT_DAYS = 7


class ReconcileSources(Protocol):
    """What the reconciliation reads from BlueCherry (the BlueCherry and finance ports)."""

    def iter_sales_orders_updated_since(self, since: datetime) -> Iterator[ErpSalesOrder]: ...

    def iter_invoice_pages(self, since: str | None = None
                           ) -> Iterator[tuple[list[ErpInvoice], str]]: ...

    def iter_cash_receipts(self, day: date) -> Iterator[CashReceipt]: ...

    def iter_credit_memos(self, day: date) -> Iterator[CreditMemo]: ...


@dataclass(frozen=True, slots=True)
class MarketScope:
    """One market and currency as the reconciliation sees it (from ``[[markets]]``)."""

    name: str
    centra_market: int
    currency: str
    customer: str
    timezone: str
    customer_po_prefix: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_settings(cls, settings: Settings) -> list[MarketScope]:
        """One scope per ``[[markets]]`` entry, named by its BlueCherry store code."""
        return [cls(name=m.store, centra_market=m.centra_market, currency=m.currency or "",
                    customer=m.customer, timezone=m.timezone,
                    customer_po_prefix=settings.orders.customer_po_prefix)
                for m in settings.markets if m.currency]

    def order_of(self, customer_po: str) -> str:
        """The Centra order number behind a PO as text (the PO itself when it is not ours)."""
        num = self.number_of(customer_po)
        return customer_po if num is None else str(num)

    def number_of(self, customer_po: str) -> int | None:
        """The Centra order number behind a BlueCherry ``customer_po`` (None: not ours)."""
        if not customer_po.startswith(self.customer_po_prefix):
            return None
        rest = customer_po[len(self.customer_po_prefix):]
        return int(rest) if rest.isdigit() else None


@dataclass(slots=True)
class Report:
    """One day's report for one market and currency: rows in a fixed order, and totals."""

    day: date
    market: str
    currency: str
    rows: list[Difference]
    totals: ReportTotals
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}:{self.market}:{self.currency}"

    def summary(self) -> dict[str, Any]:
        """What is kept in the store per day (the history finance can look back on)."""
        return {"day": self.day.isoformat(), "market": self.market, "currency": self.currency,
                "totals": self.totals.to_dict(), "generated_at": self.generated_at.isoformat()}

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "rows": [r.to_dict() for r in self.rows]}


def _money(v: Any) -> Decimal:
    return Decimal(str(v))


def _erp_figures(o: ErpSalesOrder) -> ErpOrderFigures:
    """BlueCherry's figures as it holds them now. Its totals count ordered units (cancelled
    units stay in them, as in the payload Seamline posted), so a short shipment or a cancel is
    no difference here; a hand edit of prices, quantities or discounts is."""
    totals = o.raw.get("totals") if isinstance(o.raw, dict) else None
    comps = {k: _money(v) for k, v in (totals or {}).items()
             if k in ("merchandise", "discount", "tax", "charges")}
    return ErpOrderFigures(order_no=o.order_no, currency=o.currency, total=o.total.amount,
                           components=comps, updated_by=o.updated_by)


def business_day(data: OrderData, tz: ZoneInfo) -> date | None:
    """The order's business day: the posted ``order_date`` (already in the market's time zone),
    else Centra's order date in the market's time zone."""
    frozen = data.raw.get("frozen")
    if isinstance(frozen, dict) and frozen.get("order_date"):
        return date.fromisoformat(str(frozen["order_date"]))
    snap = data.raw.get("snapshot")
    if not isinstance(snap, dict) or not snap.get("order_date"):
        return None
    return datetime.fromisoformat(str(snap["order_date"])).astimezone(tz).date()


def centra_figures(number: int, data: OrderData) -> OrderFigures:
    """Centra's as-sold figures: as posted (the frozen payload, built from Centra's amounts and
    tied out to Centra's grand total to the minor unit before it was sent), else — not posted
    yet — Centra's grand total as taken in. A Centra order changed after posting is
    ``POSTED_ORDER_CHANGED``'s (operations), a refund the credit memo comparison's."""
    snap = data.snapshot
    frozen = data.raw.get("frozen")
    if isinstance(frozen, dict) and isinstance(frozen.get("totals"), dict):
        totals = frozen["totals"]
        comps = {k: _money(v) for k, v in totals.items()
                 if k in ("merchandise", "discount", "tax", "charges")}
        return OrderFigures(number=number, currency=str(frozen.get("currency",
                                                                   snap["currency"])),
                            total=_money(totals["total"]), components=comps)
    return OrderFigures(number=number, currency=str(snap["currency"]),
                        total=_money(snap["grand_total"]))


class Reconciler:
    """Builds and keeps the daily reports."""

    def __init__(self, *, store: Store, erp: ReconcileSources, markets: Sequence[MarketScope],
                 clock: Callable[[], datetime], chunk: int = CHUNK) -> None:
        self.store = store
        self.erp = erp
        self.markets = list(markets)
        self.clock = clock
        self.chunk = chunk

    def scopes(self, market: str | None = None) -> list[MarketScope]:
        found = [m for m in self.markets if market is None or m.name == market
                 or str(m.centra_market) == market]
        return sorted(found, key=lambda m: (m.name, m.currency))

    def run(self, day: date, market: str | None = None, *, keep: bool = True) -> list[Report]:
        """The day's reports, one per market and currency (stored when ``keep``)."""
        return self.run_days([day], market, keep=keep)

    def run_days(self, days: Sequence[date], market: str | None = None, *,
                 keep: bool = True) -> list[Report]:
        """Several days' reports from one read of each side (a month-end run), ordered by day,
        market and currency."""
        scopes = self.scopes(market)
        wanted = sorted(set(days))
        if not scopes or not wanted:
            return []
        acc = {(d, s.name, s.currency): _Acc(s) for d in wanted for s in scopes}
        with Spill() as spill:
            self._read_bluecherry(wanted, scopes, spill, acc)
            self._orders(set(wanted), scopes, spill, acc)
            for (d, _, _), a in acc.items():
                self._finance(d, a, spill)
        reports = [Report(day=d, market=name, currency=cur, rows=a.finish(), totals=a.totals,
                          generated_at=self.clock())
                   for (d, name, cur), a in sorted(acc.items())]
        if keep:
            self.keep(reports)
        return reports

    def daily(self, run_at: time) -> list[Report]:
        """The scheduled run: each market whose local time has passed ``run_at`` and whose
        previous business day has no stored report gets that day reconciled and kept, and one
        ``RECONCILIATION_DIFFERENCES`` exception for finance per day and market with any
        difference (its count in the message). Returns the reports made."""
        now = self.clock()
        made: list[Report] = []
        for scope in self.scopes():
            local = now.astimezone(scope.tz)
            if local.time() < run_at:
                continue
            day = local.date() - timedelta(days=1)
            with self.store.read() as uow:
                if uow.ledger.get(REPORT_KIND, f"{day.isoformat()}:{scope.name}:"
                                  f"{scope.currency}") is not None:
                    continue
            for report in self.run_days([day], scope.name):
                made.append(report)
                if report.rows:
                    self.alert(report)
        return made

    def alert(self, report: Report) -> int:
        """One exception for finance for a day and market with differences."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.totals.by_kind.items()))
        with self.store.begin() as uow:
            return uow.exceptions.raise_(
                type=EXCEPTION_TYPE, owner="finance", business_key=f"reconcile:{report.key}",
                message=f"{len(report.rows)} reconciliation difference(s) on {report.day} in "
                        f"{report.market} {report.currency} ({kinds}): seamline reconcile "
                        f"--date {report.day} --market {report.market}",
                details={"day": report.day.isoformat(), "market": report.market,
                         "currency": report.currency, "differences": len(report.rows),
                         "by_kind": dict(report.totals.by_kind)},
                now=self.clock())

    def keep(self, reports: Sequence[Report]) -> None:
        with self.store.begin() as uow:
            for r in reports:
                uow.ledger.save(REPORT_KIND, r.key,
                                state="differences" if r.rows else "clean",
                                data=r.summary(), now=self.clock())

    def history(self, *, state: str | None = None) -> list[dict[str, Any]]:
        """Every stored report summary (newest day first)."""
        with self.store.read() as uow:
            rows = [e.data for s in ([state] if state else ["clean", "differences"])
                    for e in uow.ledger.in_state(REPORT_KIND, s)]
        return sorted(rows, key=lambda d: (d["day"], d["market"], d["currency"]), reverse=True)

    # -- BlueCherry's side, read once in bulk ---------------------------------------------------

    def _read_bluecherry(self, days: list[date], scopes: list[MarketScope], spill: Spill,
                         acc: dict[tuple[date, str, str], _Acc]) -> None:
        by_customer = {s.customer: s for s in scopes}
        since = min(datetime.combine(days[0], time(0), tzinfo=s.tz) for s in scopes)

        def ours() -> Iterator[tuple[str, int, ErpOrderFigures]]:
            for o in self.erp.iter_sales_orders_updated_since(since.astimezone(UTC)):
                scope = by_customer.get(o.customer)
                num = None if scope is None else scope.number_of(o.customer_po)
                if num is not None:
                    yield o.customer, num, _erp_figures(o)

        spill.add_orders(ours())
        self._read_invoices(days, by_customer, spill)
        for d in days:
            self._read_receipts(d, by_customer, spill, acc)
            spill.add_memos((d.isoformat(), m.customer, m.customer_po, m.memo_no or m.reference,
                             m.total.amount) for m in self.erp.iter_credit_memos(d)
                            if m.customer in by_customer)

    def _read_receipts(self, d: date, by_customer: dict[str, MarketScope], spill: Spill,
                       acc: dict[tuple[date, str, str], _Acc]) -> None:
        def applications() -> Iterator[tuple[str, Decimal]]:
            for r in self.erp.iter_cash_receipts(d):
                scope = by_customer.get(r.customer)
                a = None if scope is None else acc.get((d, scope.name, r.currency))
                if a is None:
                    continue
                a.totals.received += r.amount.amount
                if r.unapplied is not None and r.unapplied.amount > 0:
                    a.unapplied.append((r.reference, _po_of(r), r.unapplied.amount))
                for app in r.applications:
                    yield app.invoice_no, app.amount.amount

        spill.add_applied(applications())

    def _read_invoices(self, days: list[date], by_customer: dict[str, MarketScope],
                       spill: Spill) -> None:
        """The invoices feed from the nearest remembered starting point of the first day, up
        to the first invoice dated after the last day (the feed is in issue order, so its
        dates never go back); where each new day starts is remembered for later runs."""
        first, last = days[0], days[-1]
        cursor = self._invoice_hint(first)
        hinted: dict[str, str] = {}
        for invoices, nxt in self.erp.iter_invoice_pages(cursor):
            for i in invoices:
                key = i.invoice_date.isoformat()
                if key not in hinted:
                    hinted[key] = cursor or ""
            spill.add_invoices(
                (i.invoice_no, i.invoice_date.isoformat(), _customer_of(i), i.customer_po,
                 i.currency, i.total.amount) for i in invoices
                if first <= i.invoice_date <= last and _customer_of(i) in by_customer)
            if invoices and invoices[-1].invoice_date > last:
                break
            cursor = nxt
        with self.store.begin() as uow:
            for key, value in hinted.items():
                name = f"{HINT}{key}"
                if uow.cursors.get(name) is None:
                    uow.cursors.set(name, value, now=self.clock())

    def _invoice_hint(self, day: date) -> str | None:
        with self.store.read() as uow:
            for back in range(HINT_DAYS):
                value = uow.cursors.get(f"{HINT}{(day - timedelta(days=back)).isoformat()}")
                if value is not None:
                    return value or None
        return None

    # -- Centra's side, the ledger in key order -------------------------------------------------

    def _orders(self, days: set[date], scopes: list[MarketScope], spill: Spill,
                acc: dict[tuple[date, str, str], _Acc]) -> None:
        by_market: dict[tuple[Any, Any], MarketScope] = {
            (s.centra_market, s.currency): s for s in scopes}
        after = 0
        while True:
            with self.store.read() as uow:
                page = uow.ledger.page("order", after_id=after, limit=self.chunk)
            if not page:
                return
            after = page[-1].id
            mine, refunds = _dispatch(page, days, by_market)
            spill.add_refunds(refunds)
            for customer, orders in mine.items():
                erp = spill.orders(customer, [n for n, _, _, _ in orders])
                for number, data, day, scope in orders:
                    a = acc[(day, scope.name, scope.currency)]
                    figures = centra_figures(number, data)
                    found = erp.get(number)
                    a.totals.orders += 1
                    a.totals.centra_total += figures.total
                    if found is not None and found.currency == scope.currency:
                        a.totals.bluecherry_total += found.total
                    d = compare_order(figures, found, posted=_posted(data),
                                      reason=_reason(data))
                    if d is not None:
                        a.rows.append(d)

    # -- invoices, receipts, refunds and memos of one day and market ----------------------------

    @staticmethod
    def _finance(day: date, a: _Acc, spill: Spill) -> None:
        scope, key = a.scope, day.isoformat()
        for no, po, cur, invoiced, received in spill.invoices(key, scope.customer):
            if cur != scope.currency:
                continue
            a.totals.invoiced += invoiced
            d = compare_invoice(scope.order_of(po), no, cur, invoiced, min(received, invoiced))
            if d is not None:
                a.rows.append(d)
        for ref, po, amount in a.unapplied:
            d = unapplied_cash(scope.order_of(po) if po else "", ref, scope.currency, amount)
            if d is not None:
                a.rows.append(d)
        for po, refunded, credited, memos in spill.refunds_and_memos(key, scope.customer):
            a.totals.refunded += refunded
            a.totals.credited += credited
            d = compare_refunds(scope.order_of(po), scope.currency, refunded, credited, memos)
            if d is not None:
                a.rows.append(d)


_Mine = dict[str, list[tuple[int, OrderData, date, "MarketScope"]]]


def _dispatch(page: Sequence[LedgerEntry], days: set[date],
              by_market: dict[tuple[Any, Any], MarketScope]
              ) -> tuple[_Mine, list[tuple[str, str, str, Decimal]]]:
    """A chunk of ledger rows: the orders of the days asked for, by BlueCherry customer, and
    the Centra refunds dated on those days (whatever the order's own day)."""
    mine: _Mine = {}
    refunds: list[tuple[str, str, str, Decimal]] = []
    for e in page:
        snap = e.data.get("snapshot")
        if e.state == OrderState.NEVER.value or not isinstance(snap, dict):
            continue
        scope = by_market.get((snap.get("market_id"), snap.get("currency")))
        if scope is None:
            continue
        data = OrderData(e.data)
        number = int(e.business_key)
        for when, amount in _refunds(data, scope.tz):
            if when in days:
                refunds.append((when.isoformat(), scope.customer,
                                f"{scope.customer_po_prefix}{number}", amount))
        day = business_day(data, scope.tz)
        if day is not None and day in days:
            mine.setdefault(scope.customer, []).append((number, data, day, scope))
    return mine, refunds


@dataclass(slots=True)
class _Acc:
    """One (day, market, currency) being built: its rows and totals."""

    scope: MarketScope
    rows: list[Difference] = field(default_factory=list)
    totals: ReportTotals = field(init=False)
    unapplied: list[tuple[str, str, Decimal]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.totals = ReportTotals(currency=self.scope.currency)

    def finish(self) -> list[Difference]:
        self.rows.sort(key=lambda r: r.sort_key)
        for r in self.rows:
            self.totals.add(r)
        return self.rows


def _posted(data: OrderData) -> bool:
    return bool(data.raw.get("order_no"))


def _reason(data: OrderData) -> str:
    """Why an order is not in BlueCherry yet, as the ledger says (empty: it does not say)."""
    if data.raw.get("order_no"):
        return ""
    return data.reason or ("parked by an open exception" if data.parks else "")


def _customer_of(i: ErpInvoice) -> str:
    return str(i.raw.get("customer", "")) if isinstance(i.raw, dict) else ""


def _po_of(r: CashReceipt) -> str:
    return r.applications[0].customer_po if r.applications else ""


def _refunds(data: OrderData, tz: ZoneInfo) -> list[tuple[date, Decimal]]:
    """The order's successful Centra refunds with their day in the market's time zone."""
    out: list[tuple[date, Decimal]] = []
    for p in data.snapshot.get("payments", []):
        if str(p.get("entry_type", "")).upper() != "REFUND" or \
                str(p.get("status", "")).upper() != "SUCCESS" or not p.get("created_at"):
            continue
        when = datetime.fromisoformat(str(p["created_at"])).astimezone(tz).date()
        out.append((when, abs(_money(p["value"]))))
    return out
