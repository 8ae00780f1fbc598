"""The order flow end to end on both sandboxes over real HTTP, under faults on both sides.

Real time (issue 5, "Must show"): 2,000 generated orders across every market; 20% 5xx
(12% 500 + 8% 503) on every call to either sandbox, plus timeouts and commit-then-timeout at
random, and — all through the run — bursts of 429 with ``Retry-After: 1``, commit-then-drop on
BlueCherry creates and on Centra mutations, and commit-then-timeout on Centra mutations
(:class:`e2e_support.Chaos`). Two worker processes share one SQLite store: this test's (threads)
and a ``seamline worker`` subprocess. Then every postable order is in BlueCherry exactly once
(counted over the whole sandbox) with the generator's total, every unpostable one is absent and
held by an open exception of the right type in ``seamline exceptions list --json``, held and
unpaid orders are absent until released and then posted once, and every posted order carries
its BlueCherry number in Centra (confirmed where the market confirms).

Daily batch: the same across a cut-off, with an order released from hold after the cut-off
posted once, in the next day's batch; re-running a day posts nothing twice.

Attempt caps (stated, as the issue asks): ``[orders].max_attempts = 200``. An ``orders.post``
attempt fails with p < 0.5 here (≈ 0.2 5xx + 0.05 drops/timeouts, a 429 burst, a failed
look-up), so 200 failures in a row has probability < 1e-60. The single ``centra.writeback``
job of a run absorbs every failed ``confirmOrder`` of every batch it writes back
(≈ 5% of ≈ 550 confirms in SE and JP → ≈ 30 failures); 200 leaves it ample headroom. Client timeouts
are 1 s (commit-then-timeout resolves in a second); the lease is 10 s (heart-beaten every 3.3 s).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    Chaos,
    assert_no_order_waits_for_a_later_day,
    assert_parked_orders_are_held_and_held_orders_parked,
    cli_env,
    exception_keys_for,
    key_matches,
    run_cli,
    start_worker_process,
    stop_process,
    write_config,
)

from seamline.adapters.store.repos import get_ledger
from seamline.config import Settings
from seamline.domain.batch import business_day, cutoff_instant
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.harness import (
    LIFTED_RATE_LIMITS,
    Sandboxes,
    build_seamline,
    run_until_quiet,
    settings_for,
)

pytestmark = pytest.mark.slow

MAX_ATTEMPTS = 200
CONFIRMING = (1, 4)
CLIENT_TIMEOUT_S = 1.0
LEASE_S = 10
#: Random faults on every call to either sandbox: 20% 5xx, plus drops and timeouts.
FAULT_RATES = {"500": 0.12, "503": 0.08, "commit_then_drop": 0.02, "timeout": 0.01}
#: How long a ``timeout``/``commit_then_drop`` holds the request: past the client's timeout,
#: so BlueCherry's commit_then_drop is a commit-then-timeout.
HOLD_S = CLIENT_TIMEOUT_S + 0.5


def _settings(sb: Sandboxes, url: str, mode: str) -> Settings:
    base = settings_for(sb, url, mode=mode)  # type: ignore[arg-type]
    return settings_for(sb, url, mode=mode, overrides={  # type: ignore[arg-type]
        "centra": {"base_url": sb.centra_url, "token": sb.centra_token,
                   "timeout_s": CLIENT_TIMEOUT_S, "rate_limits": dict(LIFTED_RATE_LIMITS)},
        "bluecherry": {"base_url": sb.bluecherry_url, "api_key": sb.bluecherry_key,
                       "timeout_s": CLIENT_TIMEOUT_S},
        "orders": {**base.orders.model_dump(), "max_attempts": MAX_ATTEMPTS,
                   "poll_overlap_s": 5},
        # Confirm after posting in SE and JP only (the others leave it to customer service):
        # ~30% of the orders, so the single write-back job's confirms under 20% 5xx stay short.
        "markets": [{**m.model_dump(), "confirm_after_post": m.centra_market in CONFIRMING}
                    for m in base.markets],
        "queues": {"lease_s": LEASE_S, "poll_interval_s": 0.05, "backoff_base_s": 0.05,
                   "backoff_max_s": 0.3, "max_inline_wait_s": 5.0,
                   "concurrency": {"orders": 6, "writeback": 1, "intake": 1, "default": 1}},
    })


def _progress(container: Any) -> Any:
    t0 = time.monotonic()

    def on_round(n: int, ledger: dict[str, int]) -> None:
        print(f"  round {n} at {time.monotonic() - t0:.1f}s: ledger {ledger}, "
              f"jobs {container.queue.counts()}", flush=True)

    return on_round


def _inject_random_faults(sb: Sandboxes) -> None:
    sb.centra_fault_rates(FAULT_RATES, seed=11, retry_after=1.0, delay_s=HOLD_S)
    sb.bluecherry_fault_rates(FAULT_RATES, seed=12, retry_after=1.0, delay_s=HOLD_S)


def _bluecherry_by_reference(sb: Sandboxes) -> dict[str, dict[str, Any]]:
    return {str(o["external_reference"]): o for o in sb.bluecherry_orders()}


def _assert_posted_once_with_totals(sb: Sandboxes, orders: list[GeneratedOrder]) -> None:
    counts = sb.bluecherry_reference_counts()
    by_ref = _bluecherry_by_reference(sb)
    dupes = {r: n for r, n in counts.items() if n > 1}
    assert dupes == {}, f"duplicated in BlueCherry: {dupes}"
    missing = [g.number for g in orders if g.postable and counts.get(sb.reference(g), 0) != 1]
    assert missing == [], f"{len(missing)} postable order(s) not in BlueCherry: {missing[:20]}"
    wrong = [(g.number, g.expected_total, by_ref[sb.reference(g)]["totals"]["total"])
             for g in orders if g.postable
             and (by_ref[sb.reference(g)]["totals"]["total"] != g.expected_total
                  or by_ref[sb.reference(g)]["currency"] != g.expected_currency)]
    assert wrong == [], f"totals differ from the generator's: {wrong[:10]}"
    present = [g.number for g in orders if not g.postable and sb.reference(g) in counts]
    assert present == [], f"unpostable orders reached BlueCherry: {present}"


def _assert_exceptions_via_cli(config: Path, env: dict[str, str],
                               orders: list[GeneratedOrder]) -> Counter[str]:
    """Every unpostable order is held by an open exception of the right type, read with the
    real CLI (``exceptions list --json``, and ``exceptions show --json`` for the orders an
    exception holds)."""
    listed = run_cli(config, env, "exceptions", "list", "--json", "--limit", "10000")
    open_ = [e for e in listed if e["state"] == "open"]
    details: dict[int, dict[str, Any]] = {}
    unheld = []
    for g in orders:
        if g.postable:
            continue
        for type_, prefix in exception_keys_for(g):
            match = [e for e in open_ if e["type"] == type_
                     and key_matches(e["business_key"], prefix)]
            if not match:
                unheld.append((g.number, type_, prefix))
                continue
            if type_ == "TOTAL_MISMATCH":
                continue
            exc_id = int(match[0]["id"])
            if exc_id not in details:
                details[exc_id] = run_cli(config, env, "exceptions", "show", str(exc_id),
                                          "--json")
            if g.number not in details[exc_id]["orders"]:
                unheld.append((g.number, type_, f"{prefix} does not list it"))
    assert unheld == [], f"unpostable orders without their open exception: {unheld[:20]}"
    unexpected = [e for e in open_ if e["type"] not in
                  ("MAPPING_MISSING", "UNKNOWN_SKU", "TOTAL_MISMATCH")]
    assert unexpected == [], f"open exceptions nobody expected: {unexpected[:5]}"
    return Counter(e["type"] for e in open_)


def _assert_written_back(sb: Sandboxes, orders: list[GeneratedOrder]) -> None:
    by_ref = _bluecherry_by_reference(sb)
    ext = sb.centra_external_ids()
    statuses = sb.centra_statuses()
    not_back = [g.number for g in orders if g.postable and g.number is not None
                and ext[g.number] != by_ref[sb.reference(g)]["order_no"]]
    assert not_back == [], f"BlueCherry number not written back to Centra: {not_back[:20]}"
    pending = [g.number for g in orders if g.postable and g.number is not None
               and g.market.id in CONFIRMING and statuses[g.number] == "PENDING"]
    assert pending == [], f"posted PENDING orders left unconfirmed: {pending[:20]}"
    kept = [g.number for g in orders if g.postable and g.number is not None
            and g.market.id not in CONFIRMING and statuses[g.number] != g.status]
    assert kept == [], f"orders confirmed where the market does not confirm: {kept[:20]}"


def test_two_thousand_orders_under_faults_on_both_sides_post_exactly_once(
        tmp_path: Path) -> None:
    """2,000 orders, 20% 5xx + 429 bursts + drops on both sides, two worker processes:
    postable orders exactly once with Centra's totals, the rest open exceptions (via the CLI),
    held and unpaid ones posted once released, BlueCherry numbers written back."""
    url = f"sqlite:///{tmp_path}/seamline.db"
    started = time.monotonic()
    with Sandboxes(seed=5, lift_rate_limits=True, hold_seconds=HOLD_S) as sb:
        settings = _settings(sb, url, "realtime")
        config = write_config(tmp_path / "seamline.toml", settings)
        env = cli_env(sb)
        container = build_seamline(sb, settings)
        orders = sb.place_orders(2000, seed=2026, inconsistent_rate=0.01)
        assert len(orders) == 2000
        assert {g.market.code for g in orders} == {"SE", "DE", "GB", "JP", "US", "NO"}
        waiting = [g for g in orders if g.waits_for]
        assert len({g.waits_for for g in waiting}) == 2
        assert len({g.expected_exception for g in orders} - {None}) == 3
        _inject_random_faults(sb)
        second = start_worker_process(config, env, queues="orders", concurrency=4,
                                      log=tmp_path / "worker2.log")
        try:
            with Chaos(sb, client_timeout_s=CLIENT_TIMEOUT_S) as chaos:
                # A time budget, not an assertion: two of five full runs on this 2-core machine
                # needed more than 150 s (the single write-back job under chaos); every
                # invariant is asserted after it.
                first = run_until_quiet(container, timeout_s=300, on_round=_progress(container))
                # Held and unpaid orders: not in BlueCherry while they wait.
                counts = sb.bluecherry_reference_counts()
                early = [g.number for g in waiting if sb.reference(g) in counts]
                assert early == [], f"orders posted while held or unpaid: {early}"
                sb.release(waiting)
                second_round = run_until_quiet(container, timeout_s=90,
                                               on_round=_progress(container))
            assert stop_process(second) == 0
        finally:
            stop_process(second)
        fired = sb.faults_snapshot()
        sb.clear_faults()
        _assert_posted_once_with_totals(sb, orders)
        _assert_written_back(sb, orders)
        by_type = _assert_exceptions_via_cli(config, env, orders)
        assert_parked_orders_are_held_and_held_orders_parked(container)
        container.close()
    centra_fired = fired["centra"]["fired"]
    bc_fired = fired["bluecherry"]["fired"]
    for side in (centra_fired, bc_fired):
        assert side.get("500", 0) + side.get("503", 0) > 100
        assert side.get("429", 0) > 0
        assert side.get("commit_then_drop", 0) > 0
    print(f"\n2,000 orders in {time.monotonic() - started:.1f}s "
          f"(rounds {first.rounds}+{second_round.rounds}, chaos rounds {chaos.rounds}); "
          f"faults fired: centra {centra_fired}, bluecherry {bc_fired}; "
          f"open exceptions {dict(by_type)}; ledger {second_round.ledger}")


def test_daily_batches_post_across_the_cut_off_and_a_late_release_goes_in_the_next_day(
        tmp_path: Path) -> None:
    """Daily markets post nothing before their cut-off, all eligible orders once after it;
    an order released from hold after the cut-off waits for the next day's batch and is posted
    then, once; re-running a day posts nothing twice — under the same faults."""
    url = f"sqlite:///{tmp_path}/seamline.db"
    with Sandboxes(seed=6, lift_rate_limits=True, hold_seconds=HOLD_S) as sb:
        settings = _settings(sb, url, "daily")
        container = build_seamline(sb, settings)
        flow = container.orders
        orders = sb.place_orders(300, seed=77, hold_rate=0.05)
        late = [g for g in orders if g.waits_for == "hold" and g.postable]
        assert late, "the seed must give at least one held, postable order"
        _inject_random_faults(sb)
        with Chaos(sb, client_timeout_s=CLIENT_TIMEOUT_S):
            run_until_quiet(container, timeout_s=90)
            # Before the cut-off: nothing is posted, every ready order waits for its batch.
            assert sb.bluecherry_reference_counts() == {}
            days = {m.centra_market: business_day(sb.now(), m) for m in flow.markets}
            cutoff = max(cutoff_instant(days[m.centra_market], m) for m in flow.markets)
            sb.clock.advance_to(cutoff + timedelta(minutes=1))
            run_until_quiet(container, timeout_s=90)
            sb.release([g for g in orders if g.waits_for == "payment"])
            # The held orders are released after the cut-off: next day's batch.
            sb.release(late)
            run_until_quiet(container, timeout_s=90)
            counts = sb.bluecherry_reference_counts()
            assert [g.number for g in late if sb.reference(g) in counts] == []
            # Re-running the day that every market has run posts nothing twice (and not the
            # late ones). (``run_batches(day=...)`` runs that day for every daily market.)
            with container.store.begin() as uow:
                flow.run_batches(uow, day=min(days.values()))
            run_until_quiet(container, timeout_s=60)
            assert [g.number for g in late if sb.reference(g) in
                    sb.bluecherry_reference_counts()] == []
            next_cutoff = max(cutoff_instant(days[m.centra_market] + timedelta(days=1), m)
                              for m in flow.markets)
            sb.clock.advance_to(next_cutoff + timedelta(minutes=1))
            run_until_quiet(container, timeout_s=90)
        sb.clear_faults()
        _assert_posted_once_with_totals(sb, orders)
        _assert_written_back(sb, orders)
        assert_parked_orders_are_held_and_held_orders_parked(container)
        assert_no_order_waits_for_a_later_day(container)
        # The late ones went in the next day's batch; the others in day D's.
        with container.db.read() as conn:
            batch_day = {g.number: get_ledger(conn, "order", str(g.number)).data.get(
                "business_day") for g in orders if g.postable}
        market_of = {m.centra_market: m for m in flow.markets}
        released = [g for g in orders if g.postable and g.waits_for]
        wrong_day = [(g.number, batch_day[g.number]) for g in released
                     if batch_day[g.number] != (days[g.market.id] + timedelta(days=1)).isoformat()]
        assert wrong_day == [], f"released after the cut-off but not in day D+1: {wrong_day}"
        on_time = [g for g in orders if g.postable and not g.waits_for
                   and g.market.id in market_of]
        wrong_day = [(g.number, batch_day[g.number]) for g in on_time
                     if batch_day[g.number] != days[g.market.id].isoformat()]
        assert wrong_day == [], f"ready before the cut-off but not in day D: {wrong_day}"
        container.close()
    print(f"\ndaily batch: {len(orders)} orders, {len(on_time)} in day D's batches, "
          f"{len(late)} released from hold and {len(released) - len(late)} paid after the "
          "cut-off, posted once in day D+1's")
