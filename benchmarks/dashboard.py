"""Dashboard pages on a large store: render time over HTTP, signed in, p50/p95 per page.

    python benchmarks/dashboard.py [--ledger 100000] [--exceptions 1000] [--requests 30]

Seeds a SQLite store (migrated to head) with ``--ledger`` order rows in a realistic mix of
states (most synced; some waiting for the daily batch, parked, posting), one succeeded
``orders.post`` job and three job events per order, two audit lines per order, and
``--exceptions`` open exceptions (mapping gaps holding orders, unknown SKUs, failed posts) plus
as many resolved ones. Then serves the real app (``create_app`` behind uvicorn, one process) and
times each main page ``--requests`` times over HTTP with a signed-in operator. Target: every
page's p95 under 300 ms. Last, one bulk retry of every open exception is timed (one request;
it re-queues the held orders and failed jobs). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from seamline.adapters.store.db import Database
from seamline.adapters.store.schema import (
    audit_log,
    exception_history,
    exception_orders,
    exceptions,
    job_events,
    jobs,
    ledger,
)
from seamline.config import Settings
from seamline.entrypoints.web.app import create_app
from seamline.entrypoints.web.auth import hash_password
from seamline.logging import configure_logging
from seamline_sandbox.serve import ServerThread

TARGET_MS = 300.0
PASSWORD = "benchmark-password-1"
CHUNK = 5_000


def _chunks(rows: list[dict[str, Any]]) -> Any:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def seed(db: Database, n_orders: int, n_exceptions: int, rng: random.Random) -> dict[str, Any]:
    now = datetime.now(UTC)
    first = 100_000
    states = (["synced"] * 90 + ["posted"] * 4 + ["batch"] * 3 + ["parked"] * 2
              + ["posting"] * 1)
    ledger_rows, job_rows, event_rows, audit_rows = [], [], [], []
    for i in range(n_orders):
        number = first + i
        at = now - timedelta(minutes=n_orders - i)
        state = rng.choice(states)
        data = {"snapshot": {"number": number, "status": "CONFIRMED", "market": 1,
                             "currency": "SEK", "grand_total": "499.00"},
                "first_seen": at.isoformat()}
        if state in ("synced", "posted"):
            data |= {"order_no": f"SO{number}", "posted_at": (at + timedelta(seconds=5))
                     .isoformat(), "erp_created_at": (at + timedelta(seconds=5)).isoformat()}
        if state == "synced":
            data["written_back_at"] = (at + timedelta(seconds=9)).isoformat()
        ledger_rows.append({"kind": "order", "business_key": str(number), "state": state,
                            "version": 3, "data": data, "created_at": at, "updated_at": at})
        job_rows.append({"id": i + 1, "queue": "orders", "task": "orders.post",
                         "args": {"number": number}, "status": "succeeded", "priority": 0,
                         "dedupe_key": f"order:post:{number}",
                         "business_key": f"order:{number}", "attempts": 1, "max_attempts": 8,
                         "run_at": at, "created_at": at, "updated_at": at + timedelta(seconds=5)})
        for k, ev in enumerate(("enqueued", "claimed", "succeeded")):
            event_rows.append({"job_id": i + 1, "at": at + timedelta(seconds=k), "event": ev,
                               "attempt": 1, "worker_id": "w1", "detail": None})
        for action in ("frozen", "posted"):
            audit_rows.append({"at": at, "entity_kind": "order", "business_key": str(number),
                               "action": action, "actor": f"job:{i + 1}",
                               "detail": {"order_no": f"SO{number}"}})
    exc_rows, hist_rows, hold_rows = [], [], []
    kinds = [("MAPPING_MISSING", "ecommerce", "mapping:shipping_option:opt-{}"),
             ("UNKNOWN_SKU", "ecommerce", "sku:SKU-{}"),
             ("POST_FAILED", "operations", "order:{}")]
    for j in range(2 * n_exceptions):
        kind, owner, key = kinds[j % 3]
        at = now - timedelta(hours=rng.uniform(0, 24 * 10))
        is_open = j < n_exceptions
        exc_rows.append({"id": j + 1, "type": kind, "owner": owner, "severity": "error",
                         "business_key": key.format(first + j), "state":
                         "open" if is_open else "resolved", "count": 1 + j % 4,
                         "message": f"{kind.lower().replace('_', ' ')} for {first + j}",
                         "details": {"n": j}, "payload": None, "job_id": None, "attempts": 0,
                         "first_seen": at, "last_seen": at + timedelta(minutes=j % 50),
                         "resolved_at": None if is_open else now, "resolved_by":
                         None if is_open else "system", "resolution": None})
        hist_rows.append({"exception_id": j + 1, "at": at, "action": "opened",
                          "actor": "system", "note": "opened", "detail": None})
        if is_open and kind != "POST_FAILED":
            for h in range(2):
                hold_rows.append({"exception_id": j + 1,
                                  "order_key": str(first + (j * 2 + h) % n_orders),
                                  "held_since": at})
    with db.begin() as conn:
        for table, rows in ((ledger, ledger_rows), (jobs, job_rows), (job_events, event_rows),
                            (audit_log, audit_rows), (exceptions, exc_rows),
                            (exception_history, hist_rows), (exception_orders, hold_rows)):
            for part in _chunks(rows):
                conn.execute(sa.insert(table), part)
    return {"orders": n_orders, "jobs": len(job_rows), "job_events": len(event_rows),
            "audit": len(audit_rows), "exceptions_open": n_exceptions,
            "exceptions_all": len(exc_rows), "held": len(hold_rows), "first": first}


def _time(client: httpx.Client, path: str, n: int) -> dict[str, float]:
    client.get(path).raise_for_status()  # warm
    times = []
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        resp.raise_for_status()
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "max_ms": round(times[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", type=int, default=100_000)
    parser.add_argument("--exceptions", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    configure_logging("ERROR")
    rng = random.Random(14)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'dashboard.db'}"
        db = Database(url)
        db.upgrade()
        started = time.perf_counter()
        seeded = seed(db, args.ledger, args.exceptions, rng)
        seed_s = time.perf_counter() - started
        settings = Settings.model_validate({
            "store": {"database_url": url},
            "web": {"users": [{"name": "olle", "role": "operator",
                               "password_hash": hash_password(PASSWORD)}],
                    "session_secret": "benchmark-secret-0123456789",
                    "display_timezone": "Europe/Stockholm"}})
        app = create_app(settings, db)
        first = seeded["first"]
        pages = {
            "overview": "/",
            "exceptions (open, page 1)": "/exceptions",
            "exceptions (page 10)": "/exceptions?page=10",
            "exceptions (owner + age filter)": "/exceptions?owner=ecommerce&age=24",
            "exceptions (search by order)": f"/exceptions?q={first + 20}",
            "exceptions (all states)": "/exceptions?state=all",
            "exception detail": "/exceptions/1",
            "order trace": f"/orders/{first + args.ledger // 2}",
            "orders waiting for the batch": "/orders?state=batch",
            "stock": "/stock",
            "configuration": "/config",
        }
        results: dict[str, dict[str, float]] = {}
        with ServerThread(app) as server, httpx.Client(base_url=server.url,
                                                       timeout=30) as client:
            form = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token is not None
            client.post("/login", data={"username": "olle", "password": PASSWORD,
                                        "csrf_token": token.group(1)})
            assert "olle (operator)" in client.get("/").text, "sign-in failed"
            for name, path in pages.items():
                results[name] = _time(client, path, args.requests)
            # Last (it changes the store): one bulk retry of every open exception.
            page = client.get("/exceptions").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert csrf is not None
            started = time.perf_counter()
            done = client.post("/exceptions/bulk-retry", data={"csrf_token": csrf.group(1)})
            bulk_ms = (time.perf_counter() - started) * 1000
            assert done.status_code == 303, done.text[:300]
            flash = client.get(done.headers["location"]).text
            outcome = re.search(r"bulk retry: (\d+) of (\d+)", flash)
            assert outcome is not None, "no bulk retry outcome shown"
            bulk = {"ms": round(bulk_ms, 1), "retried": int(outcome.group(1)),
                    "matched": int(outcome.group(2))}
        db.dispose()
    print(f"Dashboard pages, SQLite, {args.ledger:,} ledger rows, "
          f"{args.exceptions:,} open exceptions ({seed_s:.1f} s to seed), "
          f"{args.requests} requests each")
    print(f"{'page':36} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, r in results.items():
        flag = "" if r["p95_ms"] < TARGET_MS else "  over target"
        print(f"{name:36} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f}{flag}")
    print(f"bulk retry of the open exceptions: {bulk['retried']} of {bulk['matched']} "
          f"queued again in {bulk['ms'] / 1000:.2f} s (one request)")
    print(json.dumps({"benchmark": "dashboard", "store": "sqlite", "seeded": seeded,
                      "requests": args.requests, "target_p95_ms": TARGET_MS,
                      "pages": results, "bulk_retry": bulk, "all_under_target": all(
                          r["p95_ms"] < TARGET_MS for r in results.values()),
                      "python": platform.python_version()}))


if __name__ == "__main__":
    main()
