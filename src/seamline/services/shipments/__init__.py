"""The shipment flow: BlueCherry dispatches into Centra shipments, partial and complete,
exactly once.

``shipments.sync`` (``feed``) reads BlueCherry's shipment feed by cursor (the REST feed behind
the ``ShipmentFeed`` port; an EDI 856 reader can stand in later) and gives each new shipment a
ledger row (``kind='shipment'``, key = BlueCherry shipment number) and one ``shipments.apply``
job, moving the cursor in the same unit of work. The apply job (``apply``) finds the Centra
order (the ledger's order row by the number in ``customer_po``; its ``line_map`` Centra line →
BlueCherry line, else matched by GTIN/SKU), creates the Centra shipment for exactly those lines
and units keyed by the BlueCherry number as external id, completes it with carrier, service,
every carton's tracking number and the dispatch email where the market says so, reading Centra
back before any write that may already have been applied. On the shipment that leaves nothing
open, units BlueCherry cancelled are cancelled on the Centra lines and finance is told
(``shorts``). An unknown order or line or too many units is an exception naming the shipment
(the feed moves on). ``shipments.watchdog`` raises ``SHIPMENT_NOT_IN_CENTRA`` for shipments
still not shipped in Centra after ``[shipments].not_in_centra_after_h`` hours.
"""

from __future__ import annotations

from seamline.services.shipments.core import CURSOR, KIND, QUEUE, shipment_key
from seamline.services.shipments.feed import SyncResult
from seamline.services.shipments.flow import ShipmentFlow, shipment_rules_from_settings
from seamline.services.shipments.tasks import register_shipment_tasks

__all__ = ["CURSOR", "KIND", "QUEUE", "ShipmentFlow", "SyncResult", "register_shipment_tasks",
           "shipment_key", "shipment_rules_from_settings"]
