"""Seed a business day (or a month) for the reconciliation straight into the BlueCherry
sandbox's state and Seamline's store, with discrepancies planted on purpose.

Fast by design: the ledger rows are written as the order flow leaves a posted order (the Centra
snapshot, the frozen payload's totals, the BlueCherry order number), and the BlueCherry side is
built with the sandbox's own records and its own invoicing (``warehouse.invoice``) — not by
driving 20,000 orders through both HTTP APIs. The reconciliation then reads it all over HTTP.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from seamline.domain.ledger import OrderState
from seamline.services.unit_of_work import Store
from seamline_sandbox.bluecherry.state import BlueCherryState, Charge, Line, Order, iso
from seamline_sandbox.bluecherry.warehouse import invoice

__all__ = ["MARKETS", "Planted", "SeedMarket", "seed_day"]


@dataclass(frozen=True, slots=True)
class SeedMarket:
    store: str
    centra_market: int
    currency: str
    digits: int
    customer: str
    division: str
    warehouse: str
    timezone: str
    prices_include_tax: bool


MARKETS = (
    SeedMarket("SE", 1, "SEK", 2, "WEBSE", "D01", "W01", "Europe/Stockholm", True),
    SeedMarket("DE", 2, "EUR", 2, "WEBEU", "D01", "W01", "Europe/Berlin", True),
    SeedMarket("JP", 4, "JPY", 0, "WEBJP", "D02", "W03", "Asia/Tokyo", True),
    SeedMarket("US", 5, "USD", 2, "WEBUS", "D02", "W03", "America/New_York", False),
)

#: What each planted fault should be reported as.
PLANTS = ("missing_in_bluecherry", "total_mismatch", "currency_rounding", "invoiced_not_paid",
          "paid_not_invoiced", "refund_without_credit_memo", "credit_memo_mismatch")


@dataclass(slots=True)
class Planted:
    """The differences planted: ``(day, store, kind, order number)``."""

    expected: set[tuple[str, str, str, str]] = field(default_factory=set)
    orders: int = 0


def _q(v: Decimal, digits: int) -> Decimal:
    return v.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _fmt(v: Decimal, digits: int) -> str:
    return str(_q(v, digits))


def seed_day(bc: BlueCherryState, store: Store, *, day: date, n: int, first_number: int,
             plant: dict[str, int] | None = None, seed: int = 7,
             planted: Planted | None = None, chunk: int = 2000) -> Planted:
    """``n`` orders of business ``day`` spread over :data:`MARKETS`, each posted, shipped (some
    in two partial shipments, each invoiced), paid by receipts dated that day, some refunded
    with a matching credit memo; ``plant`` = how many of each kind in :data:`PLANTS` to break
    (spread over the markets). Returns what was planted."""
    rng = random.Random(seed * 1_000_003 + day.toordinal())
    planted = planted or Planted()
    plant = dict(plant or {})
    skus = bc.items[:200]
    # which order index carries which fault: the first indices of the day, one per kind
    faults: dict[int, str] = {}
    k = 3
    for kind in PLANTS:
        for _ in range(plant.get(kind, 0)):
            # a one-minor-unit discount edit moves a sales-tax market's tax too: VAT markets only
            while kind == "currency_rounding" and not MARKETS[k % len(MARKETS)].prices_include_tax:
                k += 1
            faults[k] = kind
            k += 7
    saved = bc.clock
    rows: list[tuple[int, dict[str, object]]] = []
    try:
        for k in range(n):
            m = MARKETS[k % len(MARKETS)]
            number = first_number + k
            tz = ZoneInfo(m.timezone)
            placed = datetime.combine(day, time(9), tzinfo=tz) + timedelta(
                seconds=rng.randrange(12 * 3600))
            # BlueCherry dates invoices by its own (UTC) day: keep them on the business day
            bc.clock = _noon(day)
            fault = faults.get(k)
            rows.append((number, _one(bc, m, number, placed, rng, skus, fault)))
            if fault is not None:
                key = f"PSP-{number}-CAPTURE" if fault == "paid_not_invoiced" else str(number)
                planted.expected.add((day.isoformat(), m.store, fault, key))
            planted.orders += 1
            if len(rows) >= chunk:
                _save(store, rows)
                rows = []
        _save(store, rows)
    finally:
        bc.clock = saved
    return planted


def _noon(day: date) -> Callable[[], datetime]:
    at = datetime.combine(day, time(12), tzinfo=UTC)
    return lambda: at


def _save(store: Store, rows: list[tuple[int, dict[str, object]]]) -> None:
    if not rows:
        return
    now = datetime.now(UTC)
    with store.begin() as uow:
        for number, data in rows:
            uow.orders.save(number, state=OrderState.SYNCED, data=data, now=now)


def _one(bc: BlueCherryState, m: SeedMarket, number: int, placed: datetime,  # noqa: PLR0917
         rng: random.Random, skus: Sequence[Any], fault: str | None) -> dict[str, object]:
    d = m.digits
    unit = Decimal(rng.choice((199, 299, 499, 990, 1490))) * (Decimal(1) if d == 0 else
                                                              Decimal("0.1"))
    if m.currency == "JPY":
        unit *= 100
    lines = []
    for ln_no in (1, 2)[: rng.choice((1, 2))]:
        item = rng.choice(skus)
        qty = rng.choice((1, 1, 2, 3))
        price = _q(unit * ln_no, d)
        discount = _q(price * qty * Decimal("0.1"), d) if rng.random() < 0.3 else Decimal(0)
        net = price * qty - discount
        tax = _q(net * Decimal("0.2"), d) if m.prices_include_tax else _q(net * Decimal(
            "0.08"), d)
        lines.append(Line(line_no=ln_no, sku=item.sku, upc=item.upc, quantity=qty,
                          unit_price=price, discount=discount, tax=tax, tax_rate="20"))
    ship = _q(Decimal(49) if d else Decimal(500), d) if m.currency != "JPY" else Decimal(500)
    charges = [Charge(type="SHIPPING", amount=ship, tax=_q(ship * Decimal("0.2"), d),
                      tax_rate="20")]
    merch = sum((ln.unit_price * ln.quantity for ln in lines), Decimal(0))
    disc = sum((ln.discount for ln in lines), Decimal(0))
    tax = sum((ln.tax for ln in lines), Decimal(0)) + charges[0].tax
    total = merch - disc + ship + (Decimal(0) if m.prices_include_tax else tax)
    totals = {"merchandise": merch, "discount": disc, "charges": ship, "tax": tax,
              "total": total}
    po = str(number)
    ext = f"centra:1:{number}"
    now = bc.now()
    refund_at = placed + timedelta(hours=1)
    payments: list[dict[str, object]] = [
        {"entry_type": "CAPTURE", "status": "SUCCESS", "value": _fmt(total, d),
         "external_reference": f"psp-{number}-c", "created_at": placed.isoformat()}]
    refund = Decimal(0)
    # a random refund only on an order with nothing planted (a refund of an order planted as
    # missing in BlueCherry would, rightly, be reported without a credit memo too)
    if fault in ("refund_without_credit_memo", "credit_memo_mismatch") or (
            rng.random() < 0.03 and fault is None):
        refund = lines[0].unit_price - (lines[0].discount if lines[0].quantity == 1 else 0)
        payments.append({"entry_type": "REFUND", "status": "SUCCESS",
                         "value": _fmt(refund, d), "external_reference": f"psp-{number}-r",
                         "created_at": refund_at.isoformat()})
    snapshot = {
        "number": number, "status": "CONFIRMED", "market_id": m.centra_market,
        "market_name": m.store, "currency": m.currency, "store_id": 1,
        "prices_include_tax": m.prices_include_tax, "order_date": placed.isoformat(),
        "grand_total": _fmt(total, d), "tax_total": _fmt(tax, d),
        "shipping": _fmt(ship, d), "payments": payments,
    }
    frozen_totals = {k: _fmt(v, d) for k, v in totals.items()}
    data: dict[str, object] = {
        "snapshot": snapshot,
        "frozen": {"customer_po": po, "external_reference": ext,
                   "order_date": placed.date().isoformat(), "currency": m.currency,
                   "totals": frozen_totals},
        "posted_at": iso(now), "posted_how": "seed",
    }
    if fault == "missing_in_bluecherry":
        return data
    seq, order_no = bc.next_no("SO")
    order = Order(
        seq=seq, order_no=order_no, customer_po=po, external_reference=ext,
        division=m.division, warehouse=m.warehouse, customer=m.customer, store=m.store,
        order_type="ECOM", season="FW26", order_date=placed.date(), start_date=placed.date(),
        cancel_date=placed.date() + timedelta(days=30), currency=m.currency, digits=d,
        ship_via="PNORD", terms="PREPAID", prices_include_tax=m.prices_include_tax,
        bill_to={}, ship_to={}, lines=lines, charges=charges, totals=dict(totals),
        created_at=now, updated_at=now, updated_by="api:seamline")
    bc.orders.append(order)
    bc.by_no[order_no] = order
    bc.by_ext_ref[ext] = order
    bc.by_po[(m.customer, po)] = order
    data["order_no"] = order_no
    invoices: list[dict[str, object]] = []
    if fault != "paid_not_invoiced":
        parts = _parts(order, rng)
        for shipped in parts:
            for ln, q in shipped:
                ln.shipped += q
            _s, sh_no = bc.next_no("SH")
            invoices.append(invoice(bc, order, {"shipment_no": sh_no}, shipped))
        order.refresh_status()
    receipts = []
    for inv in invoices:
        if fault == "invoiced_not_paid":
            break
        receipts.append({"customer_po": po, "invoice_no": inv["invoice_no"],
                         "amount": inv["total"]})
    paid = sum((Decimal(str(r["amount"])) for r in receipts), Decimal(0))
    if fault == "paid_not_invoiced":
        paid = total
    if receipts or fault == "paid_not_invoiced":
        ref = f"PSP-{number}-CAPTURE"
        for r in receipts:
            bc.applied[str(r["invoice_no"])] = Decimal(str(r["amount"]))
        bc.receipts[ref] = {
            "receipt_no": bc.next_no("CR")[1], "reference": ref, "customer": m.customer,
            "receipt_date": placed.date().isoformat(), "currency": m.currency,
            "amount": _fmt(paid, d), "method": "CARD", "applications": receipts,
            "unapplied": _fmt(paid - sum((Decimal(str(r["amount"])) for r in receipts),
                                         Decimal(0)), d),
            "created_at": iso(now), "updated_at": iso(now), "updated_by": "api:seamline"}
    if refund and fault != "refund_without_credit_memo":
        memo_total = refund + (Decimal(1) if fault == "credit_memo_mismatch" else Decimal(0))
        ref = f"PSP-{number}-REFUND"
        when = refund_at.astimezone(UTC)
        bc.credit_memos[ref] = {
            "memo_no": bc.next_no("CM")[1], "reference": ref, "customer": m.customer,
            "customer_po": po, "invoice_no": str(invoices[0]["invoice_no"]) if invoices else "",
            "currency": m.currency, "lines": [], "charges": _fmt(Decimal(0), d),
            "tax": _fmt(Decimal(0), d), "total": _fmt(memo_total, d), "reason": "return",
            "created_at": iso(when), "updated_at": iso(when), "updated_by": "api:seamline"}
        # the memo is listed by its creation day (UTC); keep it on the business day
        if when.date() != placed.date():
            bc.credit_memos[ref]["created_at"] = iso(datetime.combine(
                placed.date(), time(12), tzinfo=UTC))
    if fault in ("total_mismatch", "currency_rounding"):
        ln = order.lines[0]
        if fault == "total_mismatch":
            bc.edit_order(order_no, login="anna.finance",
                          lines=[{"line_no": 1, "unit_price": str(ln.unit_price + 10)}])
        else:
            step = Decimal(1).scaleb(-d)
            bc.edit_order(order_no, login="anna.finance",
                          lines=[{"line_no": 1, "discount": str(ln.discount + step)}])
            # a person's discount edit leaves the tax as it was
    return data


def _parts(order: Order, rng: random.Random) -> Iterator[list[tuple[Line, int]]]:
    """One shipment of everything, or (one in five) two partial shipments."""
    whole = [(ln, ln.quantity) for ln in order.lines]
    if rng.random() < 0.2 and sum(q for _, q in whole) > 1:
        first = whole[:1] if len(whole) > 1 else [(whole[0][0], 1)]
        rest = whole[1:] if len(whole) > 1 else [(whole[0][0], whole[0][1] - 1)]
        yield first
        yield rest
    else:
        yield whole
