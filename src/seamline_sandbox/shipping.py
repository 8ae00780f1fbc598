"""Shipments on the sandboxes, for tests, the demo and the benchmark: run BlueCherry's
warehouse, and list both sides' shipments (``Sandboxes`` stays about orders)."""

from __future__ import annotations

from typing import Any

from seamline_sandbox.harness import Sandboxes

__all__ = ["bluecherry_shipments", "centra_shipments", "ship"]


def ship(sb: Sandboxes, **options: Any) -> dict[str, Any]:
    """One run of BlueCherry's warehouse (``POST /_sandbox/warehouse/run``: ``orders``,
    ``order_nos``, ``partial_probability``, ``short_probability``, ``pick_only``, ``seed``);
    returns the shipment numbers it made (``shipments``)."""
    return dict(sb._bc("POST", "/warehouse/run", options))


def bluecherry_shipments(sb: Sandboxes) -> list[dict[str, Any]]:
    """Every BlueCherry shipment as the feed serves it, oldest first."""
    return [dict(s) for s in list(sb.bluecherry.state.shipments)]


def centra_shipments(sb: Sandboxes) -> list[dict[str, Any]]:
    """Every Centra shipment: number, order, external id, shipped, tracking, carrier, service,
    packages and its ``(order line id, quantity)`` lines."""
    st = sb.centra.state
    with st.lock:
        return [{"id": s.id, "number": s.number, "order": s.order_number,
                 "external_id": s.external_id, "is_shipped": s.is_shipped,
                 "tracking": s.tracking, "carrier": s.carrier, "service": s.service,
                 "packages": s.packages, "lines": [list(ln) for ln in s.lines]}
                for s in st.shipments.values()]
