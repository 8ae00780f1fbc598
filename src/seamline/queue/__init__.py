"""The durable job queue (transactional outbox), its worker and its scheduler."""

from __future__ import annotations

from seamline.queue.core import JobQueue, QueueHooks
from seamline.queue.models import Job, JobStatus, Lease
from seamline.queue.policy import RetryDecision, RetryPolicy
from seamline.queue.registry import TaskRegistry, TaskSpec
from seamline.queue.scheduler import Scheduler
from seamline.queue.worker import JobAbandoned, JobContext, Worker

__all__ = [
    "Job",
    "JobAbandoned",
    "JobContext",
    "JobQueue",
    "JobStatus",
    "Lease",
    "QueueHooks",
    "RetryDecision",
    "RetryPolicy",
    "Scheduler",
    "TaskRegistry",
    "TaskSpec",
    "Worker",
]
