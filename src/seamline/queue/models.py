"""Job records as the queue hands them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Job", "JobStatus", "Lease"]


class JobStatus(StrEnum):
    """Where a job is in its life."""

    TODO = "todo"
    DOING = "doing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Job:
    """One row of the ``jobs`` table."""

    id: int
    queue: str
    task: str
    args: dict[str, Any]
    status: JobStatus
    priority: int
    dedupe_key: str | None
    business_key: str | None
    attempts: int
    max_attempts: int
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    lease_token: str | None
    lease_expires_at: datetime | None
    worker_id: str | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: Any) -> Job:
        """Build from a SQLAlchemy row (or any mapping) of the ``jobs`` table."""
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=int(m["id"]),
            queue=m["queue"],
            task=m["task"],
            args=dict(m["args"] or {}),
            status=JobStatus(m["status"]),
            priority=int(m["priority"]),
            dedupe_key=m["dedupe_key"],
            business_key=m["business_key"],
            attempts=int(m["attempts"]),
            max_attempts=int(m["max_attempts"]),
            run_at=m["run_at"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            lease_token=m["lease_token"],
            lease_expires_at=m["lease_expires_at"],
            worker_id=m["worker_id"],
            last_error=m["last_error"],
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """A claimed job and the token that proves this worker still owns it."""

    job: Job
    token: str

    @property
    def job_id(self) -> int:
        return self.job.id
