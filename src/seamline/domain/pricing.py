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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal

from seamline.domain import bluecherry_rules as rules
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
from seamline.domain.tax import (
    check_tax_mode,
    infer_rate,
    mismatch,
    rate_key,
    split_taxes,
    total_of,
)
from seamline.exceptions import InvalidRecord, MappingMissing

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
    check_tax_mode(order, live, inclusive)

    # Lines: Centra's line value is below or at the pricelist value of its units.
    for ln in live:
        gross = ln.unit_original_price.times(ln.quantity)
        if ln.line_value.amount < 0 or ln.line_value.amount > gross.amount:
            raise mismatch(
                "lines", f"line {ln.id}: a line value between 0 and {gross} "
                f"({ln.quantity} x {ln.unit_original_price})", ln.line_value,
                order=order.number, line_id=ln.id,
            )
    line_values = total_of((ln.line_value for ln in live), cur)
    voucher = order.voucher_discount
    if voucher.amount < 0 or voucher.amount > line_values.amount:
        raise mismatch("lines", f"a voucher discount between 0 and the line values "
                        f"{line_values}", voucher, order=order.number)
    shares = allocate(voucher, [ln.line_value.minor for ln in live])
    nets = [ln.line_value - s for ln, s in zip(live, shares, strict=True)]
    _check_charges(order, inclusive)
    taxes = split_taxes(order, live, shares, inclusive)

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
        raise mismatch("shipping", "shipping and its tax of at least 0",
                        f"shipping {ship}, tax {ship_tax}", order=order.number)
    if ship.amount == 0 and ship_tax.amount != 0:
        raise mismatch("shipping", "no shipping tax on free shipping", ship_tax,
                        order=order.number)
    if inclusive and ship_tax.amount > ship.amount:
        raise mismatch("shipping", f"shipping tax within the tax-inclusive shipping {ship}",
                        ship_tax, order=order.number)
    if order.handling.amount < 0:
        raise mismatch("handling", "a handling fee of at least 0", order.handling,
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
    expected_lines = total_of((ln.line_value for ln in live), cur) - order.voucher_discount
    posted_lines = totals.merchandise - totals.discount
    if posted_lines != expected_lines:
        raise mismatch("lines", f"{expected_lines} (line values less the voucher discount)",
                        posted_lines, order=order.number)
    for kind, component, want in ((FREIGHT, "shipping", order.shipping),
                                  (HANDLING, "handling", order.handling)):
        got = total_of((c.amount for c in charges if c.type == kind), cur)
        if got != want:
            raise mismatch(component, want, got, order=order.number)
    if totals.charges != order.shipping + order.handling:
        raise mismatch("shipping", order.shipping + order.handling, totals.charges,
                        order=order.number)
    freight_tax = total_of((c.tax for c in charges if c.type == FREIGHT), cur)
    if freight_tax != order.shipping_tax:
        raise mismatch("shipping", f"shipping tax {order.shipping_tax}", freight_tax,
                        order=order.number)
    if totals.tax != order.tax_total:
        raise mismatch("tax_total", order.tax_total, totals.tax, order=order.number)
    if totals.total != order.grand_total:
        raise mismatch("grand_total", order.grand_total, totals.total, order=order.number)


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
    return out + rules.amounts_details(
        ((i, ln.quantity, ln.unit_price.amount, ln.discount.amount, ln.tax.amount)
         for i, ln in enumerate(so.lines)),
        ((c.amount.amount, c.tax.amount) for c in so.charges))


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
            raise mismatch(f"totals.{name}", expected, actual,
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
