"""The seeded order generator: totals tie out the way Centra computes them, for any seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from seamline.domain.money import quantum
from seamline_sandbox.generator import generate_orders
from seamline_sandbox.world import build_world

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_every_generated_order_ties_out_to_its_grand_total(seed: int) -> None:
    """lines − vouchers + shipping (+ tax where prices exclude it) = grand total, per order."""
    world = build_world(1)
    for g in generate_orders(world, 40, seed=seed, start=START, inconsistent_rate=0.1):
        t = g.totals
        cur = g.market.currency
        q = quantum(cur)
        for amount in (t.line_values, t.discount, t.shipping, t.tax_total, g.grand_total):
            assert amount == amount.quantize(q)
        assert t.line_values == sum(ln.unit_price * ln.quantity for ln in g.lines)
        assert t.discount == sum(t.voucher_values)
        assert 0 <= t.discount <= t.line_values
        assert t.tax_total == sum(v for _, v in t.tax_breakdown)
        expected = t.line_values - t.discount + t.shipping
        if not g.market.prices_include_tax:
            expected += t.tax_total
        if g.inconsistent:
            assert g.grand_total != expected
        else:
            assert g.grand_total == expected
            assert g.expected_total == format(expected, "f")
        for ln in g.lines:
            assert ln.unit_price <= ln.unit_original_price
        assert g.expected_quantity == sum(ln.quantity for ln in g.lines)


def test_generated_orders_are_the_same_for_the_same_seed() -> None:
    """Seeded: two runs give identical orders."""
    world = build_world(1)
    a = generate_orders(world, 50, seed=9, start=START)
    b = generate_orders(world, 50, seed=9, start=START)
    assert [(g.expected_total, g.expected_lines) for g in a] == \
        [(g.expected_total, g.expected_lines) for g in b]


def test_generated_orders_cover_every_market_and_every_expected_outcome() -> None:
    """All six markets, held and unpaid orders, unmapped markets and unknown SKUs appear."""
    orders = generate_orders(build_world(1), 1500, seed=5, start=START)
    markets = Counter(g.market.code for g in orders)
    assert set(markets) == {"SE", "DE", "GB", "JP", "US", "NO"}
    outcomes = Counter(g.expected_exception for g in orders)
    assert outcomes["MAPPING_MISSING"] > 0
    assert outcomes["UNKNOWN_SKU"] > 0
    assert "TOTAL_MISMATCH" not in outcomes  # off by default
    assert {g.waits_for for g in orders} == {None, "hold", "payment"}
    assert any(g.shipping_option == "pickup-point" for g in orders)
    assert any(g.vouchers for g in orders)
    assert any(any(ln.unit_price < ln.unit_original_price for ln in g.lines) for g in orders)
    assert all(g.grand_total == g.grand_total.to_integral() for g in orders
               if g.market.currency == "JPY")
    assert any(g.totals.shipping == 0 for g in orders)
    assert any(g.totals.shipping > 0
                                                               for g in orders)


def test_generator_never_asks_for_more_than_the_free_stock() -> None:
    """With two units free per size it stops rather than oversell."""
    taken: Counter[tuple[int, int]] = Counter()
    orders = generate_orders(build_world(1), 2000, seed=1, start=START,
                             available=lambda wh, size: 2)
    for g in orders:
        for ln in g.lines:
            taken[(g.market.centra_warehouse, ln.item.size_id)] += ln.quantity
    assert max(taken.values()) <= 2


def test_us_orders_add_sales_tax_and_vat_orders_include_it() -> None:
    """US tax is added on top of the grand total; VAT is inside it."""
    orders = generate_orders(build_world(1), 300, seed=2, start=START)
    us = next(g for g in orders if g.market.code == "US")
    se = next(g for g in orders if g.market.code == "SE")
    assert us.grand_total == us.totals.line_values - us.totals.discount + us.totals.shipping \
        + us.totals.tax_total
    assert se.grand_total == se.totals.line_values - se.totals.discount + se.totals.shipping
    assert se.totals.tax_breakdown[0][0] == Decimal(25)
