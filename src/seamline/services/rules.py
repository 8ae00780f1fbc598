"""Settings → the posting domain's plain records (the domain never imports the configuration)."""

from __future__ import annotations

from collections.abc import Iterable

from seamline.config import MarketMapping, Settings
from seamline.domain.erp import CatalogueItem
from seamline.domain.mapping import Catalogue, MarketCodes, PostingRules
from seamline.domain.orders import OrderStatus

__all__ = ["catalogue_from_items", "market_codes", "market_codes_from_settings",
           "posting_rules_from_settings"]


def market_codes(mapping: MarketMapping) -> MarketCodes:
    """One ``[[markets]]`` entry as the domain's ``MarketCodes``."""
    return MarketCodes(
        centra_market=mapping.centra_market, currency=mapping.currency,
        division=mapping.division, warehouse=mapping.warehouse, customer=mapping.customer,
        store=mapping.store, order_type=mapping.order_type, terms=mapping.terms,
        season=mapping.season, mode=mapping.mode, cutoff=mapping.cutoff_time,
        timezone=mapping.timezone, confirm_after_post=mapping.confirm_after_post,
        prices_include_tax=mapping.prices_include_tax,
    )


def market_codes_from_settings(settings: Settings) -> tuple[MarketCodes, ...]:
    """Every configured market mapping, in configuration order."""
    return tuple(market_codes(m) for m in settings.markets)


def posting_rules_from_settings(settings: Settings) -> PostingRules:
    orders = settings.orders
    return PostingRules(
        post_statuses=frozenset(OrderStatus(s) for s in orders.post_statuses),
        customer_po_prefix=orders.customer_po_prefix,
        cancel_after_days=orders.cancel_after_days,
        shipping_options=dict(settings.shipping_options),
        sku_overrides=dict(settings.sku_overrides),
    )


def catalogue_from_items(items: Iterable[CatalogueItem], rules: PostingRules) -> Catalogue:
    """The SKU index over BlueCherry's catalogue, with the configured override table."""
    return Catalogue(items, overrides=rules.sku_overrides)
