"""Which orders post now, which wait (and why), which never post."""

from __future__ import annotations

import pytest
from orderkit import line, order, rules

from seamline.domain.gates import NEVER_CANCELLED, READY, Gate, GateOutcome, gate
from seamline.domain.orders import OrderStatus

S = OrderStatus


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, READY),
        ({"status": S.CONFIRMED}, READY),
        ({"is_on_hold": True}, Gate.wait("hold")),
        ({"is_waiting_for_payment": True}, Gate.wait("payment")),
        ({"is_on_hold": True, "is_waiting_for_payment": True}, Gate.wait("hold")),
        ({"status": S.PROCESSING}, Gate.wait("status")),
        ({"status": S.SHIPPED}, Gate.wait("status")),
        ({"status": S.ARCHIVED}, Gate.wait("status")),
        ({"status": S.CANCELLED}, NEVER_CANCELLED),
        ({"status": S.CANCELLED, "is_on_hold": True}, NEVER_CANCELLED),
        ({"lines": (line(1, qty=0, cancelled=2),)}, NEVER_CANCELLED),
        ({"lines": (line(1, qty=0, cancelled=2), line(2))}, READY),
    ],
)
def test_the_gate_decides_per_order(changes: dict[str, object], expected: Gate) -> None:
    """Cancelled never posts; hold and payment wait; only configured statuses post."""
    assert gate(order(**changes), rules()) == expected


def test_which_statuses_post_is_configurable() -> None:
    """With PROCESSING configured, a PROCESSING order is ready and a PENDING one waits."""
    r = rules(post_statuses=frozenset({S.PROCESSING}))
    assert gate(order(status=S.PROCESSING), r).ready
    assert gate(order(status=S.PENDING), r) == Gate(GateOutcome.WAIT, "status")


def test_gate_outcomes_read_as_words() -> None:
    """Gates print as READY, WAIT(hold), NEVER(cancelled) for logs and the ledger."""
    assert [str(READY), str(Gate.wait("hold")), str(NEVER_CANCELLED)] == [
        "READY", "WAIT(hold)", "NEVER(cancelled)"]
    assert Gate.wait("payment").waiting
    assert NEVER_CANCELLED.never
    assert not READY.waiting
