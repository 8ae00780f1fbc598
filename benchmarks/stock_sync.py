"""Stock sync: a full sync of 100,000 SKUs and a 1,000-SKU delta, against the sandboxes.

    python benchmarks/stock_sync.py [--skus 100000] [--delta 1000] [--batch 100]

Both sandboxes run in this process (``seamline_sandbox.harness.Sandboxes`` with a catalogue of
``--skus`` SKUs, Centra's rate limits lifted); one Centra warehouse is fed by BlueCherry's W01.
Seamline runs in a spawned child process (a fresh interpreter: its peak memory, ``VmHWM``, is
its own) on a SQLite store: a BlueCherry cycle is published, then the full sync (read every
SKU's ATS, compute, push every size); then ``--delta`` SKUs get a delivery, a cycle is published
and the delta sync runs (timed from the cycle's publication to Centra confirming the last size).

Also measured in the same run: the Centra sandbox's raw ``setStock`` capacity — ready-made
mutations of ``--batch`` sizes POSTed back to back on one keep-alive connection — so the full
sync is printed as a ratio of it. And the figure that rules production: the mutations each sync
needs and the time they take at Centra's Growth-tier limits (20 mutations / 10 s, 1,800 / hour).
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

GROWTH_MUTATIONS_10S = 20
GROWTH_MUTATIONS_1H = 1_800


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _sync_child(settings_json: str, go: Any, out: Any) -> None:
    """Seamline: the full sync, then (when told) the delta sync; figures to ``out``."""
    from seamline.bootstrap import build  # noqa: PLC0415
    from seamline.config import Settings  # noqa: PLC0415
    from seamline.logging import configure_logging  # noqa: PLC0415

    configure_logging("ERROR")
    container = build(Settings.model_validate_json(settings_json))
    container.db.upgrade()
    started = time.perf_counter()
    full = container.stock.run(full=True)
    out.put({"phase": "full", "s": time.perf_counter() - started, "pushed": full.pushed,
             "mutations": full.mutations, "failed": full.failed,
             "maxrss_mb": _peak_rss_mb()})
    go.wait()
    started = time.perf_counter()
    delta = container.stock.run()
    out.put({"phase": "delta", "s": time.perf_counter() - started, "pushed": delta.pushed,
             "mutations": delta.mutations, "read": delta.sizes_read, "failed": delta.failed,
             "maxrss_mb": _peak_rss_mb()})
    container.close()


def _raw_capacity(url: str, token: str, skus: list[str], batch: int,
                  mutations: int) -> float:
    """Sizes per second the Centra sandbox's ``setStock`` takes, ready-made, back to back."""
    from seamline.adapters.centra import queries  # noqa: PLC0415

    document = queries.load("set_stock")
    bodies = []
    for i in range(mutations):
        chunk = skus[(i * batch) % len(skus):][:batch]
        bodies.append(json.dumps({"query": document, "variables": {
            "warehouse": 1, "description": "raw capacity",
            "sizes": [{"productSize": {"SKU": s}, "quantity": 5} for s in chunk]}}))
    with httpx.Client(headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "application/json"}, timeout=60) as http:
        started = time.perf_counter()
        for body in bodies:
            http.post(url, content=body).raise_for_status()
        elapsed = time.perf_counter() - started
    return mutations * batch / elapsed


def _growth_time_s(mutations: int) -> float:
    """Seconds ``mutations`` take at Growth-tier limits starting from full buckets."""
    per_10s = max(0, mutations - GROWTH_MUTATIONS_10S) * 10 / GROWTH_MUTATIONS_10S
    if mutations <= GROWTH_MUTATIONS_1H:
        return per_10s
    hours = (mutations - GROWTH_MUTATIONS_1H) / GROWTH_MUTATIONS_1H
    return max(per_10s, 3600 * math.ceil(hours))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--delta", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    from seamline_sandbox.harness import Sandboxes, settings_for  # noqa: PLC0415

    styles = math.ceil(args.skus / 15)
    with tempfile.TemporaryDirectory() as tmp, \
            Sandboxes(seed=3, lift_rate_limits=True, styles=styles) as sb:
        settings = settings_for(sb, f"sqlite:///{Path(tmp) / 'stock.db'}", overrides={
            "warehouses": {"1": ["W01"]},
            "stock": {"batch_size": args.batch}})
        bc = sb.bluecherry.state
        skus = [i.sku for i in bc.items]
        sb.ats_cycle()
        ctx = mp.get_context("spawn")
        go, out = ctx.Event(), ctx.Queue()
        data = settings.model_dump(mode="json")  # the secrets, in the clear for the child
        data["centra"]["token"] = sb.centra_token
        data["bluecherry"]["api_key"] = sb.bluecherry_key
        child = ctx.Process(target=_sync_child, args=(json.dumps(data), go, out), daemon=True)
        child.start()
        full = out.get(timeout=1800)
        if full["failed"]:
            raise SystemExit(f"the full sync failed: {full['failed']}")
        for sku in skus[:args.delta]:
            bc.on_hand[(sku, "W01")] = bc.on_hand.get((sku, "W01"), 0) + 7
        sb.ats_cycle()
        published = time.perf_counter()
        go.set()
        delta = out.get(timeout=600)
        delta_after_publish = time.perf_counter() - published
        child.join(timeout=60)
        raw = _raw_capacity(sb.centra_url, sb.centra_token, skus, args.batch,
                            mutations=min(200, math.ceil(len(skus) / args.batch)))
    sizes = len(skus)
    result = {
        "skus": sizes, "batch": args.batch, "python": platform.python_version(),
        "full_s": round(full["s"], 2), "full_mutations": full["mutations"],
        "full_pushed": full["pushed"], "full_peak_mb": round(full["maxrss_mb"], 1),
        "delta_skus": args.delta, "delta_s": round(delta["s"], 2),
        "delta_after_publish_s": round(delta_after_publish, 2),
        "delta_mutations": delta["mutations"], "delta_pushed": delta["pushed"],
        "peak_mb": round(delta["maxrss_mb"], 1),
        "raw_setstock_sizes_per_s": round(raw, 0),
        "full_vs_raw": round(sizes / raw / full["s"], 3),
        "growth_full_s": _growth_time_s(full["mutations"]),
        "growth_delta_s": _growth_time_s(delta["mutations"]),
    }
    print(f"| run | SKUs | seconds | mutations | peak MB |\n|---|---:|---:|---:|---:|\n"
          f"| full sync | {sizes:,} | {result['full_s']} | {full['mutations']} | "
          f"{result['full_peak_mb']} |\n"
          f"| delta ({args.delta:,} SKUs changed) | {delta['pushed']:,} | {result['delta_s']} "
          f"({result['delta_after_publish_s']} after the cycle) | {delta['mutations']} | "
          f"{result['peak_mb']} |")
    print(f"raw setStock capacity of the Centra sandbox: {raw:,.0f} sizes/s; the full sync runs "
          f"at {result['full_vs_raw']:.1%} of it (reading BlueCherry and the store included)")
    print(f"at Growth-tier limits: full sync {full['mutations']} mutations ≈ "
          f"{result['growth_full_s'] / 60:.1f} min; delta {delta['mutations']} mutations ≈ "
          f"{result['growth_delta_s']:.0f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
