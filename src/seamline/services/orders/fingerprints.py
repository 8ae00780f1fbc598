"""Change fingerprints: what change detection compares on an order after it was posted."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from seamline.domain.orders import CentraOrder, OrderStatus, order_to_dict

__all__ = ["amounts_fingerprint", "digest", "fingerprints", "own_writebacks_only",
           "static_fingerprint"]


def digest(body: object) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def static_fingerprint(order: CentraOrder) -> str:
    """What a cancellation leaves alone: addresses, shipping option, lines as ordered."""
    d = order_to_dict(order)
    return digest({
        "ship": d["shipping_address"], "bill": d["billing_address"],
        "option": d["shipping_option"], "currency": d["currency"], "market": d["market_id"],
        "lines": sorted(
            (ln.id, ln.sku, ln.ean, ln.quantity + ln.cancelled_quantity,
             ln.unit_original_price.wire(), ln.unit_price.wire())
            for ln in order.lines
        ),
    })


def amounts_fingerprint(order: CentraOrder) -> str:
    """The amounts; they may only move together with a cancellation."""
    return digest([order.grand_total.wire(), order.shipping.wire(), order.tax_total.wire(),
                   order.voucher_discount.wire()])


def cancelled_units(order: CentraOrder) -> int:
    return sum(ln.cancelled_quantity for ln in order.lines)


def fingerprints(order: CentraOrder) -> dict[str, Any]:
    """What change detection compares after posting."""
    return {"fp_static": static_fingerprint(order), "fp_amounts": amounts_fingerprint(order),
            "cancelled_units": cancelled_units(order)}


#: What Seamline itself writes to a Centra order after posting (and the timestamp that moves
#: with it): a snapshot that differs only in these has not been changed by anyone else.
_WRITEBACK_FIELDS = ("is_locked", "updated_at")


def own_writebacks_only(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether ``new`` differs from ``old`` only by Seamline's own write-backs (external id,
    lock, PENDING → CONFIRMED)."""
    if old is None:
        return False

    def strip(snap: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in snap.items() if k not in _WRITEBACK_FIELDS}
        if out.get("status") == OrderStatus.CONFIRMED.value:
            out["status"] = OrderStatus.PENDING.value
        return out

    return strip(old) == strip(new)
