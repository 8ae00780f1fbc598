"""A time-bounded cache of BlueCherry's master data and SKU catalogue.

Master data (divisions, warehouses, customers with stores, ship vias, order types, terms,
seasons) changes rarely; the posting flow and ``config check --online`` read it through this
cache so a run makes one set of calls, not one per order. ``invalidate()`` forces a re-read
(after a ``POST_REJECTED`` naming an unknown code, say).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol

from seamline.clock import SystemClock
from seamline.domain.erp import CatalogueItem, MasterData, normalise_gtin
from seamline.ports import BlueCherryGateway, Clock

__all__ = ["MasterDataCache"]


class _Source(Protocol):
    def master_data(self) -> MasterData: ...


class MasterDataCache:
    """Master data and the catalogue, re-read when older than ``ttl``."""

    def __init__(self, erp: BlueCherryGateway, *, ttl: timedelta = timedelta(hours=1),
                 clock: Clock | None = None) -> None:
        self.erp = erp
        self.ttl = ttl
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._master: tuple[datetime, MasterData] | None = None
        self._catalogue: tuple[datetime, dict[str, CatalogueItem], dict[str, CatalogueItem]] | None
        self._catalogue = None

    def _fresh(self, stamp: datetime) -> bool:
        return self.clock.now() - stamp < self.ttl

    def master(self) -> MasterData:
        with self._lock:
            if self._master is None or not self._fresh(self._master[0]):
                self._master = (self.clock.now(), self.erp.master_data())
            return self._master[1]

    def _load_catalogue(self) -> tuple[dict[str, CatalogueItem], dict[str, CatalogueItem]]:
        with self._lock:
            if self._catalogue is None or not self._fresh(self._catalogue[0]):
                by_sku: dict[str, CatalogueItem] = {}
                by_gtin: dict[str, CatalogueItem] = {}
                for item in self.erp.iter_skus():
                    by_sku[item.sku] = item
                    if item.gtin14:
                        by_gtin[item.gtin14] = item
                self._catalogue = (self.clock.now(), by_sku, by_gtin)
            return self._catalogue[1], self._catalogue[2]

    def sku(self, sku: str) -> CatalogueItem | None:
        return self._load_catalogue()[0].get(sku)

    def by_gtin(self, code: str) -> CatalogueItem | None:
        """The item for a UPC/EAN/GTIN in any length (joined on the 14-digit form)."""
        gtin = normalise_gtin(code)
        return self._load_catalogue()[1].get(gtin) if gtin else None

    def catalogue(self) -> dict[str, CatalogueItem]:
        return dict(self._load_catalogue()[0])

    def invalidate(self) -> None:
        with self._lock:
            self._master = None
            self._catalogue = None
