"""Centra's as-sold amounts → BlueCherry sales-order amounts, exact to the minor unit. Pure.

The rules (DESIGN "Money rules"):

- ``unit_price`` is Centra's ``unitOriginalPrice``; a line's ``discount`` is everything that
  brought it below ``unit_original × quantity``: campaign and line discounts (Centra's
  ``lineValue`` already holds them) plus the line's share of the order-level voucher discount;
- the voucher discount is spread across the lines by largest remainder weighted by line value;
- tax is Centra's figure per rate (``tax_breakdown``; with no breakdown, every line and the
  shipping must share one rate and ``tax_total`` is that rate's total). The shipping keeps
  Centra's ``shipping_tax`` exactly; the rest of its rate's total, and every other rate's total,
  is spread across the lines of the rate by largest remainder weighted by their net amounts;
- shipping is one ``FREIGHT`` charge (omitted when zero);
- nothing is ever absorbed: when Centra's own figures do not tie out, :class:`TotalMismatch`
  names the component (``grand_total``, ``tax_total``, ``tax_rate:<r>``, ``tax_breakdown``,
  ``lines``, ``shipping``) with what was expected and what was found.

Only lines with units are priced (fully cancelled lines are dropped; partially cancelled lines
carry their current quantity and Centra's current line value).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

from seamline.domain.mapping import (
    Catalogue,
    MarketCodes,
    PostingRules,
    market_key,
    ship_via_for,
)
from seamline.domain.money import Money, allocate
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
    "PricedLine",
    "Pricing",
    "build_sales_order",
    "check_against_centra",
    "check_bluecherry_rules",
    "customer_po_for",
    "external_reference_for",
    "local_order_date",
    "price_order",
    "rate_component",
    "rate_key",
    "tax_by_rate",
]

FREIGHT = "FREIGHT"
_RATE_Q = Decimal("0.01")


def rate_key(rate: Decimal) -> Decimal:
    """A tax rate normalised for comparison and display (``25`` and ``25.0`` are one rate)."""
    exact = Decimal(rate)
    quantised = exact.quantize(_RATE_Q)
    return quantised if quantised == exact else exact.normalize()


def rate_component(rate: Decimal) -> str:
    """The ``TotalMismatch`` component naming one tax rate: ``tax_rate:25.00``."""
    return f"tax_rate:{format(rate_key(rate), 'f')}"


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
        ("voucher_discount", order.voucher_discount), ("tax_total", order.tax_total),
        ("grand_total", order.grand_total),
    ]
    amounts += [(f"tax_breakdown[{t.rate}]", t.amount) for t in order.tax_breakdown]
    for ln in order.lines:
        amounts += [(f"line {ln.id} unit_original_price", ln.unit_original_price),
                    (f"line {ln.id} unit_price", ln.unit_price),
                    (f"line {ln.id} line_value", ln.line_value)]
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


def tax_by_rate(order: CentraOrder) -> dict[Decimal, Money]:
    """Centra's tax per rate (lines and shipping together), keyed by :func:`rate_key`.

    With an empty ``tax_breakdown`` the order must have one rate over its lines (and its
    shipping, where the shipping's rate is known and it carries tax): that rate's total is
    ``tax_total``. Several rates with a non-zero tax total and no breakdown raise
    ``TotalMismatch(component='tax_breakdown')``. Rates of zero tax are left out.
    """
    cur = order.currency
    if order.tax_breakdown:
        out: dict[Decimal, Money] = {}
        for part in order.tax_breakdown:
            key = rate_key(part.rate)
            if part.amount.amount < 0:
                raise _mismatch(rate_component(key), "a tax amount of at least 0", part.amount,
                                order=order.number)
            out[key] = out.get(key, Money.zero(cur)) + part.amount
        return {k: v for k, v in out.items() if v.amount != 0}
    if order.tax_total.amount == 0:
        return {}
    rates = {rate_key(ln.tax_percent) for ln in order.live_lines()}
    if order.shipping_tax_percent is not None and order.shipping_tax.amount != 0:
        rates.add(rate_key(order.shipping_tax_percent))
    if len(rates) != 1:
        raise _mismatch(
            "tax_breakdown", "a per-rate tax breakdown, or one tax rate on every line",
            "rates " + ", ".join(format(r, "f") for r in sorted(rates)), order=order.number,
        )
    (only,) = rates
    return {only: order.tax_total}


def _shipping_rate(order: CentraOrder, breakdown: dict[Decimal, Money],
                   line_rates: Sequence[Decimal]) -> Decimal:
    """The shipping's tax rate: Centra's when given, else inferred from the breakdown.

    Inference (only when the shipping carries tax): the rates whose total can hold the
    shipping tax; a rate with no lines whose total *is* the shipping tax first, then rates
    with lines, then the rate whose implied shipping tax is nearest Centra's, then the higher.
    """
    if order.shipping_tax_percent is not None:
        return rate_key(order.shipping_tax_percent)
    st = order.shipping_tax
    if st.amount == 0:
        return Decimal("0.00")
    if not order.tax_breakdown and len(breakdown) == 1:
        return next(iter(breakdown))
    candidates = [r for r, amount in breakdown.items() if amount.amount >= st.amount]
    if not candidates:
        raise _mismatch("shipping", f"a tax rate whose total holds the shipping tax {st}",
                        _fmt_breakdown(breakdown), order=order.number)
    with_lines = set(line_rates)
    ship = order.shipping.amount

    def implied(r: Decimal) -> Decimal:
        return ship * r / (100 + r) if order.prices_include_tax else ship * r / 100

    def score(r: Decimal) -> tuple[int, Decimal, Decimal]:
        # A rate no line carries can only be the shipping's if its total is the shipping tax.
        rank = 1 if r in with_lines else (0 if breakdown[r] == st else 2)
        return (rank, abs(implied(r) - st.amount), -r)

    return min(candidates, key=score)


def _fmt_breakdown(breakdown: dict[Decimal, Money]) -> str:
    if not breakdown:
        return "no tax"
    return ", ".join(f"{format(r, 'f')}%: {m}" for r, m in sorted(breakdown.items()))


# -- pricing ---------------------------------------------------------------------------------


def price_order(order: CentraOrder) -> Pricing:
    """The BlueCherry amounts of a Centra order, validated against Centra's own totals.

    Raises ``TotalMismatch`` naming the component when Centra's figures do not tie out, and
    ``InvalidRecord`` for an order that cannot be priced (no lines, mixed currencies).
    """
    _check_currency(order)
    cur = order.currency.upper()
    zero = Money.zero(cur)
    live = _live_lines(order)

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

    # Shipping.
    ship, ship_tax = order.shipping, order.shipping_tax
    if ship.amount < 0 or ship_tax.amount < 0:
        raise _mismatch("shipping", "shipping and its tax of at least 0",
                        f"shipping {ship}, tax {ship_tax}", order=order.number)
    if ship.amount == 0 and ship_tax.amount != 0:
        raise _mismatch("shipping", "no shipping tax on free shipping", ship_tax,
                        order=order.number)
    if order.prices_include_tax and ship_tax.amount > ship.amount:
        raise _mismatch("shipping", f"shipping tax within the tax-inclusive shipping {ship}",
                        ship_tax, order=order.number)

    # Tax per rate.
    breakdown = tax_by_rate(order)
    breakdown_total = _sum(breakdown.values(), cur)
    if breakdown_total != order.tax_total:
        raise _mismatch("tax_total", order.tax_total, f"{breakdown_total} (sum of the per-rate "
                        f"breakdown {_fmt_breakdown(breakdown)})", order=order.number)
    line_rates = [rate_key(ln.tax_percent) for ln in live]
    ship_rate = _shipping_rate(order, breakdown, line_rates)
    line_tax: list[Money] = [zero] * len(live)
    for rate in sorted(set(breakdown) | set(line_rates) | {ship_rate}):
        total = breakdown.get(rate, zero)
        rest = total - ship_tax if rate == ship_rate else total
        component = rate_component(rate)
        if rest.amount < 0:
            raise _mismatch(component, total, f"{ship_tax} on the shipping alone",
                            order=order.number)
        idx = [i for i, r in enumerate(line_rates) if r == rate]
        if rest.amount != 0 and not idx:
            raise _mismatch(component, f"{total} on lines of this rate",
                            f"no line at {format(rate, 'f')}% to carry {rest}",
                            order=order.number)
        # Weighted by net amount; where every line of the rate is down to zero (a voucher took
        # it all, but Centra's own split left tax there) the split is even: Centra's figure is
        # still posted exactly, nothing is absorbed.
        weights = [nets[i].minor for i in idx]
        if rate == 0 and total.amount != 0:
            raise _mismatch(component, "no tax at a 0% rate", total, order=order.number)
        for i, part in zip(idx, allocate(rest, weights), strict=True):
            line_tax[i] = part

    priced = tuple(
        PricedLine(
            centra_line_id=ln.id, quantity=ln.quantity, unit_price=ln.unit_original_price,
            discount=ln.unit_original_price.times(ln.quantity) - net, tax=tax,
            tax_rate=rate, voucher_share=share,
        )
        for ln, net, tax, rate, share in zip(live, nets, line_tax, line_rates, shares,
                                             strict=True)
    )
    charges: tuple[Charge, ...] = ()
    if ship.amount != 0:
        charges = (Charge(type=FREIGHT, amount=ship, tax=ship_tax, tax_rate=ship_rate),)
    totals = _totals(priced, charges, cur, order.prices_include_tax)
    pricing = Pricing(currency=cur, prices_include_tax=order.prices_include_tax, lines=priced,
                      charges=charges, totals=totals)
    _tie_out(pricing.lines, pricing.charges, pricing.totals, order)
    return pricing


def _totals(lines: Sequence[PricedLine | SalesOrderLine], charges: Sequence[Charge], cur: str,
            prices_include_tax: bool) -> SalesOrderTotals:
    """The totals exactly as the BlueCherry contract adds them up."""
    merchandise = _sum((ln.unit_price.times(ln.quantity) for ln in lines), cur)
    discount = _sum((ln.discount for ln in lines), cur)
    charge_sum = _sum((c.amount for c in charges), cur)
    tax = _sum([*(ln.tax for ln in lines), *(c.tax for c in charges)], cur)
    total = merchandise - discount + charge_sum
    if not prices_include_tax:
        total = total + tax
    return SalesOrderTotals(merchandise=merchandise, discount=discount, charges=charge_sum,
                            tax=tax, total=total)


def _tie_out(lines: Sequence[PricedLine | SalesOrderLine], charges: Sequence[Charge],
             totals: SalesOrderTotals, order: CentraOrder) -> None:
    cur = order.currency.upper()
    zero = Money.zero(cur)
    live = order.live_lines()
    expected_lines = _sum((ln.line_value for ln in live), cur) - order.voucher_discount
    posted_lines = totals.merchandise - totals.discount
    if posted_lines != expected_lines:
        raise _mismatch("lines", f"{expected_lines} (line values less the voucher discount)",
                        posted_lines, order=order.number)
    if totals.charges != order.shipping:
        raise _mismatch("shipping", order.shipping, totals.charges, order=order.number)
    if totals.tax != order.tax_total:
        raise _mismatch("tax_total", order.tax_total, totals.tax, order=order.number)
    breakdown = tax_by_rate(order)
    posted: dict[Decimal, Money] = {}
    for rate, tax in [*((ln.tax_rate, ln.tax) for ln in lines),
                      *((c.tax_rate, c.tax) for c in charges)]:
        key = rate_key(rate)
        posted[key] = posted.get(key, zero) + tax
    for rate in sorted(set(posted) | set(breakdown)):
        want, got = breakdown.get(rate, zero), posted.get(rate, zero)
        if want != got:
            raise _mismatch(rate_component(rate), want, got, order=order.number)
    if totals.total != order.grand_total:
        raise _mismatch("grand_total", order.grand_total, totals.total, order=order.number)


def check_against_centra(sales_order: SalesOrder, order: CentraOrder) -> None:
    """Check a sales order (built now or frozen earlier) ties out to the Centra order.

    Merchandise − discount = Σ line values − voucher discount; charges = shipping; line and
    charge taxes sum to Centra's tax total and, per rate, to Centra's per-rate figure; the
    total (tax added only where prices exclude it) = Centra's grand total. Also checks the
    sales order's own totals add up (:func:`check_bluecherry_rules`).
    """
    if sales_order.currency != order.currency.upper():
        raise InvalidRecord(f"sales order in {sales_order.currency}, Centra order in "
                            f"{order.currency}", order=order.number)
    check_bluecherry_rules(sales_order)
    _tie_out(sales_order.lines, sales_order.charges, sales_order.totals, order)


def check_bluecherry_rules(so: SalesOrder) -> None:
    """Check the rules the BlueCherry contract enforces on ``POST /sales-orders``.

    Structure (``InvalidRecord``): a customer PO, lines numbered 1..n once each, positive
    whole quantities, no negative amount, one currency, cancel date not before start date.
    Totals (``TotalMismatch`` naming ``totals.<field>``): merchandise = Σ unit price × quantity,
    discount = Σ line discounts, charges = Σ charge amounts, tax = Σ line and charge taxes,
    total = merchandise − discount + charges (+ tax where prices exclude it) — so BlueCherry
    never answers ``TOTALS_MISMATCH``.
    """
    ref = so.external_reference
    if not so.customer_po:
        raise InvalidRecord(f"{ref}: no customer PO")
    if not so.lines:
        raise InvalidRecord(f"{ref}: no lines")
    numbers = [ln.line_no for ln in so.lines]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        raise InvalidRecord(f"{ref}: line numbers {numbers} are not 1..{len(numbers)} once each")
    if so.cancel_date < so.start_date:
        raise InvalidRecord(f"{ref}: cancel date {so.cancel_date} before start date "
                            f"{so.start_date}")
    amounts: list[tuple[str, Money]] = []
    for ln in so.lines:
        if ln.quantity <= 0:
            raise InvalidRecord(f"{ref}: line {ln.line_no} quantity {ln.quantity} is not positive")
        amounts += [(f"line {ln.line_no} unit_price", ln.unit_price),
                    (f"line {ln.line_no} discount", ln.discount),
                    (f"line {ln.line_no} tax", ln.tax),
                    (f"line {ln.line_no} net", ln.net)]
    for c in so.charges:
        amounts += [(f"charge {c.type} amount", c.amount), (f"charge {c.type} tax", c.tax)]
    for name, m in amounts:
        if m.currency != so.currency:
            raise InvalidRecord(f"{ref}: {name} in {m.currency}, the order in {so.currency}")
        if m.amount < 0:
            raise InvalidRecord(f"{ref}: {name} {m} is negative")
    want = _totals(so.lines, so.charges, so.currency, so.prices_include_tax)
    for name in ("merchandise", "discount", "charges", "tax", "total"):
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
    pricing = price_order(order)
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
