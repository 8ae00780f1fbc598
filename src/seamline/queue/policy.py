"""What to do when a job fails: retry later, release, or give up into an exception."""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from seamline.config import QueueSettings
from seamline.exceptions import (
    ConfigError,
    DataError,
    LeaseLost,
    PermanentError,
    RetriableError,
    SeamlineError,
)
from seamline.queue.models import Job

__all__ = ["RetryDecision", "RetryPolicy", "describe_error"]

Action = Literal["retry", "release", "wait", "give_up"]


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The policy's verdict on one failure."""

    action: Action
    reason: str
    #: When the job runs again (retry/release/wait), else None.
    run_at: datetime | None = None
    delay_s: float = 0.0
    #: The exception type and owner recorded on give-up.
    exception_type: str | None = None
    owner: str | None = None
    #: The exception record written on give-up (filled in by the queue).
    exception_id: int | None = None

    @property
    def gave_up(self) -> bool:
        return self.action == "give_up"


def describe_error(exc: BaseException) -> str:
    """One line for a Seamline error; class, message and the last frames for anything else."""
    if isinstance(exc, SeamlineError):
        return f"{type(exc).__name__}: {exc.message}"
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
    )
    return f"{type(exc).__name__}: {exc}" + (f" (at {where})" if where else "")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, Retry-After honoured, capped by attempts and age.

    - ``RetriableError`` and unknown (non-Seamline) errors retry after
      ``uniform(0, min(cap, base * 2**(attempt-1)))`` seconds, or after the error's
      ``retry_after`` when it gave one. A ``retry_after`` longer than ``max_inline_wait_s``
      releases the job (a later ``run_at``, not counted as an attempt): the worker never sleeps.
    - ``PermanentError``, ``DataError`` and ``ConfigError`` give up at once.
    - Attempts ≥ ``max_attempts`` or a job older than ``max_age_s`` give up.
    - A failure the system's outage explains (``seamline.queue.circuit``) is not the job's: it
      waits (:meth:`wait`), counting no attempt, and never gives up for that.
    - On give-up the exception type is the error's ``type_for()`` and owner its ``owner_for()``;
      an exhausted retriable error takes the task's registered type when it has one.

    Not to be confused with ``seamline.adapters.http.InlineRetry``, the in-process budget of
    one HTTP call inside one attempt (seconds, in memory). This policy acts between attempts:
    its delays are minutes to hours and live on the job row, so they survive a restart.
    """

    base_s: float = 2.0
    cap_s: float = 600.0
    max_attempts: int = 12
    max_age_s: float = 72 * 3600.0
    max_inline_wait_s: float = 5.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(cls, q: QueueSettings, *, max_attempts: int = 12) -> RetryPolicy:
        return cls(
            base_s=q.backoff_base_s, cap_s=q.backoff_max_s, max_attempts=max_attempts,
            max_age_s=q.max_age_h * 3600.0, max_inline_wait_s=q.max_inline_wait_s,
        )

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before the next run after ``attempt`` attempts."""
        ceiling = min(self.cap_s, self.base_s * (2 ** max(0, min(attempt - 1, 40))))
        return self.rng.uniform(0, ceiling)

    def wait(self, exc: BaseException, now: datetime, delay_s: float, system: str,
             ) -> RetryDecision:
        """The decision for a failure that the outage of ``system`` explains: wait ``delay_s``
        (or the error's ``retry_after`` when longer) without counting an attempt."""
        retry_after = exc.retry_after if isinstance(exc, RetriableError) else None
        delay = max(delay_s, float(retry_after or 0.0))
        return RetryDecision(
            "wait", f"{describe_error(exc)} ({system} is failing: not counted as an attempt)",
            run_at=now + timedelta(seconds=delay), delay_s=delay,
        )

    def decide(
        self, job: Job, exc: BaseException, now: datetime, *, exception_type: str | None = None,
    ) -> RetryDecision:
        """The decision for ``job`` (already claimed, ``job.attempts`` counted) failing with
        ``exc`` at ``now``."""
        if isinstance(exc, LeaseLost):
            raise TypeError("a lost lease is not a failure; the worker must not call fail()")
        reason = describe_error(exc)
        if isinstance(exc, PermanentError | DataError | ConfigError):
            return RetryDecision(
                "give_up", reason, exception_type=exc.type_for(), owner=exc.owner_for(),
            )
        if isinstance(exc, SeamlineError):
            exhausted_type = exception_type or exc.type_for()
            owner = exc.owner_for()
        else:
            exhausted_type = exception_type or "INTERNAL_ERROR"
            owner = "operations" if exception_type else "integrator"
        age = (now - job.created_at).total_seconds()
        retry_after = exc.retry_after if isinstance(exc, RetriableError) else None
        if age >= self.max_age_s:
            return RetryDecision(
                "give_up", f"{reason} (gave up: older than {self.max_age_s / 3600:g} h)",
                exception_type=exhausted_type, owner=owner,
            )
        if retry_after is not None and retry_after > self.max_inline_wait_s:
            delay = float(retry_after)
            return RetryDecision(
                "release", f"{reason} (Retry-After {delay:g}s)",
                run_at=now + timedelta(seconds=delay), delay_s=delay,
            )
        if job.attempts >= job.max_attempts:
            return RetryDecision(
                "give_up", f"{reason} (gave up after {job.attempts} attempts)",
                exception_type=exhausted_type, owner=owner,
            )
        delay = float(retry_after) if retry_after is not None else self.backoff(job.attempts)
        return RetryDecision(
            "retry", reason, run_at=now + timedelta(seconds=delay), delay_s=delay,
        )
