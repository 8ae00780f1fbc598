"""The service builds the domain's plain records from the typed settings."""

from __future__ import annotations

from datetime import time

from orderkit import catalogue_items

from seamline.config import Settings
from seamline.domain.orders import OrderStatus
from seamline.services.rules import (
    catalogue_from_items,
    market_codes_from_settings,
    posting_rules_from_settings,
)


def test_settings_become_market_codes_and_posting_rules() -> None:
    """Every [[markets]] field, [orders], [shipping_options] and sku_overrides arrive."""
    settings = Settings.model_validate({
        "orders": {"post_statuses": ["CONFIRMED"], "customer_po_prefix": "W",
                   "cancel_after_days": 7},
        "markets": [{"centra_market": 1, "currency": "sek", "division": "D01",
                     "warehouse": "W01", "customer": "WEBSE", "store": "SE",
                     "order_type": "ECOM", "terms": "PREPAID", "season": "FW26",
                     "prices_include_tax": False, "mode": "daily", "cutoff": "22:30",
                     "timezone": "Europe/Stockholm",
                     "confirm_after_post": True}],
        "shipping_options": {"se-standard": "PNORD"},
        "sku_overrides": {"CENTRA-1": "SKU-3"},
    })
    (codes,) = market_codes_from_settings(settings)
    assert codes.prices_include_tax is False
    assert (codes.currency, codes.mode, codes.cutoff, codes.timezone, codes.confirm_after_post,
            codes.customer) == ("SEK", "daily", time(22, 30), "Europe/Stockholm", True, "WEBSE")
    r = posting_rules_from_settings(settings)
    assert r.post_statuses == frozenset({OrderStatus.CONFIRMED})
    assert (r.customer_po_prefix, r.cancel_after_days) == ("W", 7)
    assert dict(r.shipping_options) == {"se-standard": "PNORD"}
    cat = catalogue_from_items(catalogue_items(5), r)
    assert cat.resolve("CENTRA-1").sku == "SKU-3"
