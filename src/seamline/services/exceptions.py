"""Exceptions: the work that needs a person, each with a type, an owner and a business key.

One open exception per ``(type, business_key)``: raising it again counts a repeat. States go
``open → resolved | skipped``; every change appends to the exception's history. An exception
resolves itself when the job for its business key later succeeds (the queue resolves it when it
completes the job). What is stored is scrubbed of secrets by the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seamline.clock import utcnow
from seamline.domain.exception_keys import OrderKey, parse_key
from seamline.domain.exception_records import ExceptionRecord, HistoryEntry
from seamline.exceptions import NotFound, SeamlineError
from seamline.services.orders.parking import requeue_orders
from seamline.services.unit_of_work import Store, UnitOfWork

__all__ = [
    "ExceptionRecord",
    "ExceptionService",
    "HistoryEntry",
    "Requeued",
    "RetryOutcome",
    "parse_payload",
]

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
        """Re-queue what the exception holds (see :meth:`requeue`); the first job id queued,
        or None when nothing could be queued."""
        done = self.requeue(exception_id, actor=actor, enqueue=enqueue)
        return done.job_id if done.job_id is not None else (done.orders[0] if done.orders
                                                            else None)

    def requeue(
        self,
        exception_id: int,
        *,
        actor: str = "operator",
        enqueue: Callable[[UnitOfWork], int | None] | None = None,
    ) -> Requeued:
        """Retry an exception now, with the configuration and catalogue as they are now.

        In one unit of work: the failed job linked to the exception is put back (or
        ``enqueue`` supplies one), and every order the exception holds *now* (the
        exception–order relation) gets its post job queued again — also when there is no failed
        job, as for a parked ``MAPPING_MISSING`` or ``UNKNOWN_SKU``. An exception about one
        order (``order:<n>``) that has neither re-queues that order; an ``UNKNOWN_SKU`` also
        queues a catalogue sync (the SKU may be new in BlueCherry). The exception stays open
        until the work succeeds (a parked order that still lacks its mapping parks on it again).
        """
        now = self.clock()
        with self.store.begin() as uow:
            found = uow.exceptions.get(exception_id)
            if found is None:
                raise NotFound(f"exception {exception_id} does not exist")
            if found.state != "open":
                raise SeamlineError(f"exception {exception_id} is {found.state}; only an open "
                                    "exception can be retried")
            job_id: int | None = None
            if enqueue is not None:
                job_id = enqueue(uow)
            elif found.job_id is not None and uow.outbox.requeue(found.job_id, now=now):
                job_id = found.job_id
            held: list[int | str] = list(found.orders)
            key = parse_key(found.business_key)
            if not held and job_id is None and isinstance(key, OrderKey):
                held = [key.number]
            orders = requeue_orders(uow, held)
            if found.type == "UNKNOWN_SKU":
                # The SKU may have been created in BlueCherry since the last catalogue sync:
                # sync now; the sync re-queues the orders again once it knows the SKU.
                uow.outbox.enqueue("catalogue.sync", {}, queue="intake",
                                   dedupe_key="catalogue.sync")
            if job_id is None and not orders:
                return Requeued(exception_id, None, (), held=tuple(held))
            note = "; ".join(filter(None, (
                f"job {job_id} re-queued" if job_id is not None else "",
                f"{len(orders)} order(s) re-queued: {_listed(orders)}" if orders else "")))
            detail: dict[str, object] = {"job_id": job_id, "orders": orders}
            uow.exceptions.note(exception_id, "retried", actor, note, detail=detail, now=now)
            uow.audit.append("exception", found.business_key, "retried", actor,
                             {"exception_id": exception_id, **detail}, now=now)
        return Requeued(exception_id, job_id, tuple(orders), held=tuple(held))

    def retry_all(self, exception_id: int, *, actor: str) -> RetryOutcome:
        """Retry now, with the code and configuration as they are now (see :meth:`requeue`):
        the failed job is queued again and every order the exception holds is re-queued. The
        exception stays open until the work succeeds; one that is not open is an error."""
        with self.store.read() as uow:
            found = uow.exceptions.get(exception_id)
        if found is None:
            raise SeamlineError(f"exception {exception_id} does not exist")
        if found.state != "open":
            raise SeamlineError(f"exception {exception_id} is {found.state}, not open")
        done = self.requeue(exception_id, actor=actor)
        return RetryOutcome(exception_id, done.job_id, done.orders)

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


@dataclass(frozen=True, slots=True)
class Requeued:
    """What a retry queued: the failed job put back (if any) and the orders re-queued."""

    exception_id: int
    job_id: int | None
    orders: tuple[int, ...]
    #: The orders the exception held when retried (those not in ``orders`` already had a
    #: post job waiting).
    held: tuple[int | str, ...] = ()

    @property
    def nothing(self) -> bool:
        """Nothing was queued (no failed job, no order held, or every one already waiting)."""
        return self.job_id is None and not self.orders


def _listed(numbers: list[int], most: int = 10) -> str:
    return ", ".join(str(n) for n in numbers[:most]) + (" …" if len(numbers) > most else "")
