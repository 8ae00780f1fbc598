"""Run the real reconciliation over HTTP against a BlueCherry sandbox seeded by
``reconcile_seed`` (shared by the seeded-month test, ``benchmarks/reconcile.py`` and scripts).

    python -m seamline_sandbox.reconcile_run [DAYS [ORDERS_PER_DAY]]   # the seeded month
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from seamline.adapters.bluecherry.client import BlueCherryClient
from seamline.config import BlueCherrySettings
from seamline.services.reconcile import MarketScope, Reconciler
from seamline.services.unit_of_work import Store
from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.bluecherry.state import BlueCherryState
from seamline_sandbox.reconcile_seed import MARKETS
from seamline_sandbox.serve import ServerThread

__all__ = ["bluecherry_sandbox", "reconciler", "scopes", "seeded_month"]


def scopes() -> list[MarketScope]:
    return [MarketScope(name=m.store, centra_market=m.centra_market, currency=m.currency,
                        customer=m.customer, timezone=m.timezone) for m in MARKETS]


@contextmanager
def bluecherry_sandbox(seed: int = 1) -> Iterator[tuple[BlueCherryState, str]]:
    """A BlueCherry sandbox on 127.0.0.1 (its state, its API base URL), stopped on exit."""
    app = create_app(seed=seed)
    with ServerThread(app) as srv:
        yield app.state.sandbox.state, f"{srv.url}/api/v1"


@contextmanager
def reconciler(store: Store, base_url: str) -> Iterator[Reconciler]:
    client = BlueCherryClient(BlueCherrySettings(base_url=base_url, page_size=1000,
                                                 api_key=SecretStr(DEFAULT_API_KEY)))
    try:
        yield Reconciler(store=store, erp=client, markets=scopes(),
                         clock=lambda: datetime.now(UTC))
    finally:
        client.close()


def seeded_month(*, days: int = 30, per_day: int = 680, start: date = date(2026, 11, 1),
                 every: int = 3) -> dict[str, Any]:
    """Seed ``days`` days of ``per_day`` orders (one of each difference planted every
    ``every``-th day) into a fresh sandbox and a temporary SQLite store, reconcile them all in
    one run, and say whether every planted difference — and nothing else — was found."""
    from seamline.adapters.store.db import Database  # noqa: PLC0415
    from seamline.adapters.store.unit_of_work import SqlStore  # noqa: PLC0415
    from seamline.queue import JobQueue  # noqa: PLC0415
    from seamline_sandbox.reconcile_seed import PLANTS, Planted, seed_day  # noqa: PLC0415

    planted = Planted()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'seamline.db'}")
        db.upgrade()
        store = SqlStore(db, JobQueue(db))
        with bluecherry_sandbox() as (bc, url):
            t0 = time.perf_counter()
            for i in range(days):
                seed_day(bc, store, day=start + timedelta(days=i), n=per_day,
                         first_number=100_000 + i * (per_day + 1), planted=planted,
                         plant=dict.fromkeys(PLANTS, 1 if i % every == 0 else 0))
            seeded = time.perf_counter() - t0
            with reconciler(store, url) as rec:
                t0 = time.perf_counter()
                reports = rec.run_days([start + timedelta(days=i) for i in range(days)])
                elapsed = time.perf_counter() - t0
        db.dispose()
    found = {(r.day.isoformat(), r.market, d.kind.value, d.order or d.reference)
             for r in reports for d in r.rows}
    return {"orders": planted.orders, "planted": len(planted.expected),
            "found": len(found), "missed": sorted(planted.expected - found),
            "unexpected": sorted(found - planted.expected),
            "totals_tie_out": all(r.totals.ties_out(r.rows) for r in reports),
            "seed_s": round(seeded, 2), "reconcile_s": round(elapsed, 2)}


if __name__ == "__main__":
    # python -m seamline_sandbox.reconcile_run [days] [orders per day]
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(seeded_month(days=args[0] if args else 30,
                                  per_day=args[1] if len(args) > 1 else 680), indent=2))
