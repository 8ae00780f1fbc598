"""A day's reconciliation at 2,000 and 20,000 orders: elapsed seconds and peak memory.

    python benchmarks/reconcile.py [--orders 2000 20000] [--chunk 1000]

For each N: one business day of N orders over four markets (SEK, EUR, JPY, USD) is seeded
straight into a BlueCherry sandbox's state and a SQLite store (``reconcile_seed``: posted,
shipped — a fifth in two partial shipments — invoiced, paid, a few refunded with credit memos;
one of each discrepancy planted). The sandbox then serves that state from a forked child
process, so the parent measures only Seamline: the real ``Reconciler`` reading the ledger in
chunks and BlueCherry over HTTP (sales-order pages, the invoices feed, the day's receipts and
memos). Run twice per N: once timed (``elapsed_s``), once under tracemalloc
(``peak_tracemalloc_mb``: Python allocations of the reconciliation alone, the thing that must
stay flat). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import platform
import signal
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

DAY = date(2026, 11, 2)


def _serve(state: Any, port: int, ready: Any) -> None:
    from seamline_sandbox.bluecherry.app import create_app  # noqa: PLC0415
    from seamline_sandbox.serve import ServerThread  # noqa: PLC0415

    app = create_app(seed=1)
    app.state.sandbox.state = state
    with ServerThread(app, port=port):
        ready.set()
        signal.pause()


def one(n: int, chunk: int) -> dict[str, Any]:
    from pydantic import SecretStr  # noqa: PLC0415

    from seamline.adapters.bluecherry.client import BlueCherryClient  # noqa: PLC0415
    from seamline.adapters.store.db import Database  # noqa: PLC0415
    from seamline.adapters.store.unit_of_work import SqlStore  # noqa: PLC0415
    from seamline.config import BlueCherrySettings  # noqa: PLC0415
    from seamline.queue import JobQueue  # noqa: PLC0415
    from seamline.services.reconcile import Reconciler  # noqa: PLC0415
    from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY  # noqa: PLC0415
    from seamline_sandbox.bluecherry.state import BlueCherryState  # noqa: PLC0415
    from seamline_sandbox.reconcile_run import scopes  # noqa: PLC0415
    from seamline_sandbox.reconcile_seed import PLANTS, seed_day  # noqa: PLC0415
    from seamline_sandbox.serve import free_port  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'seamline.db'}")
        db.upgrade()
        store = SqlStore(db, JobQueue(db))
        bc = BlueCherryState(seed=1)
        t0 = time.perf_counter()
        planted = seed_day(bc, store, day=DAY, n=n, first_number=1,
                           plant=dict.fromkeys(PLANTS, 1))
        seed_s = time.perf_counter() - t0
        port = free_port("127.0.0.1")
        ctx = mp.get_context("fork")
        ready = ctx.Event()
        child = ctx.Process(target=_serve, args=(bc, port, ready), daemon=True)
        child.start()
        del bc
        gc.collect()
        try:
            ready.wait(30)
            client = BlueCherryClient(BlueCherrySettings(
                base_url=f"http://127.0.0.1:{port}/api/v1", page_size=1000,
                api_key=SecretStr(DEFAULT_API_KEY)))
            rec = Reconciler(store=store, erp=client, markets=scopes(), chunk=chunk,
                             clock=lambda: datetime.now(UTC))
            t0 = time.perf_counter()
            reports = rec.run(DAY, keep=False)
            elapsed = time.perf_counter() - t0
            gc.collect()
            tracemalloc.start()
            again = rec.run(DAY, keep=False)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            client.close()
        finally:
            if child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
            child.join(10)
        found = {(r.market, d.kind.value, d.order or d.reference)
                 for r in reports for d in r.rows}
        expected = {(s, k, o) for _, s, k, o in planted.expected}
        db.dispose()
    return {
        "orders": n, "seed_s": round(seed_s, 2), "elapsed_s": round(elapsed, 2),
        "orders_per_s": round(n / elapsed), "peak_tracemalloc_mb": round(peak / 2**20, 2),
        "differences": sum(len(r.rows) for r in reports),
        "found_every_planted": found == expected,
        "same_on_rerun": [r.rows for r in again] == [r.rows for r in reports],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--chunk", type=int, default=1000)
    args = ap.parse_args()
    runs = [one(n, args.chunk) for n in args.orders]
    print(json.dumps({"benchmark": "reconcile", "python": platform.python_version(),
                      "cpus": os.cpu_count(), "chunk": args.chunk, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
