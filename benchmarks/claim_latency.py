"""How long one claim takes as the backlog grows: SQLite and PostgreSQL.

With ``--backlog`` jobs waiting in one queue, time ``--claims`` claims of ``--limit`` jobs each
through ``JobQueue.claim`` (each its own durable transaction). A claim should read the first rows
of the due-work index, not sort the whole backlog, so the figure should not grow with it.

    python benchmarks/claim_latency.py [--backlogs 5000 50000] [--claims 200] [--limit 4]

Prints a table and one JSON line. PostgreSQL is skipped (and says so) when the server cannot be
reached.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from seamline.adapters.store.db import Database
from seamline.queue import JobQueue

DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def measure(db: Database, backlogs: list[int], claims: int, limit: int) -> dict[str, float]:
    db.upgrade()
    queue = JobQueue(db)
    out: dict[str, float] = {}
    for backlog in backlogs:
        with db.begin() as conn:
            conn.exec_driver_sql("DELETE FROM jobs")
            for start in range(0, backlog, 5000):
                queue.enqueue_many(conn, "bench.noop",
                                   [{"n": i} for i in range(start, min(backlog, start + 5000))],
                                   queue="orders")
        with db.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        started = time.perf_counter()
        for _ in range(claims):
            if not queue.claim(["orders"], "bench", lease_s=60, limit=limit):
                raise SystemExit("a claim found nothing: the backlog is too small")
        out[str(backlog)] = round((time.perf_counter() - started) * 1000 / claims, 3)
    return out


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    name = f"seamline_claim_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlogs", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    ns = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'claims.db'}")
        results["sqlite"] = measure(db, ns.backlogs, ns.claims, ns.limit)
        db.dispose()
    try:
        with pg_database(ns.pg_admin_url) as url:
            db = Database(url)
            results["postgresql"] = measure(db, ns.backlogs, ns.claims, ns.limit)
            db.dispose()
    except sa.exc.OperationalError as exc:
        results["postgresql"] = f"skipped: cannot reach {ns.pg_admin_url} ({exc.orig})"
    print(f"ms per claim of {ns.limit} (mean of {ns.claims}), by jobs waiting:")
    for name, figures in results.items():
        if isinstance(figures, str):
            print(f"  {name:<11} {figures}")
        else:
            print(f"  {name:<11} " + "  ".join(f"{b:>7} waiting: {ms:7.3f} ms"
                                              for b, ms in figures.items()))
    print(json.dumps({"benchmark": "claim_latency", "limit": ns.limit, "claims": ns.claims,
                      "ms_per_claim": results, "python": platform.python_version()}))


if __name__ == "__main__":
    main()
