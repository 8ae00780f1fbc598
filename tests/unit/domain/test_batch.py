"""Daily-batch business days across cut-offs, midnight and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orderkit import market

from seamline.domain.batch import (
    business_day,
    cutoff_instant,
    due_batches,
    in_batch,
    latest_due_day,
)
from seamline.exceptions import InvalidRecord

STHLM = ZoneInfo("Europe/Stockholm")
SE = market(cutoff=time(23, 0), timezone="Europe/Stockholm")


def local(*args: int, tz: ZoneInfo = STHLM, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("eligible", "expected"),
    [
        (local(2026, 11, 28, 10, 0), date(2026, 11, 28)),
        (local(2026, 11, 28, 22, 59, 59), date(2026, 11, 28)),
        (local(2026, 11, 28, 23, 0), date(2026, 11, 29)),        # at the cut-off: next day
        (local(2026, 11, 28, 23, 59), date(2026, 11, 29)),
        (local(2026, 11, 29, 0, 0), date(2026, 11, 29)),          # after midnight
        (datetime(2026, 11, 28, 21, 59, tzinfo=UTC), date(2026, 11, 28)),  # 22:59 CET
        (datetime(2026, 11, 28, 22, 0, tzinfo=UTC), date(2026, 11, 29)),   # 23:00 CET
        # summer time (CEST, UTC+2): 20:59Z is 22:59 local
        (datetime(2026, 7, 1, 20, 59, tzinfo=UTC), date(2026, 7, 1)),
        (datetime(2026, 7, 1, 21, 0, tzinfo=UTC), date(2026, 7, 2)),
        # the spring-forward day (29 March 2026) and the fall-back day (25 October 2026)
        (datetime(2026, 3, 29, 20, 59, tzinfo=UTC), date(2026, 3, 29)),
        (datetime(2026, 3, 29, 21, 0, tzinfo=UTC), date(2026, 3, 30)),
        (datetime(2026, 10, 25, 21, 59, tzinfo=UTC), date(2026, 10, 25)),
        (datetime(2026, 10, 25, 22, 0, tzinfo=UTC), date(2026, 10, 26)),
    ],
)
def test_an_order_belongs_to_the_first_batch_whose_cut_off_it_precedes(
    eligible: datetime, expected: date
) -> None:
    """Before D's 23:00 cut-off → D; at or after → D+1; in winter and in summer time."""
    assert business_day(eligible, SE) == expected


def test_a_cut_off_inside_the_spring_forward_gap_falls_an_hour_later() -> None:
    """02:30 does not exist on 29 March in Stockholm: the cut-off is 03:30 CEST (01:30Z)."""
    night = market(cutoff=time(2, 30), timezone="Europe/Stockholm")
    assert cutoff_instant(date(2026, 3, 29), night) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert business_day(datetime(2026, 3, 29, 1, 29, tzinfo=UTC), night) == date(2026, 3, 29)
    assert business_day(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), night) == date(2026, 3, 30)


def test_a_cut_off_inside_the_fall_back_overlap_is_its_first_occurrence() -> None:
    """02:30 happens twice on 25 October: the first one (CEST, 00:30Z) is the cut-off."""
    night = market(cutoff=time(2, 30), timezone="Europe/Stockholm")
    assert cutoff_instant(date(2026, 10, 25), night) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second_0230 = local(2026, 10, 25, 2, 30, fold=1)
    assert business_day(second_0230, night) == date(2026, 10, 26)


def test_a_cut_off_just_after_midnight_assigns_the_evening_to_the_next_day() -> None:
    """Cut-off 00:30: 00:10 belongs to the same date, 10:00 to the next."""
    early = market(cutoff=time(0, 30), timezone="Europe/Stockholm")
    assert business_day(local(2026, 11, 28, 0, 10), early) == date(2026, 11, 28)
    assert business_day(local(2026, 11, 28, 10, 0), early) == date(2026, 11, 29)


def test_a_naive_time_is_refused() -> None:
    """Business days are computed from aware instants only."""
    with pytest.raises(InvalidRecord):
        business_day(datetime(2026, 11, 28, 10, 0), SE)


def test_stragglers_belong_to_every_later_batch_until_posted() -> None:
    """An order released after D-1's cut-off is in D's batch (and any later re-run)."""
    released = local(2026, 11, 27, 23, 30)
    assert not in_batch(released, SE, date(2026, 11, 27))
    assert in_batch(released, SE, date(2026, 11, 28))
    assert in_batch(released, SE, date(2026, 12, 1))


@pytest.mark.parametrize(
    ("now", "last", "expected"),
    [
        (local(2026, 11, 28, 22, 0), date(2026, 11, 27), []),
        (local(2026, 11, 28, 23, 0), date(2026, 11, 27), [date(2026, 11, 28)]),
        (local(2026, 11, 28, 23, 0), date(2026, 11, 28), []),
        (local(2026, 11, 29, 1, 0), date(2026, 11, 25),
         [date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28)]),
        (local(2026, 11, 28, 10, 0), None, [date(2026, 11, 27)]),
        (local(2026, 3, 29, 23, 0), date(2026, 3, 28), [date(2026, 3, 29)]),
    ],
)
def test_due_batches_lists_every_passed_cut_off_not_yet_run(
    now: datetime, last: date | None, expected: list[date]
) -> None:
    """Oldest first; with no batch run yet only the latest due day."""
    assert due_batches(now, SE, last) == expected


def test_a_realtime_market_has_no_batches() -> None:
    """Real-time markets post as orders arrive."""
    assert due_batches(local(2026, 11, 28, 23, 30), market(mode="realtime"), None) == []


ZONES = st.sampled_from(["Europe/Stockholm", "America/New_York", "Asia/Tokyo", "UTC",
                         "Europe/London", "Australia/Lord_Howe", "America/Santiago"])


@settings(max_examples=400, deadline=None)
@given(ZONES, st.times(), st.datetimes(min_value=datetime(2025, 1, 1),
                                       max_value=datetime(2028, 1, 1), timezones=st.just(UTC)))
def test_the_business_days_cut_off_is_the_first_at_or_after_the_instant(
    zone: str, cutoff: time, instant: datetime
) -> None:
    """D's cut-off is after the instant and D-1's is not, in any zone, across DST."""
    mk = market(cutoff=cutoff.replace(microsecond=0, tzinfo=None), timezone=zone)
    day = business_day(instant, mk)
    assert cutoff_instant(day, mk) > instant
    assert cutoff_instant(day - timedelta(days=1), mk) <= instant
    assert latest_due_day(instant, mk) == day - timedelta(days=1)
