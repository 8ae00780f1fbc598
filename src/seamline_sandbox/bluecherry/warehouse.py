"""The warehouse process: picks open orders, ships them (sometimes in several shipments,
sometimes short), and invoices each shipment.

- *pick*: open units move to picked (``allocated`` in ATS) — ``pick_only`` stops here;
- *ship*: picked units leave the warehouse (``on_hand`` falls) in one shipment with cartons
  (SSCC-18) and tracking numbers; with ``partial_probability`` only part ships now and the rest
  goes back to open (a later run ships it); with ``short_probability`` part ships and the
  unshipped rest is cancelled (a short shipment); a line with too little stock on hand ships what
  there is and is shorted too. Every change is stamped ``updated_by: system:warehouse``;
- *invoice*: one invoice per shipment; charges go on the order's first invoice; discounts and
  taxes are billed pro rata by cumulative rounding, so the invoices of a fully shipped line add up
  to the line exactly.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from seamline_sandbox.bluecherry.state import CARRIERS, BlueCherryState, Line, Order, iso
from seamline_sandbox.world import upc_check_digit

__all__ = ["WAREHOUSE", "run", "ship_order"]

WAREHOUSE = "system:warehouse"
#: GS1 company prefix used for the sandbox's SSCCs.
SSCC_PREFIX = "7350000"


def run(state: BlueCherryState, *, orders: int | None = None, partial_probability: float = 0.0,
        short_probability: float = 0.0, pick_only: bool = False, seed: int | None = None,
        order_nos: list[str] | None = None) -> dict[str, Any]:
    """Pick and ship up to ``orders`` orders (all when None) in the order they were created."""
    rng = random.Random(seed) if seed is not None else state.rng
    if order_nos is not None:
        candidates = [state.get_order(no) for no in order_nos]
    else:
        candidates = [o for o in state.orders
                      if not o.held and any(ln.open or ln.picked for ln in o.lines)]
    if orders is not None:
        candidates = candidates[:max(orders, 0)]
    shipped: list[str] = []
    picked: list[str] = []
    for order in candidates:
        if order.held:
            continue
        pick_order(state, order)
        if pick_only:
            picked.append(order.order_no)
            continue
        roll = rng.random()
        mode = "full"
        if roll < short_probability:
            mode = "short"
        elif roll < short_probability + partial_probability:
            mode = "partial"
        shipment = ship_order(state, order, mode=mode, rng=rng)
        if shipment is not None:
            shipped.append(shipment["shipment_no"])
    return {"picked": picked, "shipments": shipped}


def pick_order(state: BlueCherryState, order: Order) -> None:
    changed = False
    for ln in order.lines:
        if ln.open > 0:
            ln.picked += ln.open
            changed = True
    if changed:
        state.touch(order, WAREHOUSE)


def _ship_plan(state: BlueCherryState, order: Order, mode: str,
               rng: random.Random) -> list[tuple[Line, int, int]]:
    """(line, units chosen to ship now, units that can ship given stock on hand)."""
    plan = [(ln, ln.picked) for ln in order.lines if ln.picked > 0]
    units = sum(q for _, q in plan)
    if mode in ("partial", "short") and units > 1:
        keep = rng.randint(1, units - 1)
        chosen: list[tuple[Line, int]] = []
        for ln, q in plan:
            take = min(q, keep)
            keep -= take
            chosen.append((ln, take))
        plan = chosen
    return [(ln, q, min(q, max(state.on_hand.get((ln.sku, order.warehouse), 0), 0)))
            for ln, q in plan]


def ship_order(state: BlueCherryState, order: Order, *, mode: str = "full",
               rng: random.Random | None = None) -> dict[str, Any] | None:
    """Ship the order's picked units (``mode`` full/partial/short); returns the shipment."""
    rng = rng or state.rng
    shipped_lines: list[tuple[Line, int]] = []
    for ln, chosen, can in _ship_plan(state, order, mode, rng):
        ln.picked -= chosen
        ln.shipped += can
        ln.cancelled += chosen - can  # no stock on hand: shorted
        key = (ln.sku, order.warehouse)
        state.on_hand[key] = state.on_hand.get(key, 0) - can
        if can:
            shipped_lines.append((ln, can))
    for ln in order.lines:
        if mode == "short":
            # a short shipment cancels the unshipped rest of the order
            ln.cancelled += ln.picked + ln.open
            ln.picked = 0
        elif ln.picked:
            ln.picked = 0  # partial: the rest goes back to open for a later run
    state.touch(order, WAREHOUSE)
    if not shipped_lines:
        return None
    now = state.now()
    _seq, shipment_no = state.next_no("SH")
    carrier, service = CARRIERS.get(order.ship_via, (order.ship_via, "Standard"))
    n_cartons = 1 if sum(q for _, q in shipped_lines) < 4 else 2
    cartons = []
    for _ in range(n_cartons):
        serial, _no = state.next_no("SSCC")
        body = f"0{SSCC_PREFIX}{serial:09d}"
        cartons.append({"sscc": body + upc_check_digit(body),
                        "tracking_number": _tracking(carrier, serial, rng)})
    complete = all(ln.open == 0 and ln.picked == 0 for ln in order.lines)
    shipment = {
        "shipment_no": shipment_no, "order_no": order.order_no,
        "customer_po": order.customer_po, "customer": order.customer,
        "external_reference": order.external_reference,
        "warehouse": order.warehouse, "shipped_at": iso(now), "ship_via": order.ship_via,
        "carrier": carrier, "service": service, "cartons": cartons,
        "lines": [{"line_no": ln.line_no, "sku": ln.sku, "upc": ln.upc, "quantity": q}
                  for ln, q in shipped_lines],
        "complete": complete,
        "created_at": iso(now), "updated_at": iso(now), "updated_by": WAREHOUSE,
    }
    state.shipments.append(shipment)
    order.shipment_nos.append(shipment_no)
    invoice(state, order, shipment, shipped_lines)
    order.refresh_status()
    return shipment


def _tracking(carrier: str, serial: int, rng: random.Random) -> str:
    if carrier == "UPS":
        return f"1Z{rng.randrange(16**6):06X}03{serial:08d}"
    return f"{carrier[:2].upper()}{serial:09d}SE"


def _q(amount: Decimal, digits: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def invoice(state: BlueCherryState, order: Order, shipment: dict[str, Any],
            shipped_lines: list[tuple[Line, int]]) -> dict[str, Any]:
    m = order.money
    lines = []
    amount_total = Decimal(0)
    tax_total = Decimal(0)
    for ln, q in shipped_lines:
        # cumulative rounding: billed-so-far follows shipped/ordered exactly at the end
        disc_to_date = _q(ln.discount * ln.shipped / ln.quantity, order.digits)
        tax_to_date = _q(ln.tax * ln.shipped / ln.quantity, order.digits)
        disc = disc_to_date - ln.invoiced_discount
        tax = tax_to_date - ln.invoiced_tax
        ln.invoiced_discount, ln.invoiced_tax = disc_to_date, tax_to_date
        amount = ln.unit_price * q - disc
        amount_total += amount
        tax_total += tax
        lines.append({"line_no": ln.line_no, "sku": ln.sku, "upc": ln.upc, "quantity": q,
                      "unit_price": m(ln.unit_price), "discount": m(disc), "amount": m(amount),
                      "tax": m(tax)})
    charges = Decimal(0)
    charge_lines = []
    if not order.charges_invoiced:
        order.charges_invoiced = True
        for c in order.charges:
            charges += c.amount
            tax_total += c.tax
            charge_lines.append({"type": c.type, "amount": m(c.amount), "tax": m(c.tax)})
    total = amount_total + charges + (Decimal(0) if order.prices_include_tax else tax_total)
    _seq, invoice_no = state.next_no("INV")
    now = state.now()
    inv = {
        "invoice_no": invoice_no, "order_no": order.order_no, "customer_po": order.customer_po,
        "customer": order.customer, "external_reference": order.external_reference,
        "shipment_no": shipment["shipment_no"], "invoice_date": now.date().isoformat(),
        "currency": order.currency, "prices_include_tax": order.prices_include_tax,
        "lines": lines, "charges": m(charges), "charge_lines": charge_lines,
        "tax": m(tax_total), "total": m(total),
        "created_at": iso(now), "updated_at": iso(now), "updated_by": WAREHOUSE,
    }
    state.invoices.append(inv)
    state.invoice_by_no[invoice_no] = inv
    state.invoice_totals[invoice_no] = total
    return inv
