"""No-op job throughput of the durable queue: SQLite (1 process), PostgreSQL (1 and 4 processes).

Each job is enqueued, then claimed, run (a handler that does nothing) and completed through the
real queue code: ``Worker.drain`` → ``JobQueue.claim(limit=batch)`` → handler →
``JobQueue.complete_many`` (one fenced transaction per claimed batch). Every commit is durable
(no ``synchronous_commit=off``, SQLite WAL with ``synchronous=NORMAL``).

    python benchmarks/queue_throughput.py [--jobs 5000] [--batch 50] [--pg-admin-url URL]

Prints a table and one JSON line. PostgreSQL runs are skipped (and say so) when the server
cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
import uuid
from typing import Any

import sqlalchemy as sa

from seamline.adapters.store.db import Database
from seamline.queue import JobQueue, TaskRegistry, Worker

DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _registry() -> TaskRegistry:
    registry = TaskRegistry()
    registry.register("bench.noop", lambda ctx, args: None)
    return registry


def _prepare(url: str, jobs: int) -> None:
    db = Database(url)
    db.upgrade()
    queue = JobQueue(db)
    with db.begin() as conn:
        queue.enqueue_many(conn, "bench.noop", ({"n": i} for i in range(jobs)))
    db.dispose()


def _drain(url: str, batch: int, concurrency: int) -> int:
    """Run until nothing is due, with ``concurrency`` slot threads in this process."""
    import threading  # noqa: PLC0415

    db = Database(url)
    registry = _registry()
    queue = JobQueue(db, registry=registry)
    worker = Worker(db, queue, registry, concurrency={"default": concurrency}, lease_s=60,
                    batch=batch, batch_complete=True)
    if concurrency == 1:
        n = worker.drain()
    else:
        counts: list[int] = []
        threads = [threading.Thread(target=lambda: counts.append(worker.drain()))
                   for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        n = sum(counts)
    db.dispose()
    return n


def _child(url: str, batch: int, concurrency: int, go: Any, out: Any) -> None:
    go.wait()
    out.put(_drain(url, batch, concurrency))


def run(url: str, jobs: int, processes: int, batch: int, concurrency: int = 1) -> dict[str, Any]:
    _prepare(url, jobs)
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_child, args=(url, batch, concurrency, go, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    time.sleep(1.5)  # let the interpreters start before the clock does
    started = time.perf_counter()
    go.set()
    done = sum(out.get() for _ in procs)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    db = Database(url)
    remaining = JobQueue(db).counts()
    db.dispose()
    if done != jobs or remaining["succeeded"] != jobs:
        raise SystemExit(f"lost or unfinished jobs: ran {done}, counts {remaining}")
    return {"jobs": jobs, "processes": processes, "threads_per_process": concurrency,
            "batch": batch, "seconds": round(elapsed, 3), "jobs_per_s": round(jobs / elapsed)}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=5000)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--pg-admin-url", default=os.environ.get("TEST_PG_ADMIN_URL", DEFAULT_PG_ADMIN))
    ns = p.parse_args(argv)
    cores = os.cpu_count()
    print(f"cores: {cores}  python {platform.python_version()}  jobs per run: {ns.jobs}  "
          f"batch: {ns.batch}")
    results: dict[str, Any] = {"benchmark": "queue_throughput", "cpu_count": cores}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite_1_process"] = run(f"sqlite:///{tmp}/bench.db", ns.jobs, 1, ns.batch)
    admin = sa.create_engine(ns.pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        results["postgresql"] = f"skipped: cannot reach {ns.pg_admin_url} ({exc.orig})"
    else:
        for label, procs in (("postgresql_1_process", 1), ("postgresql_4_processes", 4)):
            name = f"seamline_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            try:
                url = sa.make_url(ns.pg_admin_url).set(database=name).render_as_string(
                    hide_password=False)
                results[label] = run(url, ns.jobs, procs, ns.batch)
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()
    targets = {"sqlite_1_process": 500, "postgresql_4_processes": 1500}
    print(f"{'run':<26}{'jobs/s':>10}{'seconds':>10}  target")
    for key, value in results.items():
        if isinstance(value, dict):
            target = targets.get(key)
            verdict = "" if target is None else (
                f">= {target} {'met' if value['jobs_per_s'] >= target else 'MISSED'}")
            print(f"{key:<26}{value['jobs_per_s']:>10}{value['seconds']:>10}  {verdict}")
        elif key == "postgresql":
            print(value)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
