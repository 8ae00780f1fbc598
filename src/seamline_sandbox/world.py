"""One simulated world shared by both sandboxes: the catalogue, the markets and BlueCherry's
master data, all derived deterministically from a seed.

The Centra sandbox sells the catalogue's sizes by EAN-13 (``"0"`` + the UPC-A, as real brands
usually do); the BlueCherry sandbox holds the same items by UPC-A, so joining on the GTIN
normalised to 14 digits links the two. A few items exist in Centra only (``centra_only``): orders
for them must end as ``UNKNOWN_SKU``. One market (NO) and one shipping option (``pickup-point``)
are deliberately left out of ``examples/seamline.toml``, so orders in them end as
``MAPPING_MISSING``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

__all__ = [
    "CatalogueItem",
    "Market",
    "World",
    "build_world",
    "upc_check_digit",
]

COLOURS = (("BLK", "Black"), ("NVY", "Navy"), ("OAT", "Oatmeal"), ("OLV", "Olive"),
           ("RST", "Rust"), ("WHT", "White"))
SIZES = ("XS", "S", "M", "L", "XL")
NOUNS = ("Overshirt", "Knit", "Trouser", "Coat", "Tee", "Cardigan", "Jacket", "Skirt",
         "Hoodie", "Dress", "Blazer", "Scarf")
ADJECTIVES = ("Åre", "Linné", "Söder", "Hamburg", "Kyoto", "Brooklyn", "Bergen", "Soho",
              "Lisboa", "Malmö", "Zürich", "Osaka")


def upc_check_digit(first11: str) -> str:
    """The UPC-A check digit for 11 digits."""
    odd = sum(int(d) for d in first11[0::2])
    even = sum(int(d) for d in first11[1::2])
    return str((10 - (odd * 3 + even) % 10) % 10)


@dataclass(frozen=True, kw_only=True, slots=True)
class Market:
    """A Centra market with the one store/pricelist/currency it sells in."""

    id: int
    code: str
    name: str
    currency: str
    country: str
    #: VAT markets sell at tax-inclusive prices; the US market adds sales tax on top.
    prices_include_tax: bool
    #: Standard rate in percent; a reduced rate is used for a few items where the market has one.
    tax_rate: Decimal
    reduced_rate: Decimal | None
    #: Multiplier from the SEK price list, and the rounding step of the local price list.
    price_factor: Decimal
    price_step: Decimal
    shipping_option: str
    shipping_price: Decimal
    free_shipping_over: Decimal
    #: Share of generated orders.
    weight: int
    #: Conversion rate to the base currency (SEK).
    conversion_rate: Decimal
    centra_warehouse: int
    time_zone: str
    #: A fixed handling fee (price mode) some of the market's orders carry (0: none). It is
    #: taxed at the standard rate, like shipping.
    handling_fee: Decimal = Decimal(0)


MARKETS: tuple[Market, ...] = (
    Market(id=1, code="SE", name="Sweden", currency="SEK", country="SE", prices_include_tax=True,
           tax_rate=Decimal(25), reduced_rate=None, price_factor=Decimal(1),
           price_step=Decimal(1), shipping_option="se-standard", shipping_price=Decimal(49),
           free_shipping_over=Decimal(1500), weight=30, conversion_rate=Decimal(1),
           centra_warehouse=1, time_zone="Europe/Stockholm"),
    Market(id=2, code="DE", name="Germany", currency="EUR", country="DE", prices_include_tax=True,
           tax_rate=Decimal(19), reduced_rate=Decimal(7), price_factor=Decimal("0.0925"),
           price_step=Decimal("0.05"), shipping_option="eu-standard",
           shipping_price=Decimal("4.95"), free_shipping_over=Decimal(150), weight=25,
           conversion_rate=Decimal("11.47"), centra_warehouse=1, time_zone="Europe/Berlin",
           handling_fee=Decimal("2.50")),
    Market(id=3, code="GB", name="United Kingdom", currency="GBP", country="GB",
           prices_include_tax=True, tax_rate=Decimal(20), reduced_rate=Decimal(0),
           price_factor=Decimal("0.079"), price_step=Decimal("0.05"),
           shipping_option="gb-standard", shipping_price=Decimal("3.95"),
           free_shipping_over=Decimal(120), weight=15, conversion_rate=Decimal("13.52"),
           centra_warehouse=1, time_zone="Europe/London"),
    Market(id=4, code="JP", name="Japan", currency="JPY", country="JP", prices_include_tax=True,
           tax_rate=Decimal(10), reduced_rate=Decimal(8), price_factor=Decimal("14.5"),
           price_step=Decimal(100), shipping_option="jp-standard", shipping_price=Decimal(800),
           free_shipping_over=Decimal(20000), weight=10, conversion_rate=Decimal("0.0712"),
           centra_warehouse=3, time_zone="Asia/Tokyo"),
    Market(id=5, code="US", name="United States", currency="USD", country="US",
           prices_include_tax=False, tax_rate=Decimal("8.875"), reduced_rate=None,
           price_factor=Decimal("0.085"), price_step=Decimal(1), shipping_option="us-ground",
           shipping_price=Decimal("7.50"), free_shipping_over=Decimal(150), weight=15,
           conversion_rate=Decimal("10.61"), centra_warehouse=2, time_zone="America/New_York",
           handling_fee=Decimal("3.00")),
    # Deliberately unmapped in examples/seamline.toml: its orders end as MAPPING_MISSING.
    Market(id=6, code="NO", name="Norway", currency="NOK", country="NO", prices_include_tax=True,
           tax_rate=Decimal(25), reduced_rate=None, price_factor=Decimal("1.02"),
           price_step=Decimal(1), shipping_option="no-standard", shipping_price=Decimal(59),
           free_shipping_over=Decimal(1500), weight=5, conversion_rate=Decimal("0.98"),
           centra_warehouse=1, time_zone="Europe/Oslo"),
)

#: A shipping option no configuration maps (a few orders use it: MAPPING_MISSING).
UNMAPPED_SHIPPING_OPTION = "pickup-point"

#: Centra warehouses (id → name) and the BlueCherry warehouse each one mirrors.
CENTRA_WAREHOUSES: dict[int, tuple[str, str]] = {
    1: ("EU Main", "W01"),
    2: ("US East", "W02"),
    3: ("Japan", "W03"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogueItem:
    style: str
    colour: str
    colour_name: str
    size: str
    #: BlueCherry SKU, ``STYLE-COLOR-SIZE``; Centra's ``productSize.SKU`` carries the same.
    sku: str
    upc: str
    ean: str
    name: str
    #: Price in SEK including 25% VAT; other markets derive from it.
    base_price: Decimal
    #: Sold at the market's reduced VAT rate (children's wear, books...), where there is one.
    reduced_tax: bool
    #: In Centra's catalogue but not in BlueCherry's (orders for it are UNKNOWN_SKU).
    centra_only: bool
    #: Centra ids.
    product_id: int
    variant_id: int
    size_id: int


@dataclass(frozen=True, kw_only=True)
class World:
    seed: int
    catalogue: tuple[CatalogueItem, ...]
    markets: tuple[Market, ...] = MARKETS
    by_sku: dict[str, CatalogueItem] = field(default_factory=dict)
    by_ean: dict[str, CatalogueItem] = field(default_factory=dict)

    def market(self, market_id: int) -> Market:
        for m in self.markets:
            if m.id == market_id:
                return m
        raise KeyError(market_id)

    def price(self, item: CatalogueItem, market: Market) -> Decimal:
        """The pricelist unit price of an item in a market (tax-inclusive or -exclusive)."""
        raw = item.base_price * market.price_factor
        if not market.prices_include_tax:
            raw = raw / Decimal("1.25")
        step = market.price_step
        return max(step, (raw / step).quantize(Decimal(1)) * step)

    def bluecherry_items(self) -> tuple[CatalogueItem, ...]:
        return tuple(i for i in self.catalogue if not i.centra_only)


@lru_cache(maxsize=8)
def build_world(seed: int = 1, styles: int = 40) -> World:
    """The deterministic world for a seed: ``styles`` styles × 3 colours × 5 sizes."""
    rng = random.Random(seed)
    items: list[CatalogueItem] = []
    size_id = 1
    variant_id = 1
    for s in range(styles):
        style = f"ST{1001 + s}"
        name = f"{ADJECTIVES[s % len(ADJECTIVES)]} {NOUNS[(s * 7) % len(NOUNS)]}"
        base = Decimal(rng.choice((299, 399, 499, 599, 799, 999, 1299, 1499, 1999, 2499)))
        reduced = s % 13 == 5
        colours = rng.sample(COLOURS, 3)
        for colour, colour_name in colours:
            for size in SIZES:
                ci = COLOURS.index((colour, colour_name))
                # 11 digits: the first thousand styles keep their historical UPCs.
                head = f"7350{s:03d}" if s < 1000 else f"8{s:06d}"
                first11 = f"{head}{ci:01d}{SIZES.index(size):01d}{seed % 100:02d}"
                upc = first11 + upc_check_digit(first11)
                items.append(CatalogueItem(
                    style=style, colour=colour, colour_name=colour_name, size=size,
                    sku=f"{style}-{colour}-{size}", upc=upc, ean="0" + upc,
                    name=name, base_price=base, reduced_tax=reduced,
                    centra_only=(s == styles - 1 and colour == colours[0][0]),
                    product_id=1001 + s, variant_id=variant_id, size_id=size_id,
                ))
                size_id += 1
            variant_id += 1
    return World(
        seed=seed,
        catalogue=tuple(items),
        by_sku={i.sku: i for i in items},
        by_ean={i.ean: i for i in items},
    )


# -- BlueCherry master data (the codes examples/seamline.toml maps to) ---------------------------

#: division code → name
BC_DIVISIONS: dict[str, str] = {"D01": "Ecommerce Europe", "D02": "Ecommerce Americas & Asia"}
#: warehouse code → (name, division)
BC_WAREHOUSES: dict[str, tuple[str, str]] = {
    "W01": ("Borås DC", "D01"),
    "W02": ("New Jersey DC", "D02"),
    "W03": ("Chiba DC", "D02"),
}
#: customer code → (name, division, currency, terms, stores)
BC_CUSTOMERS: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "WEBSE": ("Web Sweden", "D01", "SEK", "PREPAID", ("SE",)),
    "WEBEU": ("Web Eurozone", "D01", "EUR", "PREPAID", ("DE", "FR", "NL")),
    "WEBGB": ("Web United Kingdom", "D01", "GBP", "PREPAID", ("GB",)),
    "WEBJP": ("Web Japan", "D02", "JPY", "PREPAID", ("JP",)),
    "WEBUS": ("Web United States", "D02", "USD", "PREPAID", ("US",)),
    "WHNORD": ("Nordic Wholesale AB", "D01", "SEK", "NET30", ("STHLM", "GBG")),
}
#: ship via code → (SCAC, name)
BC_SHIP_VIAS: dict[str, tuple[str, str]] = {
    "PNORD": ("PNOR", "PostNord Parcel"),
    "DHLP": ("DHLP", "DHL Paket"),
    "RMTR": ("RMTR", "Royal Mail Tracked 48"),
    "YAMT": ("YAMT", "Yamato TA-Q-BIN"),
    "UPSG": ("UPSN", "UPS Ground"),
}
BC_ORDER_TYPES: dict[str, str] = {"ECOM": "Ecommerce", "WHSL": "Wholesale"}
BC_TERMS: dict[str, str] = {"PREPAID": "Prepaid", "NET30": "Net 30 days"}
#: season code → (name, division or "" for all)
BC_SEASONS: dict[str, tuple[str, str]] = {
    "FW26": ("Fall/Winter 2026", ""),
    "SS27": ("Spring/Summer 2027", ""),
}

#: Centra market id → the BlueCherry codes examples/seamline.toml maps it to (NO is unmapped).
MARKET_CODES: dict[int, dict[str, str]] = {
    1: {"division": "D01", "warehouse": "W01", "customer": "WEBSE", "store": "SE"},
    2: {"division": "D01", "warehouse": "W01", "customer": "WEBEU", "store": "DE"},
    3: {"division": "D01", "warehouse": "W01", "customer": "WEBGB", "store": "GB"},
    4: {"division": "D02", "warehouse": "W03", "customer": "WEBJP", "store": "JP"},
    5: {"division": "D02", "warehouse": "W02", "customer": "WEBUS", "store": "US"},
}
#: Centra shipping option uri → BlueCherry ship via (``pickup-point`` is unmapped on purpose).
SHIPPING_CODES: dict[str, str] = {
    "se-standard": "PNORD",
    "eu-standard": "DHLP",
    "gb-standard": "RMTR",
    "jp-standard": "YAMT",
    "us-ground": "UPSG",
    "no-standard": "PNORD",
}
