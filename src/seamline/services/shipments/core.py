"""The shipment flow's state and the ledger edits every part of it shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from seamline.domain.ledger import LedgerEntry
from seamline.domain.shipments import ShipmentKey, ShipmentRules, ShipmentState
from seamline.ports import BlueCherryGateway, CentraGateway, ShipmentFeed
from seamline.services.unit_of_work import Store, Tx, UnitOfWork

__all__ = ["CURSOR", "KIND", "QUEUE", "ShipmentCore", "Tx", "shipment_key"]

#: Ledger kind of a BlueCherry shipment's row (key: the BlueCherry shipment number).
KIND = "shipment"
#: The feed cursor (the same name the BlueCherry adapter's ``advance_feed`` uses).
CURSOR = "bluecherry.shipments"
#: The queue the shipments' jobs run on.
QUEUE = "shipments"



def shipment_key(shipment_no: str) -> str:
    """The business key of a shipment's job and exceptions (``shipment:<number>``)."""
    return str(ShipmentKey(shipment_no))


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ShipmentCore:
    """Everything the shipment flow needs; one per process, built by the composition root."""

    store: Store
    centra: CentraGateway
    erp: BlueCherryGateway
    rules: ShipmentRules = field(default_factory=ShipmentRules)
    #: Where shipments are read from (default: BlueCherry's REST feed, ``erp``).
    feed: ShipmentFeed | None = None
    #: Watchdog: hours after BlueCherry confirmed a shipment before it is late.
    not_in_centra_after_h: float = 4.0
    clock: Callable[[], datetime] = _now

    def _feed(self) -> ShipmentFeed:
        return self.feed if self.feed is not None else self.erp

    def _row(self, shipment_no: str) -> LedgerEntry | None:
        with self.store.read() as uow:
            return uow.ledger.get(KIND, shipment_no)

    def _save(self, tx: Tx, shipment_no: str, state: ShipmentState,
              changes: Mapping[str, Any],
              also: Callable[[UnitOfWork, dict[str, Any]], None] | None = None
              ) -> dict[str, Any]:
        """Merge ``changes`` into the row *as it is now* (read under lock) and move it to
        ``state``; ``also`` writes more in the same unit of work; the merged data is
        returned."""
        with tx() as uow:
            row = uow.ledger.get(KIND, shipment_no, for_update=True)
            data = dict(row.data) if row is not None else {}
            data.update(changes)
            uow.ledger.save(KIND, shipment_no, state=state.value, data=data, now=self.clock())
            if also is not None:
                also(uow, data)
        return data
