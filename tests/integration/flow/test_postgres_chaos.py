"""Chaos on PostgreSQL (issue 15): two ``seamline worker`` processes and a ``seamline scheduler``
share one PostgreSQL behind a TCP proxy this test owns, while — seeded, so a failure replays —
workers are SIGKILLed and restarted, the database is cut (every connection dropped, new ones
refused, for seconds; the machine's server is never touched), and both sandboxes answer 429,
500/503, time out and commit-then-drop.

Afterwards: every postable order is in BlueCherry exactly once (counted over all of BlueCherry,
by ``external_reference``) with the generator's total and currency and its BlueCherry number
written back to Centra; every unpostable one is absent and held by its open exception; no
order was lost (every order on the ledger, none stuck mid-way), no job gave up
(no ``POST_FAILED``, ``JOB_ABANDONED`` or ``INTERNAL_ERROR``), and no process exited on its own
(each exits 0 on SIGTERM). The report lists the faults that fired.

Caps, stated: ``[orders].max_attempts = 25``. A job's own failures are what count (an outage's
do not, see ``seamline.queue.circuit``); with ≈ 15% faults per call a posting attempt fails
with p < 0.4, so 25 counted failures in a row has p < 1e-10 per order. Leases are 5 s, so a
killed worker's jobs come back within 5 s.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from e2e_support import (
    assert_parked_orders_are_held_and_held_orders_parked,
    cli_env,
    exception_keys_for,
    key_matches,
    start_process,
    stop_process,
    write_config,
)

from pg_proxy import CutProxy
from seamline.adapters.store.schema import job_events, jobs, ledger
from seamline.config import Settings
from seamline_sandbox.generator import GeneratedOrder
from seamline_sandbox.harness import LIFTED_RATE_LIMITS, Sandboxes, build_seamline, settings_for

pytestmark = pytest.mark.postgres

#: Orders placed before the processes start, then two waves placed during the chaos (found by
#: the scheduler's polls through it), so posting runs through the whole chaos.
ORDERS_FIRST, ORDERS_WAVE = 120, 90
CHAOS_S = 30.0
BUDGET_S = 90.0
CLIENT_TIMEOUT_S = 1.0
HOLD_S = CLIENT_TIMEOUT_S + 0.5
FAULT_RATES = {"500": 0.04, "503": 0.04, "429": 0.03, "commit_then_drop": 0.02,
               "timeout": 0.01}
WORKER_ARGS = ["worker", "--queues", "orders,writeback,intake,default"]
GAVE_UP = {"POST_FAILED", "JOB_ABANDONED", "INTERNAL_ERROR", "WRITEBACK_FAILED",
           "EXTERNAL_ERROR", "SYSTEM_UNAVAILABLE"}


def _settings(sb: Sandboxes, url: str) -> Settings:
    base = settings_for(sb, url)
    return settings_for(sb, url, overrides={
        "centra": {"base_url": sb.centra_url, "token": sb.centra_token,
                   "timeout_s": CLIENT_TIMEOUT_S, "rate_limits": dict(LIFTED_RATE_LIMITS)},
        "bluecherry": {"base_url": sb.bluecherry_url, "api_key": sb.bluecherry_key,
                       "timeout_s": CLIENT_TIMEOUT_S},
        "orders": {**base.orders.model_dump(), "max_attempts": 25, "poll_overlap_s": 5},
        "queues": {"lease_s": 5, "poll_interval_s": 0.1, "backoff_base_s": 0.1,
                   "backoff_max_s": 1.0, "max_inline_wait_s": 2.0, "outage_after_s": 2.0,
                   "outage_probe_max_s": 1.0, "outage_alert_after_min": 5.0,
                   "concurrency": {"orders": 3, "writeback": 1, "intake": 1, "default": 1}},
        "schedules": {"orders-poll": {"task": "orders.poll", "every_s": 2}},
    })


@dataclass
class Fleet:
    """The processes under test: two workers and a scheduler, each restartable."""

    config: Path
    env: dict[str, str]
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    scheduler: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def _started(self, args: list[str], log: Path, line: str) -> subprocess.Popen[bytes]:
        """Start a process and wait until it says ``line`` (past its start-up checks: a
        process starting while the database is cut refuses to start, by design)."""
        before = log.read_text(errors="replace").count(line) if log.exists() else 0
        proc = start_process(self.config, self.env, args, log=log)
        deadline = time.monotonic() + 30
        while log.read_text(errors="replace").count(line) <= before:
            assert proc.poll() is None, f"{args[0]} did not start: {self.tail()}"
            assert time.monotonic() < deadline, f"{args[0]} not started in 30 s: {self.tail()}"
            time.sleep(0.05)
        self.starts += 1
        return proc

    def start_worker(self, slot: int) -> None:
        proc = self._started(WORKER_ARGS, self.logs / f"worker{slot}.log", "worker started")
        if slot < len(self.workers):
            self.workers[slot] = proc
        else:
            self.workers.append(proc)

    def start(self) -> None:
        self.scheduler = self._started(["scheduler"], self.logs / "scheduler.log",
                                       "scheduler started")
        for slot in range(2):
            self.start_worker(slot)

    def assert_alive(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            assert proc is not None
            assert proc.poll() is None, f"a process exited on its own: {self.tail()}"

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.logs.glob("*.log")))

    def stop(self) -> list[int]:
        procs = [p for p in [*self.workers, self.scheduler] if p is not None]
        return [stop_process(p) for p in procs]


@dataclass
class Chaos:
    """What the seeded chaos did."""

    kills: int = 0
    cuts: int = 0
    cut_s: float = 0.0
    bursts: int = 0
    outages: int = 0
    timeline: list[str] = field(default_factory=list)


def _random_faults(sb: Sandboxes, seed: int) -> None:
    sb.centra_fault_rates(FAULT_RATES, seed=seed + 1, retry_after=0.5, delay_s=HOLD_S)
    sb.bluecherry_fault_rates(FAULT_RATES, seed=seed + 2, retry_after=0.5, delay_s=HOLD_S)


def _burst(sb: Sandboxes) -> None:
    sb.bluecherry_fault("429", 3, retry_after=0.5)
    sb.bluecherry_fault("commit_then_drop", 1, match="create_order", delay_s=0.001)
    sb.centra_fault("503", 2)
    sb.centra_fault("commit_then_drop", 1, match="mutation:*")


def _events(rng: random.Random) -> list[str]:
    """At least two kills, two cuts, two bursts and a BlueCherry outage, the rest at random,
    in a seeded order."""
    events = ["kill", "kill", "cut", "cut", "burst", "burst"]
    events += rng.choices(["kill", "cut", "burst"], weights=[3, 2, 3], k=12)
    rng.shuffle(events)
    events.insert(rng.randrange(1, 5), "outage")  # early enough to happen in every run
    return events


def _run_chaos(rng: random.Random, sb: Sandboxes, fleet: Fleet, proxy: CutProxy,
               place_wave: Callable[[], None]) -> Chaos:
    chaos = Chaos()
    started = time.monotonic()
    waves = [CHAOS_S / 3, 2 * CHAOS_S / 3]
    for event in _events(rng):
        if time.monotonic() - started > CHAOS_S:
            break
        time.sleep(rng.uniform(0.8, 2.0))
        fleet.assert_alive()
        at = f"{time.monotonic() - started:5.1f}s ({len(sb.bluecherry_reference_counts()):3} in BC)"
        if event == "kill":
            slot = rng.randrange(len(fleet.workers))
            fleet.workers[slot].kill()  # SIGKILL
            fleet.workers[slot].wait(timeout=10)
            time.sleep(rng.uniform(0.0, 1.0))
            fleet.start_worker(slot)
            chaos.kills += 1
            chaos.timeline.append(f"{at} SIGKILL worker {slot}, restarted")
        elif event == "cut":
            hold = rng.uniform(1.5, 3.5)
            proxy.cut()
            time.sleep(hold)
            proxy.restore()
            chaos.cuts += 1
            chaos.cut_s += hold
            chaos.timeline.append(f"{at} database cut for {hold:.1f}s")
        elif event == "outage":
            if waves:  # orders to post while BlueCherry is down
                waves.pop(0)
                place_wave()
                chaos.timeline.append(f"{at} {ORDERS_WAVE} more orders placed in Centra")
            # Every BlueCherry call answers 503, long past [queues].outage_after_s (a job's
            # attempt retries a read in process for a few seconds before it fails).
            hold = rng.uniform(7.0, 9.0)
            sb.bluecherry_fault_rates({"503": 1.0}, seed=rng.randrange(1000))
            time.sleep(hold)
            _random_faults(sb, rng.randrange(1000))
            chaos.outages += 1
            chaos.timeline.append(f"{at} BlueCherry down (503 to every call) for {hold:.1f}s")
        else:
            _burst(sb)
            chaos.bursts += 1
            chaos.timeline.append(f"{at} fault burst on both sides")
        if waves and time.monotonic() - started > waves[0]:
            waves.pop(0)
            place_wave()
            chaos.timeline.append(f"{at} {ORDERS_WAVE} more orders placed in Centra")
    for _ in waves:
        place_wave()
    return chaos


def _progress(engine: sa.Engine, placed: int, ready: int, sb: Sandboxes) -> tuple[bool, str]:
    """Done: every placed order on the ledger, none mid-way (new, posting, or posted but not
    yet written back), every ready postable order in BlueCherry."""
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(ledger.c.state, sa.func.count())
                                   .where(ledger.c.kind == "order")
                                   .group_by(ledger.c.state)).all())
    midway = sum(int(states.get(s, 0)) for s in ("new", "posting", "posted"))
    in_bc = len(sb.bluecherry_reference_counts())
    done = sum(states.values()) == placed and midway == 0 and in_bc >= ready
    return done, f"ledger {states}, in BlueCherry {in_bc}/{ready}"


def _assert_invariants(sb: Sandboxes, orders: list[GeneratedOrder], container: Any) -> Counter[str]:
    counts = sb.bluecherry_reference_counts()
    assert {r: n for r, n in counts.items() if n > 1} == {}, "duplicated in BlueCherry"
    by_ref = {str(o["external_reference"]): o for o in sb.bluecherry_orders()}
    ready = [g for g in orders if g.postable and g.waits_for is None]
    missing = [g.number for g in ready if counts.get(sb.reference(g)) != 1]
    assert missing == [], f"postable orders not in BlueCherry exactly once: {missing[:20]}"
    wrong = [(g.number, g.expected_total, by_ref[sb.reference(g)]["totals"]["total"])
             for g in ready if by_ref[sb.reference(g)]["totals"]["total"] != g.expected_total
             or by_ref[sb.reference(g)]["currency"] != g.expected_currency]
    assert wrong == [], f"totals differ from Centra's: {wrong[:10]}"
    absent = [g.number for g in orders if g not in ready and sb.reference(g) in counts]
    assert absent == [], f"unpostable or waiting orders reached BlueCherry: {absent}"
    ext = sb.centra_external_ids()
    not_back = [g.number for g in ready if g.number is not None
                and ext[g.number] != by_ref[sb.reference(g)]["order_no"]]
    assert not_back == [], f"BlueCherry number not written back to Centra: {not_back[:20]}"
    open_ = container.exceptions.list(state="open", limit=10000)
    gave_up = [(e.type, e.business_key, e.message[:120]) for e in open_ if e.type in GAVE_UP]
    assert gave_up == [], f"jobs gave up under chaos: {gave_up[:10]}"
    unheld = [(g.number, t, k) for g in orders if not g.postable
              for t, k in exception_keys_for(g)
              if not any(e.type == t and key_matches(e.business_key, k) for e in open_)]
    assert unheld == [], f"unpostable orders without their open exception: {unheld[:10]}"
    assert_parked_orders_are_held_and_held_orders_parked(container)
    with container.db.read() as conn:
        failed = conn.execute(sa.select(jobs.c.id, jobs.c.task, jobs.c.last_error)
                              .where(jobs.c.status == "failed")).all()
    assert failed == [], f"failed jobs: {failed[:5]}"
    return Counter(e.type for e in open_)


@pytest.fixture
def proxied(make_pg_database: Callable[[], str]) -> Iterator[tuple[str, str, CutProxy]]:
    direct = make_pg_database()
    url = sa.make_url(direct)
    proxy = CutProxy((url.host or "127.0.0.1", url.port or 5432))
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield direct, through, proxy
    proxy.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_workers_killed_database_cut_and_faults_on_both_sides_post_every_order_once(
        seed: int, proxied: tuple[str, str, CutProxy], tmp_path: Path) -> None:
    direct, through, proxy = proxied
    rng = random.Random(seed)
    started = time.monotonic()
    with Sandboxes(seed=seed, lift_rate_limits=True, hold_seconds=HOLD_S) as sb:
        config = write_config(tmp_path / "seamline.toml", _settings(sb, through))
        container = build_seamline(sb, _settings(sb, direct))  # migrates; reads the invariants
        container.orders.sync_catalogue()
        orders = sb.place_orders(ORDERS_FIRST, seed=seed * 100, inconsistent_rate=0.01)
        _random_faults(sb, seed * 10)
        fleet = Fleet(config, {**cli_env(sb), "SEAMLINE_LOG_LEVEL": "INFO"}, tmp_path)
        fleet.start()
        engine = sa.create_engine(direct, poolclass=sa.pool.NullPool)
        try:
            chaos = _run_chaos(rng, sb, fleet, proxy, lambda: orders.extend(sb.place_orders(
                ORDERS_WAVE, seed=seed * 100 + len(orders), inconsistent_rate=0.01)))
            fleet.assert_alive()
            fired = sb.faults_snapshot()
            sb.clear_faults()
            ready = sum(1 for g in orders if g.postable and g.waits_for is None)
            done, status = _progress(engine, len(orders), ready, sb)
            while not done:
                assert time.monotonic() - started < BUDGET_S, (
                    f"seed {seed}: not done within {BUDGET_S:g} s: {status}\n{fleet.tail()}")
                time.sleep(0.5)
                fleet.assert_alive()
                done, status = _progress(engine, len(orders), ready, sb)
            elapsed = time.monotonic() - started
        finally:
            codes = fleet.stop()
            proxy.restore()
            engine.dispose()
        assert codes == [0, 0, 0], f"exit codes {codes} on SIGTERM\n{fleet.tail()}"
        by_type = _assert_invariants(sb, orders, container)
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("worker*.log"))
        down, back = logs.count("bluecherry is down"), logs.count("bluecherry is back")
        # One line per outage across the fleet (when it started, when it ended), not per job.
        # (A database cut can pass for one: the successes during it could not be recorded.)
        assert down <= chaos.outages + chaos.cuts, logs[-3000:]
        assert back <= down
        with container.db.read() as conn:
            events = dict(conn.execute(sa.select(job_events.c.event, sa.func.count())
                                       .group_by(job_events.c.event)).all())
        container.close()
    print(f"\nseed {seed}: {len(orders)} orders ({ready} postable and ready) in {elapsed:.1f}s; "
          f"chaos: {chaos.kills} SIGKILLs, {chaos.cuts} database cuts ({chaos.cut_s:.1f}s), "
          f"{chaos.bursts} fault bursts, {chaos.outages} BlueCherry outage(s) (logged: "
          f"{down} down, {back} back); faults fired: centra {fired['centra']['fired']}, "
          f"bluecherry {fired['bluecherry']['fired']}; job events {events}; "
          f"open exceptions {dict(by_type)}")
    for line in chaos.timeline:
        print(f"  {line}")
    assert chaos.kills >= 1
    assert chaos.cuts >= 1
    for side in ("centra", "bluecherry"):
        assert sum(fired[side]["fired"].values()) > 0
