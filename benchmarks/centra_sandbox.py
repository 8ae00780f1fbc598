"""Raw capacity of the Centra sandbox over real HTTP, rate limits lifted: requests/s for an
ERP-shaped orders page of 100 and for a 100-size ``setStock``, one keep-alive httpx client
against a uvicorn ServerThread on 127.0.0.1.

    python benchmarks/centra_sandbox.py [--orders 1000] [--pages 100] [--stock-writes 200]

Prints the figures and one JSON line (``{"benchmark": "centra_sandbox", ...}``): the ceiling
later benchmarks are measured against.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import httpx

from seamline_sandbox.centra.app import create_app
from seamline_sandbox.serve import ServerThread

ORDERS_PAGE = """
fragment money on MonetaryValue { value currency { code } conversionRate }
query page($page: Int!) {
  orders(limit: 100, page: $page, sort: [number_ASC]) {
    id number status isOnHold isWaitingForPayment externalId orderDate updatedAt
    store { id } market { id name }
    grandTotal(includingTax: true) { ...money }
    totals { lineValues { ...money } discounts { ...money } shipping { ...money }
             shippingTaxIncluded { value } shippingTaxAdded { value }
             taxIncluded { ...money } taxAdded { ...money }
             taxBreakdown { taxPercent value { value } } }
    shippingAddress { firstName lastName address1 city zipCode country { code } }
    shippingPriceGroup { shippingOption { uri } }
    ... on DirectToConsumerOrder { customer { email } }
    lines { id quantity cancelledQuantity taxPercent productSize { SKU EAN }
            unitPrice(includingTax: true) { value } unitOriginalPrice(includingTax: true)
            { value } lineValue(includingTax: true) { value } }
    discountsApplied { value { value } }
  }
}
"""
SET_STOCK = """
mutation set($sizes: [StockSetProductSizeInput!]) {
  setStock(input: {warehouse: {id: 1}, description: "bench", stockQuantityType: PHYSICAL,
                   productSizes: $sizes}) {
    stockChanges { id } userErrors { message } userWarnings { message }
  }
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--stock-writes", type=int, default=200)
    args = parser.parse_args()

    sandbox = create_app(seed=1, orders=args.orders)
    sandbox.limiter.lift()
    placed = len(sandbox.state.orders)
    pages = max(1, placed // 100)
    items = list(sandbox.state.world.catalogue)[:100]
    with ServerThread(sandbox) as srv, httpx.Client(
            base_url=srv.url, timeout=60,
            headers={"Authorization": "Bearer sandbox-centra-token"}) as client:
        def post(query: str, variables: dict[str, object]) -> None:
            r = client.post("/graphql", json={"query": query, "variables": variables})
            if r.status_code != 200 or "errors" in r.json():
                raise SystemExit(f"failed: {r.status_code} {r.text[:300]}")

        for p in range(1, 4):  # warm up
            post(ORDERS_PAGE, {"page": p})
        t0 = time.perf_counter()
        for i in range(args.pages):
            post(ORDERS_PAGE, {"page": 1 + i % pages})
        page_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        for n in range(args.stock_writes):
            sizes = [{"productSize": {"SKU": it.sku}, "quantity": 50 + (n + k) % 7}
                     for k, it in enumerate(items)]
            post(SET_STOCK, {"sizes": sizes})
        stock_s = time.perf_counter() - t0

    result = {
        "benchmark": "centra_sandbox",
        "orders_in_sandbox": placed,
        "orders_page_100_per_s": round(args.pages / page_s, 1),
        "orders_per_s_read": round(args.pages * 100 / page_s, 1),
        "set_stock_100_sizes_per_s": round(args.stock_writes / stock_s, 1),
        "sizes_per_s_written": round(args.stock_writes * 100 / stock_s, 1),
        "pages": args.pages,
        "stock_writes": args.stock_writes,
        "python": platform.python_version(),
    }
    print(f"Centra sandbox raw capacity ({placed} orders, rate limits lifted, real HTTP):")
    print(f"  orders page of 100   : {result['orders_page_100_per_s']:>8} requests/s "
          f"({result['orders_per_s_read']} orders/s)")
    print(f"  setStock of 100 sizes: {result['set_stock_100_sizes_per_s']:>8} requests/s "
          f"({result['sizes_per_s_written']} sizes/s)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
