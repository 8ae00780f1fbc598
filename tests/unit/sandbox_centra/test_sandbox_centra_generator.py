"""The seeded order generator: totals tie out the way Centra computes them, for any seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seamline.domain.money import quantum
from seamline_sandbox.generator import generate_orders, line_for, make_order
from seamline_sandbox.world import build_world

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_every_generated_order_ties_out_to_its_grand_total(seed: int) -> None:
    """lines − vouchers + shipping + handling (+ tax where prices exclude it) = grand total."""
    world = build_world(1)
    for g in generate_orders(world, 40, seed=seed, start=START, inconsistent_rate=0.1):
        t = g.totals
        cur = g.market.currency
        q = quantum(cur)
        for amount in (t.line_values, t.discount, t.shipping, t.handling, t.handling_tax,
                       t.tax_total, g.grand_total):
            assert amount == amount.quantize(q)
        assert t.line_values == sum(ln.unit_price * ln.quantity for ln in g.lines)
        assert t.discount == sum(t.voucher_values)
        assert 0 <= t.discount <= t.line_values
        assert t.tax_total == sum(v for _, v in t.tax_breakdown)
        expected = t.line_values - t.discount + t.shipping + t.handling
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
        + us.totals.handling + us.totals.tax_total
    assert se.grand_total == se.totals.line_values - se.totals.discount + se.totals.shipping \
        + se.totals.handling
    assert se.totals.tax_breakdown[0][0] == Decimal(25)


def test_some_orders_of_the_handling_markets_carry_a_fee_taxed_at_the_standard_rate() -> None:
    """DE and US orders sometimes carry a fixed handling fee: standard rate, in the total, and
    expected as a HANDLING charge; no other market's order does."""
    orders = generate_orders(build_world(1), 600, seed=4, start=START)
    fee = [g for g in orders if g.totals.handling]
    assert {g.market.code for g in fee} == {"DE", "US"}
    assert 0 < len(fee) < len([g for g in orders if g.market.code in ("DE", "US")])
    for g in fee:
        t = g.totals
        cur = g.market.currency
        assert t.handling == g.market.handling_fee
        rate = Decimal(0) if g.tax_exempt else g.market.tax_rate
        assert t.charge_rate == rate
        inside = g.market.prices_include_tax
        assert t.handling_tax == (t.handling * rate / (100 + rate) if inside
                                  else t.handling * rate / 100).quantize(quantum(cur))
        assert ("HANDLING", t.handling, t.handling_tax) in g.expected_charges
        assert g.postable or g.expected_exception is not None


def test_handling_rate_zero_and_one_turn_the_fee_off_and_on_without_changing_other_orders(
) -> None:
    """The knob draws from its own stream: the same seed keeps its lines and markets."""
    world = build_world(1)
    off = generate_orders(world, 200, seed=6, start=START, handling_rate=0)
    on = generate_orders(world, 200, seed=6, start=START, handling_rate=1)
    assert all(not g.totals.handling for g in off)
    assert all(bool(g.totals.handling) == bool(g.market.handling_fee) for g in on)
    assert [g.expected_lines for g in off] == [g.expected_lines for g in on]


def test_zero_tax_knob_makes_us_orders_tax_exempt_with_every_tax_zero() -> None:
    """zero_tax_rate=1: every US order has taxAdded 0 and 0% lines; VAT markets are untouched."""
    orders = generate_orders(build_world(1), 300, seed=8, start=START, zero_tax_rate=1)
    us = [g for g in orders if g.market.code == "US"]
    assert us
    for g in us:
        assert g.tax_exempt
        assert g.totals.tax_total == 0
        assert all(ln.tax_percent == 0 for ln in g.lines)
        assert g.totals.shipping_tax == 0
        assert g.grand_total == g.totals.line_values - g.totals.discount + g.totals.shipping \
            + g.totals.handling
    assert not any(g.tax_exempt for g in orders if g.market.code != "US")
    assert any(g.totals.tax_total > 0 for g in orders if g.market.code == "SE")


def test_a_tax_exempt_order_in_a_vat_market_is_refused() -> None:
    """Tax exemption is a sales-tax notion here: make_order refuses it for VAT markets."""
    world = build_world(1)
    se = world.market(1)
    item = next(i for i in world.catalogue if not i.centra_only)
    with pytest.raises(ValueError, match="tax-exclusive"):
        make_order(se, [line_for(world, se, item, 1)], seq=1, order_date=START,
                   tax_exempt=True)


@pytest.mark.parametrize("n_lines", [25, 250])
def test_the_lines_knob_makes_long_orders_of_distinct_sizes(n_lines: int) -> None:
    """lines=N gives every order N lines, each a different size, still tying out."""
    orders = generate_orders(build_world(1), 2, seed=3, start=START, lines=n_lines,
                             unknown_sku_rate=0)
    for g in orders:
        assert len(g.lines) == n_lines
        assert len({ln.item.size_id for ln in g.lines}) == n_lines
        assert g.totals.line_values == sum(ln.line_value for ln in g.lines)
