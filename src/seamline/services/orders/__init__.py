"""The order flow: Centra orders into BlueCherry sales orders, exactly once.

Intake (``intake``: events, webhooks, polling, sweeps) records each Centra order on its ledger
row (``kind='order'``, key = Centra order number) and enqueues one ``orders.post`` job per order
(dedupe key ``order:post:<n>``) in the same unit of work. The post job (``posting``) gates,
maps, prices and validates the order, freezes the payload on the ledger *before* the first
attempt, and submits it with :func:`seamline.services.submit.submit_sales_order`; every retry
sends the frozen payload. An order that cannot be mapped is parked on one exception per cause
(``parking``). After BlueCherry accepted it, one ``centra.writeback`` job writes the BlueCherry
numbers back to Centra in batches and confirms PENDING orders where the market says so; a posted
order that changes in Centra is checked by ``orders.reconcile`` (``after_post``). Daily markets
post in batches (``batches``); BlueCherry's catalogue is copied onto the ledger
(``catalogue``). ``tasks`` registers the jobs.

The flow reaches the store only through a unit of work (``seamline.services.unit_of_work``).
Ledger states of an order: :class:`seamline.domain.ledger.OrderState`.
"""

from __future__ import annotations

from seamline.services.orders.core import order_key
from seamline.services.orders.fingerprints import (
    amounts_fingerprint,
    fingerprints,
    static_fingerprint,
)
from seamline.services.orders.flow import OrderFlow
from seamline.services.orders.tasks import register_order_tasks

__all__ = ["OrderFlow", "amounts_fingerprint", "fingerprints", "order_key",
           "register_order_tasks", "static_fingerprint"]
