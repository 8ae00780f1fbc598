"""The Centra client's shipment calls (``createShipment``, ``completeShipment``, their
read-backs, and the line cancels of short shipments), kept apart from ``client.py``.

Neither write is repeated by the client: an ambiguous failure raises ``AmbiguousWrite`` and the
caller reads back first (``find_shipment`` by external id, ``get_shipment(...).is_shipped``,
the order lines' ``cancelled_quantity``; DESIGN "Writes that cannot be repeated blindly").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from seamline.adapters.centra.pagination import iter_pages
from seamline.adapters.centra.translate import shipment_from_json
from seamline.domain.shipments import CentraShipment
from seamline.exceptions import ExternalError

__all__ = ["ShipmentCalls"]

#: Centra's documented maximum for ``limit``.
MAX_PAGE = 200


class ShipmentCalls:
    """Mixed into ``CentraClient``, which provides ``_call``."""

    def _call(self, operation: str, variables: Mapping[str, Any] | None = None, *,
              complexity: float = 10, idempotent: bool = False) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - CentraClient's

    def get_shipments(self, order: int) -> list[CentraShipment]:
        """Every shipment of order number ``order``, oldest first."""

        def fetch(page: int) -> list[Any]:
            data = self._call("order_shipments",
                              {"number": order, "limit": MAX_PAGE, "page": page},
                              complexity=200)
            return list(data["shipments"])

        return [shipment_from_json(s) for s in iter_pages(fetch, limit=MAX_PAGE)]

    def get_shipment(self, shipment_id: int) -> CentraShipment | None:
        data = self._call("shipment_by_id", {"id": shipment_id}, complexity=30)
        rows = data["shipments"]
        return shipment_from_json(rows[0]) if rows else None

    def find_shipment(self, order: int, external_id: str) -> CentraShipment | None:
        """The read-back of ``create_shipment``: the order's shipment with that external id."""
        for shipment in self.get_shipments(order):
            if shipment.external_id == external_id:
                return shipment
        return None

    def create_shipment(
        self,
        order_number: int,
        lines: Sequence[tuple[int, int]],
        *,
        external_id: str,
        good_to_go: bool = True,
        capture: bool = True,
        paid: bool = False,
    ) -> CentraShipment:
        """Create a shipment of ``(order line id, quantity)`` pairs, keyed by ``external_id``
        (the BlueCherry shipment number). ``capture`` captures the shipment's value through
        the PSP as it is created (Centra ships only paid shipments; its REST API defaults to
        capturing too); ``paid`` marks it paid instead (payment captured outside Centra;
        Centra ignores it when ``capture`` is used). Raises ``AmbiguousWrite`` when it may have
        been applied: call ``find_shipment(order_number, external_id)`` before any retry."""
        data = self._call("create_shipment", {
            "number": order_number,
            "lines": [{"orderLine": {"id": int(lid)}, "quantity": int(q)} for lid, q in lines],
            "externalId": external_id,
            "goodToGo": good_to_go,
            "capture": capture,
            "paid": paid or None,
        })
        node = data["createShipment"]["shipment"]
        if node is None:
            raise ExternalError("centra createShipment: no shipment returned", system="centra")
        return shipment_from_json(node)

    def complete_shipment(
        self,
        shipment_id: int,
        carrier: str,
        service: str,
        tracking_numbers: Sequence[str],
        send_email: bool,
        *,
        packages: int | None = None,
    ) -> CentraShipment:
        """Set carrier/service/tracking and ship it (``send_email`` sends the dispatch email).
        Raises ``AmbiguousWrite`` when it may have been applied: ``get_shipment(id).is_shipped``
        says whether it was (and whether the email went)."""
        data = self._call("complete_shipment", {
            "id": shipment_id, "carrier": carrier or None, "service": service or None,
            "trackingNumber": ",".join(t for t in tracking_numbers if t) or None,
            "packages": packages, "sendEmail": send_email,
        })
        node = data["completeShipment"]["shipment"]
        if node is None:
            raise ExternalError("centra completeShipment: no shipment returned",
                                system="centra")
        return shipment_from_json(node)

    def cancel_order_lines(self, number: int, lines: Sequence[tuple[int, int]], *,
                           comment: str = "") -> None:
        """Cancel ``(order line id, units)`` with ``updateDirectToConsumerOrder``'s
        ``cancelLines`` (units released back to the warehouse). Not idempotent: an ambiguous
        failure raises ``AmbiguousWrite``; read the lines' ``cancelled_quantity`` first."""
        if not lines:
            return
        self._call("cancel_order_lines", {
            "number": number,
            "lines": [{"line": {"id": int(lid)}, "quantity": int(q),
                       "stockAction": "RELEASE_BACK_TO_WAREHOUSE"} for lid, q in lines],
            "comment": comment or None,
        })

