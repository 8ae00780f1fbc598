"""``OrderFlow``: the order flow's parts put together (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from seamline.ports import BlueCherryGateway, CentraGateway
from seamline.services.orders.after_post import AfterPost
from seamline.services.orders.catalogue import CatalogueSync
from seamline.services.orders.intake import Intake
from seamline.services.orders.posting import Posting
from seamline.services.rules import market_codes_from_settings, posting_rules_from_settings
from seamline.services.unit_of_work import Store

__all__ = ["OrderFlow"]


class OrderFlow(Intake, Posting, AfterPost, CatalogueSync):
    """Everything the order flow does; one per process, built by the composition root."""

    @classmethod
    def from_settings(cls, settings: Any, *, store: Store, centra: CentraGateway,
                      erp: BlueCherryGateway,
                      clock: Callable[[], datetime] | None = None) -> OrderFlow:
        flow = cls(
            store=store, centra=centra, erp=erp,
            markets=market_codes_from_settings(settings),
            rules=posting_rules_from_settings(settings),
            lock_after_post=settings.orders.lock_after_post,
            poll_overlap_s=settings.orders.poll_overlap_s,
            sweep_days=settings.orders.sweep_days,
        )
        if clock is not None:
            flow.clock = clock
        return flow
