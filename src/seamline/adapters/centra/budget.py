"""One Centra budget for every flow and every worker process: ``BudgetGovernor``.

Built on the ``RateLimiter`` (Centra's six token buckets, levels shared through the store) and
adds what the shared buckets alone cannot do:

- **Priorities.** Each call is made on behalf of a flow (``seamline.ports.working_for(
  "stock_sweep")``, a context variable, so a service marks its work once). Flows have priorities
  (``[centra.budget].priorities``; lower first). A flow whose call must wait for a bucket
  announces it on the ``BudgetBoard`` (a *demand record* per flow: backlog, stamped; renewed
  while it waits, void after ``demand_ttl_s``); every flow of a higher number sees the record and
  *yields* (waits ``yield_s``, looks again) instead of taking the tokens. So a full sweep stops
  between two calls as soon as a shipment waits, in any process on the database. A flow with a
  ``max_yield_s`` (stock deltas: 60 s) that has yielded that long is *overdue*: it says so on
  the board and every other flow stands aside until its next call has gone, so a shipment
  backlog that outlasts the budget cannot starve it.
- **Calibration.** ``calibrate`` takes Centra's ``rateLimits`` answer: each bucket's capacity
  becomes ``quota × headroom`` (kept on the board, so every process follows), and the shared
  level is lowered to what Centra says remains (never raised: other integrations spend too).
- **429s.** ``throttled`` stops every process until ``Retry-After`` (or ``backoff_s``), empties
  the ten-second buckets, and marks a calibration due: Centra may have lowered its limits.
- **The view.** ``view()`` returns the buckets' use, the backlog per flow and the estimated time
  to drain it at the sustainable mutation rate; ``/metrics`` and ``seamline centra budget`` show
  it, and ``dispatch_delayed`` says when waiting shipments would hold dispatch emails back more
  than ``dispatch_delay_alert_min``.

Written by hand for the reason ``limiter.py`` gives: the state must live in our own SQL store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from seamline.adapters.centra.limiter import (
    COMPLEXITY,
    MUTATIONS,
    REQUESTS,
    MemoryBucketStore,
    RateLimiter,
)
from seamline.adapters.centra.types import RateLimitStatus
from seamline.config import BudgetSettings, RateLimitSettings
from seamline.exceptions import RateLimited
from seamline.ports import (
    Bucket,
    BucketStore,
    BucketUse,
    BudgetBoard,
    BudgetView,
    current_flow,
    working_for,
)

__all__ = [
    "BucketUse",
    "BudgetGovernor",
    "BudgetView",
    "MemoryBudgetBoard",
    "current_flow",
    "working_for",
]  # the last two re-exported from seamline.ports

BOARD = "centra:board:"
DEMAND = BOARD + "demand:"
BACKOFF = BOARD + "backoff"
CALIBRATED = BOARD + "calibrated"
QUOTA = BOARD + "quota:"
SENT = BOARD + "sent:"
OVERDUE = BOARD + "overdue:"

#: Centra's names → the limiter's.
KINDS = {"REQUEST_COUNT": REQUESTS, "MUTATION_COUNT": MUTATIONS, "QUERY_COMPLEXITY": COMPLEXITY}
WINDOWS = {"TEN_SECONDS": "10s", "ONE_HOUR": "1h"}

class MemoryBudgetBoard:
    """The board in this process's memory (unit tests, one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, float]] = {}

    def put(self, name: str, value: float, now: float) -> None:
        with self._lock:
            self._values[name] = (float(value), float(now))

    def read(self, prefix: str) -> dict[str, tuple[float, float]]:
        with self._lock:
            return {k: v for k, v in self._values.items() if k.startswith(prefix)}


class BudgetGovernor(RateLimiter):
    """The shared Centra budget, by flow priority (see the module's docstring)."""

    def __init__(
        self,
        limits: RateLimitSettings,
        store: BucketStore | None = None,
        board: BudgetBoard | None = None,
        *,
        settings: BudgetSettings | None = None,
        max_wait_s: float = 5.0,
        prefix: str = "centra",
        time_fn: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        refresh_s: float = 0.25,
    ) -> None:
        self.settings = settings or BudgetSettings()
        super().__init__(limits, store if store is not None else MemoryBucketStore(),
                         max_wait_s=max_wait_s, headroom=self.settings.headroom, prefix=prefix,
                         time_fn=time_fn, sleep=sleep)
        self.board: BudgetBoard = board if board is not None else MemoryBudgetBoard()
        self.prefix = prefix
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._seen_at = -1e18
        self._seen: dict[str, tuple[float, float]] = {}
        self._quotas: dict[tuple[str, str], float] = {}
        #: Calls refused by Centra with a 429 (this process).
        self.throttles = 0

    # -- shared state ---------------------------------------------------------------------------

    def _board(self, now: float, *, fresh: bool = False) -> dict[str, tuple[float, float]]:
        with self._lock:
            if fresh or now - self._seen_at >= self.refresh_s or now < self._seen_at:
                self._seen = self.board.read(BOARD)
                self._seen_at = now
                self._apply_quotas(self._seen)
            return self._seen

    def _apply_quotas(self, seen: dict[str, tuple[float, float]]) -> None:
        for name, (quota, _at) in seen.items():
            if not name.startswith(QUOTA):
                continue
            kind, _, window = name[len(QUOTA):].partition(":")
            if self._quotas.get((kind, window)) == quota or kind not in self.buckets:
                continue
            self._quotas[(kind, window)] = quota
            self.buckets[kind] = [
                Bucket(b.name, max(1.0, quota * self.settings.headroom), b.interval_s)
                if b.name == f"{self.prefix}:{kind}:{window}" else b
                for b in self.buckets[kind]]

    def _waiting_before(self, priority: int, seen: dict[str, tuple[float, float]],
                        now: float, flow: str = "") -> bool:
        for name, (flag, at) in seen.items():
            # A flow that has yielded its longest goes before everyone else, once.
            if name.startswith(OVERDUE) and flag > 0 and name[len(OVERDUE):] != flow \
                    and now - at <= self.settings.demand_ttl_s:
                return True
        for name, (backlog, at) in seen.items():
            if not name.startswith(DEMAND) or backlog <= 0:
                continue
            if now - at > self.settings.demand_ttl_s:
                continue
            if self.settings.priority(name[len(DEMAND):]) < priority:
                return True
        return False

    def _overdue(self, flow: str, seen: dict[str, tuple[float, float]], now: float) -> bool:
        """The flow has yielded its longest (``max_yield_s``): its next call goes."""
        limit = self.settings.max_yield_s.get(flow)
        if limit is None:
            return False
        last = seen.get(SENT + flow)
        if last is None:  # never sent: start the clock now
            self._put(SENT + flow, now, now)
            return False
        return now - last[0] >= limit

    def _put(self, name: str, value: float, now: float) -> None:
        self.board.put(name, value, now)
        with self._lock:
            self._seen[name] = (value, now)

    def announce(self, flow: str, backlog: int) -> None:
        """Say that ``flow`` has ``backlog`` mutations waiting (0: none); renew while waiting."""
        now = self._time()
        self.board.put(DEMAND + flow, float(max(0, backlog)), now)
        with self._lock:
            self._seen[DEMAND + flow] = (float(max(0, backlog)), now)

    # -- metering -------------------------------------------------------------------------------

    def acquire(self, *, mutation: bool = False, complexity: float = 0.0,
                flow: str | None = None) -> float:
        """Take the call's tokens for ``flow`` (the context's by default): wait out a
        back-off, yield while a flow of a lower priority number waits, else wait for the
        buckets; ``RateLimited`` rather than wait past ``max_wait_s`` in total."""
        flow = flow or current_flow()
        priority = self.settings.priority(flow)
        costs = self._costs(mutation=mutation, complexity=complexity)
        waited = 0.0
        announced = False
        while True:
            now = self._time()
            seen = self._board(now)
            until = seen.get(BACKOFF, (0.0, 0.0))[0]
            if until > now:
                wait, why = until - now, "backing off after a 429"
            elif self._waiting_before(priority, seen, now, flow) \
                    and not self._overdue(flow, seen, now):
                wait, why = self.settings.yield_s, "yielding to higher-priority work"
            else:
                overdue = self._overdue(flow, seen, now)
                if overdue:  # the others stand aside until this flow's call has gone
                    self._put(OVERDUE + flow, 1.0, now)
                wait, why = self.store.take(costs, now), "budget spent"
                if wait <= 0:
                    if flow in self.settings.max_yield_s:
                        self._put(SENT + flow, now, now)
                        if overdue:
                            self._put(OVERDUE + flow, 0.0, now)
                    own = seen.get(DEMAND + flow, (0.0, 0.0))
                    if announced and own[0] <= 1:  # no backlog known beyond this call
                        self.announce(flow, 0)
                    return waited
                # Work waits for the buckets: say so, so lower priorities stand aside.
                own = seen.get(DEMAND + flow, (0.0, 0.0))
                backlog = int(own[0]) if now - own[1] <= self.settings.demand_ttl_s else 0
                self.announce(flow, max(backlog, 1))
                announced = True
            if waited + wait > self.max_wait_s:
                # Past the inline wait the job goes back to the queue; a Retry-After longer
                # than that wait makes the queue *release* it (no attempt counted, Centra not
                # counted as failing): waiting for the budget is neither the job's failure
                # nor an outage, however long a peak lasts.
                retry_after = wait if self.max_wait_s <= 0 else max(wait, self.max_wait_s + 0.5)
                raise RateLimited(f"centra: {flow} {why}, next slot in {wait:.1f}s",
                                  system="centra", retry_after=retry_after)
            self._sleep(wait)
            waited += wait

    def calibration_due(self) -> bool:
        """True when ``rateLimits`` should be read (never read, stale, or after a 429 once the
        back-off is over)."""
        now = self._time()
        seen = self._board(now)
        if seen.get(BACKOFF, (0.0, 0.0))[0] > now:
            return False
        flag, at = seen.get(CALIBRATED, (1.0, -1e18))
        return flag > 0 or now - at >= self.settings.calibrate_every_s

    def calibrate(self, statuses: Sequence[RateLimitStatus]) -> None:
        """Follow Centra's ``rateLimits`` answer: capacities from the quotas (every process),
        levels lowered to what Centra says remains, keeping the headroom spare."""
        now = self._time()
        for st in statuses:
            kind, window = KINDS.get(st.type), WINDOWS.get(st.interval)
            if kind is None or window is None:
                continue
            self.board.put(f"{QUOTA}{kind}:{window}", float(st.quota), now)
        self.board.put(CALIBRATED, 0.0, now)
        self._board(now, fresh=True)
        for st in statuses:
            kind, window = KINDS.get(st.type), WINDOWS.get(st.interval)
            bucket = next((b for b in self.buckets.get(kind or "", [])
                           if b.name == f"{self.prefix}:{kind}:{window}"), None)
            if bucket is None:
                continue
            target = st.remaining - st.quota * (1 - self.settings.headroom)
            level = self.store.level(bucket, now)
            if level > target:
                self.store.debit({bucket: level - target}, now)

    def throttled(self, retry_after: float | None) -> None:
        """Centra answered 429: every process holds back until ``Retry-After``, the
        ten-second buckets start empty, and a calibration is due."""
        self.throttles += 1
        now = self._time()
        wait = retry_after if retry_after is not None and retry_after > 0 \
            else self.settings.backoff_s
        until = now + wait
        current = self._board(now, fresh=True).get(BACKOFF, (0.0, 0.0))[0]
        self.board.put(BACKOFF, max(until, current), now)
        self.board.put(CALIBRATED, 1.0, now)
        ten = {b: self.store.level(b, now) for kind in (REQUESTS, MUTATIONS)
               for b in self.buckets[kind] if b.interval_s <= 10}
        self.store.debit({b: lvl for b, lvl in ten.items() if lvl > 0}, now)
        self._board(now, fresh=True)

    # -- the view -------------------------------------------------------------------------------

    def view(self) -> BudgetView:
        now = self._time()
        seen = self._board(now, fresh=True)
        buckets = tuple(BucketUse(b.name, b.capacity, self.store.level(b, now))
                        for kind in (REQUESTS, MUTATIONS, COMPLEXITY) for b in self.buckets[kind])
        rate = min(b.rate for b in self.buckets[MUTATIONS])
        backlog: dict[str, int] = {}
        for name, (value, at) in seen.items():
            if name.startswith(DEMAND) and now - at <= max(60.0, self.settings.demand_ttl_s):
                backlog[name[len(DEMAND):]] = int(value)
        drain: dict[str, float] = {}
        for flow in sorted(set(backlog) | set(self.settings.priorities)):
            p = self.settings.priority(flow)
            ahead = sum(n for f, n in backlog.items() if self.settings.priority(f) <= p)
            drain[flow] = ahead / rate if rate > 0 else float("inf")
        backoff = max(0.0, seen.get(BACKOFF, (0.0, 0.0))[0] - now)
        for flow in drain:
            drain[flow] += backoff
        return BudgetView(buckets=buckets, backlog=backlog, drain_s=drain, mutation_rate=rate,
                          backoff_s=backoff,
                          dispatch_delay_alert_s=self.settings.dispatch_delay_alert_min * 60.0)
