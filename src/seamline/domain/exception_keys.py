"""The business keys of exceptions, as small values instead of strings built and parsed back.

The text of each key is what the store keeps (``exceptions.business_key``) and what jobs carry
(``jobs.business_key``); ``str(key)`` gives it, :func:`parse_key` reads it back.

- ``order:1001`` — the order itself (its post job); ``order:1001:totals`` / ``:changed`` /
  ``:cancel`` — one topic of it.
- ``mapping:market:12/SEK``, ``mapping:shipping_option:pickup-point`` — a missing mapping.
- ``sku:ABC-1`` — a SKU missing from BlueCherry's catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExceptionKey", "MappingKey", "OrderKey", "SkuKey", "parse_key"]


@dataclass(frozen=True, slots=True)
class OrderKey:
    """An order (``order:<n>``) or one topic of it (``order:<n>:<topic>``)."""

    number: int
    topic: str | None = None

    def __str__(self) -> str:
        base = f"order:{self.number}"
        return base if self.topic is None else f"{base}:{self.topic}"

    def about(self, topic: str) -> OrderKey:
        """The key of one topic of this order (``order:<n>:<topic>``)."""
        return OrderKey(self.number, topic)


@dataclass(frozen=True, slots=True)
class MappingKey:
    """A missing mapping: ``mapping:<kind>:<value>`` (``kind``: market, shipping_option...)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"mapping:{self.kind}:{self.value}"

    @classmethod
    def of(cls, missing_key: str) -> MappingKey:
        """From a ``MappingMissing.key`` (``market:12/SEK``, ``shipping_option:pickup``)."""
        kind, _, value = missing_key.partition(":")
        return cls(kind, value)

    @property
    def market(self) -> tuple[int, str] | None:
        """``(market id, currency)`` of a market mapping (``market:12/SEK``), else None."""
        if self.kind != "market":
            return None
        market_id, _, currency = self.value.partition("/")
        return (int(market_id), currency) if market_id.isdigit() else None


@dataclass(frozen=True, slots=True)
class SkuKey:
    """A SKU BlueCherry's catalogue lacks: ``sku:<sku>``."""

    sku: str

    def __str__(self) -> str:
        return f"sku:{self.sku}"


ExceptionKey = OrderKey | MappingKey | SkuKey


def parse_key(text: str) -> ExceptionKey | None:
    """The key ``text`` names, or None when it is none of the order flow's keys."""
    kind, _, rest = text.partition(":")
    if kind == "sku":
        return SkuKey(rest)
    if kind == "mapping":
        return MappingKey.of(rest)
    if kind == "order":
        number, _, topic = rest.partition(":")
        if number.isdigit():
            return OrderKey(int(number), topic or None)
    return None
