"""What the ``alerts`` schedule and a ``/metrics`` scrape cost on a busy store.

    python benchmarks/alerts_evaluate.py [--orders 100000] [--unposted 2000] [--exceptions 1000]
        [--rounds 20]

A store with ``--orders`` orders on the ledger (``--unposted`` of them not yet in BlueCherry,
spread over new, waiting, batch, parked and posting; the rest synced) and ``--exceptions`` open
exceptions over the five owners, every owner routed (a recording notifier: no network). Timed:
the first evaluation (every exception is new: per owner one summary alert, the rest recorded as
grouped), then a steady evaluation (nothing new: what the schedule costs each minute), mean of
``--rounds``; and one ``/metrics`` collection of the operations gauges and the store counters
(circuits, orders by state and the oldest unposted, alert deliveries, API calls, job events),
mean of ``--rounds``. SQLite, and PostgreSQL when 127.0.0.1:5432 answers. Prints a table and
one JSON line.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from seamline.adapters.store.counters import StoreCounters
from seamline.adapters.store.db import Database
from seamline.adapters.store.schema import ledger
from seamline.adapters.store.unit_of_work import SqlStore
from seamline.config import AlertSettings
from seamline.exceptions import OWNERS
from seamline.queue import JobQueue
from seamline.services.alerts import AlertService
from seamline.services.metrics import OperationsGauges
from seamline.testing.notifier import RecordingNotifier

DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BACKLOG = ("new", "waiting", "batch", "parked", "posting")


def fill(db: Database, orders: int, unposted: int, exceptions: int) -> None:
    db.upgrade()
    seen = (NOW - timedelta(hours=2)).isoformat()
    with db.begin() as conn:
        for start in range(0, orders, 5000):
            rows = []
            for n in range(start, min(orders, start + 5000)):
                state = BACKLOG[n % len(BACKLOG)] if n < unposted else "synced"
                rows.append({"kind": "order", "business_key": str(n + 1), "state": state,
                             "version": 1, "data": {"first_seen": seen, "order_no": f"SO{n}"},
                             "created_at": NOW, "updated_at": NOW})
            conn.execute(sa.insert(ledger), rows)
    store = SqlStore(db, JobQueue(db))
    with store.begin() as uow:
        for i in range(exceptions):
            uow.exceptions.raise_(type=("UNKNOWN_SKU", "TOTAL_MISMATCH", "POST_CONFLICT",
                                        "SHIPMENT_UNMATCHED", "AUTH_FAILED")[i % 5],
                                  owner=OWNERS[i % len(OWNERS)], business_key=f"k:{i}",
                                  message="benchmark", now=NOW - timedelta(minutes=90))


def measure(db: Database, ns: argparse.Namespace) -> dict[str, Any]:
    fill(db, ns.orders, ns.unposted, ns.exceptions)
    store = SqlStore(db, JobQueue(db, clock=lambda: NOW))
    settings = AlertSettings.model_validate({
        "routes": {o: [f"json://bench/{o}"] for o in OWNERS}, "digest_at": ""})
    service = AlertService.for_settings(settings, store=store, notifier=RecordingNotifier(),
                                        clock=lambda: NOW)
    started = time.perf_counter()
    first = service.evaluate()
    first_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for _ in range(ns.rounds):
        if service.evaluate().deliveries:
            raise SystemExit("a steady evaluation recorded a delivery")
    steady_ms = (time.perf_counter() - started) * 1000 / ns.rounds
    collectors = [OperationsGauges(lambda: store, clock=lambda: NOW), StoreCounters(db)]
    started = time.perf_counter()
    for _ in range(ns.rounds):
        families = [f for c in collectors for f in c.collect()]
    scrape_ms = (time.perf_counter() - started) * 1000 / ns.rounds
    oldest = next(f for f in families if f.name == "seamline_order_oldest_unposted_seconds")
    assert any(s.value > 0 for s in oldest.samples)
    return {"first_evaluation_ms": round(first_ms, 1),
            "first_alerts": len(first.alerts), "first_deliveries": len(first.deliveries),
            "steady_evaluation_ms": round(steady_ms, 1), "metrics_collect_ms": round(scrape_ms, 1)}


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    name = f"seamline_alerts_{uuid.uuid4().hex[:8]}"
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
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--unposted", type=int, default=2_000)
    parser.add_argument("--exceptions", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    ns = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'alerts.db'}")
        results["sqlite"] = measure(db, ns)
        db.dispose()
    try:
        with pg_database(ns.pg_admin_url) as url:
            db = Database(url)
            results["postgresql"] = measure(db, ns)
            db.dispose()
    except sa.exc.OperationalError as exc:
        results["postgresql"] = f"skipped: cannot reach {ns.pg_admin_url} ({exc.orig})"
    print(f"{ns.orders:,} orders ({ns.unposted:,} unposted), {ns.exceptions:,} open exceptions, "
          f"5 owners routed:")
    for name, r in results.items():
        if isinstance(r, str):
            print(f"  {name:<11} {r}")
            continue
        print(f"  {name:<11} first evaluation {r['first_evaluation_ms']:8.1f} ms "
              f"({r['first_alerts']} alerts sent, {r['first_deliveries']} deliveries)  "
              f"steady {r['steady_evaluation_ms']:7.1f} ms  /metrics collect "
              f"{r['metrics_collect_ms']:7.1f} ms")
    print(json.dumps({"benchmark": "alerts_evaluate", "orders": ns.orders,
                      "unposted": ns.unposted, "exceptions": ns.exceptions,
                      "results": results, "python": platform.python_version()}))


if __name__ == "__main__":
    main()
