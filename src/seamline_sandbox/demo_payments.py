"""The demo's payment batch: the morning after the shipping day, the day's Centra captures
become BlueCherry cash receipts applied to the invoices BlueCherry raised with each shipment,
and two refunds made in Centra (a return, a goodwill refund) become credit memos; the summary
lines say what was posted per market and currency and what stayed unapplied.

Kept apart from ``demo.py`` so each stays readable; ``run_demo`` calls :func:`payment_batch`
at the end of the day (the reconciliation follows it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console

from seamline_sandbox.harness import Sandboxes

if TYPE_CHECKING:
    from seamline.bootstrap import Container
    from seamline.services.payments import BatchResult

__all__ = ["payment_batch"]

#: When the batch runs (Stockholm wall clock, the morning after the shipping day).
BATCH_AT = (6, 0)


def _refund(sb: Sandboxes, out: Console) -> list[tuple[int, str, str]]:
    """Two orders with captures get a refund of a tenth of their first capture (whole units, so
    it is valid in every currency): ``(order, currency, amount)``."""
    done: list[tuple[int, str, str]] = []
    for o in sb.centra_orders():
        caps = [p for p in o["payments"] if p["type"] == "CAPTURE" and p["status"] == "SUCCESS"]
        if not caps or o["market"] == "NO":
            continue
        amount = (Decimal(caps[0]["value"]) / 10).quantize(Decimal(1), rounding=ROUND_DOWN)
        if amount < 1:
            continue
        sb._client().post(f"{sb.centra_root}/_sandbox/orders/{o['number']}/refund",
                          json={"amount": str(amount)}).raise_for_status()
        done.append((int(o["number"]), str(o["currency"]), str(amount)))
        if len(done) == 2:
            break
    if done:
        out.print("  refunds made in Centra: " + ", ".join(
            f"order {n} {amount} {cur}" for n, cur, amount in done))
    return done


def _centra_captures(sb: Sandboxes, markets: set[int]) -> list[dict[str, Any]]:
    st = sb.centra.state
    out = []
    with st.lock:
        for o in st.orders.values():
            if o.market.id not in markets:
                continue
            out += [{"currency": o.currency, "value": p.value}
                    for p in o.payments if p.entry_type == "CAPTURE" and p.status == "SUCCESS"]
    return out


def payment_batch(sb: Sandboxes, container: Container, day: date, *,
                  at: Callable[[date, tuple[int, int]], Any], out: Console,
                  check: Callable[[str, bool, str], None]) -> BatchResult:
    """Refund two orders in Centra, move the clock to ``BATCH_AT`` the next morning and run the
    payment batch of business day ``day`` for every market; print what it posted and check
    that every capture is one receipt and every refund one memo."""
    refunds = _refund(sb, out)
    sb.clock.advance_to(at(day + timedelta(days=1), BATCH_AT))
    flow = container.payments
    result = flow.run(day=day)
    receipts = list(sb.bluecherry.state.receipts.values())
    memos = list(sb.bluecherry.state.credit_memos.values())
    markets = {m.customer: f"{m.centra_market}/{m.currency}" for m in flow.markets}
    out.print()
    out.print(f"Payments — the batch of {day.isoformat()} at "
              f"{BATCH_AT[0]:02d}:{BATCH_AT[1]:02d} the next morning: {result.receipts} cash "
              f"receipt(s) and {result.memos} credit memo(s) posted to BlueCherry"
              + (f", {result.repeats} found there already after a lost answer"
                 if result.repeats else ""))
    for customer, amounts in sorted(result.by_customer.items()):
        line = ", ".join(f"{format(v, 'f')} {cur}" for cur, v in sorted(amounts.items()))
        out.print(f"  received {markets.get(customer, '?')} ({customer}): {line}")
    unapplied = ", ".join(f"{format(v, 'f')} {c}" for c, v in sorted(result.unapplied.items()))
    out.print(f"  unapplied cash (RECEIPT_UNAPPLIED for finance): {unapplied or 'none'}")
    refunded = ", ".join(f"{format(v, 'f')} {c}" for c, v in sorted(result.refunded.items()))
    out.print(f"  refunded as credit memos: {refunded or 'none'}")
    captures = _centra_captures(sb, {m.centra_market for m in flow.markets})
    by_ref = Counter(str(r["reference"]) for r in receipts)
    want: dict[str, Decimal] = {}
    for c in captures:
        want[c["currency"]] = want.get(c["currency"], Decimal(0)) + c["value"]
    got: dict[str, Decimal] = {}
    for r in receipts:
        cur = str(r["currency"])
        got[cur] = got.get(cur, Decimal(0)) + Decimal(str(r["amount"]))
    check("every Centra capture is one BlueCherry cash receipt",
          len(receipts) == len(captures) and all(n == 1 for n in by_ref.values()),
          f"{len(captures)} captures, {len(receipts)} receipts")
    check("cash receipts add up to Centra's captures per currency", got == want,
          ", ".join(f"{c} {format(v, 'f')}" for c, v in sorted(got.items())))
    check("every Centra refund is one BlueCherry credit memo", len(memos) == len(refunds),
          f"{len(refunds)} refunds, {len(memos)} memos")
    return result
