"""BlueCherry's SKU catalogue as the ledger keeps it, indexed once per sync and per process."""

from __future__ import annotations

import threading

from seamline.domain.erp import CatalogueItem
from seamline.domain.posting import Catalogue, PostingRules
from seamline.services.rules import catalogue_from_items
from seamline.services.unit_of_work import UnitOfWork

__all__ = ["CATALOGUE_CURSOR", "SKU_KIND", "CatalogueCache"]

SKU_KIND = "sku"
CATALOGUE_CURSOR = "bluecherry.skus.synced_at"


class CatalogueCache:
    """BlueCherry's SKU catalogue as kept on the ledger, indexed once per sync."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._catalogue: Catalogue | None = None

    def get(self, uow: UnitOfWork, rules: PostingRules) -> Catalogue:
        version = uow.cursors.get(CATALOGUE_CURSOR) or ""
        with self._lock:
            if self._catalogue is not None and version == self._version:
                return self._catalogue
        items = [
            CatalogueItem(sku=e.business_key, upc=str(e.data.get("upc", "")),
                          division=str(e.data.get("division", "")),
                          style=str(e.data.get("style", "")),
                          color=str(e.data.get("color", "")),
                          size=str(e.data.get("size", "")),
                          description=str(e.data.get("description", "")))
            for e in uow.ledger.in_state(SKU_KIND, "active")
        ]
        catalogue = catalogue_from_items(items, rules)
        with self._lock:
            self._catalogue, self._version = catalogue, version
        return catalogue
