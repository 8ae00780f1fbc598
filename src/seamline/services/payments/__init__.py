"""The payment flow: the daily batch of Centra captures into BlueCherry cash receipts and of
Centra refunds into BlueCherry credit memos, exactly once.

``payments.batch`` runs at ``[payments].batch_time`` in each market's time zone for the
previous business day (checked every minute by the ``payments-batch`` schedule). It mirrors
BlueCherry's new invoices (``collect``: the invoices feed by cursor), records the captures and
refunds of every Centra order updated since its cursor (each ``SUCCESS`` history entry once, by
a reference derived from the PSP transaction; captures minus refunds above the grand total are
``CAPTURE_EXCEEDS_TOTAL``), freezes the day's receipts (one per capture, or one per customer,
currency and method) applied to the orders' invoices and one credit memo per refund
(``batch``), and posts each by its unique reference, reading back before any repeat after an
ambiguous failure. Unapplied cash is posted and reported (``RECEIPT_UNAPPLIED``).
"""

from __future__ import annotations

from seamline.services.payments.batch import BatchResult
from seamline.services.payments.core import QUEUE, market_key, payment_rules_from_settings
from seamline.services.payments.flow import PaymentFlow
from seamline.services.payments.tasks import register_payment_tasks

__all__ = ["QUEUE", "BatchResult", "PaymentFlow", "market_key", "payment_rules_from_settings",
           "register_payment_tasks"]
