"""The queue suite runs once on SQLite and once on PostgreSQL, on a fresh database per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from seamline.adapters.store.db import Database
from seamline.bootstrap import queue_hooks, store_for
from seamline.queue import JobQueue, RetryPolicy
from seamline.services.exceptions import ExceptionService


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)



@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policy() -> RetryPolicy:
    import random  # noqa: PLC0415

    return RetryPolicy(base_s=2.0, cap_s=60.0, max_attempts=5, max_age_s=3600.0,
                       max_inline_wait_s=5.0, rng=random.Random(7))


@pytest.fixture
def queue(db: Database, clock: FakeClock, policy: RetryPolicy) -> JobQueue:
    return JobQueue(db, clock=clock, policy=policy, hooks=queue_hooks())


@pytest.fixture
def exceptions(db: Database, clock: FakeClock) -> ExceptionService:
    return ExceptionService(store_for(db), clock=clock)
