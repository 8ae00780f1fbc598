"""Exceptions: the work that needs a person, each with a type, an owner and a business key.

One open exception per ``(type, business_key)``: raising it again counts a repeat. States go
``open → resolved | skipped``; every change appends to the exception's history. An exception
resolves itself when the job for its business key later succeeds (the queue resolves it when it
completes the job). What is stored is scrubbed of secrets by the store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from seamline.clock import utcnow
from seamline.domain.exception_records import ExceptionRecord, HistoryEntry
from seamline.exceptions import SeamlineError
from seamline.services.unit_of_work import Store, UnitOfWork

__all__ = ["ExceptionRecord", "ExceptionService", "HistoryEntry"]


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
