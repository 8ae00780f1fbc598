"""Property tests of the money rules: every posted amount ties out to Centra's, exactly."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from orderkit import catalogue, centra_orders, market, rules

from seamline.domain.money import Money, allocate
from seamline.domain.orders import CentraOrder
from seamline.domain.pricing import (
    FREIGHT,
    HANDLING,
    build_sales_order,
    check_bluecherry_rules,
    price_order,
)
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import TotalMismatch

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _inclusive(o: CentraOrder) -> bool:
    return o.prices_include_tax is not False


def _build(o: CentraOrder) -> SalesOrder:
    return build_sales_order(o, market=market(centra_market=o.market_id, currency=None,
                                              prices_include_tax=_inclusive(o)),
                             rules=rules(), catalogue=catalogue())


@PROPS
@given(centra_orders())
def test_posted_amounts_tie_out_to_centras_grand_total_and_tax(o: CentraOrder) -> None:
    """Any currency, tax mode, voucher, shipping, handling and rate mix: totals and tax tie
    out exactly, and each line's tax is Centra's own less at most its voucher's tax."""
    so = _build(o)
    t = so.totals
    assert t.total == o.grand_total
    assert t.tax == o.tax_total
    added = t.tax if not _inclusive(o) else Money.zero(o.currency)
    assert t.merchandise - t.discount + t.charges + added == o.grand_total
    live = o.live_lines()
    assert t.merchandise - t.discount == Money(
        sum(ln.line_value.amount for ln in live) - o.voucher_discount.amount, o.currency)
    check_bluecherry_rules(so)
    for ln, centra in zip(so.lines, live, strict=True):
        assert ln.discount.amount >= 0
        assert ln.tax.amount >= 0
        assert ln.net.amount >= 0
        if o.voucher_discount.amount == 0:  # only rounding moves a line off Centra's figure
            assert abs(ln.tax.minor - centra.tax.minor) <= 1
        else:
            assert ln.tax.minor <= centra.tax.minor + 1
    charges = {c.type: c for c in so.charges}
    if o.shipping.amount:
        assert (charges[FREIGHT].amount, charges[FREIGHT].tax) == (o.shipping, o.shipping_tax)
    else:
        assert FREIGHT not in charges
    if o.handling.amount:
        assert charges[HANDLING].amount == o.handling
        assert charges[HANDLING].tax.amount >= 0
    else:
        assert HANDLING not in charges
    assert [ln.centra_line_id for ln in so.lines] == [ln.id for ln in live]
    assert [ln.quantity for ln in so.lines] == [ln.quantity for ln in live]


@PROPS
@given(centra_orders())
def test_building_is_deterministic_and_survives_the_frozen_round_trip(o: CentraOrder) -> None:
    """The same order always builds the same payload; the frozen form reads back unchanged."""
    a, b = _build(o), _build(o)
    assert a == b
    assert a.posted_hash() == b.posted_hash()
    assert SalesOrder.from_dict(a.to_dict()).to_dict() == a.to_dict()


@PROPS
@given(centra_orders(), st.integers(1, 50), st.booleans())
def test_a_perturbed_grand_total_is_a_grand_total_mismatch(
    o: CentraOrder, units: int, up: bool
) -> None:
    """Moving Centra's grand total by any number of minor units raises, naming grand_total."""
    delta = Money.from_minor(units if up else -units, o.currency)
    with pytest.raises(TotalMismatch) as info:
        price_order(replace(o, grand_total=o.grand_total + delta),
                    prices_include_tax=_inclusive(o))
    assert info.value.component == "grand_total"


@PROPS
@given(centra_orders(), st.integers(0, 50))
def test_a_tax_total_above_the_lines_and_charges_own_tax_is_a_tax_total_mismatch(
    o: CentraOrder, extra: int
) -> None:
    """More tax than the lines and charges carry (beyond a minor unit of rounding each) is
    refused, naming tax_total (the grand total moved with it, so only the tax is wrong)."""
    assume(o.handling.amount == 0 and o.prices_include_tax is not None)
    own = sum(ln.tax.minor for ln in o.live_lines()) + o.shipping_tax.minor
    units = own - o.tax_total.minor + len(o.live_lines()) + 3 + extra
    delta = Money.from_minor(units, o.currency)
    grand = o.grand_total if _inclusive(o) else o.grand_total + delta
    with pytest.raises(TotalMismatch) as info:
        price_order(replace(o, tax_total=o.tax_total + delta, grand_total=grand),
                    prices_include_tax=_inclusive(o))
    assert info.value.component == "tax_total"


@PROPS
@given(centra_orders())
def test_an_order_whose_tax_shows_the_other_mode_is_a_tax_mode_mismatch(o: CentraOrder) -> None:
    """The market's configured tax mode is never overridden by the order's own figures."""
    assume(o.prices_include_tax is not None)
    with pytest.raises(TotalMismatch) as info:
        price_order(o, prices_include_tax=not o.prices_include_tax)
    assert info.value.component == "tax_mode"


# -- allocation ------------------------------------------------------------------------------

CURRENCY = st.sampled_from(["SEK", "JPY", "KWD", "USD"])
WEIGHTS = st.lists(st.integers(0, 10**7), min_size=1, max_size=12)


@settings(max_examples=500, deadline=None)
@given(CURRENCY, st.integers(-(10**9), 10**9), WEIGHTS)
def test_allocated_parts_always_sum_to_the_whole(cur: str, minor: int, weights: list[int]) -> None:
    """Largest remainder: parts sum exactly, each within one minor unit of its exact share."""
    total = Money.from_minor(minor, cur)
    parts = allocate(total, weights)
    assert sum(p.minor for p in parts) == minor
    ws = weights if sum(weights) else [1] * len(weights)
    for part, w in zip(parts, ws, strict=True):
        exact = Decimal(abs(minor)) * w / sum(ws)
        assert abs(abs(part.minor) - exact) < 1
        assert part.currency == cur
    assert allocate(total, weights) == parts


@settings(max_examples=500, deadline=None)
@given(CURRENCY, st.integers(0, 10**9), WEIGHTS, st.data())
def test_allocation_is_permutation_stable_when_no_remainders_tie(
    cur: str, minor: int, weights: list[int], data: st.DataObject
) -> None:
    """Reordering the weights reorders the parts the same way, unless remainders tie."""
    total_w = sum(weights)
    assume(total_w > 0)
    remainders = [(minor * w) % total_w for w in weights]
    assume(len(set(remainders)) == len(remainders))
    order = data.draw(st.permutations(range(len(weights))))
    total = Money.from_minor(minor, cur)
    parts = allocate(total, weights)
    shuffled = allocate(total, [weights[i] for i in order])
    assert shuffled == [parts[i] for i in order]


def test_allocation_breaks_ties_by_position_deterministically() -> None:
    """Equal weights: the earlier parts take the leftover minor units."""
    assert [p.wire() for p in allocate(Money.of("1.00", "SEK"), [1, 1, 1])] == [
        "0.34", "0.33", "0.33"]
    assert [p.wire() for p in allocate(Money.of("-1.00", "SEK"), [1, 1, 1])] == [
        "-0.34", "-0.33", "-0.33"]
    assert [p.wire() for p in allocate(Money.of("5", "JPY"), [0, 0])] == ["3", "2"]
