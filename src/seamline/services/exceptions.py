"""Exceptions: the work that needs a person, each with a type, an owner and a business key.

One open exception per ``(type, business_key)``: raising it again counts a repeat. States go
``open → resolved | skipped``; every change appends to the exception's history. An exception
resolves itself when the job for its business key later succeeds (the queue resolves it when it
completes the job). What is stored is scrubbed of secrets by the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seamline.clock import utcnow
from seamline.domain.exception_records import ExceptionRecord, HistoryEntry
from seamline.exceptions import SeamlineError
from seamline.services.unit_of_work import Store, UnitOfWork

__all__ = [
    "ExceptionRecord",
    "ExceptionService",
    "HistoryEntry",
    "OrderRequeue",
    "RetryOutcome",
    "parse_payload",
]

#: Re-queues orders by number in the caller's unit of work; the numbers re-queued (the order
#: flow's, given by the composition root: the exceptions service knows no flow).
OrderRequeue = Callable[[UnitOfWork, Sequence[int]], list[int]]

#: The largest edited payload accepted (characters of JSON).
MAX_PAYLOAD_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    """What a retry queued: the failed job again, a new job (edit-and-retry), the orders."""

    exception_id: int
    job_id: int | None = None
    orders: tuple[int, ...] = ()

    @property
    def queued(self) -> bool:
        return self.job_id is not None or bool(self.orders)

    def text(self) -> str:
        parts = []
        if self.job_id is not None:
            parts.append(f"job {self.job_id} queued")
        if self.orders:
            shown = ", ".join(str(n) for n in self.orders[:10])
            more = " …" if len(self.orders) > 10 else ""
            parts.append(f"{len(self.orders)} order(s) queued again: {shown}{more}")
        return "; ".join(parts) or "nothing to queue"


def _no_float(text: str) -> Any:
    raise SeamlineError(f"payload: {text} is a decimal number; write amounts as strings "
                        f'(e.g. "{text}"), never as JSON numbers with a fraction')


def parse_payload(text: str) -> dict[str, Any]:
    """A person's edited payload: a JSON object, amounts as strings (no float anywhere)."""
    if len(text) > MAX_PAYLOAD_CHARS:
        raise SeamlineError(f"payload: over {MAX_PAYLOAD_CHARS} characters")
    try:
        value = json.loads(text, parse_float=_no_float,
                           parse_constant=_no_float)
    except ValueError as exc:
        raise SeamlineError(f"payload: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise SeamlineError("payload: must be a JSON object ({...})")
    return value


class ExceptionService:
    """What people do with exceptions: list, show, retry, skip, resolve."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or utcnow

    def get(self, exception_id: int) -> ExceptionRecord | None:
        """One exception with its history, or None."""
        with self.store.read() as uow:
            return uow.exceptions.get(exception_id)

    def list(
        self,
        state: str | None = "open",
        owner: str | None = None,
        type: str | None = None,
        *,
        business_key: str | None = None,
        limit: int = 200,
    ) -> list[ExceptionRecord]:
        """Exceptions, newest first, filtered by state, owner, type and business key."""
        with self.store.read() as uow:
            return uow.exceptions.find(state=state, owner=owner, type=type,
                                       business_key=business_key, limit=limit)

    def resolve(self, exception_id: int, actor: str, note: str = "") -> ExceptionRecord:
        """Mark an open exception resolved by a person."""
        with self.store.begin() as uow:
            return uow.exceptions.close(exception_id, state="resolved", actor=actor, note=note,
                                        now=self.clock())

    def skip(self, exception_id: int, actor: str, note: str = "") -> ExceptionRecord:
        """Mark an open exception skipped (the item will not be processed)."""
        with self.store.begin() as uow:
            return uow.exceptions.close(exception_id, state="skipped", actor=actor, note=note,
                                        now=self.clock())

    def retry(
        self,
        exception_id: int,
        *,
        actor: str = "operator",
        enqueue: Callable[[UnitOfWork], int | None] | None = None,
    ) -> int | None:
        """Re-queue the failed job linked to the exception (or run ``enqueue`` in the same
        unit of work to supply one). The exception stays open until that job succeeds.

        Returns the job id re-queued (None when nothing could be re-queued).
        """
        now = self.clock()
        with self.store.begin() as uow:
            found = uow.exceptions.get(exception_id)
            if found is None:
                raise SeamlineError(f"exception {exception_id} does not exist")
            job_id: int | None = None
            if enqueue is not None:
                job_id = enqueue(uow)
            elif found.job_id is not None and uow.outbox.requeue(found.job_id, now=now):
                job_id = found.job_id
            if job_id is None:
                return None
            uow.exceptions.note(exception_id, "retried", actor, f"job {job_id} re-queued",
                                detail={"job_id": job_id}, now=now)
            uow.audit.append("exception", found.business_key, "retried", actor,
                             {"exception_id": exception_id, "job_id": job_id}, now=now)
        return job_id

    def retry_all(self, exception_id: int, *, actor: str,
                  requeue_orders: OrderRequeue | None = None) -> RetryOutcome:
        """Retry now, with the code and configuration as they are now: the failed job behind
        the exception is queued again, and every order the exception holds is re-queued
        (``requeue_orders``). The exception stays open until the work succeeds."""
        now = self.clock()
        with self.store.begin() as uow:
            found = uow.exceptions.get(exception_id)
            if found is None:
                raise SeamlineError(f"exception {exception_id} does not exist")
            if found.state != "open":
                raise SeamlineError(f"exception {exception_id} is {found.state}, not open")
            job_id = (found.job_id if found.job_id is not None
                      and uow.outbox.requeue(found.job_id, now=now) else None)
            numbers = [int(o) for o in found.orders if isinstance(o, int) or str(o).isdigit()]
            queued = (requeue_orders(uow, numbers) if requeue_orders is not None and numbers
                      else [])
            outcome = RetryOutcome(exception_id, job_id, tuple(queued))
            if outcome.queued:
                uow.exceptions.note(exception_id, "retried", actor, outcome.text(),
                                    detail={"job_id": job_id, "orders": list(queued)}, now=now)
                uow.audit.append("exception", found.business_key, "retried", actor,
                                 {"exception_id": exception_id, "job_id": job_id,
                                  "orders": list(queued)}, now=now)
        return outcome

    def edit_and_retry(self, exception_id: int, payload: Mapping[str, Any], *,
                       actor: str) -> RetryOutcome:
        """Queue the exception's job again with ``payload`` as its arguments (a new job of the
        same task, queue and business key; the failed one stays as it was). The payload before
        and after is kept in the audit log and the exception's history; the new job runs the
        current code and mapping, and resolves the exception when it succeeds."""
        now = self.clock()
        with self.store.begin() as uow:
            found = uow.exceptions.get(exception_id)
            if found is None:
                raise SeamlineError(f"exception {exception_id} does not exist")
            if found.state != "open":
                raise SeamlineError(f"exception {exception_id} is {found.state}, not open")
            job = self.job_of(uow, found)
            if job is None:
                raise SeamlineError(
                    f"exception {exception_id} has no job whose payload could be edited; "
                    "retry it instead (it re-queues the orders it holds)")
            new_id = uow.outbox.enqueue(job.task, dict(payload), queue=job.queue,
                                        business_key=job.business_key or found.business_key)
            if new_id is None:
                raise SeamlineError(f"exception {exception_id}: the edited job was not queued")
            detail = {"job_id": new_id, "from_job": job.id, "task": job.task,
                      "before": job.args, "after": dict(payload)}
            uow.exceptions.note(exception_id, "edited", actor,
                                f"payload edited; job {new_id} queued ({job.task})",
                                detail=detail, now=now)
            uow.audit.append("exception", found.business_key, "edited-and-retried", actor,
                             {"exception_id": exception_id, **detail}, now=now)
        return RetryOutcome(exception_id, new_id)

    def editable_payload(self, exception_id: int) -> dict[str, Any] | None:
        """The arguments of the exception's job (what edit-and-retry starts from), or None."""
        with self.store.read() as uow:
            found = uow.exceptions.get(exception_id)
            if found is None:
                return None
            job = self.job_of(uow, found)
            return dict(job.args) if job is not None else None

    @staticmethod
    def job_of(uow: UnitOfWork, found: ExceptionRecord) -> Any:
        """The exception's job (``job_id``), or None."""
        if found.job_id is None:
            return None
        for job in uow.outbox.jobs_for(found.business_key, ()):
            if job.id == found.job_id:
                return job
        return None
