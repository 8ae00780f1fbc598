"""An outage is not a job's fault: Centra or BlueCherry failing for everyone makes the jobs that
need it wait, uncounted, and one log line and one exception say so (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from structlog.testing import capture_logs

from seamline import reachability
from seamline.adapters.store.db import Database
from seamline.bootstrap import queue_hooks
from seamline.exceptions import RateLimited, Rejected, TransientError
from seamline.queue import JobQueue, RetryPolicy, TaskRegistry
from seamline.queue.circuit import Circuits, CircuitSettings
from seamline.services.exceptions import ExceptionService

MAX_ATTEMPTS = 3


def _noop(ctx: Any, args: dict[str, Any]) -> None:
    return None


@pytest.fixture
def registry() -> TaskRegistry:
    reg = TaskRegistry()
    reg.register("erp.post", _noop, queue="orders", needs=("bluecherry",))
    reg.register("shop.read", _noop, queue="orders", needs=("centra",))
    reg.register("local.tidy", _noop, queue="orders")
    return reg


def _queue(db: Database, clock: Any, registry: TaskRegistry, seed: int = 7) -> JobQueue:
    """A queue as a worker process has one (``refresh_s=0``: it reads the shared circuit
    state on every claim, as if a second has passed)."""
    return JobQueue(
        db, clock=clock, registry=registry, hooks=queue_hooks(),
        policy=RetryPolicy(base_s=2.0, cap_s=60.0, max_attempts=MAX_ATTEMPTS,
                           max_age_s=3600.0, rng=random.Random(seed)),
        circuits=Circuits(CircuitSettings(open_after_s=10.0, probe_base_s=1.0, probe_max_s=8.0,
                                          alert_after_s=120.0, refresh_s=0.0),
                          rng=random.Random(seed)))


@pytest.fixture
def jq(db: Database, clock: Any, registry: TaskRegistry) -> JobQueue:
    return _queue(db, clock, registry)


def _enqueue(db: Database, jq: JobQueue, task: str, key: str) -> int:
    with db.begin() as conn:
        job_id = jq.enqueue(conn, task, {}, business_key=key)
    assert job_id is not None
    return job_id


def _claim_next(jq: JobQueue, clock: Any, *, limit: int = 1, max_wait_s: float = 120.0) -> Any:
    """Advance the clock until a job is claimable (its wait or the probe time passed)."""
    waited = 0.0
    while waited <= max_wait_s:
        leases = jq.claim(["orders"], "w1", lease_s=30, limit=limit)
        if leases:
            return leases
        clock.advance(1)
        waited += 1
    raise AssertionError(f"nothing claimable within {max_wait_s} s")


def _complete(jq: JobQueue, lease: Any, answered_by: str | None = "bluecherry") -> None:
    """Complete a job whose run got an answer from ``answered_by`` (as a client reports it)."""
    with reachability.watch():
        if answered_by is not None:
            reachability.answered(answered_by)
        jq.complete(lease)


def _bluecherry_down() -> TransientError:
    return TransientError("bluecherry POST /sales-orders: 503", system="bluecherry", status=503)


def test_an_outage_longer_than_every_attempt_exhausts_no_job(db, jq, clock) -> None:
    """BlueCherry fails 30 times in a row (10x max_attempts): the job spends one attempt (the
    first failure after BlueCherry last answered), waits the rest out, never gives up, and
    succeeds when BlueCherry is back."""
    job_id = _enqueue(db, jq, "erp.post", "order:1")
    actions = []
    for _ in range(10 * MAX_ATTEMPTS):
        (lease,) = _claim_next(jq, clock)
        actions.append(jq.fail(lease, _bluecherry_down()).action)
        assert jq.get(job_id).attempts <= 1  # type: ignore[union-attr]
    assert actions[0] == "retry"
    assert set(actions[1:]) == {"wait"}
    job = jq.get(job_id)
    assert job is not None
    assert job.status == "todo"
    (lease,) = _claim_next(jq, clock)
    _complete(jq, lease)
    assert jq.get(job_id).status == "succeeded"  # type: ignore[union-attr]
    assert jq.list(status="failed") == []


def test_a_job_that_fails_while_the_system_answers_others_spends_its_attempts(
        db, jq, clock, exceptions: ExceptionService) -> None:
    """An order BlueCherry answers 500 to while it accepts every other one is the order's
    problem: each of its failures follows a success, so they count, and it becomes POST_FAILED."""
    poison = _enqueue(db, jq, "erp.post", "order:13")
    decisions = []
    for n in range(MAX_ATTEMPTS):
        (lease,) = _claim_next(jq, clock)
        assert lease.job.id == poison
        decisions.append(jq.fail(lease, TransientError("500", system="bluecherry", status=500)))
        _enqueue(db, jq, "erp.post", f"order:{100 + n}")  # another order posts fine
        (other,) = jq.claim(["orders"], "w1", lease_s=30)
        assert other.job.id != poison
        _complete(jq, other)
    assert [d.action for d in decisions] == ["retry", "retry", "give_up"]
    record = exceptions.get(decisions[-1].exception_id or 0)
    assert record is not None
    assert (record.type, record.owner) == ("POST_FAILED", "operations")


def test_while_a_system_is_down_only_the_jobs_that_need_it_wait(db, jq, clock) -> None:
    """Failing for longer than outage_after_s, BlueCherry is down: its jobs are not claimed
    until the next probe time, while jobs needing Centra or nothing are claimed at once."""
    failing = _enqueue(db, jq, "erp.post", "order:1")
    for _ in range(4):
        clock.advance(4)
        (lease,) = _claim_next(jq, clock)
        jq.fail(lease, _bluecherry_down())
    state = jq.circuits.states(db)["bluecherry"]
    assert state.down
    assert state.probe_at is not None
    waiting = _enqueue(db, jq, "erp.post", "order:2")
    shop = _enqueue(db, jq, "shop.read", "order:3")
    tidy = _enqueue(db, jq, "local.tidy", "tidy")
    claimed = {lease.job.id for lease in jq.claim(["orders"], "w1", lease_s=30, limit=10)}
    assert claimed == {shop, tidy}
    clock.now = state.probe_at
    clock.advance(1)
    probed = {lease.job.id for lease in jq.claim(["orders"], "w1", lease_s=30, limit=10)}
    assert waiting in probed
    assert failing in probed or jq.get(failing).run_at > clock.now  # type: ignore[union-attr]


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
        db, clock, registry) -> None:
    """Two worker processes (two queues on one database), eight jobs failing through one
    outage: one 'is down' line, one 'is back' line, and no job-level warning."""
    procs = [_queue(db, clock, registry, seed=1), _queue(db, clock, registry, seed=2)]
    for n in range(8):
        _enqueue(db, procs[0], "erp.post", f"order:{n}")
    with capture_logs() as logs:
        for round_ in range(12):
            for jq in procs:
                for lease in jq.claim(["orders"], f"w{round_}", lease_s=30, limit=4):
                    jq.fail(lease, _bluecherry_down())
            clock.advance(3)
        for jq in procs:
            for lease in _claim_next(jq, clock, limit=8):
                _complete(jq, lease)
    events = [e["event"] for e in logs]
    assert sum("bluecherry is down" in e for e in events) == 1, events
    assert sum("bluecherry is back" in e for e in events) == 1, events
    assert not [e for e in logs if e.get("log_level") == "warning"]
    # Attempts spent on failures: one, by the first job to meet the outage.
    jobs = procs[0].list(limit=20)
    assert sum(j.attempts - (j.status == "succeeded") for j in jobs) == 1


def test_a_long_outage_opens_one_exception_that_closes_when_the_system_is_back(
        db, jq, clock, exceptions: ExceptionService) -> None:
    """Down past outage_alert_after (here 2 min): one SYSTEM_UNAVAILABLE for operations,
    counted once whatever the number of jobs; resolved by the first job that gets through."""
    for n in range(5):
        _enqueue(db, jq, "erp.post", f"order:{n}")
    for _ in range(60):
        for lease in jq.claim(["orders"], "w1", lease_s=30, limit=5):
            jq.fail(lease, _bluecherry_down())
        clock.advance(3)
    (record,) = [e for e in exceptions.list(state="open") if e.type == "SYSTEM_UNAVAILABLE"]
    assert (record.owner, record.business_key, record.count) == (
        "operations", "system:bluecherry", 1)
    assert "bluecherry has failed the jobs that need it" in record.message
    assert not [e for e in exceptions.list(state="open") if e.type == "POST_FAILED"]
    (lease,) = _claim_next(jq, clock)
    _complete(jq, lease)
    assert not [e for e in exceptions.list(state="open") if e.type == "SYSTEM_UNAVAILABLE"]
    assert exceptions.get(record.id).state == "resolved"  # type: ignore[union-attr]


def test_a_rate_limit_waits_uncounted_and_honours_retry_after(db, jq, clock) -> None:
    """429s in a row: after the first (counted) the job waits at least Retry-After, with no
    attempt spent."""
    job_id = _enqueue(db, jq, "shop.read", "order:7")
    (lease,) = _claim_next(jq, clock)
    jq.fail(lease, RateLimited("429", system="centra", retry_after=3.0))
    (lease,) = _claim_next(jq, clock)
    decision = jq.fail(lease, RateLimited("429", system="centra", retry_after=3.0))
    assert decision.action == "wait"
    assert decision.delay_s >= 3.0
    assert jq.get(job_id).attempts == 1  # type: ignore[union-attr]


def test_a_failure_naming_no_system_is_the_jobs_own(db, jq, clock) -> None:
    """Without a system (a bug, a local condition) every failure counts, as before."""
    _enqueue(db, jq, "local.tidy", "tidy")
    actions = []
    for _ in range(MAX_ATTEMPTS):
        (lease,) = _claim_next(jq, clock)
        actions.append(jq.fail(lease, TransientError("catalogue never synced")).action)
    assert actions == ["retry", "retry", "give_up"]


def test_only_an_answer_from_the_system_ends_its_outage(db, jq, clock) -> None:
    """A job that needs BlueCherry but completes without calling it (an order parked before
    posting) says nothing about BlueCherry: the outage goes on, and the next failure is still
    the outage's. An answer to a job that then fails (a 422 is an answer) ends it."""
    for n in range(3):
        _enqueue(db, jq, "erp.post", f"order:{n}")
    for _ in range(4):
        clock.advance(4)
        (lease,) = _claim_next(jq, clock)
        jq.fail(lease, _bluecherry_down())
    assert jq.circuits.states(db)["bluecherry"].down
    (lease,) = _claim_next(jq, clock)
    _complete(jq, lease, answered_by=None)
    assert jq.circuits.states(db)["bluecherry"].down
    (lease,) = _claim_next(jq, clock)
    assert jq.fail(lease, _bluecherry_down()).action == "wait"
    (lease,) = _claim_next(jq, clock)
    with reachability.watch():
        reachability.answered("bluecherry")
        jq.fail(lease, Rejected("422", system="bluecherry", status=422))
    assert not jq.circuits.states(db)["bluecherry"].down
    assert jq.circuits.states(db)["bluecherry"].failures == 0


def test_a_failure_after_the_system_answered_the_same_job_is_the_jobs_own(db, jq, clock) -> None:
    """BlueCherry answered the job (its look-up) and then failed it (its create): BlueCherry
    was answering, so each such failure counts; the job ends as POST_FAILED, as a job whose
    write BlueCherry refuses while it answers other calls should. (A partial outage, creates
    refused while look-ups answer, therefore still spends attempts: see the runbook.)"""
    _enqueue(db, jq, "erp.post", "order:1")
    actions = []
    for _ in range(MAX_ATTEMPTS):
        (lease,) = _claim_next(jq, clock)
        with reachability.watch():
            reachability.answered("bluecherry")  # the look-up by external_reference
            actions.append(jq.fail(lease, _bluecherry_down()).action)
    assert actions == ["retry", "retry", "give_up"]
