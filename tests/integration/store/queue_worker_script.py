"""A worker process for the multi-process queue tests (run as a script, not collected).

    python queue_worker_script.py URL [--concurrency N] [--batch N] [--lease S] [--drain]
        [--batch-complete]

Runs the task ``effects.record``: it counts every execution (outside the fence), optionally
sleeps on its first attempt (so a test can kill it mid-job), then writes its effect under a
UNIQUE job id inside ``ctx.transaction()`` — fenced by the lease. With ``--drain`` the process
exits once no job is todo or doing.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any

import sqlalchemy as sa

from seamline.adapters.store.db import Database
from seamline.logging import configure_logging
from seamline.queue import JobContext, JobQueue, RetryPolicy, TaskRegistry, Worker

meta = sa.MetaData()
executions = sa.Table(
    "test_executions", meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
)
effects = sa.Table(
    "test_effects", meta,
    sa.Column("job_id", sa.Integer, primary_key=True),
    sa.Column("worker", sa.String(64), nullable=False),
)
WORKER = f"pid{os.getpid()}"


def build_registry() -> TaskRegistry:
    registry = TaskRegistry()

    @registry.task("effects.record")
    def record(ctx: JobContext, args: dict[str, Any]) -> None:
        with ctx.db.begin() as conn:
            conn.execute(executions.insert().values(
                job_id=ctx.job.id, worker=WORKER, attempt=ctx.job.attempts))
        if args.get("sleep_first") and ctx.job.attempts == 1:
            time.sleep(float(args["sleep_first"]))
        with ctx.transaction() as conn:
            conn.execute(effects.insert().values(job_id=ctx.job.id, worker=WORKER))

    return registry


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--lease", type=float, default=30.0)
    p.add_argument("--drain", action="store_true")
    p.add_argument("--batch-complete", action="store_true")
    ns = p.parse_args(argv)
    configure_logging("WARNING")
    db = Database(ns.url)
    registry = build_registry()
    queue = JobQueue(db, policy=RetryPolicy(base_s=0.1, cap_s=1.0, max_attempts=20),
                     registry=registry)
    worker = Worker(db, queue, registry, concurrency={"default": ns.concurrency},
                    lease_s=ns.lease, poll_interval_s=0.05, batch=ns.batch,
                    batch_complete=ns.batch_complete)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    print("ready", flush=True)
    idle = 0
    try:
        while thread.is_alive():
            time.sleep(0.25)
            if ns.drain:
                counts = queue.counts()
                idle = idle + 1 if counts["todo"] + counts["doing"] == 0 else 0
                if idle >= 2:
                    break
    finally:
        stop.set()
        thread.join()
    print(f"processed {worker.processed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
