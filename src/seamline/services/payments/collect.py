"""What the batch learns before it posts: BlueCherry's invoices (mirrored by feed cursor, to
apply cash to), and the Centra captures and refunds.

Captures happen when orders ship, often days after the order, and every capture or refund
touches the order's ``updatedAt``: so the batch reads Centra's orders updated since its own
cursor (with an overlap, and ``lookback_days`` before the business day on the first run) and
records each ``SUCCESS`` ``CAPTURE``/``REFUND`` history entry once, by its reference. Reading
the same orders again records nothing twice. Per order, captures minus refunds are checked
against Centra's grand total: more is ``CAPTURE_EXCEEDS_TOTAL`` for finance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from seamline.domain.erp import ErpInvoice
from seamline.domain.money import Money
from seamline.domain.orders import CentraOrder
from seamline.domain.payments import InvoiceRecord, net_captured, records_of
from seamline.services.payments.core import (
    CAPTURE_EXCEEDS_TOTAL,
    CENTRA_CURSOR,
    INVOICES_CURSOR,
    PaymentsCore,
    market_key,
)
from seamline.services.unit_of_work import Tx, UnitOfWork

__all__ = ["CollectResult", "Collector"]

#: Feed reads per sync at most.
MAX_READS = 50
#: Orders recorded per unit of work.
CHUNK = 200
#: Centra orders read again before the cursor (clock skew, late commits on Centra's side).
OVERLAP = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class CollectResult:
    invoices_new: int
    orders_read: int
    payments_new: int
    unmapped: int


def _invoice_record(inv: ErpInvoice) -> InvoiceRecord:
    return InvoiceRecord(invoice_no=inv.invoice_no, order_no=inv.order_no,
                         customer_po=inv.customer_po, currency=inv.currency, total=inv.total,
                         invoice_date=inv.invoice_date, applied=Money.zero(inv.currency))


def over_capture_key(number: int) -> str:
    return f"order:{number}:payments"


class Collector(PaymentsCore):
    """Reads BlueCherry invoices and Centra payments into the store."""

    def sync_invoices(self, tx: Tx | None = None) -> int:
        """Mirror every invoice issued since the feed cursor; how many were new."""
        tx = tx or self.store.begin
        new = 0
        for _ in range(MAX_READS):
            with self.store.read() as uow:
                since = uow.cursors.get(INVOICES_CURSOR)
            batch, after = self.finance.iter_invoices(since)
            with tx() as uow:
                uow.cursors.lock(INVOICES_CURSOR)
                if uow.cursors.get(INVOICES_CURSOR) != since:
                    continue  # another process recorded this stretch meanwhile
                new += uow.payments.save_invoices(_invoice_record(i) for i in batch)
                if after and after != since:
                    uow.cursors.set(INVOICES_CURSOR, after, now=self.clock())
            if not batch or not after or after == since:
                break
        return new

    def collect_payments(self, tx: Tx | None = None, *,
                         until: datetime | None = None) -> CollectResult:
        """Record the captures and refunds of every Centra order updated since the cursor."""
        tx = tx or self.store.begin
        until = until or self.clock()
        with self.store.read() as uow:
            raw = uow.cursors.get(CENTRA_CURSOR)
        start = (datetime.fromisoformat(raw) - OVERLAP if raw
                 else until - timedelta(days=self.lookback_days + 2))
        read = new = unmapped = 0
        chunk: list[CentraOrder] = []
        for order in self.centra.iter_orders(updated_from=start, updated_to=until):
            chunk.append(order)
            read += 1
            if len(chunk) >= CHUNK:
                n, u = self._record(tx, chunk)
                new, unmapped, chunk = new + n, unmapped + u, []
        n, u = self._record(tx, chunk)
        new, unmapped = new + n, unmapped + u
        with tx() as uow:
            uow.cursors.lock(CENTRA_CURSOR)
            current = uow.cursors.get(CENTRA_CURSOR)
            if current is None or current < until.isoformat():
                uow.cursors.set(CENTRA_CURSOR, until.isoformat(), now=self.clock())
        return CollectResult(invoices_new=0, orders_read=read, payments_new=new,
                             unmapped=unmapped)

    def _record(self, tx: Tx, orders: list[CentraOrder]) -> tuple[int, int]:
        if not orders:
            return 0, 0
        new = unmapped = 0
        with tx() as uow:
            open_keys = {e.business_key for e in uow.exceptions.find(
                type=CAPTURE_EXCEEDS_TOTAL, business_keys=[over_capture_key(o.number)
                                                          for o in orders],
                with_orders=False, limit=len(orders))}
            for order in orders:
                market = self.market_for(order.market_id, order.currency)
                if market is None:
                    unmapped += 1  # the order flow raises MAPPING_MISSING for it
                    continue
                records = records_of(order, market=market_key(market),
                                     customer=market.customer, tz=market.tz, rules=self.rules)
                if records:
                    new += uow.payments.add_records(records, now=self.clock())
                self._check_totals(uow, order, open_keys)
        return new, unmapped

    def _check_totals(self, uow: UnitOfWork, order: CentraOrder, open_keys: set[str]) -> None:
        """Captures minus refunds against Centra's grand total: more is an exception."""
        key = over_capture_key(order.number)
        net = net_captured(order)
        if net.amount > order.grand_total.amount:
            over = net - order.grand_total
            uow.exceptions.raise_(
                type=CAPTURE_EXCEEDS_TOTAL, owner="finance", business_key=key,
                message=(f"order {order.number}: captured less refunded is {net.wire()} "
                         f"{net.currency}, {over.wire()} more than Centra's grand total "
                         f"{order.grand_total.wire()}; refund the difference or correct the "
                         "order in Centra"),
                details={"order": order.number, "net_captured": net.wire(),
                         "grand_total": order.grand_total.wire(), "over": over.wire(),
                         "currency": net.currency},
                now=self.clock())
        elif key in open_keys:
            uow.exceptions.resolve_for_key(key, types=[CAPTURE_EXCEEDS_TOTAL],
                                           note="captures back within the grand total",
                                           now=self.clock())
