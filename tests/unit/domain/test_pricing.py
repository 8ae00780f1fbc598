"""Centra's as-sold amounts become BlueCherry amounts that tie out to the minor unit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from orderkit import catalogue, line, m, market, order, rules

from seamline.domain.orders import Address
from seamline.domain.pricing import (
    build_sales_order,
    check_against_centra,
    check_bluecherry_rules,
    price_order,
)
from seamline.domain.sales_order import PostalAddress, SalesOrder
from seamline.exceptions import InvalidRecord, MappingMissing, TotalMismatch, UnknownSku


def build(o=None, **kw):  # type: ignore[no-untyped-def]
    return build_sales_order(o or order(), market=kw.pop("market", market()),
                             rules=kw.pop("rules", rules()), catalogue=catalogue(), **kw)


CONTRACT_EXAMPLE = order(
    lines=(line(1, qty=2, original="499.00", price="449.10"),),
    shipping=m("49.00"), shipping_tax=m("9.80"), tax_total=m("189.44"), grand_total=m("947.20"),
)


def test_the_contracts_worked_example_posts_exactly_its_figures() -> None:
    """2 x 499.00 less 99.80, 25% VAT inside, 49.00 freight: the contract's own totals."""
    so = build(CONTRACT_EXAMPLE)
    d = so.to_dict()
    assert d["lines"][0] | {"centra_line_id": 1} == {
        "line_no": 1, "upc": "735000000001", "sku": "SKU-1", "quantity": 2,
        "unit_price": "499.00", "discount": "99.80", "tax": "179.64", "tax_rate": "25.00",
        "centra_line_id": 1,
    }
    assert d["charges"] == [{"type": "FREIGHT", "amount": "49.00", "tax": "9.80",
                             "tax_rate": "25.00"}]
    assert d["totals"] == {"merchandise": "998.00", "discount": "99.80", "charges": "49.00",
                           "tax": "189.44", "total": "947.20"}


def test_each_line_posts_centras_own_line_tax_when_there_is_no_voucher() -> None:
    """Lines at 25% and 12%: each keeps lineValue with tax less lineValue without, as read."""
    o = order(
        lines=(line(1, original="300.00"), line(2, qty=2, original="100.00", rate="12",
                                                tax="21.43")),
        tax_total=m("91.23"), grand_total=m("549.00"),
    )
    p = price_order(o)
    assert [pl.tax.wire() for pl in p.lines] == ["60.00", "21.43"]
    assert [pl.tax_rate for pl in p.lines] == [Decimal("25.00"), Decimal("12.00")]


def test_a_voucher_takes_its_tax_off_the_lines_by_each_lines_share_at_its_rate() -> None:
    """Voucher 50 over lines of 300 (25%) and 200 (12%): shares 30 and 20, whose tax (6.00 and
    2.14) comes off each line's own tax, so the lines carry Centra's tax total less freight."""
    o = order(
        lines=(line(1, original="300.00"), line(2, qty=2, original="100.00", rate="12")),
        voucher_discount=m("50.00"), shipping=m("49.00"), shipping_tax=m("9.80"),
        tax_total=m("83.09"), grand_total=m("499.00"),
    )
    p = price_order(o)
    assert [(pl.discount.wire(), pl.voucher_share.wire(), pl.tax.wire()) for pl in p.lines] == [
        ("30.00", "30.00", "54.00"), ("20.00", "20.00", "19.29")]
    assert p.charges[0].tax == m("9.80")
    assert p.totals.tax == m("83.09")
    assert p.totals.total == m("499.00")


def test_a_voucher_splits_by_largest_remainder_with_ties_to_the_earlier_line() -> None:
    """100.00 over three equal lines is 33.34 + 33.33 + 33.33, the first line taking the öre."""
    o = order(
        lines=(line(1), line(2), line(3)), voucher_discount=m("100.00"), shipping=m("0.00"),
        shipping_tax=m("0.00"), tax_total=m("40.00"), grand_total=m("200.00"),
    )
    p = price_order(o)
    assert [pl.voucher_share.wire() for pl in p.lines] == ["33.34", "33.33", "33.33"]
    # The voucher's tax (20.00) by share: 6.67, 6.67, 6.66 (ties to the earlier line).
    assert [pl.tax.wire() for pl in p.lines] == ["13.33", "13.33", "13.34"]
    assert p.charges == ()


def test_per_line_rounding_against_centras_tax_total_is_spread_over_the_lines() -> None:
    """Three lines of 0.05 at 25%: each line's own tax rounds to 0.01 (0.03 in all) while
    Centra's total for the rate is 0.03 of 0.15 = 0.03; with a total of 0.02 the minor unit
    of rounding comes off one line, nothing is refused and the tax still ties out."""
    o = order(
        lines=(line(1, original="0.05"), line(2, original="0.05"), line(3, original="0.05")),
        shipping=m("0.00"), shipping_tax=m("0.00"), tax_total=m("0.02"), grand_total=m("0.15"),
    )
    p = price_order(o)
    assert sum(pl.tax.minor for pl in p.lines) == 2
    assert all(pl.tax.minor in (0, 1) for pl in p.lines)


def test_campaign_and_line_discounts_and_the_voucher_share_all_count_as_discount() -> None:
    """discount = unit_original x qty − (line value − voucher share)."""
    o = order(
        lines=(line(1, qty=3, original="200.00", price="150.00", value="420.00"),),
        voucher_discount=m("20.00"), shipping=m("0.00"), shipping_tax=m("0.00"),
        tax_total=m("80.00"), grand_total=m("400.00"),
    )
    (pl,) = price_order(o).lines
    assert (pl.unit_price, pl.discount, pl.net) == (m("200.00"), m("200.00"), m("400.00"))
    assert pl.tax == m("80.00")


def test_sales_tax_is_added_on_top_and_a_fine_rate_keeps_its_decimals() -> None:
    """USD, 8.875% added: total = merchandise − discount + charges + tax; rate sent as 8.875."""
    usd = "USD"
    o = order(
        currency=usd, prices_include_tax=False, market_id=5,
        lines=(line(1, qty=2, original="50.00", rate="8.875", currency=usd, inclusive=False),),
        shipping=m("7.50", usd), shipping_tax=m("0.00", usd), voucher_discount=m("0", usd),
        tax_total=m("8.88", usd), grand_total=m("116.38", usd),
    )
    so = build(o, market=market(centra_market=5, currency=None, timezone="America/New_York",
                                prices_include_tax=False))
    assert so.totals.total == m("116.38", usd)
    assert so.prices_include_tax is False
    assert so.to_dict()["lines"][0]["tax_rate"] == "8.875"
    assert so.charges[0].tax_rate == Decimal(0)
    check_against_centra(SalesOrder.from_dict(so.to_dict()), o)


def test_a_zero_tax_order_in_a_sales_tax_market_posts_as_tax_exclusive() -> None:
    """An exempt US customer: Centra shows no tax at all; the market's mode decides, so the
    order posts with prices_include_tax false, not as a VAT order."""
    usd = "USD"
    o = order(
        currency=usd, prices_include_tax=None, market_id=5,
        lines=(line(1, qty=2, original="50.00", rate="0", currency=usd, inclusive=False),),
        shipping=m("7.50", usd), shipping_tax=m("0.00", usd), voucher_discount=m("0", usd),
        tax_total=m("0.00", usd), grand_total=m("107.50", usd),
    )
    so = build(o, market=market(centra_market=5, currency=None, timezone="America/New_York",
                                prices_include_tax=False))
    assert so.prices_include_tax is False
    assert (so.totals.tax, so.totals.total) == (m("0.00", usd), m("107.50", usd))


def test_an_order_contradicting_its_markets_tax_mode_is_a_tax_mode_mismatch() -> None:
    """VAT inside the prices of an order in a market configured as sales tax: finance's."""
    with pytest.raises(TotalMismatch) as info:
        build(order(), market=market(prices_include_tax=False))
    assert info.value.component == "tax_mode"
    assert info.value.owner_for() == "finance"
    assert "taxIncluded" in (info.value.actual or "")


def test_a_handling_fee_posts_as_a_handling_charge_with_the_rest_of_centras_tax() -> None:
    """Handling 20.00 (VAT 4.00 inside): Centra's tax total holds lines 20.00 + freight 9.80 +
    4.00; the fee becomes a HANDLING charge at 25% carrying exactly that 4.00."""
    o = order(handling=m("20.00"), tax_total=m("33.80"), grand_total=m("169.00"))
    so = build(o)
    d = so.to_dict()
    assert d["charges"] == [
        {"type": "FREIGHT", "amount": "49.00", "tax": "9.80", "tax_rate": "25.00"},
        {"type": "HANDLING", "amount": "20.00", "tax": "4.00", "tax_rate": "25.00"},
    ]
    assert d["totals"] == {"merchandise": "100.00", "discount": "0.00", "charges": "69.00",
                           "tax": "33.80", "total": "169.00"}


def test_a_handling_fee_with_a_voucher_takes_the_voucher_tax_at_the_lines_rates() -> None:
    """Voucher 10.00 (its VAT 2.00) and handling 20.00: the fee's tax is what Centra's total
    holds beyond the lines' tax less the voucher's and the freight's: 31.80 − 18 − 9.80 = 4."""
    o = order(handling=m("20.00"), voucher_discount=m("10.00"), tax_total=m("31.80"),
              grand_total=m("159.00"))
    p = price_order(o)
    assert [(c.type, c.tax.wire()) for c in p.charges] == [("FREIGHT", "9.80"),
                                                           ("HANDLING", "4.00")]
    assert p.lines[0].tax == m("18.00")
    assert p.totals.tax == m("31.80")


def test_each_currency_posts_in_its_own_minor_unit() -> None:
    """JPY has no decimals and KWD three: every amount is sent with exactly that many."""
    for currency, price, tax, ship, ship_tax, rate in (
        ("JPY", "12800", "1164", "800", "73", "10"),
        ("KWD", "12.345", "0.588", "1.500", "0.071", "5"),
        ("GBP", "49.99", "8.33", "3.95", "0.66", "20"),
    ):
        total_tax = str(m(tax, currency).amount + m(ship_tax, currency).amount)
        grand = str(m(price, currency).amount + m(ship, currency).amount)
        o = order(
            currency=currency, lines=(line(1, original=price, rate=rate, currency=currency),),
            shipping=m(ship, currency), shipping_tax=m(ship_tax, currency),
            voucher_discount=m("0", currency), tax_total=m(total_tax, currency),
            grand_total=m(grand, currency),
        )
        d = build(o, market=market(currency=None)).to_dict()
        assert (d["lines"][0]["tax"], d["totals"]["total"]) == (tax, grand), currency
        assert (d["charges"][0]["tax"], d["charges"][0]["tax_rate"]) == (
            ship_tax, format(Decimal(rate).quantize(Decimal("0.01")), "f")), currency


def test_the_freights_rate_is_the_line_rate_that_gives_centras_shipping_tax() -> None:
    """Lines at 25% and 12%, 49.00 freight with 5.25 tax: 5.25 is 12% of 49.00 inclusive."""
    o = order(
        lines=(line(1, original="300.00"), line(2, qty=2, original="100.00", rate="12")),
        voucher_discount=m("50.00"), shipping_tax=m("5.25"), tax_total=m("78.54"),
        grand_total=m("499.00"),
    )
    p = price_order(o)
    assert p.charges[0].tax_rate == Decimal("12.00")
    assert p.totals.tax == m("78.54")


def test_shipping_at_a_rate_no_line_carries_gets_its_implied_rate() -> None:
    """All lines at 12%, freight VAT 9.80 of 49.00: 25% (implied), the line keeps its 12.00."""
    o = order(
        lines=(line(1, original="112.00", rate="12"),), tax_total=m("21.80"),
        grand_total=m("161.00"),
    )
    p = price_order(o)
    assert (p.charges[0].tax_rate, p.lines[0].tax) == (Decimal("25.00"), m("12.00"))


def test_an_export_with_no_tax_posts_no_tax() -> None:
    """Tax total 0 and no line tax (VAT deducted for an export): no tax anywhere."""
    o = order(lines=(line(1, original="80.00", tax="0.00"),
                     line(2, original="20.00", rate="12", tax="0.00")),
              prices_include_tax=None, shipping_tax=m("0.00"), tax_total=m("0.00"),
              grand_total=m("149.00"))
    p = price_order(o, prices_include_tax=True)
    assert [pl.tax for pl in p.lines] == [m("0.00"), m("0.00")]


@pytest.mark.parametrize(
    ("changes", "component"),
    [
        ({"grand_total": m("149.01")}, "grand_total"),
        ({"grand_total": m("148.99")}, "grand_total"),
        ({"tax_total": m("29.85")}, "tax_total"),
        ({"tax_total": m("19.80")}, "tax_total"),
        ({"prices_include_tax": False}, "tax_mode"),
        ({"shipping": m("0.00"), "grand_total": m("100.00")}, "shipping"),
        ({"shipping_tax": m("50.00"), "tax_total": m("70.00")}, "shipping"),
        ({"shipping_tax": m("-1.00")}, "shipping"),
        ({"handling": m("-1.00")}, "handling"),
        ({"handling": m("5.00"), "tax_total": m("36.80"), "grand_total": m("154.00")},
         "handling"),
        ({"lines": (line(1, original="100.00", value="100.01"),)}, "lines"),
        ({"lines": (line(1, tax="-1.00"),)}, "lines"),
        ({"voucher_discount": m("100.01")}, "lines"),
    ],
)
def test_centra_figures_that_do_not_tie_out_name_the_component(
    changes: dict[str, object], component: str
) -> None:
    """Every mismatch is a TotalMismatch for finance naming what differs; nothing is absorbed."""
    with pytest.raises(TotalMismatch) as info:
        price_order(order(**changes), prices_include_tax=True)
    assert info.value.component == component
    assert info.value.owner_for() == "finance"
    assert info.value.expected
    assert info.value.actual


def test_a_grand_total_mismatch_reports_expected_and_computed_figures() -> None:
    """expected is Centra's figure, actual the posted total."""
    with pytest.raises(TotalMismatch) as info:
        price_order(order(grand_total=m("150.00")))
    assert (info.value.expected, info.value.actual) == ("150.00 SEK", "149.00 SEK")


@pytest.mark.parametrize(
    "changes",
    [
        {"lines": (line(1, qty=0, cancelled=1),)},
        {"lines": (line(1, qty=-1),)},
        {"grand_total": m("149.00", "EUR")},
    ],
)
def test_orders_that_cannot_be_priced_are_invalid_records(changes: dict[str, object]) -> None:
    """No line with units, a negative quantity or a mixed currency is malformed input."""
    with pytest.raises(InvalidRecord):
        price_order(order(**changes))


# -- the whole sales order ----------------------------------------------------------------------


def test_the_sales_order_carries_the_markets_codes_and_centras_keys() -> None:
    """Codes from the market, ship via from the option, PO with prefix, external reference."""
    so = build(order(conversion_rate=Decimal("11.47")), rules=rules(customer_po_prefix="WEB-",
                                                                     cancel_after_days=10))
    assert (so.division, so.warehouse, so.customer, so.store, so.order_type, so.terms,
            so.season, so.ship_via) == ("D01", "W01", "WEBSE", "SE", "ECOM", "PREPAID", "FW26",
                                        "PNORD")
    assert (so.customer_po, so.external_reference) == ("WEB-100234", "centra:1:100234")
    assert so.currency == "SEK"
    assert so.prices_include_tax is True
    assert so.conversion_rate == Decimal("11.47")
    assert (so.order_date, so.start_date, so.cancel_date) == (
        date(2026, 11, 28), date(2026, 11, 28), date(2026, 12, 8))


def test_a_store_label_replaces_the_store_id_in_the_external_reference() -> None:
    """external_reference = centra:<store label>:<number> when a label is given."""
    assert build(store_label="eu").external_reference == "centra:eu:100234"


@pytest.mark.parametrize(
    ("ordered_at", "tz", "expected"),
    [
        (datetime(2026, 11, 28, 23, 30, tzinfo=UTC), "Europe/Stockholm", date(2026, 11, 29)),
        (datetime(2026, 11, 28, 22, 59, tzinfo=UTC), "Europe/Stockholm", date(2026, 11, 28)),
        (datetime(2026, 11, 29, 3, 0, tzinfo=UTC), "America/New_York", date(2026, 11, 28)),
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), "Asia/Tokyo", date(2026, 11, 29)),
        (datetime(2026, 11, 28, 23, 30), "Europe/Stockholm", date(2026, 11, 29)),  # naive = UTC
    ],
)
def test_the_order_date_is_centras_date_in_the_markets_time_zone(
    ordered_at: datetime, tz: str, expected: date
) -> None:
    """A late-evening UTC order is the next day in Stockholm and Tokyo, the same in New York."""
    so = build(order(order_date=ordered_at), market=market(timezone=tz))
    assert (so.order_date, so.start_date) == (expected, expected)


def test_addresses_map_field_by_field_with_the_customer_email_as_fallback() -> None:
    """Name, lines, city, region, postal code, country, email and phone all arrive."""
    o = order(billing_address=Address(company="Lund AB", address1="Box 9", address2="c/o X",
                                      city="Malmö", state="M", zip_code="21119", country="SE",
                                      phone="+46 1"))
    so = build(o)
    assert so.bill_to == PostalAddress(name="Lund AB", line1="Box 9", line2="c/o X",
                                       city="Malmö", region="M", postal_code="21119",
                                       country="SE", email="ada@example.com", phone="+46 1")
    assert so.ship_to.name == "Ada Lund"
    assert so.ship_to.line1 == "Götgatan 1"


def test_cancelled_lines_are_dropped_and_partly_cancelled_lines_post_their_quantity() -> None:
    """Line numbers run 1..n over the lines with units, in Centra's line order."""
    o = order(
        lines=(line(7, qty=0, cancelled=2), line(3, qty=1, cancelled=2), line(5, qty=2)),
        shipping=m("0.00"), shipping_tax=m("0.00"), tax_total=m("60.00"), grand_total=m("300.00"),
    )
    so = build(o)
    assert [(ln.line_no, ln.centra_line_id, ln.quantity) for ln in so.lines] == [
        (1, 3, 1), (2, 5, 2)]
    assert so.line_map() == {3: 1, 5: 2}
    assert so.charges == ()


def test_building_raises_mapping_gaps_before_money_problems() -> None:
    """A market mapping that does not cover the order, then shipping, then SKUs, then totals."""
    bad_money = order(grand_total=m("1.00"), shipping_option="pickup-point")
    with pytest.raises(MappingMissing) as info:
        build(bad_money, market=market(currency="EUR"))
    assert info.value.key == "market:1/SEK"
    with pytest.raises(MappingMissing) as ship:
        build(bad_money)
    assert ship.value.key == "shipping_option:pickup-point"
    with pytest.raises(UnknownSku) as sku:
        build(order(grand_total=m("1.00"), lines=(line(1, n=900), line(2, n=901))))
    assert [u["sku"] for u in sku.value.details["unknown"]] == ["SKU-900", "SKU-901"]


def test_a_frozen_payload_read_back_still_ties_out_to_the_centra_order() -> None:
    """from_dict(to_dict()) of the built order passes the same checks and keeps its hash."""
    so = build(CONTRACT_EXAMPLE)
    again = SalesOrder.from_dict(so.to_dict())
    check_against_centra(again, CONTRACT_EXAMPLE)
    assert again.posted_hash() == so.posted_hash()


def test_a_frozen_payload_checked_against_a_changed_order_names_the_component() -> None:
    """The same checks run on a payload frozen earlier, against today's Centra order."""
    so = build(CONTRACT_EXAMPLE)
    changed = replace(CONTRACT_EXAMPLE, shipping=m("59.00"), grand_total=m("957.20"))
    with pytest.raises(TotalMismatch) as info:
        check_against_centra(so, changed)
    assert info.value.component == "shipping"


# -- BlueCherry's own rules ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["merchandise", "discount", "charges", "tax", "total"])
def test_totals_that_do_not_add_up_as_bluecherry_adds_them_are_refused(field: str) -> None:
    """Each total must add up from lines and charges exactly as the contract defines."""
    so = build(CONTRACT_EXAMPLE)
    bumped = replace(so.totals, **{field: getattr(so.totals, field) + m("0.01")})
    with pytest.raises(TotalMismatch) as info:
        check_bluecherry_rules(replace(so, totals=bumped))
    assert info.value.component == f"totals.{field}"


def test_bluecherry_adds_tax_to_the_total_only_where_prices_exclude_it() -> None:
    """The same lines with prices_include_tax false need a total that includes the tax."""
    so = build(CONTRACT_EXAMPLE)
    with pytest.raises(TotalMismatch):
        check_bluecherry_rules(replace(so, prices_include_tax=False))
    fixed = replace(so.totals, total=so.totals.total + so.totals.tax)
    check_bluecherry_rules(replace(so, prices_include_tax=False, totals=fixed))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda so: replace(so, customer_po=""),
        lambda so: replace(so, lines=()),
        lambda so: replace(so, lines=tuple(replace(ln, line_no=2) for ln in so.lines)),
        lambda so: replace(so, lines=tuple(replace(ln, quantity=0) for ln in so.lines)),
        lambda so: replace(so, lines=tuple(replace(ln, tax=m("-1.00")) for ln in so.lines)),
        lambda so: replace(so, cancel_date=date(2026, 1, 1)),
        lambda so: replace(so, lines=tuple(replace(ln, discount=m("1.00", "EUR"))
                                           for ln in so.lines)),
    ],
)
def test_payloads_bluecherry_would_reject_are_invalid_records(tamper) -> None:  # type: ignore[no-untyped-def]
    """No PO, no lines, repeated line numbers, zero quantity, negative amount, bad dates."""
    with pytest.raises(InvalidRecord):
        check_bluecherry_rules(tamper(build(CONTRACT_EXAMPLE)))
