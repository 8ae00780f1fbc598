"""Worker processes against one database: many draining together, and one killed mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from queue_worker_script import effects, executions, meta

from seamline.adapters.store.db import Database
from seamline.queue import JobQueue, JobStatus

SCRIPT = Path(__file__).with_name("queue_worker_script.py")


def _start(url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), url, *args], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, text=True, env=env,
    )


def _prepare(url: str) -> tuple[Database, JobQueue]:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:
        meta.create_all(conn)
    return db, JobQueue(db)


@pytest.mark.postgres
@pytest.mark.slow
def test_four_worker_processes_drain_ten_thousand_jobs_with_every_effect_exactly_once(
    make_pg_database,
) -> None:
    """Every job executed at least once, every effect recorded exactly once, none lost."""
    db, queue = _prepare(make_pg_database())
    total = 10_000
    with db.begin() as conn:
        ids = queue.enqueue_many(conn, "effects.record", ({"n": i} for i in range(total)))
    started = time.monotonic()
    procs = [_start(db.url.render_as_string(hide_password=False), "--drain",
                    "--concurrency", "2", "--batch", "25", "--batch-complete")
             for _ in range(4)]
    try:
        for p in procs:
            p.wait(timeout=150)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    elapsed = time.monotonic() - started
    assert all(p.returncode == 0 for p in procs)
    with db.begin() as conn:
        per_job_exec = dict(conn.execute(
            sa.select(executions.c.job_id, sa.func.count()).group_by(executions.c.job_id)
        ).all())
        per_job_effect = dict(conn.execute(
            sa.select(effects.c.job_id, sa.func.count()).group_by(effects.c.job_id)
        ).all())
        workers = conn.execute(sa.select(sa.func.count(sa.distinct(effects.c.worker)))).scalar()
    assert set(per_job_exec) == set(ids)
    assert all(n >= 1 for n in per_job_exec.values())
    assert per_job_effect == dict.fromkeys(ids, 1)
    assert queue.counts()["succeeded"] == total
    assert workers == 4
    print(f"4 processes drained {total} jobs in {elapsed:.1f}s ({total / elapsed:.0f}/s)")


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_job_whose_worker_is_killed_mid_run_is_finished_by_another_exactly_once(
    kind, request, sqlite_url,
) -> None:
    """SIGKILL during the handler; after the lease expires a second worker completes it."""
    url = sqlite_url if kind == "sqlite" else request.getfixturevalue("make_pg_database")()
    db, queue = _prepare(url)
    with db.begin() as conn:
        job_id = queue.enqueue(conn, "effects.record", {"sleep_first": 60})
    raw_url = db.url.render_as_string(hide_password=False)
    victim = _start(raw_url, "--lease", "2", "--concurrency", "1", "--batch", "1")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with db.begin() as conn:
                if conn.execute(sa.select(sa.func.count()).select_from(executions)).scalar():
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the first worker never started the job")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
    job = queue.get(job_id or 0)
    assert job is not None
    assert job.status is JobStatus.DOING
    rescuer = _start(raw_url, "--lease", "2", "--drain", "--concurrency", "1")
    assert rescuer.wait(60) == 0
    job = queue.get(job_id or 0)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    with db.begin() as conn:
        assert conn.execute(
            sa.select(sa.func.count()).select_from(effects)).scalar() == 1
        assert conn.execute(
            sa.select(sa.func.count()).select_from(executions)).scalar() == 2
