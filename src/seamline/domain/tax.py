"""Tax from Centra's published figures, exact to the minor unit. Pure.

Centra's published schema gives each line's own tax (``lineValue`` with and without tax), the
shipping's tax and the order's tax total, but no per-rate breakdown, no rate for shipping or
handling and no tax figure for the handling fee. :func:`split_taxes` fills those gaps from the
published figures only (docs/centra-fields.md, "Amounts the published schema does not give"):
the posted taxes always sum exactly to Centra's tax total, and what cannot tie out is a
:class:`TotalMismatch` naming the component, never absorbed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from seamline.domain.money import Money, allocate, quantum
from seamline.domain.orders import CentraOrder, OrderLine
from seamline.exceptions import TotalMismatch

__all__ = ["LineTaxes", "check_tax_mode", "infer_rate", "mismatch", "rate_key", "split_taxes",
           "total_of"]

_RATE_Q = Decimal("0.01")
_HUNDRED = Decimal(100)


def rate_key(rate: Decimal) -> Decimal:
    """A tax rate normalised for comparison and display (``25`` and ``25.0`` are one rate)."""
    exact = Decimal(rate)
    quantised = exact.quantize(_RATE_Q)
    return quantised if quantised == exact else exact.normalize()


def total_of(values: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for v in values:
        total = total + v
    return total


def mismatch(component: str, expected: object, actual: object, **details: Any) -> TotalMismatch:
    return TotalMismatch(component=component, expected=str(expected), actual=str(actual),
                         **details)


def _tax_of(amount: Money, rate: Decimal, inclusive: bool) -> Money:
    """The tax of ``amount`` at ``rate``, rounded half up to the minor unit (Centra's rule).
    Used only to split or place an amount Centra gives as a total, never to replace one."""
    base = rate / (_HUNDRED + rate) if inclusive else rate / _HUNDRED
    value = (amount.amount * base).quantize(quantum(amount.currency), rounding=ROUND_HALF_UP)
    return Money(value, amount.currency)


def infer_rate(amount: Money, tax: Money, candidates: Iterable[Decimal],
               inclusive: bool) -> Decimal:
    """The tax rate of a charge from its amount and Centra's tax of it (Centra publishes no
    rate for shipping or handling): the candidate rate (the order's line rates) whose tax of
    the amount is Centra's figure, else the nearest within one minor unit, else the implied
    rate to two decimals. Zero tax is rate 0."""
    if tax.amount == 0 or amount.amount == 0:
        return Decimal("0.00")
    minor = quantum(amount.currency)
    best: tuple[Decimal, Decimal] | None = None
    for rate in sorted({rate_key(r) for r in candidates if r > 0}, reverse=True):
        diff = abs(_tax_of(amount, rate, inclusive).amount - tax.amount)
        if best is None or diff < best[0]:
            best = (diff, rate)
    if best is not None and best[0] <= minor:
        return best[1]
    net = amount.amount - tax.amount if inclusive else amount.amount
    if net <= 0:
        return Decimal("0.00")
    return rate_key((tax.amount * _HUNDRED / net).quantize(_RATE_Q, rounding=ROUND_HALF_UP))


def _allocate_capped(total: Money, weights: Sequence[Decimal],
                     caps: Sequence[int] | None) -> list[Money]:
    """:func:`allocate` a positive ``total`` with no part above its cap (minor units): what a
    capped part cannot take goes to the others by their weights, then to any part with room.
    Raises ``TotalMismatch`` if the caps cannot hold the total."""
    if caps is None or total.minor <= 0:
        return allocate(total, weights)
    n = len(weights)
    parts = [0] * n
    left = total.minor
    active = [i for i in range(n) if weights[i] > 0 and caps[i] > 0]
    while left > 0:
        if not active:
            active = [i for i in range(n) if parts[i] < caps[i]]
        if not active:
            raise mismatch("tax_total", f"the lines' own tax to hold {total}",
                            Money.from_minor(sum(parts), total.currency))
        split = allocate(Money.from_minor(left, total.currency), [weights[i] for i in active])
        left = 0
        for i, part in zip(active, split, strict=True):
            take = min(part.minor, caps[i] - parts[i])
            parts[i] += take
            left += part.minor - take
        active = [i for i in active if parts[i] < caps[i]]
    return [Money.from_minor(p, total.currency) for p in parts]


@dataclass(frozen=True, slots=True)
class LineTaxes:
    lines: list[Money]
    shipping_rate: Decimal
    handling_tax: Money
    handling_rate: Decimal


def check_tax_mode(order: CentraOrder, live: Sequence[OrderLine], inclusive: bool) -> None:
    shown = order.prices_include_tax
    if shown is not None and shown != inclusive:
        said = "include" if inclusive else "exclude"
        found = ("tax inside the prices (taxIncluded)" if shown
                 else "tax added on top of the prices (taxAdded)")
        raise mismatch("tax_mode", f"prices that {said} tax, as the market is configured",
                        f"{found} {order.tax_total}", order=order.number)
    if shown is None and not inclusive:
        # No tax total, yet a line's own figures differ with and without tax: the amounts read
        # cannot be told apart from tax-inclusive ones, so a sales-tax market cannot post them.
        taxed = [ln for ln in live if ln.tax.amount != 0]
        if taxed or order.shipping_tax.amount != 0:
            what = (f"line {taxed[0].id} tax {taxed[0].tax}" if taxed
                    else f"shipping tax {order.shipping_tax}")
            raise mismatch("tax_mode", "no tax anywhere (Centra reports no tax total)", what,
                            order=order.number)


def split_taxes(order: CentraOrder, live: Sequence[OrderLine], shares: Sequence[Money],
           inclusive: bool) -> LineTaxes:
    """Every line's tax, the charges' rates and the handling fee's tax: see the module doc."""
    cur = order.currency.upper()
    for ln in live:
        if ln.tax.amount < 0:
            raise mismatch("lines", f"line {ln.id}: a tax of at least 0", ln.tax,
                            order=order.number, line_id=ln.id)
    rates = [rate_key(ln.tax_percent) for ln in live]
    ship_rate = infer_rate(order.shipping, order.shipping_tax, rates, inclusive)
    lines_tax = total_of((ln.tax for ln in live), cur)
    handling_tax, handling_rate = _handling_tax(order, live, shares, rates=rates,
                                                ship_rate=ship_rate, lines_tax=lines_tax,
                                                inclusive=inclusive)
    # What is left over: the tax a voucher took off (spread by each line's voucher share at
    # its rate), or the rounding of per-line taxes against Centra's per-rate total (spread by
    # the lines' tax; at most a minor unit per line and charge).
    own = lines_tax + order.shipping_tax + handling_tax
    rest = own - order.tax_total
    weights: list[Decimal] = []
    if rest.amount > 0 and order.voucher_discount.amount != 0:
        weights = [s.amount * (r / (_HUNDRED + r) if inclusive else r / _HUNDRED)
                   for s, r in zip(shares, rates, strict=True)]
    if rest.amount != 0 and not any(weights):
        if abs(rest.minor) > len(live) + 2:
            raise mismatch("tax_total", f"{own} (the lines' and charges' own tax"
                            f"{'' if order.voucher_discount.amount else '; no voucher'})",
                            order.tax_total, order=order.number)
        weights = [ln.tax.amount for ln in live]
        if not any(weights):  # every line's own tax rounds to nothing: by value at its rate
            weights = [ln.line_value.amount * r for ln, r in zip(live, rates, strict=True)]
        if not any(weights):
            raise mismatch("tax_total", f"{own} (no line carries tax)", order.tax_total,
                            order=order.number)
    if rest.amount == 0:
        return LineTaxes(lines=[ln.tax for ln in live], shipping_rate=ship_rate,
                      handling_tax=handling_tax, handling_rate=handling_rate)
    caps = [ln.tax.minor for ln in live] if rest.amount > 0 else None
    if order.voucher_discount.amount == 0:
        # Rounding only: one minor unit per line at most, wherever the lines can hold it
        # (largest remainder alone could put two on the line with the largest tax).
        ones = [min(1, c) for c in caps] if caps is not None else [1] * len(live)
        if sum(ones) >= abs(rest.minor):
            size = _allocate_capped(Money.from_minor(abs(rest.minor), cur), weights, ones)
            sign = 1 if rest.amount > 0 else -1
            return LineTaxes(lines=[ln.tax - Money.from_minor(sign * p.minor, cur)
                                    for ln, p in zip(live, size, strict=True)],
                             shipping_rate=ship_rate, handling_tax=handling_tax,
                             handling_rate=handling_rate)
    out = [ln.tax - part for ln, part in zip(live, _allocate_capped(rest, weights, caps),
                                             strict=True)]
    return LineTaxes(lines=out, shipping_rate=ship_rate, handling_tax=handling_tax,
                  handling_rate=handling_rate)


def _handling_tax(order: CentraOrder, live: Sequence[OrderLine], shares: Sequence[Money], *,
                  rates: Sequence[Decimal], ship_rate: Decimal, lines_tax: Money,
                  inclusive: bool) -> tuple[Money, Decimal]:
    """The handling fee's tax and rate (zero without a fee)."""
    cur = order.currency.upper()
    handling = order.handling
    if handling.amount == 0:
        return Money.zero(cur), Decimal("0.00")
    # Centra publishes no tax figure for the fee: it is what Centra's tax total holds beyond
    # the lines (less the tax their voucher shares carried, at the lines' rates) and the
    # shipping.
    voucher_tax = total_of(
        (_tax_of(s, r, inclusive) for s, r in zip(shares, rates, strict=True)), cur)
    handling_tax = order.tax_total - lines_tax + voucher_tax - order.shipping_tax
    if handling_tax.amount < 0:  # per-line rounding above the total: no fee tax left
        handling_tax = Money.zero(cur)
    if inclusive and handling_tax.amount > handling.amount:
        # The lines' own taxes are rounded one by one: with a voucher the residue can be
        # more than a tiny fee could carry. Within that rounding (a minor unit per line) the
        # fee keeps what its amount can hold at the highest rate in the order and the residue
        # is spread over the lines; beyond it, Centra's figures contradict each other and the
        # handling fee is named.
        cap = _tax_of(handling, max([*rates, ship_rate]), inclusive)
        if (handling_tax - cap).minor > len(live) + 1:
            raise mismatch("handling", f"a tax on the handling fee {handling} of Centra's "
                            f"tax total {order.tax_total} less the lines' {lines_tax} and "
                            f"the shipping's {order.shipping_tax}", handling_tax,
                            order=order.number)
        handling_tax = cap
    return handling_tax, infer_rate(handling, handling_tax, [*rates, ship_rate], inclusive)


# -- pricing ---------------------------------------------------------------------------------
