"""Raw capacity of the BlueCherry sandbox over real HTTP: sales-order creates/s and ATS page
reads/s, one keep-alive httpx client against a uvicorn ServerThread on 127.0.0.1.

    python benchmarks/bluecherry_sandbox.py [--orders 2000] [--ats-reads 300] [--page-size 500]

Prints the figures and one JSON line (``{"benchmark": "bluecherry_sandbox", ...}``). The
order-flow benchmark is measured as a ratio of ``creates_per_s``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import httpx

from seamline_sandbox.bluecherry.app import DEFAULT_API_KEY, create_app
from seamline_sandbox.bluecherry.examples import sample_order
from seamline_sandbox.serve import ServerThread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--ats-reads", type=int, default=300)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--lines", type=int, default=2)
    args = parser.parse_args()

    markets = (1, 2, 3, 4, 5)
    bodies = [json.dumps(sample_order(n, market=markets[n % 5], lines=args.lines)).encode()
              for n in range(args.orders)]
    app = create_app(seed=1)
    with ServerThread(app) as srv, httpx.Client(
            base_url=f"{srv.url}/api/v1", timeout=30,
            headers={"Authorization": f"Bearer {DEFAULT_API_KEY}",
                     "content-type": "application/json"}) as client:
        for body in bodies[:20]:  # warm up (and leave those orders in place)
            client.post("/sales-orders", content=body)
        t0 = time.perf_counter()
        for body in bodies[20:]:
            r = client.post("/sales-orders", content=body)
            if r.status_code != 201:
                raise SystemExit(f"create failed: {r.status_code} {r.text[:300]}")
        create_s = time.perf_counter() - t0
        creates = len(bodies) - 20

        t0 = time.perf_counter()
        app.state.sandbox.state.ats.run_cycle(app.state.sandbox.state)
        cycle_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        cursor = None
        items = 0
        for _ in range(args.ats_reads):
            params: dict[str, str | int] = {"page_size": args.page_size}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/inventory/ats", params=params).json()
            items += len(page["items"])
            cursor = page["next_cursor"]
        ats_s = time.perf_counter() - t0

    result = {
        "benchmark": "bluecherry_sandbox",
        "creates": creates,
        "creates_per_s": round(creates / create_s, 1),
        "create_ms_mean": round(create_s / creates * 1000, 3),
        "ats_page_size": args.page_size,
        "ats_page_reads": args.ats_reads,
        "ats_pages_per_s": round(args.ats_reads / ats_s, 1),
        "ats_items_per_s": round(items / ats_s, 1),
        "ats_cycle_ms": round(cycle_s * 1000, 2),
        "orders_in_cycle": len(bodies),
        "python": platform.python_version(),
    }
    print(f"sales-order creates: {result['creates_per_s']}/s "
          f"({result['create_ms_mean']} ms each, {creates} orders, {args.lines} lines)")
    print(f"ATS page reads:      {result['ats_pages_per_s']}/s "
          f"(page_size {args.page_size}; {result['ats_items_per_s']} items/s)")
    print(f"ATS cycle over {len(bodies)} orders: {result['ats_cycle_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
