"""Builders of Centra orders for the posting-domain tests, and a hypothesis strategy that
computes every amount the way Centra does (its own voucher split, tax per rate rounded half up),
so the posting domain has to tie out to figures it did not compute itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

from seamline.domain.erp import CatalogueItem
from seamline.domain.mapping import Catalogue, MarketCodes, PostingRules
from seamline.domain.money import Money, minor_digits
from seamline.domain.orders import (
    Address,
    CentraOrder,
    OrderLine,
    OrderStatus,
)

CURRENCIES = ("SEK", "EUR", "GBP", "JPY", "USD", "KWD")
RATES = tuple(Decimal(r) for r in ("0", "5", "6", "7", "8", "8.875", "10", "12", "19", "20",
                                   "25"))
WHEN = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)


def upc(n: int) -> str:
    """A 12-digit UPC-A for a small number (check digit not needed by the domain)."""
    return f"7350{n:08d}"


def catalogue_items(count: int = 60) -> list[CatalogueItem]:
    return [CatalogueItem(sku=f"SKU-{n}", upc=upc(n)) for n in range(count)]


def catalogue(count: int = 60, overrides: dict[str, str] | None = None) -> Catalogue:
    return Catalogue(catalogue_items(count), overrides=overrides)


def market(**kw: Any) -> MarketCodes:
    base: dict[str, Any] = {
        "centra_market": 1, "currency": "SEK", "division": "D01", "warehouse": "W01",
        "customer": "WEBSE",
        "store": "SE", "order_type": "ECOM", "terms": "PREPAID", "season": "FW26", "mode": "daily",
        "prices_include_tax": True,
        "cutoff": time(23, 0), "timezone": "Europe/Stockholm", "confirm_after_post": True,
    }
    base.update(kw)
    return MarketCodes(**base)


def rules(**kw: Any) -> PostingRules:
    base: dict[str, Any] = {"shipping_options": {"se-standard": "PNORD", "std": "UPSG"}}
    base.update(kw)
    return PostingRules(**base)


def m(value: str | int, currency: str = "SEK") -> Money:
    return Money.of(value, currency)


def line(
    id: int, *, qty: int = 1, original: str = "100.00", price: str | None = None,
    value: str | None = None, rate: str = "25", cancelled: int = 0, n: int | None = None,
    currency: str = "SEK", sku: str | None = None, ean: str | None = None,
    tax: str | None = None, inclusive: bool = True,
) -> OrderLine:
    """A Centra line; the item is catalogue item ``n`` (default: the id) by EAN-13. Its own
    tax (``lineValue`` with less without) is Centra's rounding of the line value at ``rate``
    unless ``tax`` is given."""
    item = id if n is None else n
    unit = Money.of(price or original, currency)
    lv = Money.of(value, currency) if value is not None else unit.times(qty)
    own = (Money.of(tax, currency) if tax is not None
           else Money.from_minor(centra_tax(lv.minor, Decimal(rate), inclusive), currency))
    return OrderLine(
        id=id, sku=sku if sku is not None else f"SKU-{item}",
        ean=ean if ean is not None else "0" + upc(item), quantity=qty,
        cancelled_quantity=cancelled, unit_original_price=Money.of(original, currency),
        unit_price=unit, line_value=lv, tax_percent=Decimal(rate), tax=own,
    )


def order(**kw: Any) -> CentraOrder:
    """A consistent SEK order of one 25% line of 100.00 and 49.00 freight unless told."""
    cur = kw.get("currency", "SEK")
    base: dict[str, Any] = {
        "id": "abc", "number": 100234, "status": OrderStatus.PENDING, "store_id": 1, "market_id": 1,
        "currency": cur, "prices_include_tax": True, "order_date": WHEN, "updated_at": WHEN,
        "shipping_option": "se-standard",
        "shipping_address": Address(first_name="Ada", last_name="Lund", address1="Götgatan 1",
                                 city="Stockholm", zip_code="11621", country="SE",
                                 email="ada@example.com"),
        "billing_address": Address(first_name="Ada", last_name="Lund", address1="Box 9",
                                city="Stockholm", zip_code="11622", country="SE"),
        "customer_email": "ada@example.com",
        "lines": (line(1),),
        "shipping": m("49.00"), "shipping_tax": m("9.80"), "handling": m("0.00", cur),
        "voucher_discount": m("0.00"), "tax_total": m("29.80"), "grand_total": m("149.00"),
    }
    base.update(kw)
    return CentraOrder(**base)


# -- Centra's own arithmetic -------------------------------------------------------------------


def _round(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def centra_tax(net_minor: int, rate: Decimal, inclusive: bool) -> int:
    if inclusive:
        return _round(Decimal(net_minor) * rate / (100 + rate))
    return _round(Decimal(net_minor) * rate / 100)


def centra_voucher_split(voucher: int, values: list[int]) -> list[int]:
    """Centra-like: floor of the proportional share, the rest to the largest lines first, one
    minor unit each, never beyond a line's value (a different rule from Seamline's)."""
    total = sum(values)
    if total == 0:
        return [0] * len(values)
    shares = [voucher * v // total for v in values]
    left = voucher - sum(shares)
    while left:
        for i in sorted(range(len(values)), key=lambda i: -values[i]):
            if left and shares[i] < values[i]:
                shares[i] += 1
                left -= 1
    return shares


@st.composite
def centra_orders(draw: st.DrawFn) -> CentraOrder:
    """Any order in any currency and tax mode, with Centra-computed totals."""
    cur = draw(st.sampled_from(CURRENCIES))
    inclusive = draw(st.booleans()) if cur != "USD" else False
    digits = minor_digits(cur)
    scale = 10**digits

    def money(minor: int) -> Money:
        return Money.from_minor(minor, cur)

    pool = draw(st.lists(st.sampled_from(RATES), min_size=1, max_size=3, unique=True))
    n_lines = draw(st.integers(1, 6))
    raw = []
    for i in range(n_lines):
        original = draw(st.integers(1, 5000 * scale))
        campaign = draw(st.one_of(st.just(0), st.integers(0, original)))
        qty = draw(st.integers(0, 4))
        cancelled = draw(st.integers(0, 2))
        rate = draw(st.sampled_from(pool))
        raw.append((i + 1, original, original - campaign, qty, cancelled, rate))
    if all(r[3] == 0 for r in raw):
        first = raw[0]
        raw[0] = (first[0], first[1], first[2], draw(st.integers(1, 4)), first[4], first[5])
    lines = tuple(
        OrderLine(
            id=1000 + i, sku=f"SKU-{i}", ean="0" + upc(i), quantity=qty,
            cancelled_quantity=cancelled, unit_original_price=money(orig),
            unit_price=money(price), line_value=money(price * qty), tax_percent=rate,
            tax=money(centra_tax(price * qty, rate, inclusive)),
        )
        for i, orig, price, qty, cancelled, rate in raw
    )
    live = [ln for ln in lines if ln.quantity > 0]
    values = [ln.line_value.minor for ln in live]
    voucher = draw(st.one_of(st.just(0), st.integers(0, sum(values))))
    shares = centra_voucher_split(voucher, values)
    nets: dict[Decimal, int] = {}
    for ln, share in zip(live, shares, strict=True):
        nets[ln.tax_percent] = nets.get(ln.tax_percent, 0) + ln.line_value.minor - share
    per_rate = {r: centra_tax(net, r, inclusive) for r, net in nets.items()}
    shipping = draw(st.one_of(st.just(0), st.integers(1, 100 * scale)))
    ship_rate = draw(st.sampled_from(pool))
    ship_tax = centra_tax(shipping, ship_rate, inclusive) if shipping else 0
    handling = draw(st.one_of(st.just(0), st.integers(1, 50 * scale)))
    handling_tax = centra_tax(handling, ship_rate, inclusive) if handling else 0
    tax_total = sum(per_rate.values()) + ship_tax + handling_tax
    grand = sum(values) - voucher + shipping + handling + (0 if inclusive else tax_total)
    return order(
        currency=cur, prices_include_tax=inclusive if tax_total else None, lines=lines,
        number=draw(st.integers(1, 10**7)),
        shipping=money(shipping), shipping_tax=money(ship_tax), handling=money(handling),
        voucher_discount=money(voucher), tax_total=money(tax_total), grand_total=money(grand),
    )


def with_(o: CentraOrder, **kw: Any) -> CentraOrder:
    return replace(o, **kw)
