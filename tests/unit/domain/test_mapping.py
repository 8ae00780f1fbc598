"""Mapping Centra markets, shipping options and SKUs to BlueCherry codes."""

from __future__ import annotations

from datetime import time

import pytest
from orderkit import catalogue, line, market, order, rules, upc

from seamline.domain.erp import CatalogueItem
from seamline.domain.mapping import (
    Catalogue,
    MarketCodes,
    PostingRules,
    find_market,
    mapping_gaps,
    resolve_market,
    ship_via_for,
)
from seamline.domain.orders import OrderStatus
from seamline.exceptions import InvalidRecord, MappingMissing, UnknownSku

MARKETS = (
    market(centra_market=1, currency=None, customer="WEB-ANY"),
    market(centra_market=1, currency="EUR", customer="WEB-EUR"),
    market(centra_market=2, currency="sek", customer="WEB-2"),
)


@pytest.mark.parametrize(
    ("market_id", "currency", "customer"),
    [
        (1, "EUR", "WEB-EUR"),   # currency-specific entry wins over the catch-all
        (1, "eur", "WEB-EUR"),   # currency codes compare case-insensitively
        (1, "SEK", "WEB-ANY"),   # catch-all covers the market's other currencies
        (2, "SEK", "WEB-2"),
        (2, "EUR", None),        # a currency-specific entry does not cover other currencies
        (6, "NOK", None),
    ],
)
def test_find_market_prefers_the_currency_specific_mapping(
    market_id: int, currency: str, customer: str | None
) -> None:
    """A market's currency-specific mapping wins; a catch-all covers the rest; else nothing."""
    found = find_market(MARKETS, market_id, currency)
    assert (found.customer if found else None) == customer


def test_an_unmapped_market_names_the_market_and_currency_key() -> None:
    """The missing-mapping key is market:<id>/<CUR>, one key per mapping to add."""
    with pytest.raises(MappingMissing) as info:
        resolve_market(MARKETS, order(market_id=6, currency="NOK"))
    assert (info.value.kind, info.value.key) == ("market", "market:6/NOK")
    assert info.value.exception_type == "MAPPING_MISSING"
    assert info.value.owner_for() == "ecommerce"


def test_an_unmapped_shipping_option_names_the_option_key() -> None:
    """shipping_option:<uri> names the option; a missing option is named '(none)'."""
    with pytest.raises(MappingMissing) as info:
        ship_via_for(order(shipping_option="pickup-point"), rules())
    assert (info.value.kind, info.value.key) == ("shipping_option", "shipping_option:pickup-point")
    with pytest.raises(MappingMissing) as none:
        ship_via_for(order(shipping_option=None), rules())
    assert none.value.key == "shipping_option:(none)"
    assert ship_via_for(order(), rules()) == "PNORD"


def test_mapping_gaps_lists_every_missing_key_once_in_a_stable_order() -> None:
    """Market, then shipping option, then each unknown SKU once; mapped orders have none."""
    o = order(
        market_id=6, currency="NOK", shipping_option="pickup-point",
        lines=(line(1, n=500, currency="NOK"), line(2, currency="NOK"),
               line(3, n=501, currency="NOK"), line(4, n=500, currency="NOK")),
    )
    gaps = mapping_gaps(o, markets=MARKETS, rules=rules(), catalogue=catalogue())
    keys = [g.key if isinstance(g, MappingMissing) else g.sku for g in gaps]
    assert keys == ["market:6/NOK", "shipping_option:pickup-point", "SKU-500", "SKU-501"]
    assert mapping_gaps(order(), markets=MARKETS, rules=rules(), catalogue=catalogue()) == []


def test_mapping_gaps_ignore_fully_cancelled_lines() -> None:
    """A line with no units left is not looked up: it will not be posted."""
    o = order(lines=(line(1), line(2, n=999, qty=0, cancelled=1)))
    assert mapping_gaps(o, markets=MARKETS, rules=rules(), catalogue=catalogue()) == []


def test_market_codes_refuse_an_unknown_mode() -> None:
    """Only 'realtime' and 'daily' are posting modes."""
    with pytest.raises(InvalidRecord):
        market(mode="hourly")
    assert market(currency="sek", cutoff=time(22, 0)).currency == "SEK"


def test_posting_rules_read_statuses_as_centra_statuses() -> None:
    """Statuses given as strings become OrderStatus members; negative day counts are refused."""
    r = PostingRules(post_statuses=frozenset({"PENDING"}))  # type: ignore[arg-type]
    assert r.post_statuses == frozenset({OrderStatus.PENDING})
    with pytest.raises(InvalidRecord):
        PostingRules(cancel_after_days=-1)


def test_market_codes_are_plain_immutable_records() -> None:
    """MarketCodes cannot be changed after the service built them."""
    codes = market()
    with pytest.raises(AttributeError):
        codes.division = "D02"  # type: ignore[misc]
    assert isinstance(codes, MarketCodes)


# -- catalogue --------------------------------------------------------------------------------

UPC7 = upc(7)  # 12-digit UPC-A of catalogue item SKU-7


@pytest.mark.parametrize(
    ("sku", "ean", "expected_sku", "matched_by"),
    [
        ("x", "0" + UPC7, "SKU-7", "gtin"),          # EAN-13 = "0" + UPC-A
        ("x", UPC7, "SKU-7", "gtin"),                # UPC-A itself
        ("x", "00" + UPC7, "SKU-7", "gtin"),         # GTIN-14
        ("x", " 0" + UPC7 + " ", "SKU-7", "gtin"),   # surrounding blanks
        ("SKU-9", "0" + UPC7, "SKU-7", "gtin"),      # GTIN wins over a disagreeing SKU string
        ("SKU-9", "", "SKU-9", "sku"),               # no EAN: by SKU
        ("SKU-9", "not-a-gtin", "SKU-9", "sku"),     # malformed EAN: by SKU
        ("SKU-9", "04000000000000", "SKU-9", "sku"),  # EAN not in the catalogue: by SKU
    ],
)
def test_catalogue_resolves_by_gtin_then_by_sku(
    sku: str, ean: str, expected_sku: str, matched_by: str
) -> None:
    """EAN-13, UPC-A and GTIN-14 of one item meet at 14 digits; the SKU string is the fallback."""
    found = catalogue().resolve(sku, ean)
    assert (found.sku, found.matched_by) == (expected_sku, matched_by)
    assert found.upc == catalogue().item(expected_sku).upc  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("overrides", "sku", "ean", "expected_sku"),
    [
        ({"CENTRA-1": "SKU-3"}, "CENTRA-1", "0" + UPC7, "SKU-3"),   # by Centra SKU, over GTIN
        ({"0" + UPC7: "SKU-4"}, "x", "0" + UPC7, "SKU-4"),          # by the exact EAN
        ({UPC7: "SKU-5"}, "x", "0" + UPC7, "SKU-5"),                # by GTIN, any length
        ({"00" + UPC7: "SKU-6"}, "x", UPC7, "SKU-6"),
    ],
)
def test_an_override_wins_over_gtin_and_sku(
    overrides: dict[str, str], sku: str, ean: str, expected_sku: str
) -> None:
    """The explicit override table is consulted first, keyed by Centra SKU or GTIN."""
    found = catalogue(overrides=overrides).resolve(sku, ean)
    assert (found.sku, found.upc, found.matched_by) == (expected_sku, upc(int(expected_sku[4:])),
                                                         "override")


def test_an_override_to_a_sku_not_in_the_catalogue_is_an_unknown_sku() -> None:
    """An override naming a missing BlueCherry SKU is reported, not silently bypassed."""
    with pytest.raises(UnknownSku) as info:
        catalogue(overrides={"CENTRA-1": "GONE"}).resolve("CENTRA-1", "0" + UPC7)
    assert info.value.sku == "CENTRA-1"
    assert info.value.details["override"] == "GONE"
    assert "GONE" in info.value.message


def test_an_unknown_sku_names_the_sku_and_the_ean() -> None:
    """UNKNOWN_SKU names both the Centra SKU and its EAN, owned by ecommerce."""
    with pytest.raises(UnknownSku) as info:
        catalogue().resolve("ST9-BLK-M", "0735099999999")
    assert (info.value.sku, info.value.gtin) == ("ST9-BLK-M", "0735099999999")
    assert "ST9-BLK-M" in info.value.message
    assert "0735099999999" in info.value.message
    assert info.value.owner_for() == "ecommerce"


def test_resolving_an_orders_lines_reports_every_unknown_sku_at_once() -> None:
    """The error names the first unknown SKU and lists all of them, each once, in line order."""
    lines = (line(1), line(2, n=800), line(3, n=801), line(4, n=800))
    with pytest.raises(UnknownSku) as info:
        catalogue().resolve_lines(lines)
    assert info.value.sku == "SKU-800"
    assert [u["sku"] for u in info.value.details["unknown"]] == ["SKU-800", "SKU-801"]


def test_duplicate_catalogue_entries_resolve_to_the_first_given() -> None:
    """Where BlueCherry data repeats a GTIN, the first item wins (deterministic)."""
    cat = Catalogue([CatalogueItem(sku="A", upc=UPC7), CatalogueItem(sku="B", upc=UPC7)])
    assert cat.resolve("x", "0" + UPC7).sku == "A"
    assert len(cat) == 2
    assert "B" in cat
