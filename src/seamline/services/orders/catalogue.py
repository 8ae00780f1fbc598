"""The catalogue: BlueCherry's SKUs copied onto the ledger; orders parked on a SKU or a mapping
that now exists are re-queued."""

from __future__ import annotations

from seamline.services.orders.catalogue_cache import CATALOGUE_CURSOR, SKU_KIND
from seamline.services.orders.core import Tx, chunks
from seamline.services.orders.parking import Parking

__all__ = ["CatalogueSync"]


class CatalogueSync(Parking):
    """The ``catalogue.sync`` job."""

    def sync_catalogue(self, tx: Tx | None = None) -> int:
        """Copy BlueCherry's SKU catalogue onto the ledger, then re-queue orders it unblocks."""
        tx = tx or self.store.begin
        n = 0
        started = self.clock()
        for chunk in chunks(self.erp.iter_skus(), 500):
            with tx() as uow:
                for item in chunk:
                    uow.ledger.save(SKU_KIND, item.sku, state="active", data={
                        "upc": item.upc, "division": item.division, "style": item.style,
                        "color": item.color, "size": item.size,
                        "description": item.description,
                    }, now=started)
            n += len(chunk)
        with tx() as uow:
            uow.cursors.set(CATALOGUE_CURSOR, f"{started.isoformat()}#{n}", now=started)
            self.requeue_parked(uow)
        return n
