"""``ShipmentFlow``: the shipment flow's parts put together (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from seamline.domain.shipments import CarrierName, ShipmentRules
from seamline.ports import BlueCherryGateway, CentraGateway
from seamline.services.shipments.apply import Apply
from seamline.services.shipments.feed import FeedReader
from seamline.services.shipments.watchdog import Watchdog
from seamline.services.unit_of_work import Store

__all__ = ["ShipmentFlow", "shipment_rules_from_settings"]


def shipment_rules_from_settings(settings: Any) -> ShipmentRules:
    """``[shipments]``, the markets' ``shipment_email`` and the orders' PO prefix."""
    s = settings.shipments
    return ShipmentRules(
        carriers={code.strip().upper(): CarrierName(c.carrier, c.service)
                  for code, c in s.carriers.items()},
        send_email=s.send_email,
        email_by_market={(m.centra_market, m.currency): m.shipment_email
                         for m in settings.markets if m.shipment_email is not None},
        capture=s.capture,
        customer_po_prefix=settings.orders.customer_po_prefix,
        cancel_short=s.cancel_short,
    )


class ShipmentFlow(FeedReader, Apply, Watchdog):
    """Everything the shipment flow does; one per process, built by the composition root."""

    @classmethod
    def from_settings(cls, settings: Any, *, store: Store, centra: CentraGateway,
                      erp: BlueCherryGateway,
                      clock: Callable[[], datetime] | None = None) -> ShipmentFlow:
        flow = cls(store=store, centra=centra, erp=erp,
                   rules=shipment_rules_from_settings(settings),
                   not_in_centra_after_h=settings.shipments.not_in_centra_after_h)
        if clock is not None:
            flow.clock = clock
        return flow
