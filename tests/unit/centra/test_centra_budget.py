"""The Centra budget governor: priorities, yielding, calibration from ``rateLimits`` and from
429s, and the view of the budget (buckets, backlog per flow, time to drain)."""

from __future__ import annotations

import pytest

from seamline.adapters.centra.budget import BudgetGovernor, MemoryBudgetBoard
from seamline.adapters.centra.limiter import MemoryBucketStore
from seamline.adapters.centra.types import RateLimitStatus
from seamline.config import BudgetSettings, RateLimitSettings
from seamline.exceptions import RateLimited
from seamline.ports import current_flow, working_for

SMALL = RateLimitSettings(requests_per_10s=100, requests_per_hour=10_000, mutations_per_10s=10,
                          mutations_per_hour=1000, complexity_per_10s=100_000,
                          complexity_per_hour=10_000_000)


class ManualTime:
    def __init__(self) -> None:
        self.t = 2_000_000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def governor(clock: ManualTime, *, store: MemoryBucketStore | None = None,
             board: MemoryBudgetBoard | None = None, max_wait_s: float = 60.0,
             settings: BudgetSettings | None = None) -> BudgetGovernor:
    return BudgetGovernor(SMALL, store or MemoryBucketStore(), board or MemoryBudgetBoard(),
                          settings=settings or BudgetSettings(headroom=1.0),
                          time_fn=clock, sleep=clock.sleep, max_wait_s=max_wait_s)


def test_calls_are_for_shipments_unless_a_flow_is_named() -> None:
    assert current_flow() == "shipments"
    with working_for("stock_sweep"):
        assert current_flow() == "stock_sweep"
        with working_for("orders"):
            assert current_flow() == "orders"
        assert current_flow() == "stock_sweep"
    assert current_flow() == "shipments"


def test_a_sweep_yields_while_a_shipment_waits_in_another_process() -> None:
    """Two governors on one board and one bucket store stand for two worker processes: once
    the shipments flow has announced that it waits, the sweep takes no mutation token until
    the announcement is void, and the shipment gets the next token."""
    clock = ManualTime()
    store, board = MemoryBucketStore(), MemoryBudgetBoard()
    sweeper = governor(clock, store=store, board=board, max_wait_s=0.4)
    shipper = governor(clock, store=store, board=board, max_wait_s=0.0)
    for _ in range(10):
        sweeper.acquire(mutation=True, flow="stock_sweep")
    with pytest.raises(RateLimited):  # the bucket is empty: the shipment waits, and says so
        shipper.acquire(mutation=True, flow="shipments")
    clock.t += 1.0  # a token (and more) is back
    with pytest.raises(RateLimited) as err:
        sweeper.acquire(mutation=True, flow="stock_sweep")
    assert "yielding" in err.value.message
    assert shipper.acquire(mutation=True, flow="shipments") == 0.0


def test_deltas_wait_for_shipments_and_sweeps_for_deltas_but_not_the_reverse() -> None:
    clock = ManualTime()
    gov = governor(clock, max_wait_s=0.0)
    gov.announce("stock_delta", 50)
    with pytest.raises(RateLimited):
        gov.acquire(mutation=True, flow="stock_sweep")
    assert gov.acquire(mutation=True, flow="stock_delta") == 0.0
    assert gov.acquire(mutation=True, flow="shipments") == 0.0
    assert gov.acquire(mutation=True, flow="orders") == 0.0  # same priority as shipments


def test_a_demand_record_is_void_after_its_time_to_live() -> None:
    clock = ManualTime()
    gov = governor(clock, max_wait_s=0.0, settings=BudgetSettings(headroom=1.0,
                                                                   demand_ttl_s=2.0))
    gov.announce("shipments", 3)
    with pytest.raises(RateLimited):
        gov.acquire(mutation=True, flow="stock_delta")
    clock.t += 2.5
    assert gov.acquire(mutation=True, flow="stock_delta") == 0.0


def test_a_waiting_sweep_goes_ahead_once_the_shipments_are_served() -> None:
    """With a budget to wait in, the sweep yields (sleeping the simulated clock) and then
    proceeds: yielding delays it, it never drops it."""
    clock = ManualTime()
    gov = governor(clock, max_wait_s=30.0)
    gov.announce("shipments", 5)
    start = clock.t
    gov.acquire(mutation=True, flow="stock_sweep")
    assert clock.t - start >= 3.0  # the record lived 3 s


def test_priorities_are_configurable() -> None:
    clock = ManualTime()
    settings = BudgetSettings(headroom=1.0, priorities={"shipments": 1, "orders": 1,
                                                        "stock_delta": 0, "stock_sweep": 2})
    gov = governor(clock, max_wait_s=0.0, settings=settings)
    gov.announce("stock_delta", 10)
    with pytest.raises(RateLimited):
        gov.acquire(mutation=True, flow="shipments")


def test_unknown_flows_in_the_priorities_are_refused() -> None:
    with pytest.raises(ValueError, match="stock_swept"):
        BudgetSettings(priorities={"stock_swept": 2})


def statuses(mutations_10s: tuple[int, int], mutations_1h: tuple[int, int] = (1000, 1000),
             ) -> list[RateLimitStatus]:
    """``(quota, remaining)`` of the mutation buckets; the others full at SMALL's sizes."""
    def st(kind: str, window: str, quota: int, remaining: int) -> RateLimitStatus:
        return RateLimitStatus(type=kind, interval=window, quota=quota,
                               used=quota - remaining, remaining=remaining)

    return [
        st("REQUEST_COUNT", "TEN_SECONDS", 100, 100),
        st("REQUEST_COUNT", "ONE_HOUR", 10_000, 10_000),
        st("MUTATION_COUNT", "TEN_SECONDS", *mutations_10s),
        st("MUTATION_COUNT", "ONE_HOUR", *mutations_1h),
        st("QUERY_COMPLEXITY", "TEN_SECONDS", 100_000, 100_000),
        st("QUERY_COMPLEXITY", "ONE_HOUR", 10_000_000, 10_000_000),
    ]


def test_calibration_follows_a_lowered_quota_and_what_centra_says_remains() -> None:
    """Centra lowered the ten-second mutation quota to 4, of which 1 remains: one mutation
    goes now, the next waits for the refill at 4 per 10 s (2.5 s a token)."""
    clock = ManualTime()
    gov = governor(clock, max_wait_s=0.0)
    assert gov.calibration_due()  # never calibrated
    gov.calibrate(statuses((4, 1)))
    assert not gov.calibration_due()
    assert gov.acquire(mutation=True) == 0.0
    with pytest.raises(RateLimited) as err:
        gov.acquire(mutation=True)
    assert err.value.retry_after == pytest.approx(2.5)
    view = gov.view()
    ten = next(b for b in view.buckets if b.name == "centra:mutations:10s")
    assert ten.capacity == 4.0
    assert view.mutation_rate == pytest.approx(1000 / 3600)  # the hour is the slower


def test_calibration_never_raises_a_level_other_integrations_may_be_spending() -> None:
    clock = ManualTime()
    gov = governor(clock, max_wait_s=0.0)
    for _ in range(8):
        gov.acquire(mutation=True)
    gov.calibrate(statuses((10, 10)))  # Centra says 10 remain; we know we spent 8
    gov.acquire(mutation=True)
    gov.acquire(mutation=True)
    with pytest.raises(RateLimited):
        gov.acquire(mutation=True)


def test_a_calibrated_quota_reaches_every_process_through_the_board() -> None:
    clock = ManualTime()
    board = MemoryBudgetBoard()
    one = governor(clock, board=board)
    other = governor(clock, board=board)
    one.calibrate(statuses((6, 6)))
    clock.t += 1.0
    ten = next(b for b in other.view().buckets if b.name == "centra:mutations:10s")
    assert ten.capacity == 6.0


def test_calibration_is_due_again_after_its_interval() -> None:
    clock = ManualTime()
    gov = governor(clock, settings=BudgetSettings(headroom=1.0, calibrate_every_s=60))
    gov.calibrate(statuses((10, 10)))
    clock.t += 59
    assert not gov.calibration_due()
    clock.t += 2
    assert gov.calibration_due()


def test_a_429_holds_every_process_back_until_retry_after_then_recalibrates() -> None:
    clock = ManualTime()
    store, board = MemoryBucketStore(), MemoryBudgetBoard()
    one = governor(clock, store=store, board=board, max_wait_s=0.0)
    other = governor(clock, store=store, board=board, max_wait_s=0.0)
    one.calibrate(statuses((10, 10)))
    one.throttled(7.0)
    with pytest.raises(RateLimited) as err:
        other.acquire(mutation=False, flow="shipments")
    assert "429" in err.value.message
    assert err.value.retry_after == pytest.approx(7.0)
    assert not other.calibration_due()  # not while backing off
    clock.t += 7.5
    assert other.calibration_due()  # Centra may have lowered its limits
    other.calibrate(statuses((10, 10)))
    assert not other.calibration_due()
    # The ten-second buckets started empty at the 429 and have refilled 7.5 s worth.
    for _ in range(7):
        other.acquire(mutation=True)
    with pytest.raises(RateLimited):
        other.acquire(mutation=True)


def test_a_429_without_retry_after_backs_off_the_configured_time() -> None:
    clock = ManualTime()
    gov = governor(clock, max_wait_s=0.0, settings=BudgetSettings(headroom=1.0, backoff_s=12))
    gov.throttled(None)
    assert gov.view().backoff_s == pytest.approx(12.0)


def test_the_view_shows_backlog_and_time_to_drain_by_priority() -> None:
    """At 1000 mutations an hour (0.2778/s), 100 shipment mutations drain in 360 s; stock
    deltas wait behind them (100 + 200 in 1080 s); the sweep behind both."""
    clock = ManualTime()
    gov = governor(clock, settings=BudgetSettings(headroom=1.0, dispatch_delay_alert_min=5))
    gov.announce("shipments", 100)
    gov.announce("stock_delta", 200)
    gov.announce("stock_sweep", 700)
    view = gov.view()
    assert view.backlog == {"shipments": 100, "stock_delta": 200, "stock_sweep": 700}
    assert view.drain_s["shipments"] == pytest.approx(360.0)
    assert view.drain_s["orders"] == pytest.approx(360.0)
    assert view.drain_s["stock_delta"] == pytest.approx(1080.0)
    assert view.drain_s["stock_sweep"] == pytest.approx(3600.0)
    assert view.dispatch_delayed  # 6 minutes > 5
    gov.announce("shipments", 10)
    assert not gov.view().dispatch_delayed


def test_the_view_shows_how_much_of_each_bucket_is_spent() -> None:
    clock = ManualTime()
    gov = governor(clock)
    for _ in range(5):
        gov.acquire(mutation=True)
    ten = next(b for b in gov.view().buckets if b.name == "centra:mutations:10s")
    assert ten.used_share == pytest.approx(0.5)


def test_stock_deltas_yield_at_most_their_longest_then_one_call_goes() -> None:
    """Shipments wait all the time (their backlog outlasts the budget): a delta still gets one
    call through every ``max_yield_s``; the sweep, which has none, keeps yielding."""
    clock = ManualTime()
    gov = governor(clock, max_wait_s=0.0, settings=BudgetSettings(
        headroom=1.0, max_yield_s={"stock_delta": 60.0}))
    gov.announce("shipments", 500)
    with pytest.raises(RateLimited, match="yielding"):
        gov.acquire(mutation=True, flow="stock_delta")
    clock.t += 59
    gov.announce("shipments", 500)
    with pytest.raises(RateLimited, match="yielding"):
        gov.acquire(mutation=True, flow="stock_delta")
    clock.t += 2
    gov.announce("shipments", 500)
    assert gov.acquire(mutation=True, flow="stock_delta") == 0.0
    with pytest.raises(RateLimited, match="yielding"):  # the clock starts again
        gov.acquire(mutation=True, flow="stock_delta")
    with pytest.raises(RateLimited, match="yielding"):
        gov.acquire(mutation=True, flow="stock_sweep")


def test_an_overdue_delta_gets_the_next_token_before_the_waiting_shipments() -> None:
    """The budget is spent and shipments wait for every token: once the delta has yielded
    its longest, shipments stand aside until the delta's call has gone."""
    clock = ManualTime()
    store, board = MemoryBucketStore(), MemoryBudgetBoard()
    settings = BudgetSettings(headroom=1.0, max_yield_s={"stock_delta": 60.0})
    shipper = governor(clock, store=store, board=board, max_wait_s=0.0, settings=settings)
    stocker = governor(clock, store=store, board=board, max_wait_s=0.0, settings=settings)
    shipper.announce("shipments", 100)
    with pytest.raises(RateLimited):  # the delta's first yield starts its clock
        stocker.acquire(mutation=True, flow="stock_delta")
    clock.t += 61
    for _ in range(10):
        shipper.acquire(mutation=True, flow="shipments")
    with pytest.raises(RateLimited, match="budget spent"):  # overdue, but no token yet
        stocker.acquire(mutation=True, flow="stock_delta")
    clock.t += 1.0  # a token is back
    with pytest.raises(RateLimited, match="yielding"):
        shipper.acquire(mutation=True, flow="shipments")
    assert stocker.acquire(mutation=True, flow="stock_delta") == 0.0
    clock.t += 1.0
    assert shipper.acquire(mutation=True, flow="shipments") == 0.0


def test_a_job_waiting_for_the_budget_is_released_not_failed_nor_an_outage() -> None:
    """Past the inline wait the governor's ``Retry-After`` exceeds it, so the queue's policy
    releases the job (no attempt counted) instead of counting a failure of Centra."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from seamline.queue.models import Job, JobStatus  # noqa: PLC0415
    from seamline.queue.policy import RetryPolicy  # noqa: PLC0415

    clock = ManualTime()
    gov = governor(clock, max_wait_s=2.0)
    gov.announce("shipments", 40)
    with pytest.raises(RateLimited) as err:
        gov.acquire(mutation=True, flow="stock_sweep")
    assert err.value.retry_after is not None
    assert err.value.retry_after > 2.0
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    job = Job(id=1, queue="stock", task="stock.sync", args={}, status=JobStatus.DOING,
              priority=0, dedupe_key=None, business_key=None, attempts=10, max_attempts=10,
              run_at=now, created_at=now, updated_at=now, lease_token="t",
              lease_expires_at=None, worker_id="w", last_error=None)
    decision = RetryPolicy(max_inline_wait_s=2.0).decide(job, err.value, now)
    assert decision.action == "release"
