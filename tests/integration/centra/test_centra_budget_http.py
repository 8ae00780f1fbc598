"""The Centra budget over real HTTP against the Centra sandbox at low limits: three flows in
three threads (each with its own client and governor, as three worker processes would), sharing
one budget through a SQLite store; Centra never answers 429, the governor calibrates itself from
``rateLimits``, and shipments and stock deltas are done before the full sweep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from seamline.adapters.centra.budget import BudgetGovernor
from seamline.adapters.centra.client import CentraClient
from seamline.adapters.centra.limiter import LeasedBucketStore
from seamline.adapters.store.buckets import SqlBucketStore, SqlBudgetBoard
from seamline.adapters.store.db import Database
from seamline.config import BudgetSettings, CentraSettings
from seamline.ports import working_for
from seamline_sandbox.harness import Sandboxes

Work = Callable[[CentraClient], None]


def _work(sb: Sandboxes, numbers: list[int], skus: list[str],
          done: dict[str, list[float]]) -> tuple[Work, Work, Work]:
    """The three flows' calls: 4 shipments (create + complete), 3 stock deltas of 10 sizes,
    a sweep of 600 sizes in 12 ``setStock``; each notes when it finished a unit."""

    def ship(c: CentraClient) -> None:
        for n in numbers:
            rec = sb.centra.state.orders[n]
            s = c.create_shipment(n, [(ln.id, ln.quantity) for ln in rec.lines],
                                  external_id=f"BC-{n}")
            c.complete_shipment(s.id, "DHL", "Express", ["TRK1"], True)
            done["shipments"].append(time.monotonic())

    def delta(c: CentraClient) -> None:
        for i in range(3):
            c.set_stock_sizes(1, [(sku, 5 + i) for sku in skus[i * 10:(i + 1) * 10]])
            done["stock_delta"].append(time.monotonic())

    def sweep(c: CentraClient) -> None:
        for i in range(0, 600, 50):
            c.set_stock_sizes(1, [(sku, 7) for sku in skus[i:i + 50]])
            done["stock_sweep"].append(time.monotonic())

    return ship, delta, sweep


def test_competing_flows_share_a_low_budget_without_a_429_and_shipments_go_first(
        tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'budget.db'}")
    db.upgrade()
    with Sandboxes(seed=5) as sb:
        sb.centra.limiter.configure(sizes={"mutations_10s": 8, "requests_10s": 40})
        orders = sb.place_orders(4, seed=3, hold_rate=0.0, waiting_payment_rate=0.0)
        for o in orders:
            sb.centra.state.orders[o.number].status = "CONFIRMED"
        skus = [item.sku for item in sb.centra.state.world.catalogue]
        settings = CentraSettings(base_url=sb.centra_url, token=SecretStr(sb.centra_token))

        def client() -> CentraClient:
            governor = BudgetGovernor(
                settings.rate_limits,
                LeasedBucketStore(SqlBucketStore(db.engine, lock=db.write_lock)),
                SqlBudgetBoard(db.engine, lock=db.write_lock),
                settings=BudgetSettings(), max_wait_s=60.0)
            return CentraClient(settings, limiter=governor)

        done: dict[str, list[float]] = {"shipments": [], "stock_delta": [], "stock_sweep": []}
        errors: list[BaseException] = []

        ship, delta, sweep = _work(sb, [o.number for o in orders], skus, done)

        def run(flow: str, work: Callable[[CentraClient], None], delay: float) -> None:
            time.sleep(delay)
            try:
                with client() as c, working_for(flow):
                    work(c)
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        # The sweep starts first and spends the burst; the others arrive while it runs.
        threads = [threading.Thread(target=run, args=("stock_sweep", sweep, 0.0)),
                   threading.Thread(target=run, args=("shipments", ship, 1.0)),
                   threading.Thread(target=run, args=("stock_delta", delta, 1.0))]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        assert errors == []
        assert sb.centra.limiter.throttled == 0  # Centra never had to say 429
        assert len(done["shipments"]) == 4
        assert len(done["stock_delta"]) == 3
        assert len(done["stock_sweep"]) == 12
        # Every shipment and delta went before the sweep's last calls.
        assert max(done["shipments"]) < max(done["stock_sweep"])
        assert max(done["stock_delta"]) < max(done["stock_sweep"])
        # The sweep spent the first burst alone; once the others had arrived and waited, it
        # made way until they were done (at most one call of it slipped in between).
        others = done["shipments"] + done["stock_delta"]
        between = [t for t in done["stock_sweep"] if started + 1.5 < t < max(others)]
        assert len(between) <= 1, (between, sorted(others))
        shipped = [s for s in sb.centra.state.shipments.values() if s.is_shipped]
        assert len(shipped) == 4
    db.dispose()
