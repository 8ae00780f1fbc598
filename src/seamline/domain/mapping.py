"""Mapping Centra's vocabulary to BlueCherry's: markets, shipping options, SKUs. Pure, no I/O.

The service layer builds :class:`MarketCodes` and :class:`PostingRules` from the typed settings
(``seamline.services.rules``) so the domain never imports the configuration, and builds a
:class:`Catalogue` from the BlueCherry catalogue it synced.

Every mapping gap is named by a *key* that identifies exactly what must be added
(``market:6/NOK``, ``shipping_option:pickup-point``, an unknown SKU): the exception record for
it is one per key, not one per order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo

from seamline.domain.erp import CatalogueItem, normalise_gtin
from seamline.domain.orders import CentraOrder, OrderLine, OrderStatus
from seamline.exceptions import InvalidRecord, MappingMissing, UnknownSku

__all__ = [
    "Catalogue",
    "MarketCodes",
    "PostingMode",
    "PostingRules",
    "ResolvedSku",
    "find_market",
    "mapping_gaps",
    "market_key",
    "resolve_market",
    "ship_via_for",
    "shipping_option_key",
]

PostingMode = Literal["realtime", "daily"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketCodes:
    """One Centra market (and currency, where a market sells in several) → BlueCherry codes."""

    centra_market: int
    #: ``None`` covers every currency of the market not mapped on its own.
    currency: str | None = None
    division: str
    warehouse: str
    customer: str
    store: str
    order_type: str
    terms: str
    season: str
    #: The market's configured tax mode: prices include tax (VAT) or exclude it (sales tax).
    prices_include_tax: bool
    mode: PostingMode = "realtime"
    #: Daily-batch cut-off, wall-clock time in ``timezone``.
    cutoff: time = time(23, 0)
    #: IANA time zone name, e.g. ``Europe/Stockholm``.
    timezone: str = "UTC"
    confirm_after_post: bool = False

    def __post_init__(self) -> None:
        if self.currency is not None:
            object.__setattr__(self, "currency", self.currency.upper())
        if self.mode not in ("realtime", "daily"):
            raise InvalidRecord(f"market {self.centra_market}: mode {self.mode!r} is not "
                                "'realtime' or 'daily'")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def covers(self, market_id: int, currency: str) -> bool:
        return self.centra_market == market_id and (
            self.currency is None or self.currency == currency.upper()
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class PostingRules:
    """Order-wide posting rules (the ``[orders]``, ``[shipping_options]`` and overrides)."""

    post_statuses: frozenset[OrderStatus] = frozenset(
        {OrderStatus.PENDING, OrderStatus.CONFIRMED}
    )
    customer_po_prefix: str = ""
    cancel_after_days: int = 14
    #: Centra shipping option uri → BlueCherry ship via.
    shipping_options: Mapping[str, str] = field(default_factory=dict)
    #: Centra SKU or GTIN → BlueCherry SKU.
    sku_overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "post_statuses", frozenset(OrderStatus(s) for s in self.post_statuses)
        )
        if self.cancel_after_days < 0:
            raise InvalidRecord("cancel_after_days must not be negative")


# -- markets and shipping options ------------------------------------------------------------


def market_key(market_id: int, currency: str) -> str:
    """The key naming a market mapping: ``market:6/NOK``."""
    return f"market:{market_id}/{currency.upper()}"


def shipping_option_key(option: str | None) -> str:
    """The key naming a shipping-option mapping: ``shipping_option:pickup-point``."""
    return f"shipping_option:{option or '(none)'}"


def find_market(
    markets: Iterable[MarketCodes], market_id: int, currency: str
) -> MarketCodes | None:
    """The mapping for a market and currency; a currency-specific entry wins over a catch-all."""
    fallback: MarketCodes | None = None
    for m in markets:
        if m.centra_market != market_id:
            continue
        if m.currency == currency.upper():
            return m
        if m.currency is None and fallback is None:
            fallback = m
    return fallback


def resolve_market(markets: Iterable[MarketCodes], order: CentraOrder) -> MarketCodes:
    """The order's market mapping, or ``MappingMissing(kind='market', key='market:<id>/<CUR>')``."""
    found = find_market(markets, order.market_id, order.currency)
    if found is None:
        raise MappingMissing(
            kind="market", key=market_key(order.market_id, order.currency),
            market_id=order.market_id, currency=order.currency.upper(),
            market_name=order.market_name, order=order.number,
        )
    return found


def ship_via_for(order: CentraOrder, rules: PostingRules) -> str:
    """BlueCherry ship via for the order's shipping option, or ``MappingMissing``."""
    option = order.shipping_option or ""
    via = rules.shipping_options.get(option) if option else None
    if not via:
        raise MappingMissing(
            kind="shipping_option", key=shipping_option_key(order.shipping_option),
            shipping_option=order.shipping_option, order=order.number,
        )
    return via


# -- catalogue -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedSku:
    """Where a Centra line lands in BlueCherry, and how it was found."""

    sku: str
    upc: str
    #: ``override``, ``gtin`` or ``sku``.
    matched_by: Literal["override", "gtin", "sku"]


class Catalogue:
    """An index of BlueCherry's catalogue for resolving Centra lines.

    Resolution order: the explicit override table (keyed by Centra SKU or by GTIN, any length),
    else the line's GTIN normalised to 14 digits (EAN-13 and UPC-A of one item meet there), else
    the SKU string. The result always names a catalogue item, so the ``sku`` and ``upc`` sent to
    BlueCherry agree. Where two catalogue items share a GTIN or SKU the first one given wins.
    """

    __slots__ = ("_by_gtin", "_by_sku", "_overrides_by_gtin", "_overrides_by_sku")

    def __init__(
        self, items: Iterable[CatalogueItem], overrides: Mapping[str, str] | None = None
    ) -> None:
        self._by_sku: dict[str, CatalogueItem] = {}
        self._by_gtin: dict[str, CatalogueItem] = {}
        for item in items:
            self._by_sku.setdefault(item.sku, item)
            gtin = item.gtin14
            if gtin:
                self._by_gtin.setdefault(gtin, item)
        self._overrides_by_sku: dict[str, str] = {}
        self._overrides_by_gtin: dict[str, str] = {}
        for key, target in sorted((overrides or {}).items()):
            self._overrides_by_sku[key] = target
            gtin = normalise_gtin(key)
            if gtin:
                self._overrides_by_gtin.setdefault(gtin, target)

    def __len__(self) -> int:
        return len(self._by_sku)

    def __contains__(self, sku: object) -> bool:
        return sku in self._by_sku

    def item(self, sku: str) -> CatalogueItem | None:
        return self._by_sku.get(sku)

    def resolve(self, sku: str, ean: str = "") -> ResolvedSku:
        """Resolve one Centra SKU/EAN, or raise ``UnknownSku`` naming both."""
        gtin = normalise_gtin(ean) if ean else ""
        target = self._overrides_by_sku.get(sku)
        if target is None and ean:
            target = self._overrides_by_sku.get(ean)
        if target is None and gtin:
            target = self._overrides_by_gtin.get(gtin)
        if target is not None:
            item = self._by_sku.get(target)
            if item is None:
                raise UnknownSku(
                    f"SKU {sku!r} (GTIN {ean or '-'}) is overridden to BlueCherry SKU "
                    f"{target!r}, which is not in the catalogue",
                    sku=sku, gtin=ean, override=target,
                )
            return ResolvedSku(sku=item.sku, upc=item.upc, matched_by="override")
        if gtin:
            item = self._by_gtin.get(gtin)
            if item is not None:
                return ResolvedSku(sku=item.sku, upc=item.upc, matched_by="gtin")
        item = self._by_sku.get(sku)
        if item is not None:
            return ResolvedSku(sku=item.sku, upc=item.upc, matched_by="sku")
        raise UnknownSku(sku=sku, gtin=ean)

    def resolve_line(self, line: OrderLine) -> ResolvedSku:
        return self.resolve(line.sku, line.ean)

    def resolve_lines(self, lines: Sequence[OrderLine]) -> dict[int, ResolvedSku]:
        """Centra line id → resolution for every line; all unknown SKUs in one ``UnknownSku``.

        The raised error names the first unknown SKU and lists every one of the order's unknown
        SKUs in ``details['unknown']`` (``[{'sku', 'gtin'}]``, in line order, each once).
        """
        found: dict[int, ResolvedSku] = {}
        unknown: list[UnknownSku] = []
        for line in lines:
            try:
                found[line.id] = self.resolve_line(line)
            except UnknownSku as exc:
                if all((u.sku, u.gtin) != (exc.sku, exc.gtin) for u in unknown):
                    unknown.append(exc)
        if unknown:
            first = unknown[0]
            raise UnknownSku(
                first.message, sku=first.sku, gtin=first.gtin,
                unknown=[{"sku": u.sku, "gtin": u.gtin} for u in unknown],
                **{k: v for k, v in first.details.items() if k != "unknown"},
            )
        return found


def mapping_gaps(
    order: CentraOrder,
    *,
    markets: Iterable[MarketCodes],
    rules: PostingRules,
    catalogue: Catalogue,
) -> list[MappingMissing | UnknownSku]:
    """Every mapping gap of an order, one error per missing key, in a stable order.

    Market first, then the shipping option, then each unknown SKU (in line order, each once).
    Empty means the order maps completely. Only lines with units are looked up.
    """
    gaps: list[MappingMissing | UnknownSku] = []
    try:
        resolve_market(markets, order)
    except MappingMissing as exc:
        gaps.append(exc)
    try:
        ship_via_for(order, rules)
    except MappingMissing as exc:
        gaps.append(exc)
    seen: set[tuple[str, str]] = set()
    for line in order.live_lines():
        try:
            catalogue.resolve_line(line)
        except UnknownSku as exc:
            if (exc.sku, exc.gtin) not in seen:
                seen.add((exc.sku, exc.gtin))
                exc.details.setdefault("order", order.number)
                gaps.append(exc)
    return gaps
