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
from datetime import UTC, date, datetime, time
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


class ReconcileSources(Protocol):
    """What the reconciliation reads from BlueCherry (the BlueCherry and finance ports)."""

    def iter_sales_orders_updated_since(self, since: datetime) -> Iterator[ErpSalesOrder]: ...

    def iter_invoices(self, since: str | None = None) -> tuple[list[ErpInvoice], str]: ...

    def list_cash_receipts(self, day: date) -> list[CashReceipt]: ...

    def list_credit_memos(self, day: date) -> list[CreditMemo]: ...


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
    snap = data.snapshot
    comps: dict[str, Decimal] = {}
    frozen = data.raw.get("frozen")
    if isinstance(frozen, dict):
        comps = {k: _money(v) for k, v in frozen.get("totals", {}).items()
                 if k in ("merchandise", "discount", "tax", "charges")}
    return OrderFigures(number=number, currency=str(snap["currency"]),
                        total=_money(snap["grand_total"]), components=comps)


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
        reports = [self.reconcile(day, scope) for scope in self.scopes(market)]
        if keep:
            self.keep(reports)
        return reports

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

    # -- one market and currency --------------------------------------------------------------

    def reconcile(self, day: date, scope: MarketScope) -> Report:
        totals = ReportTotals(currency=scope.currency)
        rows: list[Difference] = []
        with Spill() as spill:
            self._read_bluecherry(day, scope, spill)
            rows.extend(self._orders(day, scope, spill, totals))
            rows.extend(self._invoices(scope, spill, totals))
            for po, refunded, credited, memos in spill.refunds_and_memos():
                totals.refunded += refunded
                totals.credited += credited
                num = scope.number_of(po)
                d = compare_refunds(str(num) if num is not None else po, scope.currency,
                                    refunded, credited, memos)
                if d is not None:
                    rows.append(d)
        rows.sort(key=lambda r: r.sort_key)
        for r in rows:
            totals.add(r)
        return Report(day=day, market=scope.name, currency=scope.currency, rows=rows,
                      totals=totals, generated_at=self.clock())

    def _read_bluecherry(self, day: date, scope: MarketScope, spill: Spill) -> None:
        start = datetime.combine(day, time(0), tzinfo=scope.tz).astimezone(UTC)

        def ours() -> Iterator[tuple[int, ErpOrderFigures]]:
            for o in self.erp.iter_sales_orders_updated_since(start):
                if o.customer != scope.customer:
                    continue
                num = scope.number_of(o.customer_po)
                if num is not None:
                    yield num, _erp_figures(o)

        spill.add_orders(ours())
        cursor: str | None = None
        while True:
            invoices, nxt = self.erp.iter_invoices(cursor)
            spill.add_invoices((i.invoice_no, i.customer_po, i.currency, i.total.amount)
                               for i in invoices
                               if i.invoice_date == day and i.currency == scope.currency
                               and scope.number_of(i.customer_po) is not None
                               and _customer_of(i) in ("", scope.customer))
            if not invoices or nxt == cursor:
                break
            cursor = nxt
        receipts = [r for r in self.erp.list_cash_receipts(day)
                    if r.customer == scope.customer and r.currency == scope.currency]
        spill.add_applied((a.invoice_no, a.amount.amount)
                          for r in receipts for a in r.applications)
        self._unapplied = [(r.reference, _po_of(r), r.unapplied.amount) for r in receipts
                           if r.unapplied is not None and r.unapplied.amount > 0]
        self._received = sum((r.amount.amount for r in receipts), Decimal(0))
        spill.add_memos((m.customer_po, m.memo_no or m.reference, m.total.amount)
                        for m in self.erp.list_credit_memos(day)
                        if m.customer == scope.customer and m.currency == scope.currency)

    def _orders(self, day: date, scope: MarketScope, spill: Spill,
                totals: ReportTotals) -> Iterator[Difference]:
        after = 0
        while True:
            with self.store.read() as uow:
                page = uow.ledger.page("order", after_id=after, limit=self.chunk)
            if not page:
                return
            after = page[-1].id
            mine = [(int(e.business_key), OrderData(e.data)) for e in page
                    if self._in_scope(e, day, scope)]
            erp = spill.orders([n for n, _ in mine])
            refunds: list[tuple[str, Decimal]] = []
            for number, data in mine:
                figures = centra_figures(number, data)
                totals.orders += 1
                totals.centra_total += figures.total
                found = erp.get(number)
                if found is not None and found.currency == scope.currency:
                    totals.bluecherry_total += found.total
                d = compare_order(figures, found)
                if d is not None:
                    yield d
                refunds.extend((f"{scope.customer_po_prefix}{number}", amount)
                               for amount in _refunds_on(data, day, scope.tz))
            spill.add_refunds(refunds)

    @staticmethod
    def _in_scope(e: LedgerEntry, day: date, scope: MarketScope) -> bool:
        if e.state == OrderState.NEVER.value:
            return False
        snap = e.data.get("snapshot")
        if not isinstance(snap, dict) or snap.get("market_id") != scope.centra_market \
                or snap.get("currency") != scope.currency:
            return False
        return business_day(OrderData(e.data), scope.tz) == day

    def _invoices(self, scope: MarketScope, spill: Spill,
                  totals: ReportTotals) -> Iterator[Difference]:
        for no, po, cur, invoiced, received in spill.invoices():
            totals.invoiced += invoiced
            num = scope.number_of(po)
            d = compare_invoice(str(num) if num is not None else po, no, cur, invoiced,
                                min(received, invoiced))
            if d is not None:
                yield d
        totals.received += self._received
        for ref, po, amount in self._unapplied:
            num = scope.number_of(po) if po else None
            d = unapplied_cash(str(num) if num is not None else po, ref, scope.currency,
                               amount)
            if d is not None:
                yield d


def _customer_of(i: ErpInvoice) -> str:
    return str(i.raw.get("customer", "")) if isinstance(i.raw, dict) else ""


def _po_of(r: CashReceipt) -> str:
    return r.applications[0].customer_po if r.applications else ""


def _refunds_on(data: OrderData, day: date, tz: ZoneInfo) -> list[Decimal]:
    """The order's successful Centra refunds dated ``day`` in the market's time zone."""
    out: list[Decimal] = []
    for p in data.snapshot.get("payments", []):
        if str(p.get("entry_type", "")).upper() != "REFUND" or \
                str(p.get("status", "")).upper() != "SUCCESS" or not p.get("created_at"):
            continue
        when = datetime.fromisoformat(str(p["created_at"])).astimezone(tz).date()
        if when == day:
            out.append(abs(_money(p["value"])))
    return out

