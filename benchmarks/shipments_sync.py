"""Shipment-flow throughput, BlueCherry → Centra, against the sandboxes over real HTTP.

    python benchmarks/shipments_sync.py [--orders 300] [--partial 0.3] [--short 0.05]
        [--growth-orders 30]

Both sandboxes run in this process (``seamline_sandbox.harness.Sandboxes``); Seamline runs
in-process too (``run_until_quiet``: one worker thread per queue as ``[queues].concurrency``
says, the shipment feed read each round) on a SQLite store. ``--orders`` orders are posted first
(not timed); then BlueCherry's warehouse ships them all (``--partial`` of them in two shipments,
``--short`` short) and the clock starts: shipments/s = BlueCherry shipments / (first feed read →
every shipment completed in Centra). Run twice:

- rate limits lifted (Seamline's own speed), ``--orders`` orders;
- Centra's Growth-tier limits enforced by the Centra sandbox and by Seamline's limiter
  (20 mutations per 10 s, 1,800 per hour), ``--growth-orders`` orders.

Centra mutations per shipment are counted on the wire (every mutation the client sent, retries
included; the short-shipment line cancels counted apart). Shipments per hour at Growth tier =
1,800 / mutations per shipment (the hourly budget binds before the 10-second one:
20 per 10 s is 7,200 per hour). Shipment lag: the ledger's ``lag_s`` (BlueCherry confirmed →
Centra shipped, on the shared clock). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

GROWTH_MUTATIONS_10S = 20
GROWTH_MUTATIONS_1H = 1_800


def _count_mutations(container: Any) -> Counter[str]:
    """Wrap the Centra client's one exchange so every mutation sent is counted by name."""
    from seamline.adapters.centra import queries  # noqa: PLC0415

    client = container.centra
    counts: Counter[str] = Counter()
    send = client._send

    def counting(operation: str, *args: Any, **kwargs: Any) -> Any:
        if queries.is_mutation(operation):
            counts[operation] += 1
        return send(operation, *args, **kwargs)

    client._send = counting
    return counts


def run(orders: int, partial: float, short: float, *, growth: bool) -> dict[str, Any]:
    from seamline.config import Settings  # noqa: PLC0415
    from seamline.logging import configure_logging  # noqa: PLC0415
    from seamline_sandbox.harness import (  # noqa: PLC0415
        Sandboxes,
        build_seamline,
        run_until_quiet,
        settings_for,
    )
    from seamline_sandbox.shipping import bluecherry_shipments, ship  # noqa: PLC0415
    from seamline_sandbox.world import MARKETS  # noqa: PLC0415

    configure_logging("ERROR")
    with tempfile.TemporaryDirectory() as tmp, Sandboxes(seed=3, lift_rate_limits=True) as sb:
        base = settings_for(sb, f"sqlite:///{Path(tmp) / 'bench.db'}")
        data = base.model_dump(mode="python")
        data["centra"]["token"] = sb.centra_token
        data["bluecherry"]["api_key"] = sb.bluecherry_key
        if growth:
            data["centra"].pop("rate_limits", None)  # Seamline's limiter at Growth tier
        container = build_seamline(sb, Settings.model_validate(data))
        try:
            sb.place_orders(orders, seed=9, hold_rate=0.0, waiting_payment_rate=0.0,
                            unknown_sku_rate=0.0, pickup_point_rate=0.0,
                            markets=[m for m in MARKETS if m.id in (1, 3, 4, 5)])
            run_until_quiet(container, timeout_s=1800)
            ship(sb, partial_probability=partial, short_probability=short, seed=1)
            ship(sb, seed=2)  # the rest of the partly shipped orders
            shipped = len(bluecherry_shipments(sb))
            counts = _count_mutations(container)
            if growth:
                sb.set_centra_rate_limits(enabled=True)
            started = time.perf_counter()
            run_until_quiet(container, timeout_s=3600, poll=False, batches=False,
                            catalogue=False, shipments=True)
            elapsed = time.perf_counter() - started
            with container.store.read() as uow:
                done = uow.ledger.in_state("shipment", "completed")
            lags = [int(e.data.get("lag_s") or 0) for e in done]
        finally:
            container.close()
    per = {k: v / max(shipped, 1) for k, v in counts.items()}
    ship_mutations = (counts["create_shipment"] + counts["complete_shipment"]) / max(shipped, 1)
    return {
        "growth_limits": growth, "orders": orders, "shipments": shipped,
        "completed": len(done), "seconds": round(elapsed, 2),
        "shipments_per_s": round(shipped / elapsed, 2),
        "mutations": dict(counts), "mutations_per_shipment": round(ship_mutations, 3),
        "all_mutations_per_shipment": round(sum(per.values()), 3),
        "lag_median_s": statistics.median(lags) if lags else None,
        "lag_max_s": max(lags) if lags else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=300)
    p.add_argument("--growth-orders", type=int, default=30)
    p.add_argument("--partial", type=float, default=0.3)
    p.add_argument("--short", type=float, default=0.05)
    args = p.parse_args()
    runs = [run(args.orders, args.partial, args.short, growth=False)]
    if args.growth_orders:
        runs.append(run(args.growth_orders, args.partial, args.short, growth=True))
    per_shipment = max(r["all_mutations_per_shipment"] for r in runs)
    hourly = int(GROWTH_MUTATIONS_1H / per_shipment) if per_shipment else None
    burst = round(GROWTH_MUTATIONS_10S / per_shipment, 1) if per_shipment else None
    print(f"{'run':<26}{'shipments':>10}{'seconds':>9}{'ship/s':>8}{'mut/ship':>9}"
          f"{'all mut/ship':>13}{'lag med':>8}")
    for r in runs:
        name = "Growth-tier limits" if r["growth_limits"] else "limits lifted"
        print(f"{name:<26}{r['shipments']:>10}{r['seconds']:>9}{r['shipments_per_s']:>8}"
              f"{r['mutations_per_shipment']:>9}{r['all_mutations_per_shipment']:>13}"
              f"{r['lag_median_s']!s:>8}")
    print(f"Growth tier allows {hourly} shipments/hour (1,800 mutations/h) and {burst} per "
          f"10 s (20 mutations/10 s) at {per_shipment} Centra mutations per shipment")
    print(json.dumps({"benchmark": "shipments_sync", "python": platform.python_version(),
                      "runs": runs, "growth_shipments_per_hour": hourly,
                      "growth_shipments_per_10s": burst}))


if __name__ == "__main__":
    main()
