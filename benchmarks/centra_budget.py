"""One Centra budget for every flow: a simulated peak hour at Growth-tier limits.

    python benchmarks/centra_budget.py [--orders 3000] [--shipments 1500]
        [--stock-changes 30000] [--confirm-markets 2] [--tail-h 2]

The Centra sandbox runs in this process and is reached over HTTP (its ASGI app through
Starlette's ``TestClient``, an ``httpx.Client``) by Seamline's real ``CentraClient``. One
**simulated clock** drives both the sandbox's rate limiter (Growth tier: 20 mutations / 10 s,
1,800 / h, 60 requests / 10 s, …) and Seamline's governor, so an hour takes seconds. The hour
follows a busy one: Centra's hourly mutation bucket starts empty (what refills in the hour is
what can be spent).

Four flows run as four actors, each with its own client (as four worker processes would), in
one discrete-event loop: the next actor to act is the one whose next call is due first.

- **orders** (write-back): ``--orders`` orders arrive evenly over the hour; their external ids go
  in one ``setIdConversions`` per 100 (or after 60 s), and a PENDING order in a market that needs
  confirming (``--confirm-markets``; elsewhere Centra confirms by itself) gets ``confirmOrder``.
- **shipments**: ``--shipments`` BlueCherry shipments arrive evenly (for earlier, confirmed
  orders); each is ``createShipment`` then ``completeShipment`` (dispatch email). Latency:
  arrival → completed.
- **stock_delta**: ``--stock-changes`` figure changes arrive evenly on the catalogue's sizes; a
  delta run every 60 s pushes the sizes changed since the last one (a size changed twice goes
  once, with its latest figure), ``--sizes-per-call`` per ``setStock``. Lag: change → a
  ``setStock`` carrying that figure or a later one succeeded.
- **stock_sweep**: a full sweep requested at the start: every size, 100 per ``setStock``.

Run twice. **With the governor**: one ``BudgetGovernor`` per actor (leasing slabs of one shared
bucket store, as ``bootstrap`` wires it) and one board (headroom 0.98: the sandbox is the only
integration), calibrated from ``rateLimits``, priorities shipments = orders > stock deltas >
sweep. **Without**: no client-side budget at all; every actor sends when it has work and waits
out each 429's ``Retry-After``; stock pushes 100 sizes per ``setStock`` (the former
``[stock].batch_size`` default).

Prints one JSON object: for each run, the share of the hour's mutation budget used (mutations
Centra accepted in the hour / 1,800), 429s (all, and in steady state: after the first minute),
shipment latency p50/p95, stock lag p50/p95 (over what was done by the end of the tail), Centra
mutations per order and per shipment, and what was still waiting when the arrivals stopped.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

T0 = 1_900_000_000.0
HOUR = 3600.0
#: Simulated seconds an answered call takes (network + Centra).
LATENCY_S = 0.08


class SimTime:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


@dataclass
class Call:
    flow: str
    run: Callable[[], Any]
    done: Callable[[float, Any], None]
    mutation: str = ""


@dataclass
class Actor:
    flow: str
    priority: int
    client: Any
    queue: list[Call] = field(default_factory=list)
    blocked_until: float = T0
    #: Called with ``now``; adds the calls that have become due; returns when it next may.
    feed: Callable[[float], float | None] = lambda now: None
    next_feed: float | None = T0


@dataclass
class Stats:
    mutations_in_hour: int = 0
    mutations: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    throttled_steady: int = 0
    shipment_latency: list[float] = field(default_factory=list)
    stock_lag: list[float] = field(default_factory=list)


def simulate(args: argparse.Namespace, *, governed: bool) -> dict[str, Any]:
    from pydantic import SecretStr  # noqa: PLC0415
    from starlette.testclient import TestClient  # noqa: PLC0415

    from seamline.adapters.centra.budget import BudgetGovernor, MemoryBudgetBoard  # noqa: PLC0415
    from seamline.adapters.centra.client import CentraClient  # noqa: PLC0415
    from seamline.adapters.centra.limiter import (  # noqa: PLC0415
        LeasedBucketStore,
        MemoryBucketStore,
        RateLimiter,
    )
    from seamline.adapters.http import InlineRetry  # noqa: PLC0415
    from seamline.config import BudgetSettings, CentraSettings, RateLimitSettings  # noqa: PLC0415
    from seamline.exceptions import RateLimited  # noqa: PLC0415
    from seamline_sandbox.centra.app import CentraSandbox  # noqa: PLC0415
    from seamline_sandbox.centra.ratelimit import RateLimiter as SandboxLimiter  # noqa: PLC0415

    sim = SimTime()
    sandbox = CentraSandbox(seed=7, orders=args.orders + args.shipments)
    sandbox.limiter = SandboxLimiter(clock=sim)  # Growth tier
    sandbox.limiter._buckets[("MUTATION_COUNT", "ONE_HOUR")].tokens = 0.0  # after a busy hour
    st = sandbox.state
    numbers = sorted(st.orders)
    today, shipped = numbers[:args.orders], numbers[args.orders:]
    for n in shipped:  # yesterday's orders, confirmed by Centra
        st.orders[n].status = "CONFIRMED"
    http = TestClient(sandbox, base_url="http://centra.test")
    settings = CentraSettings(base_url="http://centra.test/graphql",
                              token=SecretStr("sandbox-centra-token"), timeout_s=30)
    budget = BudgetSettings(headroom=0.98)
    store, board = MemoryBucketStore(), MemoryBudgetBoard()

    def client() -> CentraClient:
        if governed:
            # As bootstrap wires it: each process leases slabs of the shared buckets.
            limiter: RateLimiter = BudgetGovernor(
                settings.rate_limits, LeasedBucketStore(store), board, settings=budget,
                max_wait_s=0.0,
                time_fn=sim, sleep=lambda s: None, refresh_s=0.0)
        else:
            big = 10**9
            limiter = RateLimiter(RateLimitSettings(
                requests_per_10s=big, requests_per_hour=big, mutations_per_10s=big,
                mutations_per_hour=big, complexity_per_10s=big, complexity_per_hour=big),
                MemoryBucketStore(), max_wait_s=0.0, time_fn=sim)
        return CentraClient(settings, http=http, limiter=limiter,
                            retry=InlineRetry(attempts=1, max_inline_wait_s=0.0))

    stats = Stats()
    end_arrivals = T0 + HOUR
    rnd = random.Random(11)

    def mutated(op: str, now: float) -> None:
        stats.mutations[op] = stats.mutations.get(op, 0) + 1
        if now < T0 + HOUR:
            stats.mutations_in_hour += 1

    # -- orders: write-back ---------------------------------------------------------------------
    orders = Actor("orders", 0, client())
    order_times = [T0 + i * HOUR / len(today) for i in range(len(today))]
    confirm = {int(m) for m in args.confirm_markets.split(",") if m}
    pending_ids: list[int] = []
    o_next = [0, T0]  # next order index, oldest pending id's arrival

    def feed_orders(now: float) -> float | None:
        i = o_next[0]
        while i < len(today) and order_times[i] <= now:
            if not pending_ids:
                o_next[1] = order_times[i]
            pending_ids.append(today[i])
            rec = st.orders[today[i]]
            if rec.status == "PENDING" and rec.market.id in confirm:
                n = today[i]
                orders.queue.append(Call("orders", lambda n=n: orders.client.confirm_order(n),
                                         lambda now, _: mutated("confirmOrder", now)))
            i += 1
        o_next[0] = i
        if pending_ids and (len(pending_ids) >= 100 or now - o_next[1] >= 60 or
                            i >= len(today)):
            batch = pending_ids[:100]
            del pending_ids[:100]
            o_next[1] = now
            pairs = [(n, f"SO{n}") for n in batch]
            orders.queue.append(Call("orders", lambda p=pairs: orders.client.set_external_ids(p),
                                     lambda now, _: mutated("setIdConversions", now)))
        if i < len(today):
            return min(order_times[i], o_next[1] + 60) if pending_ids else order_times[i]
        return now + 1 if pending_ids else None

    orders.feed = feed_orders

    # -- shipments --------------------------------------------------------------------------------
    ships = Actor("shipments", 0, client())
    ship_times = [T0 + j * HOUR / len(shipped) for j in range(len(shipped))]
    s_next = [0]

    def feed_ships(now: float) -> float | None:
        j = s_next[0]
        while j < len(shipped) and ship_times[j] <= now:
            n, arrived = shipped[j], ship_times[j]
            lines = [(ln.id, ln.quantity) for ln in st.orders[n].lines]
            made: dict[str, int] = {}

            def create(n: int = n, lines: list[tuple[int, int]] = lines, j: int = j) -> Any:
                return ships.client.create_shipment(n, lines, external_id=f"BC{j}")

            def created(now: float, s: Any, made: dict[str, int] = made,
                        arrived: float = arrived) -> None:
                mutated("createShipment", now)
                made["id"] = s.id
                ships.queue.insert(0, Call("shipments", lambda: ships.client.complete_shipment(
                    made["id"], "DHL", "Express", ["TRK"], True),
                    lambda now, _: (mutated("completeShipment", now),
                                    stats.shipment_latency.append(now - arrived))))

            ships.queue.append(Call("shipments", create, created))
            j += 1
        s_next[0] = j
        return ship_times[j] if j < len(shipped) else None

    ships.feed = feed_ships

    # -- stock ----------------------------------------------------------------------------------
    catalogue = [item.sku for item in st.world.catalogue]
    change_times = [T0 + k * HOUR / args.stock_changes for k in range(args.stock_changes)]
    changes = [(rnd.choice(catalogue), rnd.randint(0, 40)) for _ in change_times]
    delta = Actor("stock_delta", 1, client())
    c_next = [0, T0 + 60]
    unpushed: dict[str, list[float]] = {}
    latest: dict[str, int] = {}
    per_call = args.sizes_per_call if governed else 100

    def feed_delta(now: float) -> float | None:
        k = c_next[0]
        while k < len(changes) and change_times[k] <= now:
            sku, qty = changes[k]
            latest[sku] = qty
            unpushed.setdefault(sku, []).append(change_times[k])
            k += 1
        c_next[0] = k
        if now >= c_next[1] and unpushed and not delta.queue:
            c_next[1] = now + 60
            run = sorted(unpushed)
            for a in range(0, len(run), per_call):
                chunk = run[a:a + per_call]
                sizes = [(sku, latest[sku]) for sku in chunk]
                stamps = {sku: list(unpushed[sku]) for sku in chunk}

                def pushed(now: float, _: Any, stamps: dict[str, list[float]] = stamps) -> None:
                    mutated("setStock", now)
                    for sku, times in stamps.items():
                        stats.stock_lag.extend(now - t for t in times)
                        left = unpushed.get(sku, [])
                        del left[:len(times)]
                        if not left:
                            unpushed.pop(sku, None)

                delta.queue.append(Call("stock_delta", lambda s=sizes: delta.client.set_stock_sizes(
                    1, s), pushed))
        elif now >= c_next[1]:
            c_next[1] = now + 60
        if k < len(changes) or unpushed:
            return c_next[1]
        return None

    delta.feed = feed_delta

    sweep = Actor("stock_sweep", 2, client())
    for a in range(0, len(catalogue), 100):
        sizes = [(sku, 10) for sku in catalogue[a:a + 100]]
        sweep.queue.append(Call("stock_sweep", lambda s=sizes: sweep.client.set_stock_sizes(1, s),
                                lambda now, _: mutated("setStock(sweep)", now)))
    sweep.next_feed = None

    actors = [orders, ships, delta, sweep]
    cap = T0 + HOUR * (1 + args.tail_h)
    steps = 0
    waiting_at_hour: dict[str, int] | None = None
    from seamline.ports import working_for  # noqa: PLC0415

    while True:
        due: list[tuple[float, int, Actor]] = []
        for a in actors:
            if a.next_feed is not None and a.next_feed <= sim.t:
                a.next_feed = a.feed(sim.t)
            if a.queue:
                due.append((max(a.blocked_until, sim.t), a.priority, a))
            elif a.next_feed is not None:
                due.append((max(a.next_feed, sim.t), a.priority, a))
        if not due:
            break
        at, _, actor = min(due, key=lambda d: (d[0], d[1]))
        if at >= cap:
            break
        if waiting_at_hour is None and at >= T0 + HOUR:
            waiting_at_hour = {
                "shipments": s_next[0] - len(stats.shipment_latency),
                "stock_sizes": len(unpushed),
                "writeback_calls": len(orders.queue),
                "sweep_calls": len(sweep.queue),
            }
        sim.t = at
        if not actor.queue:
            continue
        call = actor.queue[0]
        steps += 1
        try:
            with working_for(call.flow):
                result = call.run()
        except RateLimited as exc:
            if exc.status == 429:
                stats.throttled += 1
                if sim.t >= T0 + 60:
                    stats.throttled_steady += 1
            actor.blocked_until = sim.t + max(exc.retry_after or 1.0, 0.05)
            continue
        actor.queue.pop(0)
        actor.blocked_until = sim.t + LATENCY_S
        call.done(sim.t, result)
    http.close()
    m = stats.mutations
    per_order = (m.get("setIdConversions", 0) + m.get("confirmOrder", 0)) / len(today)
    per_shipment = (m.get("createShipment", 0) + m.get("completeShipment", 0)) / max(
        1, m.get("createShipment", 0))
    return {
        "governor": governed,
        "mutation_budget_share": round(stats.mutations_in_hour / 1800, 4),
        "mutations_in_hour": stats.mutations_in_hour,
        "throttled_429": stats.throttled,
        "throttled_429_steady": stats.throttled_steady,
        "shipments_completed": len(stats.shipment_latency),
        "shipment_latency_s": {"p50": pct(stats.shipment_latency, 0.5),
                               "p95": pct(stats.shipment_latency, 0.95)},
        "stock_changes_pushed": len(stats.stock_lag),
        "stock_lag_s": {"p50": pct(stats.stock_lag, 0.5), "p95": pct(stats.stock_lag, 0.95)},
        "mutations_per_order": round(per_order, 4),
        "mutations_per_shipment": round(per_shipment, 3),
        "mutations": dict(sorted(m.items())),
        "waiting_when_arrivals_stopped": waiting_at_hour,
        "simulated_h": round((sim.t - T0) / HOUR, 2),
        "calls_attempted": steps,
        "end_arrivals": end_arrivals - T0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=3000)
    p.add_argument("--shipments", type=int, default=1500)
    p.add_argument("--stock-changes", type=int, default=30_000)
    p.add_argument("--confirm-markets", default="2",
                   help="Centra markets whose PENDING orders Seamline confirms (comma-separated)")
    p.add_argument("--sizes-per-call", type=int, default=1000)
    p.add_argument("--tail-h", type=float, default=2.0,
                   help="simulated hours after the arrivals stop, to drain the backlog")
    args = p.parse_args()
    from seamline.logging import configure_logging  # noqa: PLC0415

    configure_logging("ERROR")
    out: dict[str, Any] = {"workload": {"orders": args.orders, "shipments": args.shipments,
                                        "stock_changes": args.stock_changes,
                                        "confirm_markets": args.confirm_markets,
                                        "tier": "Growth (sandbox, simulated clock)"}}
    for governed in (True, False):
        started = time.perf_counter()
        result = simulate(args, governed=governed)
        result["wall_s"] = round(time.perf_counter() - started, 1)
        out["with_governor" if governed else "without_governor"] = result
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
