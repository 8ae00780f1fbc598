"""Posted web demand for the stock figure: each posted order's lines whose units Centra still
holds allocated, kept (``stock_demand``) in the unit of work that changes the order.

Called when an order posts (its lines as posted), when Centra cancels units of a posted order
(the line quantities Centra holds now) and when Centra ships units (``shipped_units`` on the
order's ledger row: BlueCherry line no → units Centra shipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from seamline.domain.orders import CentraOrder, OrderStatus, order_from_dict
from seamline.domain.stock import demand_lines
from seamline.services.unit_of_work import UnitOfWork

__all__ = ["record_demand", "record_shipped"]

#: Centra statuses that hold no allocation (an archived order is taken as released: the
#: safe side, it can only lower what Centra may sell).
_RELEASED = frozenset({OrderStatus.CANCELLED, OrderStatus.SHIPPED, OrderStatus.ARCHIVED})


def record_demand(uow: UnitOfWork, number: int, data: Mapping[str, Any],
                  order: CentraOrder | None, *, now: datetime) -> list[tuple[str, str]]:
    """Keep the order's demand lines as they are now; the ``(warehouse, sku)`` pairs whose
    units changed. An order not in BlueCherry (no frozen payload or creation time) has none;
    a cancelled or shipped Centra order holds no units."""
    frozen = data.get("frozen")
    created = data.get("erp_created_at")
    if not frozen or not created:
        return []
    current: dict[int, int] = {}
    if order is not None:
        current = {ln.id: ln.quantity for ln in order.lines}
        if order.status in _RELEASED:
            current = {ln.id: 0 for ln in order.lines}
    shipped = {int(k): int(v) for k, v in (data.get("shipped_units") or {}).items()}
    lines = demand_lines(number, frozen, datetime.fromisoformat(str(created)), current,
                         shipped)
    return uow.stock.set_demand(number, lines, now=now)


def record_shipped(uow: UnitOfWork, number: int, shipment_no: str, lines: Mapping[int, int], *,
                   now: datetime) -> list[tuple[str, str]]:
    """Centra shipped ``lines`` (BlueCherry line no → units) of order ``number`` as shipment
    ``shipment_no`` (once: a repeat changes nothing): kept on the order's ledger row
    (``shipped_by``, ``shipped_units``) and in its demand lines, in this unit of work."""
    row = uow.orders.get(number, for_update=True)
    if row is None:
        return []
    data = dict(row.data.raw)
    shipped_by = {str(k): dict(v) for k, v in (data.get("shipped_by") or {}).items()}
    if shipment_no in shipped_by:
        return []
    shipped_by[shipment_no] = {str(k): int(v) for k, v in lines.items()}
    totals: dict[str, int] = {}
    for per_line in shipped_by.values():
        for line_no, units in per_line.items():
            totals[line_no] = totals.get(line_no, 0) + int(units)
    data["shipped_by"], data["shipped_units"] = shipped_by, totals
    uow.orders.save(number, state=row.state, data=data, now=now)
    snapshot = data.get("snapshot")
    order = order_from_dict(snapshot) if snapshot else None
    return record_demand(uow, number, data, order, now=now)
