"""Drift scan throughput against the BlueCherry sandbox over real HTTP.

    python benchmarks/drift_scan.py [--orders 5000] [--edited 50] [--page-size 200]

The BlueCherry sandbox runs in this process (``seamline_sandbox.harness.Sandboxes``); Seamline
runs in-process on a SQLite store. A few orders are posted through the order flow; their frozen
payloads are then cloned (new ``customer_po`` and ``external_reference``) into ``--orders``
sales orders created through the REST client, each with its ledger row (state ``synced``, the
frozen payload, the BlueCherry number) — not timed. ``--edited`` of them are then edited by hand
in BlueCherry (``user:bench``). Timed:

- the first scan: every order changed since the look-back (all of them) read page by page,
  compared with its frozen payload; it must raise exactly ``--edited`` ``ORDER_DRIFT``;
- the next scan: only what changed since (the inclusive cursor re-reads the last order).

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any


def run(orders: int, edited: int, page_size: int) -> dict[str, Any]:
    from seamline.config import Settings  # noqa: PLC0415
    from seamline.domain.ledger import OrderState  # noqa: PLC0415
    from seamline.domain.sales_order import SalesOrder  # noqa: PLC0415
    from seamline.logging import configure_logging  # noqa: PLC0415
    from seamline_sandbox.harness import (  # noqa: PLC0415
        Sandboxes,
        build_seamline,
        run_until_quiet,
        settings_for,
    )
    from seamline_sandbox.world import MARKETS  # noqa: PLC0415

    configure_logging("ERROR")
    with tempfile.TemporaryDirectory() as tmp, Sandboxes(seed=5, lift_rate_limits=True) as sb:
        base = settings_for(sb, f"sqlite:///{Path(tmp) / 'drift.db'}")
        data = base.model_dump(mode="python")
        data["centra"]["token"] = sb.centra_token
        data["bluecherry"]["api_key"] = sb.bluecherry_key
        data["bluecherry"]["page_size"] = page_size
        container = build_seamline(sb, Settings.model_validate(data))
        try:
            sb.place_orders(5, seed=1, hold_rate=0.0, waiting_payment_rate=0.0,
                            unknown_sku_rate=0.0, pickup_point_rate=0.0, inconsistent_rate=0.0,
                            markets=[m for m in MARKETS if m.id == 3])
            run_until_quiet(container, timeout_s=120)
            with container.store.read() as uow:
                templates = [r.data.frozen for r in uow.orders.in_state(OrderState.SYNCED)]
            erp = container.erp
            t0 = time.perf_counter()
            rows = []
            for i in range(orders):
                body = dict(templates[i % len(templates)] or {})
                number = 900_000 + i
                body["customer_po"] = str(number)
                body["external_reference"] = f"centra:bench:{number}"
                so = SalesOrder.from_dict(body)
                created = erp.create_sales_order(so).order
                rows.append((number, so.to_dict(), created.order_no))
            with container.store.begin() as uow:
                now = container.queue.clock()
                for number, frozen, order_no in rows:
                    uow.orders.save(number, state=OrderState.SYNCED, now=now,
                                    data={"frozen": frozen, "order_no": order_no,
                                          "snapshot": {"market_id": 3, "currency": "GBP"}})
            seeded_s = time.perf_counter() - t0
            sb.advance_clock(60)
            step = max(1, orders // max(edited, 1))
            targets = [rows[i][2] for i in range(0, orders, step)][:edited]
            for order_no in targets:
                sb.edit_bluecherry_order(order_no, login="bench",
                                         ship_to={"city": "Benchmark City"})
            drift = container.drift
            t1 = time.perf_counter()
            first = drift.scan()
            first_s = time.perf_counter() - t1
            t2 = time.perf_counter()
            second = drift.scan()
            second_s = time.perf_counter() - t2
            found = len(drift.open_drifts())
        finally:
            container.close()
    return {
        "benchmark": "drift_scan", "python": platform.python_version(),
        "orders": orders, "edited": len(targets), "page_size": page_size,
        "seed_s": round(seeded_s, 1),
        "first_scan": {"read": first.read, "compared": first.compared, "raised": first.raised,
                       "seconds": round(first_s, 2),
                       "orders_per_s": round(first.read / first_s) if first_s else None},
        "next_scan": {"read": second.read, "raised": second.raised,
                      "seconds": round(second_s, 3)},
        "open_drifts": found, "ok": found == len(targets) and second.raised == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--edited", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=200)
    args = parser.parse_args()
    result = run(args.orders, args.edited, args.page_size)
    f, n = result["first_scan"], result["next_scan"]
    print("| orders | edited | first scan (read / raised) | s | orders/s | next scan (read) | s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {result['orders']:,} | {result['edited']} | {f['read']:,} / {f['raised']} | "
          f"{f['seconds']} | {f['orders_per_s']:,} | {n['read']} | {n['seconds']} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
