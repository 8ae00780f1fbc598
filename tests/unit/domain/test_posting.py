"""Changes after posting and cancellations after posting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from orderkit import WHEN, catalogue, line, m, market, order, rules

from seamline.domain.erp import ErpOrderLine, ErpSalesOrder
from seamline.domain.orders import Address, OrderStatus
from seamline.domain.posting import (
    ALL,
    build_sales_order,
    cancel_plan,
    cancel_reference,
    plan_cancel,
    posted_fields_hash,
)
from seamline.exceptions import InvalidRecord

TWO_LINES = order(
    lines=(line(11, qty=2), line(12, qty=1, n=2)), shipping=m("0.00"), shipping_tax=m("0.00"),
    tax_total=m("60.00"), grand_total=m("300.00"),
)


def digest(o):  # type: ignore[no-untyped-def]
    return posted_fields_hash(o, market=market(), rules=rules(), catalogue=catalogue())


def test_the_change_hash_is_the_posted_payloads_hash() -> None:
    """posted_fields_hash is SalesOrder.posted_hash() of the order built now."""
    so = build_sales_order(TWO_LINES, market=market(), rules=rules(), catalogue=catalogue())
    assert digest(TWO_LINES) == so.posted_hash()


@pytest.mark.parametrize(
    "changes",
    [
        {"status": OrderStatus.CONFIRMED},
        {"is_locked": True},
        {"updated_at": datetime(2027, 1, 1, tzinfo=UTC)},
        {"conversion_rate": 2},
        {"is_on_hold": True},
    ],
)
def test_seamlines_own_write_backs_never_change_the_hash(changes: dict[str, object]) -> None:
    """Confirmation, locking and bookkeeping are not posted fields."""
    assert digest(replace(TWO_LINES, **changes)) == digest(TWO_LINES)


@pytest.mark.parametrize(
    "changes",
    [
        {"shipping_address": Address(first_name="Ada", address1="Ny gata 2", city="Lund",
                                     country="SE")},
        {"billing_address": Address(company="Other AB")},
        {"lines": (line(11, qty=2), line(12, qty=1, n=3))},
        {"shipping_option": "std"},
        {"order_date": WHEN.replace(day=27)},
    ],
)
def test_address_line_and_shipping_changes_do_change_the_hash(
    changes: dict[str, object]
) -> None:
    """A changed address, SKU, shipping method or date is a posted-order change."""
    assert digest(replace(TWO_LINES, **changes)) != digest(TWO_LINES)


def test_a_changed_quantity_or_shipping_price_changes_the_hash() -> None:
    """Line quantities and shipping amounts are posted fields."""
    fewer = replace(TWO_LINES, lines=(line(11, qty=1, cancelled=1), line(12, n=2)),
                    tax_total=m("40.00"), grand_total=m("200.00"))
    shipped = replace(TWO_LINES, shipping=m("49.00"), shipping_tax=m("9.80"),
                      tax_total=m("69.80"), grand_total=m("349.00"))
    assert len({digest(TWO_LINES), digest(fewer), digest(shipped)}) == 3


# -- cancellations ---------------------------------------------------------------------------


def erp(*lines: tuple[int, int, int], status: str = "OPEN") -> ErpSalesOrder:
    """BlueCherry order with (line_no, ordered, cancelled) lines."""
    return ErpSalesOrder(
        order_no="SO-000123", status=status, customer_po="100234",
        external_reference="centra:1:100234", customer="WEBSE", division="D01",
        warehouse="W01", store="SE", currency="SEK",
        lines=tuple(ErpOrderLine(line_no=n, sku=f"SKU-{n}", upc="", ordered_quantity=o,
                                 cancelled_quantity=c, unit_price=m("100.00"),
                                 discount=m("0.00"), tax=m("0.00")) for n, o, c in lines),
        total=m("300.00"), tax=m("60.00"), created_at=WHEN, updated_at=WHEN,
    )


LINE_MAP = {11: 1, 12: 2}


@pytest.mark.parametrize(
    ("centra_lines", "erp_lines", "expected"),
    [
        # nothing cancelled anywhere
        (((11, 2, 0), (12, 1, 0)), ((1, 2, 0), (2, 1, 0)), []),
        # Centra cancelled one of line 11
        (((11, 1, 1), (12, 1, 0)), ((1, 2, 0), (2, 1, 0)), [(1, 1)]),
        # ...and BlueCherry already shows it cancelled
        (((11, 1, 1), (12, 1, 0)), ((1, 2, 1), (2, 1, 0)), []),
        # BlueCherry cancelled more than Centra (short shipment): never negative
        (((11, 2, 0), (12, 1, 0)), ((1, 2, 2), (2, 1, 0)), []),
        # whole line 12 cancelled in Centra, one of two on line 11
        (((11, 1, 1), (12, 0, 1)), ((1, 2, 0), (2, 1, 0)), [(1, 1), (2, 1)]),
        # a unit cancelled before posting was never posted: only the later one is cancelled
        (((11, 1, 2), (12, 1, 0)), ((1, 2, 0), (2, 1, 0)), [(1, 1)]),
    ],
)
def test_a_cancel_plan_asks_for_what_centra_cancelled_less_what_bluecherry_shows(
    centra_lines: tuple[tuple[int, int, int], ...],
    erp_lines: tuple[tuple[int, int, int], ...],
    expected: list[tuple[int, int]],
) -> None:
    """Per line: units BlueCherry still counts beyond Centra's current quantity, never < 0."""
    o = replace(TWO_LINES, lines=tuple(line(i, qty=q, cancelled=c) for i, q, c in centra_lines))
    assert cancel_plan(o, LINE_MAP, erp(*erp_lines)) == expected


def test_a_cancelled_order_cancels_every_open_unit_unless_nothing_is_left() -> None:
    """Whole-order cancel → ALL; when BlueCherry already cancelled every unit → nothing."""
    cancelled = replace(TWO_LINES, status=OrderStatus.CANCELLED)
    assert cancel_plan(cancelled, LINE_MAP, erp((1, 2, 1), (2, 1, 0))) is ALL
    assert cancel_plan(cancelled, LINE_MAP, erp((1, 2, 2), (2, 1, 1))) == []
    plan = plan_cancel(cancelled, LINE_MAP, erp((1, 2, 0), (2, 1, 0)))
    assert plan.wire_lines() is None
    assert not plan.is_empty


def test_lines_added_after_posting_are_not_cancelled_here() -> None:
    """A Centra line missing from the line map was never posted (a change, not a cancel)."""
    o = replace(TWO_LINES, lines=(*TWO_LINES.lines, line(13, qty=0, cancelled=1, n=3)))
    assert cancel_plan(o, LINE_MAP, erp((1, 2, 0), (2, 1, 0))) == []


def test_a_line_map_pointing_at_a_missing_bluecherry_line_is_invalid() -> None:
    """The ledger's line map and BlueCherry disagree: stop rather than guess."""
    o = replace(TWO_LINES, lines=(line(11, qty=1, cancelled=1), line(12, n=2)))
    with pytest.raises(InvalidRecord):
        cancel_plan(o, LINE_MAP, erp((2, 1, 0)))


def test_cancel_references_are_deterministic_and_differ_per_cancel() -> None:
    """Same plan and Centra state → same reference; a second, same-sized cancel → a new one."""
    first = replace(TWO_LINES, lines=(line(11, qty=1, cancelled=1), line(12, n=2)))
    plan = cancel_plan(first, LINE_MAP, erp((1, 2, 0), (2, 1, 0)))
    ref = cancel_reference(first, plan)
    assert ref == cancel_reference(first, list(plan))
    assert ref.startswith("centra:100234:cancel:")
    second = replace(TWO_LINES, lines=(line(11, qty=0, cancelled=2), line(12, n=2)))
    plan2 = cancel_plan(second, LINE_MAP, erp((1, 2, 1), (2, 1, 0)))
    assert plan2 == plan == [(1, 1)]
    assert cancel_reference(second, plan2) != ref
    whole = replace(TWO_LINES, status=OrderStatus.CANCELLED)
    assert cancel_reference(whole, ALL) == cancel_reference(whole, ALL) != ref


def test_plan_cancel_gives_bluecherrys_cancel_body() -> None:
    """lines as [{line_no, quantity}] with the reference alongside."""
    o = replace(TWO_LINES, lines=(line(11, qty=1, cancelled=1), line(12, qty=0, cancelled=1)))
    plan = plan_cancel(o, LINE_MAP, erp((1, 2, 0), (2, 1, 0)))
    assert plan.wire_lines() == [{"line_no": 1, "quantity": 1}, {"line_no": 2, "quantity": 1}]
    assert plan.order_no == "SO-000123"
    assert plan.reference == cancel_reference(o, [(1, 1), (2, 1)])
    assert plan_cancel(TWO_LINES, LINE_MAP, erp((1, 2, 0), (2, 1, 0))).is_empty
