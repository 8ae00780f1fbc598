"""Whether a Centra order may be posted now, must wait (and why), or must never be posted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from seamline.domain.mapping import PostingRules
from seamline.domain.orders import CentraOrder

__all__ = ["NEVER_CANCELLED", "READY", "Gate", "GateOutcome", "NeverReason", "WaitReason", "gate"]

WaitReason = Literal["hold", "payment", "status"]
NeverReason = Literal["cancelled"]


class GateOutcome(StrEnum):
    READY = "READY"
    WAIT = "WAIT"
    NEVER = "NEVER"


@dataclass(frozen=True, slots=True)
class Gate:
    """The gate's answer; ``reason`` is empty for READY."""

    outcome: GateOutcome
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.outcome is GateOutcome.READY

    @property
    def waiting(self) -> bool:
        return self.outcome is GateOutcome.WAIT

    @property
    def never(self) -> bool:
        return self.outcome is GateOutcome.NEVER

    @staticmethod
    def wait(reason: WaitReason) -> Gate:
        return Gate(GateOutcome.WAIT, reason)

    def __str__(self) -> str:
        return f"{self.outcome.value}({self.reason})" if self.reason else self.outcome.value


READY = Gate(GateOutcome.READY)
NEVER_CANCELLED = Gate(GateOutcome.NEVER, "cancelled")


def gate(order: CentraOrder, rules: PostingRules) -> Gate:
    """Decide for an order that is not posted yet.

    In this order: cancelled (or every line cancelled) → NEVER('cancelled'); on hold →
    WAIT('hold'); awaiting payment → WAIT('payment'); a status not in ``rules.post_statuses``
    → WAIT('status'); else READY.
    """
    if order.is_cancelled or not order.live_lines():
        return NEVER_CANCELLED
    if order.is_on_hold:
        return Gate.wait("hold")
    if order.is_waiting_for_payment:
        return Gate.wait("payment")
    if order.status not in rules.post_statuses:
        return Gate.wait("status")
    return READY
