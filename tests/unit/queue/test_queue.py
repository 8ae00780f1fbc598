"""The job queue, one suite run on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from seamline.adapters.store.db import Database
from seamline.exceptions import (
    ConfigError,
    LeaseLost,
    RateLimited,
    Rejected,
    TransientError,
    UnknownSku,
)
from seamline.queue import (
    JobQueue,
    JobStatus,
    QueueHooks,
    RetryPolicy,
    Scheduler,
    TaskRegistry,
    Worker,
)

effects = sa.Table(
    "test_effects", sa.MetaData(),
    sa.Column("job_id", sa.Integer, primary_key=True),
    sa.Column("note", sa.String(50)),
)


def _enqueue(db: Database, jq: JobQueue, task: str = "t.run", args=None, **kw) -> int | None:
    with db.begin() as conn:
        return jq.enqueue(conn, task, args or {}, **kw)


def test_enqueue_stores_the_job_with_money_as_strings(db, queue, clock) -> None:
    """A new job is todo, due now, and a Decimal amount in its args comes back as a string."""
    job_id = _enqueue(db, queue, args={"amount": Decimal("12.50"), "sku": "A-1"},
                      business_key="centra:1:1001")
    assert job_id is not None
    job = queue.get(job_id)
    assert job is not None
    assert job.status is JobStatus.TODO
    assert job.args == {"amount": "12.50", "sku": "A-1"}
    assert job.run_at == clock.now
    assert job.attempts == 0
    assert job.max_attempts == 5


def test_enqueue_commits_or_rolls_back_with_the_callers_transaction(db, queue) -> None:
    """The outbox: a job enqueued in a transaction that rolls back does not exist."""

    def work_that_fails() -> None:
        with db.begin() as conn:
            queue.enqueue(conn, "t.run", {})
            raise RuntimeError("the caller's work failed")

    with pytest.raises(RuntimeError):
        work_that_fails()
    assert queue.counts()["todo"] == 0


def test_a_second_enqueue_with_a_live_dedupe_key_is_a_no_op(db, queue) -> None:
    """Same dedupe key while the first is todo or doing: None; after it succeeds: a new job."""
    first = _enqueue(db, queue, dedupe_key="post:1001")
    assert first is not None
    assert _enqueue(db, queue, dedupe_key="post:1001") is None
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    assert _enqueue(db, queue, dedupe_key="post:1001") is None
    queue.complete(lease)
    second = _enqueue(db, queue, dedupe_key="post:1001")
    assert second is not None
    assert second != first


def test_claim_takes_due_jobs_of_the_named_queues_by_priority(db, queue, clock) -> None:
    """Future jobs and other queues are left; higher priority first; limit respected."""
    low = _enqueue(db, queue, priority=0)
    high = _enqueue(db, queue, priority=5)
    _enqueue(db, queue, queue="orders")
    _enqueue(db, queue, run_at=clock.now + timedelta(minutes=5))
    leases = queue.claim(["default"], "w1", lease_s=30, limit=10)
    assert [lease.job.id for lease in leases] == [high, low]
    assert all(lease.job.status is JobStatus.DOING for lease in leases)
    assert all(lease.job.attempts == 1 for lease in leases)
    assert all(lease.job.worker_id == "w1" for lease in leases)
    assert queue.claim(["default"], "w2", lease_s=30) == []
    (other,) = queue.claim(["orders", "default"], "w2", lease_s=30, limit=5)
    assert other.job.queue == "orders"


def test_a_batch_claim_leases_exactly_the_limit_and_no_more(db, queue) -> None:
    """With many due jobs, claim(limit=n) leases n; the rest stay todo for other workers."""
    with db.begin() as conn:
        queue.enqueue_many(conn, "t.run", ({"n": i} for i in range(300)))
    leases = queue.claim(["default"], "w1", lease_s=30, limit=25)
    assert len(leases) == 25
    assert len({lease.job.id for lease in leases}) == 25
    assert queue.counts()["doing"] == 25
    assert queue.complete_many(leases) == []
    assert (queue.counts()["succeeded"], queue.counts()["todo"]) == (25, 275)


def test_an_expired_lease_is_claimable_again_and_counts_an_attempt(db, queue, clock) -> None:
    """After the lease runs out another worker gets the job; the first worker is fenced out."""
    _enqueue(db, queue)
    (first,) = queue.claim(["default"], "w1", lease_s=10)
    clock.advance(5)
    assert queue.claim(["default"], "w2", lease_s=10) == []
    clock.advance(6)
    (second,) = queue.claim(["default"], "w2", lease_s=10)
    assert second.job.id == first.job.id
    assert second.job.attempts == 2
    assert second.token != first.token
    with pytest.raises(LeaseLost):
        queue.complete(first)
    assert queue.heartbeat(first, 10) is False
    assert queue.heartbeat(second, 10) is True
    queue.complete(second)
    job = queue.get(first.job.id)
    assert job is not None
    assert job.status is JobStatus.SUCCEEDED


def test_a_heartbeat_keeps_a_long_job_from_being_taken(db, queue, clock) -> None:
    """Renewed before expiry, the lease stays with its worker."""
    _enqueue(db, queue)
    (lease,) = queue.claim(["default"], "w1", lease_s=10)
    for _ in range(3):
        clock.advance(8)
        assert queue.heartbeat(lease, 10)
    assert queue.claim(["default"], "w2", lease_s=10) == []


def test_effects_written_under_a_lost_lease_never_commit(db, queue, clock) -> None:
    """The fence inside the caller's transaction raises LeaseLost and the effect rolls back."""
    with db.engine.begin() as conn:
        effects.create(conn)
    _enqueue(db, queue)
    (old,) = queue.claim(["default"], "w1", lease_s=10)
    clock.advance(11)
    (new,) = queue.claim(["default"], "w2", lease_s=10)

    def stale_write() -> None:
        with db.begin() as conn:
            conn.execute(effects.insert().values(job_id=old.job.id, note="stale"))
            queue.fence(conn, old)

    with pytest.raises(LeaseLost):
        stale_write()
    with db.begin() as conn:
        queue.fence(conn, new)
        conn.execute(effects.insert().values(job_id=new.job.id, note="owner"))
    with db.begin() as conn:
        assert conn.execute(sa.select(effects.c.note)).scalars().all() == ["owner"]


def test_a_transient_failure_retries_later_with_jittered_backoff(db, queue, clock) -> None:
    """The job goes back to todo, due within base * 2**(n-1) seconds, and not before."""
    job_id = _enqueue(db, queue)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    decision = queue.fail(lease, TransientError("BlueCherry answered 503", system="bluecherry"))
    assert decision.action == "retry"
    assert 0 <= decision.delay_s <= 2.0
    job = queue.get(job_id or 0)
    assert job is not None
    assert job.status is JobStatus.TODO
    assert job.last_error == "TransientError: BlueCherry answered 503"
    assert job.run_at == clock.now + timedelta(seconds=decision.delay_s)
    clock.advance(decision.delay_s + 0.01)
    (again,) = queue.claim(["default"], "w1", lease_s=30)
    assert again.job.attempts == 2
    assert queue.fail(again, TransientError("again")).delay_s <= 4.0
    assert [e["event"] for e in queue.events(job_id or 0)] == ["retry", "retry"]


def test_backoff_is_full_jitter_capped_at_the_maximum() -> None:
    """Delays stay inside [0, min(cap, base * 2**(attempt-1))] and spread across it."""
    import random  # noqa: PLC0415

    policy = RetryPolicy(base_s=1.0, cap_s=30.0, rng=random.Random(1))
    for attempt in range(1, 12):
        delays = [policy.backoff(attempt) for _ in range(200)]
        ceiling = min(30.0, 2 ** (attempt - 1))
        assert max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8
        assert min(delays) < ceiling * 0.2


def test_a_short_retry_after_is_honoured_as_the_delay(db, queue, clock) -> None:
    """Retry-After 3 s (within the inline limit) is the delay and counts an attempt."""
    job_id = _enqueue(db, queue)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    decision = queue.fail(lease, RateLimited("429", retry_after=3.0))
    assert (decision.action, decision.delay_s) == ("retry", 3.0)
    job = queue.get(job_id or 0)
    assert job is not None
    assert (job.run_at, job.attempts) == (clock.now + timedelta(seconds=3), 1)


def test_a_long_retry_after_releases_the_job_without_counting_an_attempt(db, queue, clock) -> None:
    """Retry-After 120 s: the job is put back for later, attempts unchanged, no worker waits."""
    job_id = _enqueue(db, queue)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    decision = queue.fail(lease, RateLimited("429", retry_after=120.0))
    assert decision.action == "release"
    job = queue.get(job_id or 0)
    assert job is not None
    assert job.status is JobStatus.TODO
    assert job.attempts == 0
    assert job.run_at == clock.now + timedelta(seconds=120)
    assert queue.claim(["default"], "w1", lease_s=30) == []


def test_release_puts_a_claimed_job_back_as_it_was(db, queue, clock) -> None:
    """A graceful stop returns an unstarted job, due at once, with no attempt spent."""
    job_id = _enqueue(db, queue)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    queue.release(lease, reason="worker stopping")
    job = queue.get(job_id or 0)
    assert job is not None
    assert (job.status, job.attempts, job.lease_token) == (JobStatus.TODO, 0, None)
    with pytest.raises(LeaseLost):
        queue.complete(lease)


def test_a_permanent_failure_becomes_an_exception_at_once(db, queue, exceptions) -> None:
    """A 422 gives up on the first attempt: job failed, exception with owner, codes and a
    payload snapshot without secrets."""
    job_id = _enqueue(db, queue, task="orders.post",
                      args={"order": "1001", "api_token": "sk-live-123", "total": "10.00"},
                      business_key="centra:1:1001")
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    decision = queue.fail(lease, Rejected("422 from BlueCherry",
                                          codes=[{"field": "total", "code": "BAD_PRICE"}]))
    assert decision.action == "give_up"
    job = queue.get(job_id or 0)
    assert job is not None
    assert job.status is JobStatus.FAILED
    record = exceptions.get(decision.exception_id or 0)
    assert record is not None
    assert (record.type, record.owner, record.state) == ("POST_REJECTED", "finance", "open")
    assert record.business_key == "centra:1:1001"
    assert record.job_id == job_id
    assert record.attempts == 1
    assert record.payload == {"order": "1001", "total": "10.00"}
    assert record.details is not None
    assert record.details["codes"] == [{"field": "total", "code": "BAD_PRICE"}]


def test_data_errors_give_up_with_their_own_type_and_owner(db, queue, exceptions) -> None:
    """An unknown SKU parks the order for ecommerce."""
    _enqueue(db, queue, business_key="centra:1:1002")
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    decision = queue.fail(lease, UnknownSku(sku="X-9"))
    record = exceptions.get(decision.exception_id or 0)
    assert record is not None
    assert (record.type, record.owner) == ("UNKNOWN_SKU", "ecommerce")


def test_exhausted_retries_become_post_failed_for_operations(db, queue, clock, exceptions) -> None:
    """The last allowed attempt fails: POST_FAILED, owned by operations, attempts recorded."""
    _enqueue(db, queue, business_key="centra:1:1003", max_attempts=2)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    assert queue.fail(lease, TransientError("503")).action == "retry"
    clock.advance(10)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    decision = queue.fail(lease, TransientError("503 again"))
    assert decision.action == "give_up"
    record = exceptions.get(decision.exception_id or 0)
    assert record is not None
    assert (record.type, record.owner, record.attempts) == ("POST_FAILED", "operations", 2)


def test_a_task_can_name_the_type_its_exhausted_retries_become(db, queue, clock) -> None:
    """exception_type registered on the task wins over the error's default."""
    _enqueue(db, queue, max_attempts=1)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    decision = queue.fail(lease, TransientError("503"), exception_type="STOCK_PUSH_FAILED")
    assert (decision.action, decision.exception_type) == ("give_up", "STOCK_PUSH_FAILED")


def test_a_job_older_than_the_age_cap_gives_up(db, queue, clock) -> None:
    """Retriable errors stop retrying once the job is older than max_age."""
    _enqueue(db, queue)
    clock.advance(3601)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    assert queue.fail(lease, TransientError("503")).action == "give_up"


def test_an_unknown_error_retries_and_keeps_a_traceback_summary(db, queue) -> None:
    """A bug (non-Seamline error) is retried like a transient one; last_error says where."""
    job_id = _enqueue(db, queue)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    try:
        {}["missing"]
    except KeyError as exc:
        decision = queue.fail(lease, exc)
    assert decision.action == "retry"
    job = queue.get(job_id or 0)
    assert job is not None
    assert job.last_error is not None
    assert job.last_error.startswith("KeyError: 'missing' (at test_queue.py:")


def test_a_repeated_give_up_counts_on_the_one_open_exception(db, queue, clock, exceptions) -> None:
    """Same type and business key: one open exception, count 2."""
    for _ in range(2):
        _enqueue(db, queue, business_key="centra:1:1004")
        (lease,) = queue.claim(["default"], "w1", lease_s=30)
        decision = queue.fail(lease, UnknownSku(sku="X-9"))
    rows = exceptions.list(state="open")
    assert len(rows) == 1
    assert rows[0].id == decision.exception_id
    assert rows[0].count == 2


def test_a_retried_exception_resolves_itself_when_its_job_succeeds(
    db, queue, clock, exceptions,
) -> None:
    """Give up → exception; retry from the exception → job todo; success → resolved."""
    job_id = _enqueue(db, queue, business_key="centra:1:1005", max_attempts=1)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    exc_id = queue.fail(lease, TransientError("503")).exception_id or 0
    assert exceptions.retry(exc_id, actor="ops:anna") == job_id
    job = queue.get(job_id or 0)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.TODO, 0)
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    queue.complete(lease)
    record = exceptions.get(exc_id)
    assert record is not None
    assert record.state == "resolved"
    assert record.resolved_by == f"job:{job_id}"
    assert [h.action for h in record.history] == ["opened", "retried", "resolved"]


def test_manual_retry_requeues_only_failed_jobs(db, queue) -> None:
    """failed → todo with attempts reset; a todo or succeeded job is left alone."""
    job_id = _enqueue(db, queue, max_attempts=1) or 0
    assert queue.retry(job_id) is False
    (lease,) = queue.claim(["default"], "w1", lease_s=30)
    queue.fail(lease, TransientError("503"))
    assert queue.retry(job_id) is True
    job = queue.get(job_id)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.TODO, 0)
    assert queue.events(job_id)[-1]["event"] == "retried"


def test_skip_and_resolve_close_an_exception_with_who_and_why(db, queue, exceptions) -> None:
    """People close exceptions; a closed one cannot be closed again; lists filter by state."""
    ids = []
    for key in ("k1", "k2"):
        _enqueue(db, queue, business_key=key)
        (lease,) = queue.claim(["default"], "w1", lease_s=30)
        ids.append(queue.fail(lease, UnknownSku(sku="X")).exception_id or 0)
    skipped = exceptions.skip(ids[0], "ecom:bo", "test order")
    resolved = exceptions.resolve(ids[1], "ecom:bo", "SKU added")
    assert (skipped.state, skipped.resolved_by, skipped.resolution) == (
        "skipped", "ecom:bo", "test order")
    assert resolved.state == "resolved"
    assert exceptions.list(state="open") == []
    assert {e.id for e in exceptions.list(state=None, owner="ecommerce")} == set(ids)
    with pytest.raises(Exception, match="already skipped"):
        exceptions.skip(ids[0], "ecom:bo")


def test_one_tick_is_enqueued_once_across_two_schedulers_and_restarts(db, queue, clock) -> None:
    """Two schedulers and a restarted one at the same tick enqueue one job; the next tick
    enqueues the next."""

    class Entry:
        task, every_s, args = "stock.sync", 60, {"full": False}

    first = Scheduler(db, queue, {"stock": Entry()}, clock)
    second = Scheduler(db, queue, {"stock": Entry()}, clock)
    got = first.tick()
    assert list(got) == ["stock"]
    assert second.tick() == {}
    assert Scheduler(db, queue, {"stock": Entry()}, clock).tick() == {}
    clock.advance(60)
    assert list(second.tick()) == ["stock"]
    listed = queue.list(task="stock.sync")
    assert len(listed) == 2
    assert {j.dedupe_key for j in listed} == {
        f"schedule:stock:{Scheduler.tick_time(clock.now - timedelta(seconds=60), 60).isoformat()}",
        f"schedule:stock:{Scheduler.tick_time(clock.now, 60).isoformat()}",
    }


def test_only_one_scheduler_is_active_at_a_time(db, queue, clock) -> None:
    """The lock (advisory on PostgreSQL, file on SQLite) admits one leader; it passes on."""
    first = Scheduler(db, queue, {}, clock)
    second = Scheduler(db, queue, {}, clock)
    try:
        assert first.try_lead() is True
        assert second.try_lead() is False
        first.step_down()
        assert second.try_lead() is True
    finally:
        first.step_down()
        second.step_down()


def test_a_worker_runs_registered_tasks_and_their_effects_commit_with_the_lease(
    db, queue,
) -> None:
    """Handlers run; effects written in ctx.transaction() land; failures go through the
    policy; the worker stops when asked."""
    with db.engine.begin() as conn:
        effects.create(conn)
    registry = TaskRegistry()

    @registry.task("effects.write", queue="orders")
    def write(ctx, args) -> None:
        with ctx.transaction() as conn:
            conn.execute(effects.insert().values(job_id=ctx.job.id, note=args["note"]))

    @registry.task("effects.fail", queue="orders")
    def fail(ctx, args) -> None:
        raise UnknownSku(sku=args["sku"])

    queue.registry = registry
    ids = [_enqueue(db, queue, "effects.write", {"note": f"n{i}"}) for i in range(5)]
    bad = _enqueue(db, queue, "effects.fail", {"sku": "Z"}, business_key="o-9")
    worker = Worker(db, queue, registry, concurrency={"orders": 2}, lease_s=30,
                    poll_interval_s=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    for _ in range(500):
        if queue.counts()["todo"] == 0 and queue.counts()["doing"] == 0:
            break
        threading.Event().wait(0.01)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    with db.begin() as conn:
        assert sorted(conn.execute(sa.select(effects.c.job_id)).scalars()) == sorted(ids)
    assert queue.counts()["succeeded"] == 5
    failed = queue.get(bad or 0)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert all(j.queue == "orders" for j in queue.list())


def test_a_worker_completes_in_the_handlers_own_transaction_when_asked(db, queue) -> None:
    """transaction(complete=True) commits the effect and the success together."""
    with db.engine.begin() as conn:
        effects.create(conn)
    registry = TaskRegistry()

    @registry.task("effects.atomic")
    def atomic(ctx, args) -> None:
        with ctx.transaction(complete=True) as conn:
            conn.execute(effects.insert().values(job_id=ctx.job.id, note="x"))

    job_id = _enqueue(db, queue, "effects.atomic")
    worker = Worker(db, queue, registry, concurrency={"default": 1}, lease_s=30)
    assert worker.drain() == 1
    job = queue.get(job_id or 0)
    assert job is not None
    assert job.status is JobStatus.SUCCEEDED


def test_a_job_whose_workers_keep_dying_becomes_an_exception(db, queue, clock, exceptions) -> None:
    """Claimed more times than allowed without finishing (crash loop): JOB_ABANDONED."""
    registry = TaskRegistry()
    registry.register("t.run", lambda ctx, args: None)
    _enqueue(db, queue, max_attempts=1, business_key="order:7")
    queue.claim(["default"], "crashed-worker", lease_s=5)
    clock.advance(6)
    Worker(db, queue, registry, concurrency={"default": 1}, lease_s=5).drain()
    (record,) = exceptions.list(state="open")
    assert (record.type, record.owner, record.business_key) == (
        "JOB_ABANDONED", "operations", "order:7")


def test_an_unknown_queue_name_is_a_one_line_config_error(db, queue) -> None:
    """The error lists the queues that do exist."""
    registry = TaskRegistry()
    registry.register("orders.post", lambda ctx, args: None, queue="orders")
    with pytest.raises(ConfigError) as err:
        Worker(db, queue, registry, concurrency={"ordres": 1})
    assert str(err.value) == "unknown queue(s) ordres; known queues: default, orders"


def test_a_job_for_an_unregistered_task_becomes_a_config_exception(db, queue, exceptions) -> None:
    """No handler: the job fails into CONFIG_INVALID for the integrator, not a crash."""
    _enqueue(db, queue, "nobody.handles.this")
    worker = Worker(db, queue, TaskRegistry(), concurrency={"default": 1})
    worker.drain()
    (record,) = exceptions.list(state="open")
    assert (record.type, record.owner) == ("CONFIG_INVALID", "integrator")
    assert "no handler registered for task 'nobody.handles.this'" in record.message


def test_stopping_a_worker_releases_claimed_jobs_it_had_not_started(db, queue) -> None:
    """With a batch claim, jobs not yet started go back to todo with no attempt spent."""
    registry = TaskRegistry()
    stop = threading.Event()

    @registry.task("slow.first")
    def first(ctx, args) -> None:
        stop.set()

    for _ in range(4):
        _enqueue(db, queue, "slow.first")
    worker = Worker(db, queue, registry, concurrency={"default": 1}, batch=4,
                    poll_interval_s=0.01)
    worker.run(stop)
    counts = queue.counts()
    assert (counts["succeeded"], counts["todo"], counts["doing"]) == (1, 3, 0)
    assert all(j.attempts == 0 for j in queue.list(status="todo"))


def test_the_queue_knows_no_business_its_hooks_run_in_the_jobs_transaction(db, clock) -> None:
    """Without hooks a give-up only fails the job; with hooks, give-up and success call them
    inside the transaction that updates the job (a rolled-back hook leaves the job as it was)."""
    plain = JobQueue(db, clock=clock, policy=RetryPolicy(max_attempts=1))
    job_id = _enqueue(db, plain, business_key="k:1")
    (lease,) = plain.claim(["default"], "w1", lease_s=30)
    decision = plain.fail(lease, UnknownSku(sku="X"))
    assert (decision.action, decision.exception_id) == ("give_up", None)
    assert plain.get(job_id or 0).status is JobStatus.FAILED

    seen: list[tuple[str, int, bool]] = []

    def gave_up(conn, job, exc, decision, *, error, now) -> int:
        seen.append(("give_up", job.id, conn.in_transaction()))
        return 42

    def succeeded(conn, job, *, now) -> None:
        seen.append(("success", job.id, conn.in_transaction()))
        if job.business_key == "k:boom":
            raise RuntimeError("hook failed")

    hooked = JobQueue(db, clock=clock, policy=RetryPolicy(max_attempts=1),
                      hooks=QueueHooks(on_give_up=gave_up, on_success=succeeded))
    failing = _enqueue(db, hooked, business_key="k:2")
    (lease,) = hooked.claim(["default"], "w1", lease_s=30)
    assert hooked.fail(lease, UnknownSku(sku="X")).exception_id == 42
    ok = _enqueue(db, hooked, business_key="k:3")
    (lease,) = hooked.claim(["default"], "w1", lease_s=30)
    hooked.complete(lease)
    boom = _enqueue(db, hooked, business_key="k:boom")
    (lease,) = hooked.claim(["default"], "w1", lease_s=30)
    with pytest.raises(RuntimeError):
        hooked.complete(lease)
    assert seen == [("give_up", failing, True), ("success", ok, True), ("success", boom, True)]
    assert hooked.get(boom or 0).status is JobStatus.DOING
