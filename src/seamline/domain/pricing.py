"""Centra's as-sold amounts → BlueCherry sales-order amounts, exact to the minor unit. Pure.

The rules (DESIGN "Money rules"; where Centra's published schema gives no figure, the rule that
fills the gap is in docs/centra-fields.md, "Amounts the published schema does not give"):

- the market's configured tax mode (``prices_include_tax``) decides how the order posts; an
  order whose own tax figures show the other mode (VAT inside the prices in a sales-tax market,
  or the reverse) is refused as :class:`TotalMismatch` ``tax_mode`` for finance, never guessed;
- ``unit_price`` is Centra's ``unitOriginalPrice``; a line's ``discount`` is everything that
  brought it below ``unit_original × quantity``: campaign and line discounts (Centra's
  ``lineValue`` already holds them) plus the line's share of the order-level voucher discount;
- the voucher discount is spread across the lines by largest remainder weighted by line value;
- tax: each line starts from Centra's own tax of the line (``lineValue`` with tax less
  ``lineValue`` without), the shipping keeps Centra's ``shipping_tax`` exactly, the handling fee
  takes what Centra's tax total holds beyond the lines (less their voucher shares' tax at the
  lines' rates) and the shipping; what is left (the tax a voucher took off, or per-line
  rounding against Centra's per-rate total) is spread over the lines by largest remainder,
  weighted by each line's voucher share at its rate (rounding: by its own tax). The taxes
  posted therefore sum exactly to Centra's tax total;
- shipping is one ``FREIGHT`` charge, the handling fee one ``HANDLING`` charge (each omitted
  when zero);
- nothing is ever absorbed: when Centra's own figures do not tie out, :class:`TotalMismatch`
  names the component (``grand_total``, ``tax_total``, ``tax_mode``, ``lines``, ``shipping``,
  ``handling``) with what was expected and what was found.

Only lines with units are priced (fully cancelled lines are dropped; partially cancelled lines
carry their current quantity and Centra's current line value).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from seamline.domain import bluecherry_rules as rules
from seamline.domain.mapping import (
    Catalogue,
    MarketCodes,
    PostingRules,
    market_key,
    ship_via_for,
)
from seamline.domain.money import Money, allocate, quantum
from seamline.domain.orders import Address, CentraOrder, OrderLine
from seamline.domain.sales_order import (
    Charge,
    PostalAddress,
    SalesOrder,
    SalesOrderLine,
    SalesOrderTotals,
)
from seamline.exceptions import InvalidRecord, MappingMissing, TotalMismatch

__all__ = [
    "FREIGHT",
    "HANDLING",
    "PricedLine",
    "Pricing",
    "build_sales_order",
    "check_against_centra",
    "check_bluecherry_rules",
    "customer_po_for",
    "external_reference_for",
    "infer_rate",
    "local_order_date",
    "price_order",
    "rate_key",
]

FREIGHT = "FREIGHT"
HANDLING = "HANDLING"
_RATE_Q = Decimal("0.01")
_HUNDRED = Decimal(100)


def rate_key(rate: Decimal) -> Decimal:
    """A tax rate normalised for comparison and display (``25`` and ``25.0`` are one rate)."""
    exact = Decimal(rate)
    quantised = exact.quantize(_RATE_Q)
    return quantised if quantised == exact else exact.normalize()


@dataclass(frozen=True, kw_only=True, slots=True)
class PricedLine:
    centra_line_id: int
    quantity: int
    unit_price: Money
    discount: Money
    tax: Money
    tax_rate: Decimal
    #: The order-level voucher share inside ``discount``.
    voucher_share: Money

    @property
    def net(self) -> Money:
        return self.unit_price.times(self.quantity) - self.discount


@dataclass(frozen=True, kw_only=True, slots=True)
class Pricing:
    """The amounts of one order as BlueCherry will hold them."""

    currency: str
    prices_include_tax: bool
    lines: tuple[PricedLine, ...]
    charges: tuple[Charge, ...]
    totals: SalesOrderTotals


# -- helpers ---------------------------------------------------------------------------------


def _sum(values: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for v in values:
        total = total + v
    return total


def _mismatch(component: str, expected: object, actual: object, **details: Any) -> TotalMismatch:
    return TotalMismatch(component=component, expected=str(expected), actual=str(actual),
                         **details)


def _check_currency(order: CentraOrder) -> None:
    cur = order.currency.upper()
    amounts: list[tuple[str, Money]] = [
        ("shipping", order.shipping), ("shipping_tax", order.shipping_tax),
        ("handling", order.handling), ("voucher_discount", order.voucher_discount),
        ("tax_total", order.tax_total), ("grand_total", order.grand_total),
    ]
    for ln in order.lines:
        amounts += [(f"line {ln.id} unit_original_price", ln.unit_original_price),
                    (f"line {ln.id} unit_price", ln.unit_price),
                    (f"line {ln.id} line_value", ln.line_value),
                    (f"line {ln.id} tax", ln.tax)]
    for name, m in amounts:
        if m.currency != cur:
            raise InvalidRecord(f"order {order.number}: {name} is in {m.currency}, the order "
                                f"in {cur}", order=order.number)


def _live_lines(order: CentraOrder) -> tuple[OrderLine, ...]:
    lines = order.live_lines()
    if not lines:
        raise InvalidRecord(f"order {order.number} has no line with units to post",
                            order=order.number)
    for ln in order.lines:
        if ln.quantity < 0 or ln.cancelled_quantity < 0:
            raise InvalidRecord(f"order {order.number}: line {ln.id} has a negative quantity",
                                order=order.number)
    return lines


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
            raise _mismatch("tax_total", f"the lines' own tax to hold {total}",
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
class _Taxes:
    lines: list[Money]
    shipping_rate: Decimal
    handling_tax: Money
    handling_rate: Decimal


def _check_tax_mode(order: CentraOrder, live: Sequence[OrderLine], inclusive: bool) -> None:
    shown = order.prices_include_tax
    if shown is not None and shown != inclusive:
        said = "include" if inclusive else "exclude"
        found = ("tax inside the prices (taxIncluded)" if shown
                 else "tax added on top of the prices (taxAdded)")
        raise _mismatch("tax_mode", f"prices that {said} tax, as the market is configured",
                        f"{found} {order.tax_total}", order=order.number)
    if shown is None and not inclusive:
        # No tax total, yet a line's own figures differ with and without tax: the amounts read
        # cannot be told apart from tax-inclusive ones, so a sales-tax market cannot post them.
        taxed = [ln for ln in live if ln.tax.amount != 0]
        if taxed or order.shipping_tax.amount != 0:
            what = (f"line {taxed[0].id} tax {taxed[0].tax}" if taxed
                    else f"shipping tax {order.shipping_tax}")
            raise _mismatch("tax_mode", "no tax anywhere (Centra reports no tax total)", what,
                            order=order.number)


def _taxes(order: CentraOrder, live: Sequence[OrderLine], shares: Sequence[Money],
           inclusive: bool) -> _Taxes:
    """Every line's tax, the charges' rates and the handling fee's tax: see the module doc."""
    cur = order.currency.upper()
    zero = Money.zero(cur)
    for ln in live:
        if ln.tax.amount < 0:
            raise _mismatch("lines", f"line {ln.id}: a tax of at least 0", ln.tax,
                            order=order.number, line_id=ln.id)
    rates = [rate_key(ln.tax_percent) for ln in live]
    ship_rate = infer_rate(order.shipping, order.shipping_tax, rates, inclusive)
    lines_tax = _sum((ln.tax for ln in live), cur)
    handling, handling_tax = order.handling, zero
    handling_rate = Decimal("0.00")
    if handling.amount != 0:
        # Centra publishes no tax figure for the fee: it is what Centra's tax total holds
        # beyond the lines (less the tax their voucher shares carried, at the lines' rates)
        # and the shipping.
        voucher_tax = _sum((_tax_of(s, r, inclusive) for s, r in zip(shares, rates, strict=True)),
                           cur)
        handling_tax = order.tax_total - lines_tax + voucher_tax - order.shipping_tax
        if handling_tax.amount < 0:  # per-line rounding above the total: no fee tax left
            handling_tax = zero
        if inclusive and handling_tax.amount > handling.amount:
            raise _mismatch("handling", f"a tax on the handling fee {handling} of Centra's "
                            f"tax total {order.tax_total} less the lines' {lines_tax} and "
                            f"the shipping's {order.shipping_tax}", handling_tax,
                            order=order.number)
        handling_rate = infer_rate(handling, handling_tax, [*rates, ship_rate], inclusive)
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
            raise _mismatch("tax_total", f"{own} (the lines' and charges' own tax"
                            f"{'' if order.voucher_discount.amount else '; no voucher'})",
                            order.tax_total, order=order.number)
        weights = [ln.tax.amount for ln in live]
        if not any(weights):  # every line's own tax rounds to nothing: by value at its rate
            weights = [ln.line_value.amount * r for ln, r in zip(live, rates, strict=True)]
        if not any(weights):
            raise _mismatch("tax_total", f"{own} (no line carries tax)", order.tax_total,
                            order=order.number)
    if rest.amount == 0:
        return _Taxes(lines=[ln.tax for ln in live], shipping_rate=ship_rate,
                      handling_tax=handling_tax, handling_rate=handling_rate)
    caps = [ln.tax.minor for ln in live] if rest.amount > 0 else None
    out = [ln.tax - part for ln, part in zip(live, _allocate_capped(rest, weights, caps),
                                             strict=True)]
    return _Taxes(lines=out, shipping_rate=ship_rate, handling_tax=handling_tax,
                  handling_rate=handling_rate)


# -- pricing ---------------------------------------------------------------------------------


def price_order(order: CentraOrder, *, prices_include_tax: bool | None = None) -> Pricing:
    """The BlueCherry amounts of a Centra order, validated against Centra's own totals.

    ``prices_include_tax`` is the market's configured tax mode (``None``: the mode Centra's
    figures show, tax-inclusive when they show none). Raises ``TotalMismatch`` naming the
    component when Centra's figures do not tie out or contradict the mode, and
    ``InvalidRecord`` for an order that cannot be priced (no lines, mixed currencies).
    """
    _check_currency(order)
    cur = order.currency.upper()
    live = _live_lines(order)
    inclusive = (prices_include_tax if prices_include_tax is not None
                 else order.prices_include_tax is not False)
    _check_tax_mode(order, live, inclusive)

    # Lines: Centra's line value is below or at the pricelist value of its units.
    for ln in live:
        gross = ln.unit_original_price.times(ln.quantity)
        if ln.line_value.amount < 0 or ln.line_value.amount > gross.amount:
            raise _mismatch(
                "lines", f"line {ln.id}: a line value between 0 and {gross} "
                f"({ln.quantity} x {ln.unit_original_price})", ln.line_value,
                order=order.number, line_id=ln.id,
            )
    line_values = _sum((ln.line_value for ln in live), cur)
    voucher = order.voucher_discount
    if voucher.amount < 0 or voucher.amount > line_values.amount:
        raise _mismatch("lines", f"a voucher discount between 0 and the line values "
                        f"{line_values}", voucher, order=order.number)
    shares = allocate(voucher, [ln.line_value.minor for ln in live])
    nets = [ln.line_value - s for ln, s in zip(live, shares, strict=True)]
    _check_charges(order, inclusive)
    taxes = _taxes(order, live, shares, inclusive)

    priced = tuple(
        PricedLine(
            centra_line_id=ln.id, quantity=ln.quantity, unit_price=ln.unit_original_price,
            discount=ln.unit_original_price.times(ln.quantity) - net, tax=tax,
            tax_rate=rate_key(ln.tax_percent), voucher_share=share,
        )
        for ln, net, tax, share in zip(live, nets, taxes.lines, shares, strict=True)
    )
    charges: list[Charge] = []
    if order.shipping.amount != 0:
        charges.append(Charge(type=FREIGHT, amount=order.shipping, tax=order.shipping_tax,
                              tax_rate=taxes.shipping_rate))
    if order.handling.amount != 0:
        charges.append(Charge(type=HANDLING, amount=order.handling, tax=taxes.handling_tax,
                              tax_rate=taxes.handling_rate))
    totals = _totals(priced, charges, cur, inclusive)
    pricing = Pricing(currency=cur, prices_include_tax=inclusive, lines=priced,
                      charges=tuple(charges), totals=totals)
    _tie_out(pricing.lines, pricing.charges, pricing.totals, order)
    return pricing


def _check_charges(order: CentraOrder, inclusive: bool) -> None:
    ship, ship_tax = order.shipping, order.shipping_tax
    if ship.amount < 0 or ship_tax.amount < 0:
        raise _mismatch("shipping", "shipping and its tax of at least 0",
                        f"shipping {ship}, tax {ship_tax}", order=order.number)
    if ship.amount == 0 and ship_tax.amount != 0:
        raise _mismatch("shipping", "no shipping tax on free shipping", ship_tax,
                        order=order.number)
    if inclusive and ship_tax.amount > ship.amount:
        raise _mismatch("shipping", f"shipping tax within the tax-inclusive shipping {ship}",
                        ship_tax, order=order.number)
    if order.handling.amount < 0:
        raise _mismatch("handling", "a handling fee of at least 0", order.handling,
                        order=order.number)


def _totals(lines: Sequence[PricedLine | SalesOrderLine], charges: Sequence[Charge], cur: str,
            prices_include_tax: bool) -> SalesOrderTotals:
    """The totals exactly as the BlueCherry contract adds them up (the shared rule)."""
    want = rules.expected_totals(
        ((ln.unit_price.amount, ln.quantity, ln.discount.amount, ln.tax.amount) for ln in lines),
        ((c.amount.amount, c.tax.amount) for c in charges),
        prices_include_tax=prices_include_tax)
    return SalesOrderTotals(**{name: Money(want[name], cur) for name in rules.TOTAL_FIELDS})


def _tie_out(lines: Sequence[PricedLine | SalesOrderLine], charges: Sequence[Charge],
             totals: SalesOrderTotals, order: CentraOrder) -> None:
    cur = order.currency.upper()
    live = order.live_lines()
    expected_lines = _sum((ln.line_value for ln in live), cur) - order.voucher_discount
    posted_lines = totals.merchandise - totals.discount
    if posted_lines != expected_lines:
        raise _mismatch("lines", f"{expected_lines} (line values less the voucher discount)",
                        posted_lines, order=order.number)
    for kind, component, want in ((FREIGHT, "shipping", order.shipping),
                                  (HANDLING, "handling", order.handling)):
        got = _sum((c.amount for c in charges if c.type == kind), cur)
        if got != want:
            raise _mismatch(component, want, got, order=order.number)
    if totals.charges != order.shipping + order.handling:
        raise _mismatch("shipping", order.shipping + order.handling, totals.charges,
                        order=order.number)
    freight_tax = _sum((c.tax for c in charges if c.type == FREIGHT), cur)
    if freight_tax != order.shipping_tax:
        raise _mismatch("shipping", f"shipping tax {order.shipping_tax}", freight_tax,
                        order=order.number)
    if totals.tax != order.tax_total:
        raise _mismatch("tax_total", order.tax_total, totals.tax, order=order.number)
    if totals.total != order.grand_total:
        raise _mismatch("grand_total", order.grand_total, totals.total, order=order.number)


def check_against_centra(sales_order: SalesOrder, order: CentraOrder) -> None:
    """Check a sales order (built now or frozen earlier) ties out to the Centra order.

    Merchandise − discount = Σ line values − voucher discount; the freight charge = shipping
    with Centra's shipping tax, the handling charge = the handling fee; line and charge taxes
    sum to Centra's tax total; the total (tax added only where prices exclude it) = Centra's
    grand total. Also checks the sales order's own totals add up
    (:func:`check_bluecherry_rules`).
    """
    if sales_order.currency != order.currency.upper():
        raise InvalidRecord(f"sales order in {sales_order.currency}, Centra order in "
                            f"{order.currency}", order=order.number)
    check_bluecherry_rules(sales_order)
    _tie_out(sales_order.lines, sales_order.charges, sales_order.totals, order)


def _structure_details(so: SalesOrder) -> list[rules.Detail]:
    """The contract's structural rules on a typed sales order (no master data needed)."""
    out = rules.lines_details(len(so.lines)) + rules.date_details(so.start_date, so.cancel_date)
    if not so.customer_po:
        out.append(rules.detail("customer_po", "MISSING_CUSTOMER_PO", "customer_po is required"))
    for i, ln in enumerate(so.lines):
        fld = f"lines[{i}]"
        out += rules.quantity_details(fld, ln.quantity)
        for name in ("unit_price", "discount", "tax"):
            out += rules.price_details(f"{fld}.{name}", getattr(ln, name).amount)
        out += rules.discount_details(fld, ln.unit_price.amount, ln.quantity,
                                      ln.discount.amount)
    for i, c in enumerate(so.charges):
        for name in ("amount", "tax"):
            out += rules.price_details(f"charges[{i}].{name}", getattr(c, name).amount)
    return out


def check_bluecherry_rules(so: SalesOrder) -> None:
    """Check the rules the BlueCherry contract enforces on ``POST /sales-orders``, by the rules
    written once in ``seamline.domain.bluecherry_rules`` (the fake and the sandbox use them).

    Structure (``InvalidRecord``, the first problem with its contract code): a customer PO,
    lines, positive whole quantities, no negative amount, no discount above a line's value,
    cancel date not before start date; and Seamline's stricter rules: lines numbered 1..n once
    each, every amount in the order's currency. Totals (``TotalMismatch`` naming
    ``totals.<field>``): as :func:`seamline.domain.bluecherry_rules.expected_totals` adds them
    up — so BlueCherry never answers ``TOTALS_MISMATCH``.
    """
    ref = so.external_reference
    problems = _structure_details(so)
    if problems:
        first = problems[0]
        raise InvalidRecord(f"{ref}: {first['field']}: {first['message']} ({first['code']})")
    numbers = [ln.line_no for ln in so.lines]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        raise InvalidRecord(f"{ref}: line numbers {numbers} are not 1..{len(numbers)} once each")
    amounts = [(f"line {ln.line_no} {name}", getattr(ln, name)) for ln in so.lines
               for name in ("unit_price", "discount", "tax")]
    amounts += [(f"charge {c.type} {name}", getattr(c, name)) for c in so.charges
                for name in ("amount", "tax")]
    for name, m in amounts:
        if m.currency != so.currency:
            raise InvalidRecord(f"{ref}: {name} in {m.currency}, the order in {so.currency}")
    want = _totals(so.lines, so.charges, so.currency, so.prices_include_tax)
    for name in rules.TOTAL_FIELDS:
        expected, actual = getattr(want, name), getattr(so.totals, name)
        if expected != actual:
            raise _mismatch(f"totals.{name}", expected, actual,
                            external_reference=so.external_reference)


# -- the sales order -------------------------------------------------------------------------


def customer_po_for(order: CentraOrder, rules: PostingRules) -> str:
    return f"{rules.customer_po_prefix}{order.number}"


def external_reference_for(order: CentraOrder, store_label: str | None = None) -> str:
    """``centra:<store>:<number>``; the store is Centra's store id unless a label is given."""
    store = store_label if store_label is not None else str(order.store_id)
    return f"centra:{store}:{order.number}"


def local_order_date(order: CentraOrder, market: MarketCodes) -> date:
    """Centra's order date as a calendar date in the market's time zone (naive = UTC)."""
    when = order.order_date
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(market.tz).date()


def _address(a: Address, fallback_email: str) -> PostalAddress:
    return PostalAddress(
        name=a.name or a.company, line1=a.address1, line2=a.address2, city=a.city,
        region=a.state, postal_code=a.zip_code, country=a.country,
        email=a.email or fallback_email, phone=a.phone,
    )


def build_sales_order(
    order: CentraOrder,
    *,
    market: MarketCodes,
    rules: PostingRules,
    catalogue: Catalogue,
    store_label: str | None = None,
) -> SalesOrder:
    """The BlueCherry sales order for a Centra order, validated before anything is posted.

    Raises, in this order: ``MappingMissing`` (market does not cover the order, then the
    shipping option), ``UnknownSku`` (first unknown SKU; every unknown one of the order in
    ``details['unknown']``), ``InvalidRecord``, ``TotalMismatch`` (component named).
    """
    if not market.covers(order.market_id, order.currency):
        raise MappingMissing(kind="market", key=market_key(order.market_id, order.currency),
                             order=order.number)
    ship_via = ship_via_for(order, rules)
    resolved = catalogue.resolve_lines(order.live_lines())
    pricing = price_order(order, prices_include_tax=market.prices_include_tax)
    order_date = local_order_date(order, market)
    lines = []
    for no, pl in enumerate(pricing.lines, start=1):
        item = resolved[pl.centra_line_id]
        lines.append(SalesOrderLine(
            line_no=no, upc=item.upc, sku=item.sku, quantity=pl.quantity,
            unit_price=pl.unit_price, discount=pl.discount, tax=pl.tax, tax_rate=pl.tax_rate,
            centra_line_id=pl.centra_line_id,
        ))
    so = SalesOrder(
        customer_po=customer_po_for(order, rules),
        external_reference=external_reference_for(order, store_label),
        division=market.division, warehouse=market.warehouse, customer=market.customer,
        store=market.store, order_type=market.order_type, season=market.season,
        terms=market.terms, ship_via=ship_via,
        order_date=order_date, start_date=order_date,
        cancel_date=order_date + timedelta(days=rules.cancel_after_days),
        currency=pricing.currency, prices_include_tax=pricing.prices_include_tax,
        bill_to=_address(order.billing_address, order.customer_email),
        ship_to=_address(order.shipping_address, order.customer_email),
        lines=tuple(lines), charges=pricing.charges, totals=pricing.totals,
        conversion_rate=order.conversion_rate,
    )
    check_against_centra(so, order)
    return so
