"""What the rest of the system does when the queue gives a job up, completes one, or sees a
system down too long: hooks the composition root wires to the exception store (the queue itself
knows no business). Each runs in the transaction that records the event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Connection

from seamline.queue.circuit import SystemState
from seamline.queue.models import Job
from seamline.queue.policy import RetryDecision

__all__ = ["GiveUpHook", "OutageHook", "QueueHooks", "SuccessHook"]


class GiveUpHook(Protocol):
    """Called when the queue gives a job up, in the transaction that marks it failed."""

    def __call__(
        self, conn: Connection, job: Job, exc: BaseException, decision: RetryDecision, *,
        error: str, now: datetime,
    ) -> int | None:
        """Record the give-up (e.g. open an exception); return the record's id, if any."""
        ...


class SuccessHook(Protocol):
    """Called for every job that completes, in the transaction that marks it succeeded."""

    def __call__(self, conn: Connection, job: Job, *, now: datetime) -> None:
        ...


class OutageHook(Protocol):
    """Called when a system has been down ``alert_after_s`` (``ended=False``) and when it
    answers again after being down (``ended=True``), in the transaction that records it."""

    def __call__(self, conn: Connection, state: SystemState, *, ended: bool,
                 now: datetime) -> None:
        ...


@dataclass(frozen=True, slots=True)
class QueueHooks:
    """What the rest of the system does when a job gives up or succeeds, and when a system's
    outage is long enough to tell someone or is over (default: nothing)."""

    on_give_up: GiveUpHook | None = None
    on_success: SuccessHook | None = None
    on_outage: OutageHook | None = None
