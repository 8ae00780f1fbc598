"""Orders only a Centra as published shows right: long orders (nested lists page at 200),
handling fees, zero-tax orders in a sales-tax market and orders contradicting their market's
tax mode — over real HTTP through both sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from seamline.bootstrap import Container
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.harness import Sandboxes, build_seamline, run_until_quiet, settings_for

LONG = (25, 250)


def _skus(sb: Sandboxes, n: int) -> list[str]:
    return [i.sku for i in sb.centra.state.world.catalogue if not i.centra_only][:n]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Sandboxes, Container, dict[str, GeneratedOrder]]]:
    tmp = tmp_path_factory.mktemp("published")
    with Sandboxes(seed=9, lift_rate_limits=True) as sb:
        settings = settings_for(sb, f"sqlite:///{tmp / 's.db'}")
        container = build_seamline(sb, settings)
        skus = _skus(sb, max(LONG))
        assert len(skus) >= max(LONG), "the sandbox catalogue is too small for a long order"
        placed: dict[str, GeneratedOrder] = {}
        for n in LONG:
            placed[f"long{n}"] = sb.place_order({
                "market_id": 1, "lines": [{"sku": s, "quantity": 1} for s in skus[:n]]})
        placed["handling"] = sb.place_order({
            "market_id": 2, "lines": [{"sku": skus[0], "quantity": 2}], "handling": "2.50"})
        placed["handling_voucher"] = sb.place_order({
            "market_id": 2, "lines": [{"sku": skus[1], "quantity": 1},
                                      {"sku": skus[2], "quantity": 3}],
            "handling": "2.50", "voucher_percent": 10})
        placed["exempt"] = sb.place_order({
            "market_id": 5, "lines": [{"sku": skus[3], "quantity": 2}], "tax_exempt": True})
        placed["us_taxed"] = sb.place_order({
            "market_id": 5, "lines": [{"sku": skus[4], "quantity": 1}]})
        run_until_quiet(container, timeout_s=120)
        try:
            yield sb, container, placed
        finally:
            container.close()


def _bc(sb: Sandboxes, g: GeneratedOrder) -> dict[str, Any]:
    (found,) = sb.bluecherry_orders(sb.reference(g))
    return found


@pytest.mark.parametrize("n", LONG)
def test_long_orders_post_every_line(day: tuple, n: int) -> None:
    """25 and 250 lines (Centra pages nested lists, 200 at most): every line is posted and the
    total ties out to Centra's grand total."""
    sb, _, placed = day
    g = placed[f"long{n}"]
    bc = _bc(sb, g)
    assert len(bc["lines"]) == n
    assert (Decimal(bc["totals"]["total"]), bc["currency"]) == (Decimal(g.expected_total),
                                                                 g.expected_currency)


@pytest.mark.parametrize("key", ["handling", "handling_voucher"])
def test_a_handling_fee_posts_as_a_handling_charge_with_its_tax(day: tuple, key: str) -> None:
    """The fee (totals.handling) is a HANDLING charge carrying its VAT; everything ties out,
    with a voucher on the order too. Centra publishes no tax figure for the fee: with a voucher
    it is derived (the voucher's tax at the lines' rates), so it may differ by a minor unit from
    the fee's tax rounded on its own — the order's tax total never does."""
    sb, _, placed = day
    g = placed[key]
    bc = _bc(sb, g)
    charges = {c["type"]: c for c in bc["charges"]}
    assert Decimal(charges["HANDLING"]["amount"]) == Decimal("2.50")
    expected = {t: (a, x) for t, a, x in g.expected_charges}
    tolerance = Decimal("0.01") if key == "handling_voucher" else Decimal(0)
    assert abs(Decimal(charges["HANDLING"]["tax"]) - expected["HANDLING"][1]) <= tolerance
    assert Decimal(bc["totals"]["total"]) == Decimal(g.expected_total)
    assert Decimal(bc["totals"]["tax"]) == sum(
        (Decimal(ln["tax"]) for ln in bc["lines"]), Decimal(0)) + sum(
        (Decimal(c["tax"]) for c in bc["charges"]), Decimal(0))


def test_a_zero_tax_order_in_a_sales_tax_market_posts_tax_exclusive(day: tuple) -> None:
    """An exempt US customer: no tax anywhere, posted with prices_include_tax false (the
    market's stated mode), not guessed as a VAT order."""
    sb, _, placed = day
    bc = _bc(sb, placed["exempt"])
    assert bc["prices_include_tax"] is False
    assert Decimal(bc["totals"]["tax"]) == 0
    assert Decimal(bc["totals"]["total"]) == Decimal(placed["exempt"].expected_total)
    taxed = _bc(sb, placed["us_taxed"])
    assert taxed["prices_include_tax"] is False
    assert Decimal(taxed["totals"]["tax"]) > 0


def test_an_order_contradicting_its_markets_tax_mode_is_a_finance_exception(
        tmp_path: Any) -> None:
    """The US market stated as VAT-inclusive by mistake: its taxed orders are refused as
    TOTAL_MISMATCH (tax_mode) for finance, never posted on a guess."""
    with Sandboxes(seed=10, lift_rate_limits=True) as sb:
        settings = settings_for(sb, f"sqlite:///{tmp_path / 's.db'}")
        markets = [m.model_copy(update={"prices_include_tax": True})
                   if m.centra_market == 5 else m for m in settings.markets]
        container = build_seamline(sb, settings.model_copy(update={"markets": markets}))
        try:
            g = sb.place_order({"market_id": 5, "lines": [{"sku": _skus(sb, 1)[0]}]})
            run_until_quiet(container, timeout_s=60)
            assert sb.bluecherry_reference_counts().get(sb.reference(g), 0) == 0
            found = [e for e in container.exceptions.list(state="open")
                     if e.type == "TOTAL_MISMATCH" and g.number in e.orders]
            assert len(found) == 1
            assert found[0].owner == "finance"
            assert "tax_mode" in found[0].message
        finally:
            container.close()
