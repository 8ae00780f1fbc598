"""Payment batch cost, Seamline's own side: one business day of N orders (each captured in two
partial shipments, every twentieth with a refund) posted as BlueCherry cash receipts and credit
memos, then the same day run again.

    python benchmarks/payments_batch.py [--orders 5000] [--grouping per_capture|per_day_currency]

Centra and BlueCherry are the in-memory fakes (``seamline.testing``: no network, so the figure
is Seamline's reading, planning, store and posting work, not an API's latency); the store is
SQLite in a temporary folder, every commit durable. Phases timed: collect (invoices feed + Centra
orders read, every capture and refund recorded), plan (receipts and memos frozen, cash applied),
post (every document posted once, states saved), and the repeat run of the same day. Peak
memory is the process's max RSS. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

DAY = date(2026, 11, 28)


def _world(n: int) -> tuple[Any, Any]:
    from seamline.domain.erp import Customer, ErpInvoice, MasterData  # noqa: PLC0415
    from seamline.domain.money import Money  # noqa: PLC0415
    from seamline.domain.orders import (  # noqa: PLC0415
        CentraOrder,
        OrderStatus,
        PaymentEntry,
    )
    from seamline.testing.bluecherry import FakeBlueCherry  # noqa: PLC0415
    from seamline.testing.centra import FakeCentra  # noqa: PLC0415

    centra = FakeCentra()
    erp = FakeBlueCherry(MasterData(customers={"WEBSE": Customer(
        code="WEBSE", division="D01", currency="SEK", terms="PREPAID", stores=("SE",))}))
    base = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    zero = Money.zero("SEK")
    for i in range(n):
        number = 100_000 + i
        first = Money.of(Decimal(100 + i % 900) + Decimal("0.45"), "SEK")
        second = Money.of(Decimal(49 + i % 50), "SEK")
        at = base + timedelta(seconds=i * 50_000 // n)  # 07:00 to 20:53 UTC: one local day
        pays = [PaymentEntry(entry_type="CAPTURE", status="SUCCESS", value=v,
                             external_reference=f"psp-{number}-{k}", created_at=at, id=2 * i + k,
                             payment_method="adyen") for k, v in ((1, first), (2, second))]
        if i % 20 == 0:
            pays.append(PaymentEntry(entry_type="REFUND", status="SUCCESS",
                                     value=Money.of("10.00", "SEK"),
                                     external_reference=f"psp-{number}-r", created_at=at,
                                     id=10_000_000 + i, payment_method="adyen"))
        grand = first + second
        centra.orders[number] = CentraOrder(
            id=f"o{number}", number=number, status=OrderStatus.PROCESSING, store_id=1,
            market_id=1, currency="SEK", prices_include_tax=True, order_date=at, updated_at=at,
            shipping=zero, shipping_tax=zero, handling=zero, voucher_discount=zero,
            tax_total=zero, grand_total=grand, payments=tuple(pays))
        for k, v in ((1, first), (2, second)):
            erp.add_invoice(ErpInvoice(
                invoice_no=f"INV-{number}-{k}", order_no=f"SO-{number}",
                customer_po=str(number), shipment_no=f"SH-{number}-{k}", invoice_date=DAY,
                currency="SEK", charges=zero, tax=zero, total=v))
    return centra, erp


def run(orders: int, grouping: str) -> dict[str, Any]:
    from seamline.adapters.store.db import Database  # noqa: PLC0415
    from seamline.adapters.store.unit_of_work import SqlStore  # noqa: PLC0415
    from seamline.domain.mapping import MarketCodes  # noqa: PLC0415
    from seamline.domain.payments import PaymentRules  # noqa: PLC0415
    from seamline.queue import JobQueue  # noqa: PLC0415
    from seamline.services.payments import PaymentFlow  # noqa: PLC0415

    centra, erp = _world(orders)
    market = MarketCodes(centra_market=1, currency="SEK", division="D01", warehouse="W01",
                         customer="WEBSE", store="SE", order_type="ECOM", terms="PREPAID",
                         season="FW26", prices_include_tax=True, cutoff=dtime(23, 0),
                         timezone="Europe/Stockholm")
    now = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'pay.db'}")
        db.upgrade()
        store = SqlStore(db, JobQueue(db, clock=lambda: now))
        flow = PaymentFlow(store=store, centra=centra, finance=erp, markets=(market,),
                           rules=PaymentRules(grouping=grouping),  # type: ignore[arg-type]
                           clock=lambda: now)
        t0 = time.perf_counter()
        flow.sync_invoices()
        collected = flow.collect_payments()
        t1 = time.perf_counter()
        planned = flow.plan_day(store.begin, DAY, market)
        t2 = time.perf_counter()
        from seamline.services.payments import BatchResult  # noqa: PLC0415

        result = BatchResult()
        flow.post_planned(store.begin, result)
        t3 = time.perf_counter()
        again = flow.run(day=DAY)
        t4 = time.perf_counter()
        db.dispose()
    assert again.receipts == again.memos == 0
    return {
        "orders": orders, "grouping": grouping, "payments": collected.payments_new,
        "documents": planned, "receipts": result.receipts, "memos": result.memos,
        "unapplied": {k: format(v, "f") for k, v in result.unapplied.items()},
        "collect_s": round(t1 - t0, 2), "plan_s": round(t2 - t1, 2),
        "post_s": round(t3 - t2, 2), "repeat_s": round(t4 - t3, 2),
        "documents_per_s": round(planned / (t3 - t1), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bluecherry_receipts": len(erp.state.receipts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--grouping", default="per_capture",
                        choices=["per_capture", "per_day_currency"])
    args = parser.parse_args()
    r = run(args.orders, args.grouping)
    print(f"{'orders':>8}{'payments':>10}{'docs':>7}{'collect s':>11}{'plan s':>8}"
          f"{'post s':>8}{'docs/s':>8}{'repeat s':>10}{'RSS MB':>8}")
    print(f"{r['orders']:>8}{r['payments']:>10}{r['documents']:>7}{r['collect_s']:>11}"
          f"{r['plan_s']:>8}{r['post_s']:>8}{r['documents_per_s']:>8}{r['repeat_s']:>10}"
          f"{r['peak_rss_mb']:>8}")
    print(json.dumps({"benchmark": "payments_batch", "python": platform.python_version(),
                      **r}))


if __name__ == "__main__":
    main()
