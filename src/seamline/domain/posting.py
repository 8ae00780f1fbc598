"""Order posting, pure: the one import the order-flow service needs.

Re-exports the mapping, gates, pricing and batch functions, and adds change detection after
posting (:func:`posted_fields_hash`) and cancellations after posting (:func:`cancel_plan`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from seamline.domain.batch import business_day, cutoff_instant, due_batches, in_batch
from seamline.domain.erp import ErpSalesOrder
from seamline.domain.gates import NEVER_CANCELLED, READY, Gate, GateOutcome, gate
from seamline.domain.mapping import (
    Catalogue,
    MarketCodes,
    PostingRules,
    ResolvedSku,
    find_market,
    mapping_gaps,
    market_key,
    resolve_market,
    ship_via_for,
    shipping_option_key,
)
from seamline.domain.orders import CentraOrder
from seamline.domain.pricing import (
    FREIGHT,
    Pricing,
    build_sales_order,
    check_against_centra,
    check_bluecherry_rules,
    external_reference_for,
    price_order,
)
from seamline.exceptions import InvalidRecord

__all__ = [
    "ALL",
    "FREIGHT",
    "NEVER_CANCELLED",
    "READY",
    "AllOpen",
    "CancelPlan",
    "Catalogue",
    "Gate",
    "GateOutcome",
    "MarketCodes",
    "PostingRules",
    "Pricing",
    "ResolvedSku",
    "build_sales_order",
    "business_day",
    "cancel_plan",
    "cancel_reference",
    "check_against_centra",
    "check_bluecherry_rules",
    "cutoff_instant",
    "due_batches",
    "external_reference_for",
    "find_market",
    "gate",
    "in_batch",
    "mapping_gaps",
    "market_key",
    "plan_cancel",
    "posted_fields_hash",
    "price_order",
    "resolve_market",
    "ship_via_for",
    "shipping_option_key",
]


def posted_fields_hash(
    order: CentraOrder,
    *,
    market: MarketCodes,
    rules: PostingRules,
    catalogue: Catalogue,
    store_label: str | None = None,
) -> str:
    """The hash of the fields Seamline posts for this order (``SalesOrder.posted_hash()``).

    Compare it with the hash kept on the ledger at posting: a difference means the Centra order
    changed after posting (``POSTED_ORDER_CHANGED``). Seamline's own write-backs (external id,
    status PENDING → CONFIRMED, locking) and Centra bookkeeping (``updated_at``, payments) are
    not posted fields, so they never change it. A cancellation changes it too: the service
    handles cancels first and stores the new hash once BlueCherry has applied the cancel.
    """
    return build_sales_order(order, market=market, rules=rules, catalogue=catalogue,
                             store_label=store_label).posted_hash()


# -- cancellations after posting -------------------------------------------------------------


class AllOpen(Enum):
    """Cancel every open unit of the sales order (BlueCherry's ``"lines": null``)."""

    ALL = "ALL"


ALL: Literal[AllOpen.ALL] = AllOpen.ALL


@dataclass(frozen=True, kw_only=True, slots=True)
class CancelPlan:
    """What to cancel in BlueCherry, and the idempotent ``reference`` of that cancel."""

    order_number: int
    order_no: str
    #: ``ALL`` (the whole order was cancelled in Centra) or ``(line_no, quantity)`` pairs.
    lines: tuple[tuple[int, int], ...] | Literal[AllOpen.ALL]
    #: The reference BlueCherry keys the cancel on: the same plan always gets the same one.
    reference: str

    @property
    def is_empty(self) -> bool:
        return self.lines != ALL and not self.lines

    def wire_lines(self) -> list[dict[str, int]] | None:
        """The ``lines`` of BlueCherry's cancel body (``None`` = every open unit)."""
        if self.lines == ALL:
            return None
        return [{"line_no": n, "quantity": q} for n, q in self.lines]


def cancel_plan(
    order: CentraOrder, line_map: Mapping[int, int], erp: ErpSalesOrder
) -> list[tuple[int, int]] | Literal[AllOpen.ALL]:
    """Units to cancel in BlueCherry so it matches Centra's cancellations.

    A cancelled Centra order → ``ALL`` (every open unit), unless BlueCherry already shows every
    unit cancelled (``[]``). Otherwise, per Centra line posted as ``line_map[line id]``: the
    units BlueCherry still counts (ordered − cancelled) beyond Centra's current quantity —
    i.e. what Centra cancelled since posting minus what BlueCherry already cancelled — never
    negative; ascending by ``line_no``, zero quantities left out. Units already picked or
    shipped are asked for too: BlueCherry's refusal becomes ``CANCEL_REFUSED``.
    Centra lines added after posting are not in ``line_map`` and are ignored here.
    """
    erp_lines = {ln.line_no: ln for ln in erp.lines}
    if order.is_cancelled:
        if any(ln.ordered_quantity - ln.cancelled_quantity > 0 for ln in erp.lines):
            return ALL
        return []
    plan: dict[int, int] = {}
    for line in order.lines:
        line_no = line_map.get(line.id)
        if line_no is None:
            continue
        theirs = erp_lines.get(line_no)
        if theirs is None:
            raise InvalidRecord(
                f"BlueCherry order {erp.order_no} has no line {line_no} (Centra line {line.id})",
                order=order.number, order_no=erp.order_no,
            )
        still_counted = theirs.ordered_quantity - theirs.cancelled_quantity
        extra = still_counted - line.quantity
        if extra > 0:
            plan[line_no] = plan.get(line_no, 0) + extra
    return sorted(plan.items())


def cancel_reference(
    order: CentraOrder, plan: list[tuple[int, int]] | Literal[AllOpen.ALL]
) -> str:
    """``centra:<number>:cancel:<hash>``, deterministic for the same plan and Centra state.

    The hash covers the plan and the quantities Centra still wants on the lines it touches, so
    a later, separate cancel of the same size on the same line gets a new reference, while a
    retry of one cancel (same plan, same Centra state) gets the same one.
    """
    if plan == ALL:
        body: object = {"all": True}
    else:
        wanted = sorted((line.id, line.quantity) for line in order.lines)
        body = {"lines": [[n, q] for n, q in plan], "wanted": [[i, q] for i, q in wanted]}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return f"centra:{order.number}:cancel:{digest}"


def plan_cancel(order: CentraOrder, line_map: Mapping[int, int], erp: ErpSalesOrder) -> CancelPlan:
    """:func:`cancel_plan` and :func:`cancel_reference` together."""
    lines = cancel_plan(order, line_map, erp)
    return CancelPlan(
        order_number=order.number, order_no=erp.order_no,
        lines=lines if lines == ALL else tuple(lines),
        reference=cancel_reference(order, lines),
    )
