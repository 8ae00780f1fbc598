"""The stock flow's settings as plain values (the service never reads the configuration)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seamline.domain.stock import BufferRule, Buffers, centra_key

__all__ = ["StockPlan"]


@dataclass(frozen=True, kw_only=True)
class StockPlan:
    """Which BlueCherry warehouses feed which Centra warehouse, buffers, batching, naming."""

    #: Centra warehouse id → the BlueCherry warehouses whose ATS it sums.
    warehouses: dict[int, tuple[str, ...]]
    buffers: Buffers = field(default_factory=Buffers)
    batch_size: int = 1000
    key_mode: str = "sku"
    #: BlueCherry SKU → the Centra SKU or GTIN an ``[sku_overrides]`` entry maps to it.
    reverse_overrides: dict[str, str] = field(default_factory=dict)
    stale_after_cycles: int = 3
    failed_after_runs: int = 3
    description: str = "Seamline stock sync"

    @property
    def bluecherry_warehouses(self) -> tuple[str, ...]:
        """Every BlueCherry warehouse that feeds a Centra warehouse, each once."""
        return tuple(dict.fromkeys(w for ws in self.warehouses.values() for w in ws))

    def centra_warehouses_of(self, bluecherry_warehouse: str) -> list[int]:
        return [c for c, ws in self.warehouses.items() if bluecherry_warehouse in ws]

    def key(self, sku: str, upc: str) -> str:
        return centra_key(sku, upc, mode=self.key_mode,
                          reverse_overrides=self.reverse_overrides)

    @classmethod
    def from_settings(cls, settings: Any) -> StockPlan:
        stock = settings.stock
        rules = [BufferRule(units=b.units, warehouse=b.warehouse, sku=b.sku)
                 for b in stock.buffers]
        reverse: dict[str, str] = {}
        for centra, bluecherry in settings.sku_overrides.items():
            reverse.setdefault(bluecherry, centra)
        return cls(
            warehouses={int(c): tuple(ws) for c, ws in settings.warehouses.items()},
            buffers=Buffers(rules, default=stock.default_buffer),
            batch_size=stock.batch_size, key_mode=stock.centra_key,
            reverse_overrides=reverse, stale_after_cycles=stock.stale_after_cycles,
            failed_after_runs=stock.failed_after_runs, description=stock.description,
        )
