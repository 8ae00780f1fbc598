"""Order-flow throughput, Centra → BlueCherry, against the sandboxes over real HTTP.

    python benchmarks/orders_throughput.py [--orders 2000] [--memory-orders 20000]
        [--concurrency 16] [--batch 4] [--processes 1] [--latency-ms 150]

Both sandboxes run in this process (``seamline_sandbox.harness.Sandboxes``, rate limits lifted,
no faults). Seamline runs in ``--processes`` spawned worker processes on one SQLite store (the
figures are theirs): process 0 polls Centra by ``updatedAt`` (pages of 100); each runs the
``orders`` queue with ``--concurrency`` threads claiming ``--batch`` jobs at a time (completions
of a claimed batch in one transaction) and the write-back to Centra on its own queue. All start
together; orders/s = orders / (start → last order posted, counted on the store).

Each flow run is compared with BlueCherry's raw create capacity measured in the same run with the
same latency and total concurrency: a child process with ``--concurrency × --processes`` threads,
each a keep-alive httpx client, POSTing ready-made sales orders.

Peak memory: the largest ``VmHWM`` of the worker processes, for ``--orders`` and
``--memory-orders`` orders without latency (not ``ru_maxrss``, which a spawned child inherits from
this process — the one holding the sandboxes and every generated order). CPU per order: the
worker processes' CPU time and this process's (both sandboxes), from start to the last order.

Also printed: the ceiling Centra's Growth-tier mutation budget (20 per 10 s, 1,800 per hour) puts
on orders per hour, given the write-back: one ``setIdConversions`` per 100 orders plus one
``confirmOrder`` per PENDING order in a market that confirms (the share measured on the run's
orders). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

GROWTH_MUTATIONS_10S = 20
GROWTH_MUTATIONS_1H = 1_800
WRITEBACK_BATCH = 100


# -- child: the flow -------------------------------------------------------------------------


def _flow_child(settings_json: str, index: int, concurrency: int, batch: int, trace: bool,
                ready: Any, go: Any, done: Any, out: Any) -> None:
    """One Seamline worker process; process 0 also migrates, syncs the catalogue and polls."""
    from seamline.bootstrap import build  # noqa: PLC0415
    from seamline.config import Settings  # noqa: PLC0415
    from seamline.logging import configure_logging  # noqa: PLC0415

    configure_logging("ERROR")
    if trace:
        import tracemalloc  # noqa: PLC0415

        tracemalloc.start()
    settings = Settings.model_validate_json(settings_json)
    container = build(settings)
    flow = container.orders
    if index == 0:
        container.db.upgrade()
        flow.sync_catalogue()
    worker = container.worker(["orders", "writeback"],
                              {"orders": concurrency, "writeback": 1}, batch=batch)
    worker.batch_complete = True
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    ready.release()
    go.wait()
    cpu_before = _cpu_s()
    started = time.perf_counter()
    thread.start()
    polled = 0.0
    if index == 0:
        flow.poll()
        polled = time.perf_counter() - started
    done.wait()
    cpu = _cpu_s() - cpu_before
    stop.set()
    thread.join(timeout=60)
    container.close()
    result = {"poll_s": polled, "cpu_s": cpu, "maxrss_mb": _peak_rss_mb()}
    if trace:
        result["python_heap_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    out.put(result)


def _run_flow(settings_json: str, db_path: Path, orders: int, *, processes: int,
              concurrency: int, batch: int, trace: bool) -> dict[str, Any]:
    """Start the worker processes together, time them until every order is posted."""
    import sqlalchemy as sa  # noqa: PLC0415

    ctx = mp.get_context("spawn")
    ready, go, done, out = ctx.Semaphore(0), ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_flow_child,
                         args=(settings_json, i, concurrency, batch, trace, ready, go, done, out))
             for i in range(processes)]
    procs[0].start()
    if not ready.acquire(timeout=300):  # the store exists once process 0 is ready
        raise SystemExit("the first flow process did not start")
    for p in procs[1:]:
        p.start()
    for _ in procs[1:]:
        if not ready.acquire(timeout=300):
            raise SystemExit("a flow process did not start")
    engine = sa.create_engine(f"sqlite:///{db_path}")
    count = sa.text("SELECT count(*) FROM ledger WHERE kind = 'order' "
                    "AND state IN ('posted', 'synced')")
    go.set()
    started = time.perf_counter()
    while True:
        with engine.connect() as conn:
            posted = int(conn.execute(count).scalar() or 0)
        if posted >= orders:
            break
        if time.perf_counter() - started > 1200:
            done.set()
            raise SystemExit(f"only {posted} of {orders} posted after 1,200 s")
        time.sleep(0.1)  # the count is a query: the benchmark should not tax the flow
    elapsed = time.perf_counter() - started
    done.set()
    engine.dispose()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode not in (0, None):
            raise SystemExit(f"flow process exited {p.exitcode}")
    flow: dict[str, Any] = {
        "orders": orders, "processes": processes, "elapsed_s": elapsed,
        "poll_s": max(r["poll_s"] for r in results), "orders_per_s": orders / elapsed,
        "maxrss_mb": max(r["maxrss_mb"] for r in results),
        "seamline_cpu_ms_per_order": sum(r["cpu_s"] for r in results) * 1000 / orders,
    }
    if trace:
        flow["python_heap_peak_mb"] = max(r["python_heap_peak_mb"] for r in results)
    return flow


# -- child: raw creates ----------------------------------------------------------------------


def _raw_child(base_url: str, key: str, bodies: list[bytes], concurrency: int,
               out: Any) -> None:
    lock = threading.Lock()
    todo = list(bodies)
    errors: list[str] = []

    def run() -> None:
        with httpx.Client(base_url=base_url, timeout=60,
                          headers={"Authorization": f"Bearer {key}",
                                   "content-type": "application/json"}) as client:
            while True:
                with lock:
                    if not todo:
                        return
                    body = todo.pop()
                r = client.post("/sales-orders", content=body)
                if r.status_code != 201:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    out.put({"creates": len(bodies), "elapsed_s": elapsed,
             "creates_per_s": len(bodies) / elapsed, "errors": errors[:3]})


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    result = out.get(timeout=1200)
    proc.join(timeout=60)
    if proc.exitcode not in (0, None):
        raise SystemExit(f"child exited {proc.exitcode}")
    return dict(result)


# -- one scenario ----------------------------------------------------------------------------


def scenario(n: int, *, latency_s: float, concurrency: int, batch: int, raw: int,
             seed: int, processes: int = 1, trace: bool = False) -> dict[str, Any]:
    from seamline_sandbox.bluecherry.examples import sample_order  # noqa: PLC0415
    from seamline_sandbox.harness import Sandboxes, settings_for  # noqa: PLC0415
    from seamline_sandbox.world import MARKETS  # noqa: PLC0415

    mapped = [m for m in MARKETS if m.id != 6]
    with tempfile.TemporaryDirectory() as tmp, Sandboxes(
            seed=seed, lift_rate_limits=True, bluecherry_latency_s=latency_s) as sb:
        state = sb.centra.state
        with state.lock:  # stock for any count: the generator never oversells
            for row in state.inventory.values():
                row[0] = max(row[0], 10**7)
        generated = sb.place_orders(n, seed=seed, hold_rate=0, waiting_payment_rate=0,
                                    unknown_sku_rate=0, pickup_point_rate=0, markets=mapped)
        assert len(generated) == n, f"placed {len(generated)} of {n}"
        db_path = Path(tmp) / "seamline.db"
        settings = settings_for(sb, f"sqlite:///{db_path}", overrides={
            "queues": {"lease_s": 60, "poll_interval_s": 0.02, "backoff_base_s": 0.2,
                       "backoff_max_s": 5.0, "max_inline_wait_s": 5.0,
                       "concurrency": {"orders": concurrency, "writeback": 1, "intake": 1,
                                       "default": 1}},
        })
        before = _cpu_s()
        flow = _run_flow(_dump_with_secrets(settings), db_path, n, processes=processes,
                         concurrency=concurrency, batch=batch, trace=trace)
        flow["sandboxes_cpu_ms_per_order"] = (_cpu_s() - before) * 1000 / n
        counts = sb.bluecherry_reference_counts()
        posted = sum(1 for g in generated if counts.get(sb.reference(g), 0) == 1)
        dupes = sum(1 for v in counts.values() if v > 1)
        if posted != n or dupes:
            raise SystemExit(f"posted {posted}/{n}, duplicates {dupes}")
        raw_result: dict[str, Any] = {}
        if raw:
            bodies = [json.dumps(sample_order(10_000_000 + i, market=1 + i % 5, seed=seed,
                                              prefix="raw-")).encode() for i in range(raw)]
            raw_result = _in_child(_raw_child, sb.bluecherry_url, sb.bluecherry_key, bodies,
                                   concurrency * processes)
            if raw_result["errors"]:
                raise SystemExit(f"raw creates failed: {raw_result['errors']}")
        confirming = sum(1 for g in generated if g.status == "PENDING") / n
    return {"latency_ms": round(latency_s * 1000), "concurrency": concurrency,
            "batch": batch, **{k: round(v, 2) for k, v in flow.items()},
            "raw_creates_per_s": round(raw_result.get("creates_per_s", 0.0), 1),
            "ratio_to_raw": (round(flow["orders_per_s"] / raw_result["creates_per_s"], 3)
                             if raw_result else None),
            "pending_share": round(confirming, 3)}


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    Linux: ``VmHWM`` of this process image. Not ``ru_maxrss``: a spawned child starts as a
    (v)fork of the parent, and the kernel folds the parent's peak into the child's
    ``ru_maxrss`` at exec — here the parent holds the sandboxes with every generated order, so
    ``ru_maxrss`` would report the sandboxes' memory, growing with the order count.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _dump_with_secrets(settings: Any) -> str:
    """The settings as JSON for the child, secrets included (they are sandbox credentials)."""
    data = settings.model_dump(mode="json")
    data["centra"]["token"] = settings.centra.token.get_secret_value()
    data["bluecherry"]["api_key"] = settings.bluecherry.api_key.get_secret_value()
    return json.dumps(data)


def mutation_ceiling(pending_share: float) -> dict[str, float]:
    """Orders/hour Centra's Growth-tier mutation budget allows for the write-back."""
    per_order = 1 / WRITEBACK_BATCH + pending_share
    return {
        "mutations_per_order": round(per_order, 3),
        "orders_per_hour_by_1h_budget": round(GROWTH_MUTATIONS_1H / per_order),
        "orders_per_hour_by_10s_budget": round(GROWTH_MUTATIONS_10S / per_order * 360),
        "orders_per_hour_all_pending": round(GROWTH_MUTATIONS_1H / (1 / WRITEBACK_BATCH + 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--memory-orders", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--processes", type=int, default=1,
                        help="Seamline worker processes on the one SQLite store")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--raw", type=int, default=2000, help="raw creates per measurement")
    parser.add_argument("--trace-memory", type=int, nargs=2, metavar=("SMALL", "LARGE"),
                        help="only: Python-heap peak (tracemalloc) vs peak RSS at two counts")
    args = parser.parse_args()
    if args.trace_memory:
        for count in args.trace_memory:
            r = scenario(count, latency_s=0.0, concurrency=args.concurrency, batch=args.batch,
                         raw=0, seed=24, processes=args.processes, trace=True)
            print(json.dumps({"benchmark": "orders_throughput_memory", **r}))
        return

    common = {"concurrency": args.concurrency, "batch": args.batch,
              "processes": args.processes}
    fast = scenario(args.orders, latency_s=0.0, raw=args.raw, seed=21, **common)
    slow = scenario(args.orders, latency_s=args.latency_ms / 1000, raw=min(args.raw, 1000),
                    seed=22, **common)
    big = scenario(args.memory_orders, latency_s=0.0, raw=0, seed=23, **common)
    ceiling = mutation_ceiling(fast["pending_share"])
    growth = big["maxrss_mb"] / fast["maxrss_mb"] - 1

    print(f"{'run':<28}{'orders':>8}{'orders/s':>10}{'raw/s':>9}{'ratio':>7}{'peak MB':>9}"
          f"{'CPU ms/order: Seamline':>24}{'sandboxes':>11}")
    for name, r in (("no latency", fast), (f"{args.latency_ms:.0f} ms per BlueCherry call", slow),
                    ("no latency (memory)", big)):
        ratio = "" if r["ratio_to_raw"] is None else f"{r['ratio_to_raw']:.2f}"
        raw = "" if not r["raw_creates_per_s"] else f"{r['raw_creates_per_s']:.0f}"
        print(f"{name:<28}{r['orders']:>8}{r['orders_per_s']:>10.1f}{raw:>9}{ratio:>7}"
              f"{r['maxrss_mb']:>9.1f}{r['seamline_cpu_ms_per_order']:>24.2f}"
              f"{r['sandboxes_cpu_ms_per_order']:>11.2f}")
    cores = os.cpu_count() or 1
    cpu = fast["seamline_cpu_ms_per_order"] + fast["sandboxes_cpu_ms_per_order"]
    print(f"CPU bound without latency: {cores} cores / {cpu:.2f} ms per order (Seamline + both "
          f"sandboxes) = at most {cores * 1000 / cpu:.0f} orders/s on this machine, "
          f"{cores * 1000 / cpu / fast['raw_creates_per_s']:.2f} of the raw create rate")
    print(f"peak memory {args.memory_orders} vs {args.orders} orders: {growth:+.1%} "
          f"({'flat' if abs(growth) <= 0.10 else 'GROWS'}; target within 10%)")
    print(f"Centra Growth-tier mutation ceiling: {ceiling['mutations_per_order']} mutations/order "
          f"(1/{WRITEBACK_BATCH} setIdConversions + {fast['pending_share']:.0%} PENDING × "
          f"confirmOrder) → {ceiling['orders_per_hour_by_1h_budget']:,} orders/h by the "
          f"1,800/h budget ({ceiling['orders_per_hour_by_10s_budget']:,}/h by 20/10 s); "
          f"every order PENDING: {ceiling['orders_per_hour_all_pending']:,} orders/h")
    print(json.dumps({"benchmark": "orders_throughput", "no_latency": fast, "latency": slow,
                      "memory": big, "memory_growth": round(growth, 4),
                      "centra_mutation_ceiling": ceiling,
                      "python": platform.python_version()}))


if __name__ == "__main__":
    main()
