"""``seamline demo``: a whole (simulated) trading day of orders from Centra into BlueCherry.

Both sandboxes start in-process on free loopback ports, Seamline gets a SQLite store in a
temporary folder and ``examples/seamline.toml``'s mapping (SE and DE post in a daily batch at
23:00, GB, JP and US in real time; market NO and the ``pickup-point`` shipping option are left
unmapped on purpose). Orders arrive in waves through the day — a few unmappable, a few with
SKUs BlueCherry does not know, a few on hold or unpaid that are released in the evening — while
faults are injected on both sides (429 with a short ``Retry-After``, 5xx, a BlueCherry create
that commits and then times out, a Centra write-back that commits and then drops). The day is
simulated: one clock shared by the sandboxes and Seamline is moved forward between waves and
past the cut-off, and the output says so. The next morning BlueCherry's warehouse ships
(``demo_shipments``: partial, complete and short shipments into Centra, with faults), and the
morning after that the payment batch posts the shipping day's captures as BlueCherry cash
receipts and two Centra refunds as credit memos (``demo_payments``); the day ends with its
reconciliation report, one hand edit in BlueCherry planted (``demo_reconcile``). The summary
is read back from both sandboxes and from Seamline's store; the exit code is 0 only if every
invariant holds.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from seamline.config import ShipmentsSettings, StockSettings
from seamline_sandbox.demo_drift import DriftStory, drift_step
from seamline_sandbox.demo_payments import payment_batch
from seamline_sandbox.demo_reconcile import reconcile_day
from seamline_sandbox.demo_shipments import CARRIERS, ship_next_day, summarise_shipments
from seamline_sandbox.demo_stock import stock_check, stock_start, stock_wave
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.harness import (
    Sandboxes,
    build_seamline,
    run_until_quiet,
    settings_for,
)
from seamline_sandbox.serve import ServerThread
from seamline_sandbox.world import UNMAPPED_SHIPPING_OPTION, build_world

if TYPE_CHECKING:
    from seamline.bootstrap import Container

__all__ = ["DemoResult", "command", "run_demo"]

HOME = ZoneInfo("Europe/Stockholm")
#: Local (Stockholm) times at which waves of orders arrive; the last wave is the evening.
WAVES = ((8, 0), (11, 0), (14, 30), (18, 0))
RELEASE_AT = (20, 0)
AFTER_CUTOFF = (23, 5)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


@dataclass
class DemoResult:
    """What the demo found; ``ok`` is True only if every invariant held."""

    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    orders: list[GeneratedOrder] = field(default_factory=list)
    #: The order edited by hand in BlueCherry and what the drift scan found (``demo_drift``).
    drift: DriftStory = field(default_factory=DriftStory)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, ok, detail))


def _at(day: date, hm: tuple[int, int]) -> datetime:
    return datetime(day.year, day.month, day.day, hm[0], hm[1], tzinfo=HOME)


@contextmanager
def _step(progress: Progress, text: str) -> Iterator[Any]:
    task = progress.add_task(text, total=None)
    t0 = time.monotonic()

    def update(round_no: int, ledger: dict[str, int]) -> None:
        states = ", ".join(f"{k} {v}" for k, v in sorted(ledger.items()))
        progress.update(task, description=f"{text} — round {round_no}: {states}")

    try:
        yield update
    finally:
        progress.update(task, description=f"{text} — done in {time.monotonic() - t0:.1f}s",
                        total=1, completed=1)


def _explicit_orders(sb: Sandboxes) -> list[GeneratedOrder]:
    """One of each case a demo must show, whatever the generator's dice gave."""
    world = build_world(sb.seed)
    # Items every Centra warehouse has a few of (Centra's stock is BlueCherry's by now).
    sellable = [i for i in world.catalogue if not i.centra_only
                and all(sb.centra_free_to_allocate(w, i.sku) >= 3 for w in (1, 2, 3))]
    unknown = next(i for i in world.catalogue if i.centra_only)
    specs: list[dict[str, Any]] = [
        {"market_id": 6, "lines": [{"sku": sellable[3].sku, "quantity": 1}]},   # NO: unmapped
        {"market_id": 3, "lines": [{"sku": sellable[5].sku, "quantity": 1}],     # pickup point
         "shipping_option": UNMAPPED_SHIPPING_OPTION},
        {"market_id": 5, "lines": [{"sku": unknown.sku, "quantity": 1},          # unknown SKU
                                   {"sku": sellable[7].sku, "quantity": 2}]},
        {"market_id": 1, "lines": [{"sku": sellable[9].sku, "quantity": 1}],     # held, SE
         "on_hold": True},
        {"market_id": 4, "lines": [{"sku": sellable[11].sku, "quantity": 3}],    # unpaid, JP
         "waiting_for_payment": True},
        {"market_id": 2, "lines": [{"sku": sellable[13].sku, "quantity": 1}],    # DE, voucher
         "voucher_percent": 15, "waiting_for_payment": True},
        {"market_id": 3, "lines": [{"sku": i.sku, "quantity": 1}                 # GB, 25 lines
                                   for i in sellable[20:45]]},
        {"market_id": 2, "lines": [{"sku": sellable[15].sku, "quantity": 2}],    # DE, handling
         "handling": "2.50"},
        {"market_id": 5, "lines": [{"sku": sellable[17].sku, "quantity": 1}],    # US, exempt
         "tax_exempt": True},
    ]
    return [sb.place_order(s) for s in specs]


def _inject_faults(sb: Sandboxes) -> list[str]:
    sb.bluecherry_fault("429", 2, match="create_order", retry_after=1.0)
    sb.bluecherry_fault("500", 3, match="create_order")
    sb.bluecherry_fault("503", 1, match="lookup_orders")
    # Commits, then holds the answer longer than the client's 2 s timeout: an ambiguous write.
    sb.bluecherry_fault("commit_then_drop", 2, match="create_order", delay_s=3.0)
    sb.centra_fault("429", 2, match="query:*", retry_after=1.0)
    sb.centra_fault("500", 1, match="mutation:confirmOrder")
    sb.centra_fault("commit_then_drop", 1, match="mutation:setIdConversions")
    return [
        "BlueCherry: 2× 429 (Retry-After 1 s) and 3× 500 on create, 1× 503 on look-up, "
        "2× create committed then timed out",
        "Centra: 2× 429 (Retry-After 1 s) on queries, 1× 500 on confirmOrder, "
        "1× setIdConversions committed then dropped",
    ]


def _drive(container: Container, progress: Progress, text: str, timeout_s: float, *,
           shipments: bool = False) -> None:
    with _step(progress, text) as update:
        run_until_quiet(container, timeout_s=timeout_s, on_round=update, shipments=shipments)


def run_demo(*, fast: bool, orders: int | None, seed: int, keep: bool,
             workdir: Path) -> DemoResult:
    """Run the day; print what happened and the summary; return the checks."""
    n = orders if orders is not None else (40 if fast else 240)
    result = DemoResult()
    wall0 = time.monotonic()
    with Sandboxes(seed=seed, hold_seconds=1.0) as sb:
        settings = settings_for(sb, f"sqlite:///{workdir / 'seamline.db'}", mode="mixed")
        settings = settings.model_copy(update={
            "bluecherry": settings.bluecherry.model_copy(update={"timeout_s": 2.0}),
            "shipments": ShipmentsSettings.model_validate({"carriers": CARRIERS}),
            # 250 sizes per setStock: the day's mutations stay inside Centra's Growth-tier
            # budget of 20 per 10 s (the full sync of 1,785 sizes in three warehouses takes
            # 9, not 18).
            "stock": StockSettings(batch_size=250)})
        container = build_seamline(sb, settings)
        try:
            today = sb.now().astimezone(HOME).date() + timedelta(days=1)
            sb.clock.advance_to(_at(today, WAVES[0]))
            out.print(f"[bold]Seamline demo[/] — a simulated trading day, "
                      f"{today.isoformat()} (Europe/Stockholm)")
            out.print(f"  Centra sandbox      {sb.centra_url}  (Growth-tier rate limits)")
            out.print(f"  BlueCherry sandbox  {sb.bluecherry_url}")
            out.print(f"  Store               {settings.store.database_url}")
            out.print("  Time is simulated: one clock shared by both sandboxes and Seamline is "
                      "moved forward between waves and past the 23:00 cut-off.")
            _schema_check(container, result)
            story = stock_start(sb, container, out)
            per_wave = [n // len(WAVES) + (1 if i < n % len(WAVES) else 0)
                        for i in range(len(WAVES))]
            with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                          TimeElapsedColumn(), console=err, transient=False) as progress:
                for i, (hm, count) in enumerate(zip(WAVES, per_wave, strict=True)):
                    sb.clock.advance_to(_at(today, hm))
                    placed = sb.place_orders(count, hold_rate=0.04, waiting_payment_rate=0.03,
                                             unknown_sku_rate=0.03, pickup_point_rate=0.03,
                                             spacing=timedelta(seconds=20)) if count else []
                    if i == 0:
                        placed += _explicit_orders(sb)
                    if i == 1:
                        for line in _inject_faults(sb):
                            out.print(f"  faults injected: {line}")
                    result.orders += placed
                    _drive(container, progress,
                           f"{hm[0]:02d}:{hm[1]:02d} wave {i + 1}: {len(placed)} orders",
                           timeout_s=120)
                    moved = stock_wave(sb, container, story, receive=12 if i == 1 else 0)
                    out.print(f"  stock after wave {i + 1}: {moved}")
                waiting = [g for g in result.orders if g.waits_for]
                sb.clock.advance_to(_at(today, RELEASE_AT))
                sb.release(waiting)
                _drive(container, progress,
                       f"{RELEASE_AT[0]:02d}:00 {len(waiting)} held/unpaid orders released",
                       timeout_s=120)
                ledger = _ledger_states(container)
                out.print(f"  before the cut-off: {ledger.get('synced', 0)} orders posted in "
                          f"real time, {ledger.get('batch', 0)} wait for the 23:00 batch (SE, DE)")
                sb.clock.advance_to(_at(today, AFTER_CUTOFF))
                _drive(container, progress, "23:05 cut-off passed: daily batches (SE, DE)",
                       timeout_s=180)
                out.print(f"  stock after the batches: {stock_wave(sb, container, story)}")
                result.drift = drift_step(sb, container, out)
                ship_next_day(sb, today + timedelta(days=1), _at, lambda text: _drive(
                    container, progress, text, timeout_s=300, shipments=True), out,
                              orders=8 if fast else 30)
                out.print(f"  stock after the shipping: {stock_wave(sb, container, story)}")
                payment_batch(sb, container, today + timedelta(days=1), at=_at, out=out,
                              check=result.check)
                # the very end of the day (after the payment batch): the reconciliation report
                reconcile_day(sb, container, today, out=out, check=result.check)
            out.print(f"  simulated {WAVES[0][0]:02d}:00 → {AFTER_CUTOFF[0]:02d}:"
                      f"{AFTER_CUTOFF[1]:02d} and the next morning's shipping in "
                      f"{time.monotonic() - wall0:.1f}s of wall time")
            result.orders += story.orders
            for check in stock_check(sb, container, story, out):
                result.check(*check)
            _summarise(sb, container, result)
            _serve_dashboard(settings, container, sb, keep=keep)
        finally:
            container.close()
    return result


def _schema_check(container: Container, result: DemoResult) -> None:
    """The preflight `config check --online` and start-up run: every GraphQL operation
    Seamline sends, against the schema the Centra sandbox serves and the token's rights."""
    from seamline.adapters.centra.schema_check import (  # noqa: PLC0415
        ACTIVE_FLOWS,
        FLOW_OPERATIONS,
    )

    check = getattr(container.centra, "check_schema", None)
    if not callable(check):
        return
    problems = check()
    total = len({op for f in ACTIVE_FLOWS for op in FLOW_OPERATIONS[f]})
    refused = {p.operation for p in problems}
    out.print(f"  Centra schema check: {total - len(refused)} of {total} operations of the "
              f"{', '.join(ACTIVE_FLOWS)} flows valid against the schema Centra serves, every "
              "read allowed to the token"
              if not problems else f"  Centra schema check: {len(problems)} problem(s)")
    result.check("every Centra operation valid against the served schema", not problems,
                 "; ".join(p.line() for p in problems[:3]))


def _charges(sb: Sandboxes, result: DemoResult, bc_orders: list[dict[str, Any]]) -> None:
    """Handling fees, long orders and tax-exempt orders, as Centra charged them."""
    by_ref = {str(o["external_reference"]): o for o in bc_orders}
    handled = [g for g in result.orders if g.postable and any(
        t == "HANDLING" for t, _, _ in g.expected_charges)]
    wrong = []
    for g in handled:
        bc = by_ref.get(sb.reference(g))
        fees = [c for c in (bc or {}).get("charges", []) if c["type"] == "HANDLING"]
        want = next(a for t, a, _ in g.expected_charges if t == "HANDLING")
        if bc is not None and (len(fees) != 1 or Decimal(fees[0]["amount"]) != want):
            wrong.append(g.number)
    exempt = [g for g in result.orders if g.postable and g.tax_exempt]
    exempt_ok = [g for g in exempt if (o := by_ref.get(sb.reference(g))) is not None
                 and o["prices_include_tax"] is False and Decimal(o["totals"]["tax"]) == 0]
    longest = max((len(o["lines"]) for o in bc_orders), default=0)
    out.print(f"Charges and tax (read from the BlueCherry sandbox): {len(handled)} orders with "
              f"a handling fee posted a HANDLING charge; {len(exempt_ok)} of {len(exempt)} "
              f"tax-exempt US orders posted tax-exclusive with no tax; the longest order posted "
              f"{longest} lines.")
    result.check("handling fees posted as HANDLING charges", not wrong, str(wrong[:10]))
    result.check("tax-exempt orders posted in their market's tax mode",
                 len(exempt_ok) == len(exempt))


def _ledger_states(container: Container) -> dict[str, int]:
    from seamline_sandbox.harness import _ledger_counts  # noqa: PLC0415

    return _ledger_counts(container)


def _summarise(sb: Sandboxes, container: Container, result: DemoResult) -> None:
    by_ref = {sb.reference(g): g for g in result.orders}
    bc_orders = sb.bluecherry_orders()
    counts = sb.bluecherry_reference_counts()
    external_ids = sb.centra_external_ids()
    statuses = sb.centra_statuses()

    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"expected": 0, "posted": 0, "dupes": 0, "exp_total": Decimal(0),
                 "bc_total": Decimal(0)})
    for g in result.orders:
        if g.postable:
            r = rows[(g.market.code, g.expected_currency)]
            r["expected"] += 1
            r["exp_total"] += Decimal(g.expected_total)
    mismatched: list[str] = []
    strangers: list[str] = []
    for o in bc_orders:
        found = by_ref.get(str(o["external_reference"]))
        if found is None:
            strangers.append(str(o["external_reference"]))
            continue
        g = found
        r = rows[(g.market.code, g.expected_currency)]
        r["posted"] += 1
        r["bc_total"] += Decimal(o["totals"]["total"])
        edited = str(o.get("updated_by", "")).startswith("user:")
        # an order a person edited in BlueCherry is drift, for the reconciliation to report
        if not edited and (Decimal(o["totals"]["total"]) != Decimal(g.expected_total)
                           or o["currency"] != g.expected_currency):
            mismatched.append(f"{g.number}: {o['totals']['total']} {o['currency']} ≠ "
                              f"{g.expected_total} {g.expected_currency}")
    for ref, c in counts.items():
        dup = by_ref.get(ref)
        if c > 1 and dup is not None:
            rows[(dup.market.code, dup.expected_currency)]["dupes"] += c - 1

    table = Table(title="Orders in BlueCherry (read from the BlueCherry sandbox, counted by "
                        "external_reference over all its orders)", show_edge=False,
                  header_style="bold")
    for col in ("market", "cur", "to post", "posted", "dupes", "expected total",
                "BlueCherry total"):
        table.add_column(col, justify="left" if col in ("market", "cur") else "right")
    for (market, cur), r in sorted(rows.items()):
        table.add_row(market, cur, str(r["expected"]), str(r["posted"]), str(r["dupes"]),
                      f"{r['exp_total']:f}", f"{r['bc_total']:f}")
    out.print()
    out.print(table)

    postable = [g for g in result.orders if g.postable]
    missing = [g.number for g in postable if counts.get(sb.reference(g), 0) == 0]
    dupes = sum(c - 1 for c in counts.values() if c > 1)
    unpostable_in_bc = [g.number for g in result.orders
                        if not g.postable and counts.get(sb.reference(g), 0)]
    result.check("every postable order is in BlueCherry", not missing,
                 f"missing: {missing[:10]}" if missing else f"{len(postable)} orders")
    result.check("no duplicates in BlueCherry", dupes == 0 and not strangers,
                 f"{dupes} duplicate(s), {len(strangers)} unknown reference(s)")
    result.check("BlueCherry totals match Centra's grand totals to the minor unit",
                 not mismatched, "; ".join(mismatched[:5]))
    result.check("no unpostable order reached BlueCherry", not unpostable_in_bc,
                 str(unpostable_in_bc[:10]))

    # Exceptions, from Seamline's store.
    open_exc = container.exceptions.list(state="open", limit=10_000)
    held: dict[str, set[int]] = defaultdict(set)
    by_type: Counter[tuple[str, str]] = Counter()
    etable = Table(title="Open exceptions (read from Seamline's store)", show_edge=False,
                   header_style="bold")
    for col in ("type", "owner", "what", "orders held"):
        etable.add_column(col)
    for e in sorted(open_exc, key=lambda e: (e.type, e.business_key)):
        by_type[(e.type, e.owner)] += 1
        orders_held = [int(x) for x in e.orders]
        held[e.type].update(orders_held)
        etable.add_row(*(Text(cell) for cell in (e.type, e.owner, e.business_key,
                                                  ", ".join(str(x) for x in orders_held) or "-")))
    out.print()
    out.print(etable if open_exc else "No open exceptions.")
    out.print("  by type and owner: " + (", ".join(
        f"{t} ({o}) × {c}" for (t, o), c in sorted(by_type.items())) or "none"))
    unexplained = [g.number for g in result.orders if not g.postable
                   and g.number not in held.get(g.expected_exception or "", set())]
    result.check("every unpostable order is an open exception of the expected type",
                 not unexplained,
                 f"not found: {unexplained[:10]}" if unexplained else
                 f"{sum(1 for g in result.orders if not g.postable)} orders")
    # SHORT_SHIPPED: finance's refund for units BlueCherry could not ship (expected);
    # ORDER_DRIFT: the one order the clerk edited by hand in BlueCherry (checked below).
    surprises = sorted({t for t, _ in by_type} - {g.expected_exception for g in result.orders
                                                  if g.expected_exception}
                       - {"SHORT_SHIPPED", "ORDER_DRIFT"})
    result.check("no unexpected exception", not surprises, ", ".join(surprises))

    # Write-back, read from the Centra sandbox.
    posted = {str(o["external_reference"]): str(o["order_no"]) for o in bc_orders}
    wrong_ids = [g.number for g in postable if g.number is not None
                 and external_ids.get(g.number) != posted.get(sb.reference(g))]
    unconfirmed = [g.number for g in postable if g.number is not None
                   and statuses.get(g.number) not in ("CONFIRMED", "PROCESSING", "SHIPPED")]
    written = sum(1 for g in postable if g.number is not None and external_ids.get(g.number))
    out.print()
    out.print(f"Centra (read from the Centra sandbox): {written} of {len(postable)} posted "
              f"orders carry their BlueCherry order number as external id; "
              f"{len(postable) - len(unconfirmed)} confirmed.")
    result.check("BlueCherry numbers written back to Centra", not wrong_ids,
                 f"wrong or missing: {wrong_ids[:10]}" if wrong_ids else "")
    result.check("posted PENDING orders confirmed in Centra", not unconfirmed,
                 str(unconfirmed[:10]))
    _charges(sb, result, bc_orders)
    waited = [g for g in result.orders if g.waits_for and g.postable]
    out.print(f"Held or unpaid at first, released at 20:00 and then posted once: "
              f"{sum(1 for g in waited if counts.get(sb.reference(g), 0) == 1)} of "
              f"{len(waited)}.")
    summarise_shipments(sb, container, out, result.check)
    d = result.drift
    out.print(d.summary(), markup=False)
    result.check("the order edited by hand in BlueCherry is the one ORDER_DRIFT, field by field",
                 d.exception_id is not None and d.others == 0
                 and [x["field"] for x in d.diff] == ["ship_to.line1", "ship_to.city"],
                 f"{d.order_no}: {len(d.diff)} field(s), {d.others} other drift(s)")
    faults = sb.faults_snapshot()
    for side in ("centra", "bluecherry"):
        fired = ", ".join(f"{k} × {v}" for k, v in sorted(faults[side]["fired"].items()))
        pending = sum(int(q["remaining"]) for q in faults[side]["queued"])
        out.print(f"Faults that fired in the {side.capitalize()} sandbox: {fired or 'none'}"
                  + (f" ({pending} planned fault(s) never triggered)" if pending else ""))
    out.print()
    for name, ok, detail in result.checks:
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        out.print(f" {mark} {name}" + (f" — {detail}" if detail else ""))


def _serve_dashboard(settings: Any, container: Container, sb: Sandboxes, *,
                     keep: bool) -> None:
    from seamline.entrypoints.web.app import create_app  # noqa: PLC0415

    app = create_app(settings, container.db, queue=container.queue,
                     **container.web_options())
    with ServerThread(app) as server:
        out.print()
        out.print(f"Dashboard: {server.url}/")
        if not keep:
            out.print("  (it stops with the demo; run `seamline demo --keep` to keep it, the "
                      "sandboxes and the store up until Ctrl-C)")
            return
        out.print(f"  Centra sandbox {sb.centra_root}/_sandbox/docs · BlueCherry sandbox "
                  f"{sb.bluecherry_root}/_sandbox/state — press Ctrl-C to stop")
        stop = threading.Event()

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT,
                                                                     signal.SIGTERM)}
        try:
            while not stop.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        out.print("stopping")


def command(
    fast: Annotated[bool, typer.Option("--fast", help="A small day (under a minute).")] = False,
    orders: Annotated[int | None, typer.Option("--orders", min=0, max=5000,
                                               help="Generated orders over the day.")] = None,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Keep the dashboard, sandboxes and store up until Ctrl-C.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the world and the orders.")] = 7,
) -> None:
    """Run a simulated trading day on the Centra and BlueCherry sandboxes and check it."""
    from seamline.logging import configure_logging  # noqa: PLC0415

    configure_logging(os.environ.get("SEAMLINE_LOG_LEVEL") or "ERROR")
    with tempfile.TemporaryDirectory(prefix="seamline-demo-") as tmp:
        result = run_demo(fast=fast, orders=orders, seed=seed, keep=keep, workdir=Path(tmp))
    if not result.ok:
        out.print("[red]Some invariants did not hold.[/]")
        raise typer.Exit(1)
    out.print("[green]All invariants hold.[/]")
