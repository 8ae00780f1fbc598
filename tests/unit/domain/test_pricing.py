"""Centra's as-sold amounts become BlueCherry amounts that tie out to the minor unit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from orderkit import catalogue, line, m, market, order, rules

from seamline.domain.orders import Address, TaxPart
from seamline.domain.pricing import (
    build_sales_order,
    check_against_centra,
    check_bluecherry_rules,
    price_order,
)
from seamline.domain.sales_order import PostalAddress, SalesOrder
from seamline.exceptions import InvalidRecord, MappingMissing, TotalMismatch, UnknownSku


def parts(t: str, *rates: tuple[str, str]) -> dict[str, object]:
    cur = t
    return {"tax_breakdown": tuple(TaxPart(rate=Decimal(r), amount=m(a, cur)) for r, a in rates)}


def build(o=None, **kw):  # type: ignore[no-untyped-def]
    return build_sales_order(o or order(), market=kw.pop("market", market()),
                             rules=kw.pop("rules", rules()), catalogue=catalogue(), **kw)


CONTRACT_EXAMPLE = order(
    lines=(line(1, qty=2, original="499.00", price="449.10"),),
    shipping=m("49.00"), shipping_tax=m("9.80"), tax_total=m("189.44"),
    tax_breakdown=(TaxPart(rate=Decimal(25), amount=m("189.44")),), grand_total=m("947.20"),
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


def test_a_voucher_and_two_rates_split_by_line_value_and_by_rate() -> None:
    """Voucher 50 over lines of 300 and 200; each rate's tax lands on its own lines only."""
    o = order(
        lines=(line(1, original="300.00"), line(2, qty=2, original="100.00", rate="12")),
        voucher_discount=m("50.00"), shipping=m("49.00"), shipping_tax=m("9.80"),
        tax_total=m("83.09"), grand_total=m("499.00"),
        **parts("SEK", ("25", "63.80"), ("12", "19.29")),
    )
    p = price_order(o)
    assert [(pl.discount.wire(), pl.voucher_share.wire(), pl.tax.wire()) for pl in p.lines] == [
        ("30.00", "30.00", "54.00"), ("20.00", "20.00", "19.29")]
    assert p.charges[0].tax == m("9.80")
    assert p.totals.total == m("499.00")


def test_a_voucher_splits_by_largest_remainder_with_ties_to_the_earlier_line() -> None:
    """100.00 over three equal lines is 33.34 + 33.33 + 33.33, the first line taking the öre."""
    o = order(
        lines=(line(1), line(2), line(3)), voucher_discount=m("100.00"), shipping=m("0.00"),
        shipping_tax=m("0.00"), tax_total=m("40.00"), grand_total=m("200.00"),
        **parts("SEK", ("25", "40.00")),
    )
    p = price_order(o)
    assert [pl.voucher_share.wire() for pl in p.lines] == ["33.34", "33.33", "33.33"]
    # Nets 66.66, 66.67, 66.67: the leftover öre of tax goes to the earlier of the tied two.
    assert [pl.tax.wire() for pl in p.lines] == ["13.33", "13.34", "13.33"]
    assert p.charges == ()


def test_campaign_and_line_discounts_and_the_voucher_share_all_count_as_discount() -> None:
    """discount = unit_original x qty − (line value − voucher share)."""
    o = order(
        lines=(line(1, qty=3, original="200.00", price="150.00", value="420.00"),),
        voucher_discount=m("20.00"), shipping=m("0.00"), shipping_tax=m("0.00"),
        tax_total=m("80.00"), grand_total=m("400.00"), **parts("SEK", ("25", "80.00")),
    )
    (pl,) = price_order(o).lines
    assert (pl.unit_price, pl.discount, pl.net) == (m("200.00"), m("200.00"), m("400.00"))


def test_sales_tax_is_added_on_top_and_a_fine_rate_keeps_its_decimals() -> None:
    """USD, 8.875% added: total = merchandise − discount + charges + tax; rate sent as 8.875."""
    usd = "USD"
    o = order(
        currency=usd, prices_include_tax=False, market_id=5,
        lines=(line(1, qty=2, original="50.00", rate="8.875", currency=usd),),
        shipping=m("7.50", usd), shipping_tax=m("0.00", usd), voucher_discount=m("0", usd),
        tax_total=m("8.88", usd), grand_total=m("116.38", usd),
        tax_breakdown=(TaxPart(rate=Decimal("8.875"), amount=m("8.88", usd)),),
    )
    so = build(o, market=market(centra_market=5, currency=None, timezone="America/New_York"))
    assert so.totals.total == m("116.38", usd)
    assert so.to_dict()["lines"][0]["tax_rate"] == "8.875"
    assert so.charges[0].tax_rate == Decimal(0)
    check_against_centra(SalesOrder.from_dict(so.to_dict()), o)


@pytest.mark.parametrize(
    ("currency", "price", "tax", "ship", "ship_tax", "rate"),
    [
        ("JPY", "12800", "1164", "800", "73", "10"),
        ("KWD", "12.345", "0.661", "1.500", "0.071", "5"),
        ("GBP", "49.99", "8.33", "3.95", "0.66", "20"),
    ],
)
def test_each_currency_posts_in_its_own_minor_unit(
    currency: str, price: str, tax: str, ship: str, ship_tax: str, rate: str
) -> None:
    """JPY has no decimals and KWD three: every amount is sent with exactly that many."""
    total_tax = str(m(tax, currency).amount + m(ship_tax, currency).amount)
    grand = str(m(price, currency).amount + m(ship, currency).amount)
    o = order(
        currency=currency, lines=(line(1, original=price, rate=rate, currency=currency),),
        shipping=m(ship, currency), shipping_tax=m(ship_tax, currency),
        voucher_discount=m("0", currency), tax_total=m(total_tax, currency),
        tax_breakdown=(TaxPart(rate=Decimal(rate), amount=m(total_tax, currency)),),
        grand_total=m(grand, currency),
    )
    so = build(o, market=market(currency=None))
    d = so.to_dict()
    assert d["lines"][0]["tax"] == tax
    assert d["totals"]["total"] == grand
    assert d["charges"][0]["tax"] == ship_tax


def test_shipping_tax_rate_is_inferred_from_the_breakdown_when_centra_omits_it() -> None:
    """Lines at 25% and 12%, 49.00 freight with 9.80 tax: the freight is at 25%."""
    o = order(
        lines=(line(1, original="300.00"), line(2, qty=2, original="100.00", rate="12")),
        voucher_discount=m("50.00"), tax_total=m("83.09"), grand_total=m("499.00"),
        **parts("SEK", ("25", "63.80"), ("12", "19.29")),
    )
    assert price_order(o).charges[0].tax_rate == Decimal("25.00")


def test_shipping_at_a_rate_no_line_carries_is_found_by_its_exact_total() -> None:
    """All lines at 12%, freight VAT alone at 25%: the 25% total is the freight's."""
    o = order(
        lines=(line(1, original="112.00", rate="12"),), tax_total=m("21.80"),
        grand_total=m("161.00"), **parts("SEK", ("12", "12.00"), ("25", "9.80")),
    )
    p = price_order(o)
    assert (p.charges[0].tax_rate, p.lines[0].tax) == (Decimal("25.00"), m("12.00"))


def test_centras_shipping_tax_rate_is_used_when_given() -> None:
    """shipping_tax_percent from Centra decides the freight's rate."""
    o = order(
        lines=(line(1, original="300.00"), line(2, qty=2, original="100.00", rate="12")),
        voucher_discount=m("50.00"), shipping=m("49.00"), shipping_tax=m("5.25"),
        shipping_tax_percent=Decimal(12), tax_total=m("78.54"), grand_total=m("499.00"),
        **parts("SEK", ("25", "54.00"), ("12", "24.54")),
    )
    p = price_order(o)
    assert (p.charges[0].tax_rate, p.lines[0].tax, p.lines[1].tax) == (
        Decimal("12.00"), m("54.00"), m("19.29"))


def test_an_order_with_no_breakdown_and_one_rate_takes_the_tax_total_as_that_rate() -> None:
    """Without a per-rate breakdown, one rate over lines and shipping is enough."""
    o = order(tax_breakdown=())
    assert price_order(o).totals.tax == m("29.80")


def test_an_export_with_tax_deducted_posts_no_tax() -> None:
    """Tax total 0 with lines at several rates and no breakdown: no tax anywhere."""
    o = order(lines=(line(1, original="80.00"), line(2, original="20.00", rate="12")),
              shipping_tax=m("0.00"), tax_total=m("0.00"), tax_breakdown=(),
              grand_total=m("149.00"))
    p = price_order(o)
    assert [pl.tax for pl in p.lines] == [m("0.00"), m("0.00")]


@pytest.mark.parametrize(
    ("changes", "component"),
    [
        ({"grand_total": m("149.01")}, "grand_total"),
        ({"grand_total": m("148.99")}, "grand_total"),
        ({"tax_total": m("29.81")}, "tax_total"),
        ({"tax_total": m("30.80"), **parts("SEK", ("25", "29.80"), ("6", "1.00"))},
         "tax_rate:6.00"),
        ({"tax_total": m("5.00"), **parts("SEK", ("25", "5.00")),
          "shipping_tax_percent": Decimal(25)}, "tax_rate:25.00"),
        ({"shipping": m("0.00"), "grand_total": m("100.00")}, "shipping"),
        ({"shipping_tax": m("50.00"), "tax_total": m("70.00"),
          **parts("SEK", ("25", "70.00"))}, "shipping"),
        ({"shipping_tax": m("-1.00")}, "shipping"),
        ({"lines": (line(1, original="100.00", value="100.01"),)}, "lines"),
        ({"voucher_discount": m("100.01")}, "lines"),
        ({"lines": (line(1, original="80.00"), line(2, original="20.00", rate="12")),
          "tax_breakdown": ()}, "tax_breakdown"),
        ({"lines": (line(1, rate="0"),), **parts("SEK", ("0", "20.00"), ("25", "9.80"))},
         "tax_rate:0.00"),
        ({**parts("SEK", ("25", "30.80"), ("12", "-1.00"))}, "tax_rate:12.00"),
        # Only the 12% total can hold the freight tax, and no line carries 12%.
        ({**parts("SEK", ("25", "9.00"), ("12", "20.80"))}, "tax_rate:12.00"),
    ],
)
def test_centra_figures_that_do_not_tie_out_name_the_component(
    changes: dict[str, object], component: str
) -> None:
    """Every mismatch is a TotalMismatch for finance naming what differs; nothing is absorbed."""
    with pytest.raises(TotalMismatch) as info:
        price_order(order(**changes))
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
        shipping=m("0.00"), shipping_tax=m("0.00"), tax_total=m("60.00"),
        tax_breakdown=(TaxPart(rate=Decimal(25), amount=m("60.00")),), grand_total=m("300.00"),
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
