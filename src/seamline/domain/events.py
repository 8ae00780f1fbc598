"""Change notices from Centra (events queue or webhook), adapter-independent."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CentraEvent"]


@dataclass(frozen=True, kw_only=True, slots=True)
class CentraEvent:
    #: Events-queue id (0 for webhook notices, which are not confirmed).
    id: int
    #: ``Order``, ``Shipment``, ...
    object_type: str
    #: ``CREATED``, ``UPDATED``, ``DELETED``, ``COMPLETED``, ...
    change_type: str
    #: The object's key: for orders, the order number as a string.
    object_reference: str
