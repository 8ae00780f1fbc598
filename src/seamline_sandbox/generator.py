"""Seeded order generator: Centra orders across the world's markets, with the outcome a correct
integration must produce for each.

Amounts are computed ONCE here, the way Centra computes them (:func:`centra_totals`): lines at
their unit price (campaign and line discounts already applied, rounded to the minor unit), the
order-level voucher split over tax rates by largest remainder, shipping (free over the market's
threshold) and any handling fee taxed at the standard rate, tax per rate on the rate's net
(shipping and handling included at the standard rate) rounded to the minor unit, and a grand total
of lines − vouchers + shipping + handling (+ tax where prices exclude it). The sandbox stores these
figures and serves them as they are.

Knobs beyond the outcome rates: ``handling_rate`` (share of the orders of markets with a
``handling_fee`` that carry it), ``zero_tax_rate`` (share of orders in tax-exclusive markets, the
US, whose customer is tax exempt: every tax 0), ``lines`` (every order gets exactly that many
lines: long orders). They draw from their own random stream, so turning them on or off leaves the
rest of a seed's orders as they were.

Expected outcomes, checked in this order (the first that applies wins): an unmapped market (NO)
or shipping option (``pickup-point``) → ``MAPPING_MISSING``; a line with a Centra-only SKU →
``UNKNOWN_SKU``; a deliberately inconsistent order (knob ``inconsistent_rate``, off by default)
→ ``TOTAL_MISMATCH``. Orders on hold or awaiting payment are still postable once released
(``waits_for``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from seamline.domain.money import Money, allocate, quantum
from seamline_sandbox.world import (
    MARKET_CODES,
    SHIPPING_CODES,
    UNMAPPED_SHIPPING_OPTION,
    CatalogueItem,
    Market,
    World,
)

__all__ = [
    "GeneratedLine",
    "GeneratedOrder",
    "OrderTotalsCalc",
    "VoucherSpec",
    "centra_totals",
    "expected_charges",
    "generate_orders",
    "line_for",
    "make_order",
    "q",
]

HUNDRED = Decimal(100)

FIRST_NAMES = ("Åsa", "Jürgen", "Zoë", "Björn", "Siobhán", "José", "Łukasz", "Chloë", "François",
               "Ingrid", "Noël", "Dagný", "Renée", "Søren", "Amélie", "Oğuz")
LAST_NAMES = ("Lindström", "Müller", "O'Brien", "Núñez", "Żółkiewski", "Guðmundsdóttir",
              "Ørsted", "Schäfer", "Doğan", "Dubois-Lefèvre", "Håkansson", "García Márquez")
JP_NAMES = (("太郎", "山田"), ("花子", "佐藤"), ("翔", "鈴木"), ("さくら", "高橋"))
STREETS = {
    "SE": ("Götgatan", "Storgatan", "Drottninggatan", "Östra Hamngatan"),
    "DE": ("Königstraße", "Hauptstraße", "Schloßallee", "Große Elbstraße"),
    "GB": ("High Street", "Church Lane", "Queen's Road", "Mill Lane"),
    "JP": ("銀座", "道玄坂", "心斎橋筋", "烏丸通"),
    "US": ("Main Street", "Broadway", "Elm Street", "Ocean Avenue"),
    "NO": ("Karl Johans gate", "Bryggen", "Storgata", "Søndre gate"),
}
CITIES = {
    "SE": ("Stockholm", "Göteborg", "Malmö", "Umeå"),
    "DE": ("München", "Köln", "Düsseldorf", "Hamburg"),
    "GB": ("London", "Manchester", "Bristol", "Edinburgh"),
    "JP": ("東京", "大阪", "京都", "札幌"),
    "US": ("New York", "Los Angeles", "Chicago", "Austin"),
    "NO": ("Oslo", "Bergen", "Tromsø", "Trondheim"),
}
US_STATES = ("NY", "CA", "IL", "TX")


def q(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half up (as Centra's price rounding)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class VoucherSpec:
    """An order-level voucher: ``percent`` off the lines, or a ``fixed`` amount (price mode)."""

    code: str
    name: str
    percent: Decimal | None = None
    fixed: Decimal | None = None


@dataclass(slots=True)
class GeneratedLine:
    item: CatalogueItem
    quantity: int
    tax_percent: Decimal
    #: Price-mode amounts (tax-inclusive for VAT markets, exclusive for US).
    unit_original_price: Decimal
    unit_price: Decimal
    campaign: bool = False
    line_discount_percent: Decimal = Decimal(0)

    @property
    def line_value(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class OrderTotalsCalc:
    """Centra's order totals, in the order's price mode, positive (discount included)."""

    line_values: Decimal
    discount: Decimal
    voucher_values: tuple[Decimal, ...]
    shipping: Decimal
    shipping_tax: Decimal
    tax_breakdown: tuple[tuple[Decimal, Decimal], ...]
    tax_total: Decimal
    grand_total: Decimal
    #: Handling fee in the price mode, and its tax at the standard rate (inside ``tax_total``).
    handling: Decimal = Decimal(0)
    handling_tax: Decimal = Decimal(0)
    #: The rate shipping and handling are taxed at (0 for a tax-exempt order).
    charge_rate: Decimal = Decimal(0)


def _voucher_amount(v: VoucherSpec, base: Decimal, currency: str) -> Decimal:
    if v.percent is not None:
        return min(base, q(base * v.percent / HUNDRED, currency))
    return min(base, q(v.fixed or Decimal(0), currency))


def centra_totals(market: Market, lines: Sequence[GeneratedLine], vouchers: Sequence[VoucherSpec],
                  *, shipping_price: Decimal | None = None, handling: Decimal = Decimal(0),
                  tax_exempt: bool = False) -> OrderTotalsCalc:
    """The order totals the way Centra computes them (see the module docstring).

    ``shipping_price`` overrides the market's shipping price (pickup points); the threshold for
    free shipping applies to the lines after vouchers. ``handling`` is a fee in the price mode,
    taxed at the standard rate; ``tax_exempt`` taxes shipping and handling at 0 (the lines of an
    exempt order carry rate 0 themselves).
    """
    cur = market.currency
    line_values = q(sum((ln.line_value for ln in lines), Decimal(0)), cur)
    voucher_values: list[Decimal] = []
    remaining = line_values
    for v in vouchers:
        amount = _voucher_amount(v, remaining, cur)
        voucher_values.append(amount)
        remaining -= amount
    discount = q(sum(voucher_values, Decimal(0)), cur)
    price = market.shipping_price if shipping_price is None else shipping_price
    live = any(ln.quantity > 0 for ln in lines)
    free = not live or line_values - discount >= market.free_shipping_over
    shipping = q(Decimal(0) if free else price, cur)
    handling = q(handling, cur) if live else Decimal(0)
    std = Decimal(0) if tax_exempt else market.tax_rate
    # Net per rate: the lines of the rate, less the rate's share of the vouchers.
    rates: list[Decimal] = []
    for ln in lines:
        if ln.tax_percent not in rates:
            rates.append(ln.tax_percent)
    per_rate_lines = [sum((ln.line_value for ln in lines if ln.tax_percent == r), Decimal(0))
                      for r in rates]
    shares = [m.amount for m in allocate(Money(discount, cur), per_rate_lines)] if rates else []
    net = {r: per_rate_lines[i] - shares[i] for i, r in enumerate(rates)}
    if shipping:
        net[std] = net.get(std, Decimal(0)) + shipping
    if handling:
        net[std] = net.get(std, Decimal(0)) + handling

    def tax_of(amount: Decimal, rate: Decimal) -> Decimal:
        if market.prices_include_tax:
            return q(amount * rate / (HUNDRED + rate), cur)
        return q(amount * rate / HUNDRED, cur)

    breakdown = tuple((r, tax_of(a, r)) for r, a in sorted(net.items(), reverse=True))
    tax_total = q(sum((t for _, t in breakdown), Decimal(0)), cur)
    shipping_tax = tax_of(shipping, std)
    grand = line_values - discount + shipping + handling
    if not market.prices_include_tax:
        grand += tax_total
    return OrderTotalsCalc(
        line_values=line_values, discount=discount,
        voucher_values=tuple(q(v, cur) for v in voucher_values),
        shipping=shipping, shipping_tax=shipping_tax, tax_breakdown=breakdown,
        tax_total=tax_total, grand_total=q(grand, cur),
        handling=handling, handling_tax=tax_of(handling, std), charge_rate=std,
    )


@dataclass(slots=True)
class GeneratedOrder:
    """One generated Centra order and the outcome a correct integration must reach."""

    seq: int
    market: Market
    store_id: int
    lines: list[GeneratedLine]
    vouchers: list[VoucherSpec]
    shipping_option: str
    shipping_option_name: str
    shipping_price: Decimal
    totals: OrderTotalsCalc
    #: Centra status at placement (PENDING or CONFIRMED for auto-confirming stores).
    status: str
    is_on_hold: bool
    is_waiting_for_payment: bool
    order_date: datetime
    customer: dict[str, str]
    shipping_address: dict[str, str]
    billing_address: dict[str, str]
    payment_method: str
    #: Grand total as Centra reports it (differs from ``totals.grand_total`` only when the
    #: order was made inconsistent on purpose).
    grand_total: Decimal
    # -- expected outcome for a correct integration --
    postable: bool
    expected_exception: str | None
    #: What exactly is missing (``market:6``, ``shipping_option:pickup-point``, ``sku:...``).
    expected_missing: tuple[str, ...]
    waits_for: str | None
    expected_total: str
    expected_currency: str
    expected_lines: tuple[tuple[str, int], ...]
    #: Assigned by the sandbox when the order is placed.
    number: int | None = None
    #: Centra's grand total was made not to tie out on purpose (TOTAL_MISMATCH unless an
    #: earlier check already stops the order).
    inconsistent: bool = False
    #: The customer is tax exempt (tax-exclusive markets only): every tax is 0.
    tax_exempt: bool = False
    #: The BlueCherry charges a correct integration posts: (type, amount in the price mode, tax),
    #: ``FREIGHT`` for shipping and ``HANDLING`` for a handling fee, each only when non-zero.
    expected_charges: tuple[tuple[str, Decimal, Decimal], ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def handling(self) -> Decimal:
        return self.totals.handling

    @property
    def expected_line_count(self) -> int:
        return len(self.expected_lines)

    @property
    def expected_quantity(self) -> int:
        return sum(qty for _, qty in self.expected_lines)


Available = Callable[[int, int], int]


def make_order(market: Market, lines: list[GeneratedLine], *, seq: int, order_date: datetime,
               vouchers: Sequence[VoucherSpec] = (), shipping_option: str | None = None,
               status: str = "PENDING", on_hold: bool = False,
               waiting_for_payment: bool = False, inconsistent: bool = False,
               customer: dict[str, str] | None = None,
               shipping_address: dict[str, str] | None = None,
               billing_address: dict[str, str] | None = None,
               payment_method: str = "adyen", handling: Decimal | None = None,
               tax_exempt: bool = False) -> GeneratedOrder:
    """One order from explicit lines: Centra's totals and the expected outcome.

    ``handling``: a handling fee in the price mode (taxed at the standard rate). ``tax_exempt``:
    a tax-exempt customer in a tax-exclusive market (its lines are re-rated to 0%).
    """
    cur = market.currency
    if tax_exempt:
        if market.prices_include_tax:
            raise ValueError(f"a tax-exempt order needs a tax-exclusive market, not "
                             f"{market.code}")
        lines = [replace(ln, tax_percent=Decimal(0)) for ln in lines]
    option = shipping_option or market.shipping_option
    pickup = option == UNMAPPED_SHIPPING_OPTION
    ship_price = q(market.shipping_price * Decimal("0.6"), cur) if pickup \
        else market.shipping_price
    totals = centra_totals(market, lines, vouchers, shipping_price=ship_price,
                           handling=handling or Decimal(0), tax_exempt=tax_exempt)
    grand = totals.grand_total + (quantum(cur) if inconsistent else Decimal(0))
    missing: list[str] = []
    if market.id not in MARKET_CODES:
        missing.append(f"market:{market.id}")
    if option not in SHIPPING_CODES:
        missing.append(f"shipping_option:{option}")
    exc: str | None = None
    if missing:
        exc = "MAPPING_MISSING"
    elif any(ln.item.centra_only for ln in lines):
        exc = "UNKNOWN_SKU"
        missing = [f"sku:{ln.item.sku}" for ln in lines if ln.item.centra_only]
    elif inconsistent:
        exc = "TOTAL_MISMATCH"
        missing = ["grand_total"]
    cust = customer or {"email": f"customer-{seq}@example.com", "firstName": "Åsa",
                        "lastName": "Lindström"}
    addr = shipping_address or {"firstName": cust.get("firstName", ""),
                                "lastName": cust.get("lastName", ""),
                                "address1": "Götgatan 1", "city": "Stockholm",
                                "zipCode": "118 46", "country": market.country,
                                "email": cust.get("email", "")}
    return GeneratedOrder(
        seq=seq, market=market, store_id=1, lines=lines, vouchers=list(vouchers),
        shipping_option=option,
        shipping_option_name="Pickup point" if pickup else f"{market.name} standard",
        shipping_price=ship_price, totals=totals, status=status,
        is_on_hold=on_hold, is_waiting_for_payment=waiting_for_payment and not on_hold,
        order_date=order_date, customer=cust, shipping_address=addr,
        billing_address=billing_address or dict(addr), payment_method=payment_method,
        grand_total=grand, postable=exc is None, expected_exception=exc,
        expected_missing=tuple(missing),
        waits_for="hold" if on_hold else ("payment" if waiting_for_payment else None),
        expected_total=format(grand, "f"), expected_currency=cur,
        expected_lines=tuple((ln.item.sku, ln.quantity) for ln in lines),
        inconsistent=inconsistent, tax_exempt=tax_exempt,
        expected_charges=expected_charges(totals),
    )


def expected_charges(totals: OrderTotalsCalc) -> tuple[tuple[str, Decimal, Decimal], ...]:
    """The BlueCherry charges of an order with these totals: freight, then handling."""
    out: list[tuple[str, Decimal, Decimal]] = []
    if totals.shipping:
        out.append(("FREIGHT", totals.shipping, totals.shipping_tax))
    if totals.handling:
        out.append(("HANDLING", totals.handling, totals.handling_tax))
    return tuple(out)


def line_for(world: World, market: Market, item: CatalogueItem, quantity: int, *,
             campaign_percent: Decimal = Decimal(0),
             line_discount_percent: Decimal = Decimal(0)) -> GeneratedLine:
    """A line at the market's price, with optional campaign and line discounts."""
    cur = market.currency
    rate = market.reduced_rate if (item.reduced_tax and market.reduced_rate is not None) \
        else market.tax_rate
    original = q(world.price(item, market), cur)
    unit = original
    if campaign_percent:
        unit = q(unit * (HUNDRED - campaign_percent) / HUNDRED, cur)
    if line_discount_percent:
        unit = q(unit * (HUNDRED - line_discount_percent) / HUNDRED, cur)
    return GeneratedLine(item=item, quantity=quantity, tax_percent=rate,
                         unit_original_price=original, unit_price=unit,
                         campaign=bool(campaign_percent),
                         line_discount_percent=line_discount_percent)


def _pick_market(rng: random.Random, markets: Sequence[Market]) -> Market:
    return rng.choices(markets, weights=[m.weight for m in markets], k=1)[0]


def _names(rng: random.Random, market: Market) -> tuple[str, str]:
    if market.code == "JP":
        first, last = rng.choice(JP_NAMES)
        return first, last
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def _address(rng: random.Random, market: Market, first: str, last: str,
             email: str) -> dict[str, str]:
    code = market.code
    zip_code = {"SE": f"{rng.randint(100, 999)} {rng.randint(10, 99)}",
                "GB": f"SW{rng.randint(1, 20)} {rng.randint(1, 9)}AB",
                "JP": f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"}.get(
        code, f"{rng.randint(10000, 99999)}")
    return {
        "firstName": first, "lastName": last, "companyName": "",
        "address1": f"{rng.choice(STREETS[code])} {rng.randint(1, 120)}",
        "address2": rng.choice(("", "", "Lgh 1102", "c/o Ærø", "2F")),
        "city": rng.choice(CITIES[code]), "zipCode": zip_code,
        "stateOrProvince": rng.choice(US_STATES) if code == "US" else "",
        "country": market.country, "email": email,
        "phoneNumber": f"+{rng.randint(10, 99)} {rng.randint(100000, 999999)}",
    }


def generate_orders(world: World, n: int, *, seed: int, start: datetime,
                    available: Available | None = None,
                    inconsistent_rate: float = 0.0,
                    unknown_sku_rate: float = 0.02,
                    pickup_point_rate: float = 0.02,
                    hold_rate: float = 0.04,
                    waiting_payment_rate: float = 0.03,
                    markets: Sequence[Market] | None = None,
                    spacing: timedelta = timedelta(seconds=37),
                    handling_rate: float = 0.25,
                    zero_tax_rate: float = 0.05,
                    lines: int | None = None) -> list[GeneratedOrder]:
    """``n`` seeded orders placed from ``start`` on, across the markets by weight.

    ``available(warehouse_id, size_id)`` gives free-to-allocate stock; the generator never asks
    for more than it (it counts its own orders too), so the orders can all be placed without
    overselling. Without it stock is taken as unlimited.

    ``handling_rate``: share of the orders of markets with a ``handling_fee`` (DE, US) that
    carry the fee. ``zero_tax_rate``: share of orders of tax-exclusive markets (US) whose
    customer is tax exempt. ``lines``: every order gets exactly this many distinct sizes (fewer
    only when free stock runs out).
    """
    if lines is not None and lines < 1:
        raise ValueError("lines must be 1 or more")
    rng = random.Random(seed)
    # The newer knobs draw from their own stream: the orders of a seed stay what they were.
    extra_rng = random.Random(f"seamline-extra-{seed}")
    mkts = tuple(markets or world.markets)
    taken: dict[tuple[int, int], int] = {}
    sellable = tuple(i for i in world.catalogue if not i.centra_only)
    centra_only = tuple(i for i in world.catalogue if i.centra_only)
    orders: list[GeneratedOrder] = []

    def free(wh: int, item: CatalogueItem) -> int:
        if available is None:
            return 10**9
        return available(wh, item.size_id) - taken.get((wh, item.size_id), 0)

    for seq in range(n):
        market = _pick_market(rng, mkts)
        cur = market.currency
        wh = market.centra_warehouse
        order_lines: list[GeneratedLine] = []
        n_lines = rng.choices((1, 2, 3, 4), weights=(45, 30, 17, 8), k=1)[0]
        if lines is not None:
            n_lines = lines
        want_unknown = bool(centra_only) and rng.random() < unknown_sku_rate
        used: set[int] = set()
        for li in range(n_lines):
            pool = centra_only if (want_unknown and li == 0) else sellable
            item = None
            for _ in range(20):
                cand = rng.choice(pool)
                if cand.size_id not in used and free(wh, cand) >= 1:
                    item = cand
                    break
            if item is None and lines is not None and pool is sellable:
                item = next((c for c in pool if c.size_id not in used and free(wh, c) >= 1),
                            None)
            if item is None:
                continue
            used.add(item.size_id)
            qty = min(rng.choices((1, 2, 3), weights=(75, 20, 5), k=1)[0], free(wh, item))
            taken[(wh, item.size_id)] = taken.get((wh, item.size_id), 0) + qty
            rate = market.reduced_rate if (item.reduced_tax and market.reduced_rate is not None) \
                else market.tax_rate
            original = q(world.price(item, market), cur)
            unit = original
            campaign = rng.random() < 0.2
            if campaign:
                unit = q(original * (HUNDRED - Decimal(rng.choice((10, 20, 30, 40)))) / HUNDRED,
                         cur)
            line_disc = Decimal(0)
            if rng.random() < 0.1:
                line_disc = Decimal(rng.choice((5, 10, 15)))
                unit = q(unit * (HUNDRED - line_disc) / HUNDRED, cur)
            order_lines.append(GeneratedLine(item=item, quantity=qty, tax_percent=rate,
                                       unit_original_price=q(original, cur), unit_price=unit,
                                       campaign=campaign, line_discount_percent=line_disc))
        if not order_lines:
            break  # stock exhausted: stop rather than oversell
        vouchers: list[VoucherSpec] = []
        roll = rng.random()
        if roll < 0.12:
            pct = Decimal(rng.choice((10, 15, 20)))
            vouchers.append(VoucherSpec(code=f"SAVE{pct}", name=f"{pct}% off", percent=pct))
        elif roll < 0.20:
            fixed = q(market.shipping_price * rng.choice((2, 3, 4)), cur)
            vouchers.append(VoucherSpec(code=f"GIFT{fixed:f}".replace(".", ""),
                                        name="Gift voucher", fixed=fixed))
        mapped = market.id in MARKET_CODES
        pickup = mapped and rng.random() < pickup_point_rate
        first, last = _names(rng, market)
        email = f"customer{seed}-{seq}@example.com"
        ship_addr = _address(rng, market, first, last, email)
        bill_addr = dict(ship_addr) if rng.random() < 0.85 else \
            _address(rng, market, first, last, email)
        on_hold = rng.random() < hold_rate
        waiting = (not on_hold) and rng.random() < waiting_payment_rate
        inconsistent = rng.random() < inconsistent_rate
        handling_roll, exempt_roll = extra_rng.random(), extra_rng.random()
        handling = market.handling_fee if (market.handling_fee
                                           and handling_roll < handling_rate) else None
        exempt = (not market.prices_include_tax) and exempt_roll < zero_tax_rate
        orders.append(make_order(
            market, order_lines, seq=seq, order_date=start + spacing * seq, vouchers=vouchers,
            shipping_option=UNMAPPED_SHIPPING_OPTION if pickup else None,
            status="CONFIRMED" if rng.random() < 0.3 else "PENDING",
            on_hold=on_hold, waiting_for_payment=waiting, inconsistent=inconsistent,
            customer={"email": email, "firstName": first, "lastName": last},
            shipping_address=ship_addr, billing_address=bill_addr,
            payment_method=rng.choice(("adyen", "klarna", "stripe")),
            handling=handling, tax_exempt=exempt))
    return orders
