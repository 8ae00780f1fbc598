"""The payment flow's parts shared by every step: names, settings, the state it runs on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from seamline.domain.mapping import MarketCodes, find_market
from seamline.domain.payments import PaymentRules
from seamline.ports import CentraGateway, FinanceGateway
from seamline.services.unit_of_work import Store

__all__ = ["CENTRA_CURSOR", "INVOICES_CURSOR", "QUEUE", "PaymentsCore", "batch_cursor",
           "market_key", "payment_rules_from_settings"]

#: The queue the payment jobs run on.
QUEUE = "payments"
#: BlueCherry's invoices feed (the same name as ``adapters.bluecherry.cursors.INVOICES_CURSOR``).
INVOICES_CURSOR = "bluecherry.invoices"
#: How far Centra orders (by ``updatedAt``) have been read for their payments.
CENTRA_CURSOR = "payments.centra"

#: Exception types of the payment flow (all finance's).
RECEIPT_UNAPPLIED = "RECEIPT_UNAPPLIED"
RECEIPT_REJECTED = "RECEIPT_REJECTED"
MEMO_REJECTED = "MEMO_REJECTED"
PAYMENT_CONFLICT = "PAYMENT_CONFLICT"
CAPTURE_EXCEEDS_TOTAL = "CAPTURE_EXCEEDS_TOTAL"


def market_key(market: MarketCodes) -> str:
    """``<centra market>/<currency or *>``: how a market mapping is named on payment records."""
    return f"{market.centra_market}/{market.currency or '*'}"


def batch_cursor(market: MarketCodes) -> str:
    """The cursor (and lock) of a market's payment batches: the last business day done."""
    return f"payments.batch:{market_key(market)}"


def payment_rules_from_settings(settings: Any) -> PaymentRules:
    p = settings.payments
    return PaymentRules(
        batch_time=p.batch_clock(), grouping=p.receipt_grouping,
        methods={k.strip().lower(): v for k, v in p.methods.items()},
        default_method=p.default_method,
        customer_po_prefix=settings.orders.customer_po_prefix)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PaymentsCore:
    """Everything the payment flow needs; one per process, built by the composition root."""

    store: Store
    centra: CentraGateway
    finance: FinanceGateway
    markets: tuple[MarketCodes, ...] = ()
    rules: PaymentRules = field(default_factory=PaymentRules)
    #: Days of Centra orders read before the business day on the first run.
    lookback_days: int = 1
    clock: Callable[[], datetime] = _now

    def market_for(self, market_id: int, currency: str) -> MarketCodes | None:
        return find_market(self.markets, market_id, currency)

    def market_named(self, key: str) -> MarketCodes | None:
        """A market by ``<centra market>/<currency>`` or by its Centra market id alone."""
        for m in self.markets:
            if key in (market_key(m), str(m.centra_market)):
                return m
        return None
