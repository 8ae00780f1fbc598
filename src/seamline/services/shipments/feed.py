"""Reading BlueCherry's shipment feed: each new shipment gets a ledger row and one apply job,
and the cursor moves in the same unit of work (so a crash re-reads, never skips)."""

from __future__ import annotations

from dataclasses import dataclass

from seamline.domain.erp import ErpShipment
from seamline.domain.shipments import ShipmentState, erp_shipment_to_dict
from seamline.services.shipments.core import CURSOR, KIND, QUEUE, ShipmentCore, Tx, shipment_key
from seamline.services.unit_of_work import UnitOfWork

__all__ = ["FeedReader", "SyncResult"]

#: Feed reads per sync at most (each read covers up to the adapter's pages).
MAX_READS = 50


@dataclass(frozen=True, slots=True)
class SyncResult:
    """One sync: shipments read from the feed, how many were new, where the cursor is."""

    read: int
    new: int
    cursor: str | None


class FeedReader(ShipmentCore):
    """Reads the feed onto the ledger; the apply jobs do the rest."""

    def sync(self, tx: Tx | None = None) -> SyncResult:
        """Read every shipment confirmed since the cursor. A shipment already on the ledger is
        left as it is (reading it again changes nothing)."""
        tx = tx or self.store.begin
        read = new = 0
        cursor: str | None = None
        for _ in range(MAX_READS):
            with self.store.read() as uow:
                since = uow.cursors.get(CURSOR)
            batch, after = self._feed().iter_shipments(since)
            with tx() as uow:
                uow.cursors.lock(CURSOR)
                if uow.cursors.get(CURSOR) != since:
                    continue  # another process recorded this stretch meanwhile: read on
                new += sum(self._record(uow, s) for s in batch)
                if after and after != since:
                    uow.cursors.set(CURSOR, after, now=self.clock())
            read += len(batch)
            cursor = after or since
            if not batch or not after or after == since:
                break
        return SyncResult(read=read, new=new, cursor=cursor)

    def _record(self, uow: UnitOfWork, shipment: ErpShipment) -> int:
        """A ledger row and an apply job for a shipment not seen before (1), else 0."""
        no = shipment.shipment_no
        if uow.ledger.get(KIND, no) is not None:
            return 0
        uow.ledger.save(KIND, no, state=ShipmentState.NEW.value, data={
            "shipment": erp_shipment_to_dict(shipment),
            "recorded_at": self.clock().isoformat(),
        }, now=self.clock())
        uow.outbox.enqueue("shipments.apply", {"shipment_no": no}, queue=QUEUE,
                           dedupe_key=f"shipment:apply:{no}", business_key=shipment_key(no))
        return 1
