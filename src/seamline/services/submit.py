"""Post one sales order to BlueCherry exactly once, whatever happened to earlier attempts.

The rule (DESIGN.md, "Writes that cannot be repeated blindly"): once an attempt may have reached
BlueCherry, look the order up by ``external_reference`` before posting again; a 409 or a found
order counts as success only if it matches what was sent (``seamline.domain.erp.differences``),
otherwise it is a ``Conflict`` for operations. An ambiguous failure whose look-up finds nothing is
re-raised as retriable: the queue retries later with the *same* frozen payload, with
``may_have_reached=True``.

Pure over the port: no I/O of its own, unit-tested with ``FakeBlueCherry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from seamline.domain.erp import ErpSalesOrder, differences
from seamline.domain.sales_order import SalesOrder
from seamline.exceptions import AmbiguousWrite, Conflict
from seamline.ports import BlueCherryGateway

__all__ = ["SubmitOutcome", "submit_sales_order"]

How = Literal["created", "found-after-ambiguous", "duplicate-matching"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitOutcome:
    """The order is in BlueCherry, once: its number, when it was created, and how we know."""

    order_no: str
    created_at: datetime
    order: ErpSalesOrder
    how: How


def _accept(order: SalesOrder, existing: ErpSalesOrder, how: How, *, why: str) -> SubmitOutcome:
    diffs = differences(order, existing)
    if diffs:
        raise Conflict(
            f"{why}: BlueCherry order {existing.order_no} for {order.external_reference} differs "
            f"from what was sent: " + "; ".join(diffs),
            system="bluecherry", existing=existing.raw or None, differences=diffs,
            order_no=existing.order_no, external_reference=order.external_reference,
        )
    return SubmitOutcome(order_no=existing.order_no, created_at=existing.created_at,
                         order=existing, how=how)


def submit_sales_order(
    erp: BlueCherryGateway, order: SalesOrder, *, may_have_reached: bool
) -> SubmitOutcome:
    """Make sure ``order`` is in BlueCherry exactly once.

    ``may_have_reached``: an earlier attempt with this payload may have been applied. The safe
    rule for callers: ``False`` only on the very first attempt; ``True`` on every attempt after
    one that raised anything retriable (a failed look-up inside an ambiguous recovery raises
    ``TransientError``, yet the create before it may have been applied).

    Raises ``Conflict`` (a differing order exists),
    ``Rejected``/``AuthFailed`` (permanent), or a ``RetriableError`` (try again later with the same
    payload and ``may_have_reached=True``).
    """
    if may_have_reached:
        found = erp.find_by_external_reference(order.external_reference)
        if found is not None:
            return _accept(order, found, "found-after-ambiguous",
                           why="look-up before re-posting")
    try:
        result = erp.create_sales_order(order)
    except AmbiguousWrite as exc:
        found = erp.find_by_external_reference(order.external_reference)
        if found is not None:
            return _accept(order, found, "found-after-ambiguous",
                           why="look-up after an ambiguous create")
        raise AmbiguousWrite(
            f"create of {order.external_reference} may not have reached BlueCherry and is not "
            "there yet; retry later with the same payload",
            system="bluecherry", status=exc.status, retry_after=exc.retry_after,
        ) from exc
    if result.created:
        return SubmitOutcome(order_no=result.order.order_no, created_at=result.order.created_at,
                             order=result.order, how="created")
    return _accept(order, result.order, "duplicate-matching",
                   why=f"409 {result.duplicate_code}".strip())
