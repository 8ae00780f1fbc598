"""Daily-batch business days: which batch an eligible order belongs to, which batches are due.

Batch day ``D`` of a market runs at ``D``'s cut-off (wall-clock time in the market's time
zone) and posts every eligible, not-yet-posted order whose business day is ``D`` or earlier
(stragglers released from hold late included). An order eligible strictly *before* ``D``'s
cut-off belongs to ``D``; one eligible at or after it belongs to ``D + 1``.

All comparisons are between aware instants, so daylight-saving changes cannot move an order to
the wrong day. A cut-off that falls in a spring-forward gap is read with the offset in force
before the change (``fold=0``), i.e. it happens one hour later on the wall clock; a cut-off in
a fall-back overlap is its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from seamline.domain.mapping import MarketCodes
from seamline.exceptions import InvalidRecord

__all__ = ["business_day", "cutoff_instant", "due_batches", "in_batch", "latest_due_day"]


def _aware(when: datetime, name: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidRecord(f"{name} {when.isoformat()} has no time zone")
    return when


def cutoff_instant(day: date, market: MarketCodes) -> datetime:
    """The instant (UTC) of batch day ``day``'s cut-off in the market's time zone."""
    local = datetime.combine(day, market.cutoff, tzinfo=market.tz)
    return local.astimezone(UTC)


def business_day(eligible_at: datetime, market: MarketCodes) -> date:
    """The batch day of an order that became eligible (gate READY) at ``eligible_at``."""
    when = _aware(eligible_at, "eligible_at")
    day = when.astimezone(market.tz).date()
    # The cut-off of the previous local day is always before local midnight; check it anyway
    # so a cut-off shifted by a DST gap cannot misplace an order.
    if when < cutoff_instant(day - timedelta(days=1), market):
        return day - timedelta(days=1)
    if when < cutoff_instant(day, market):
        return day
    return day + timedelta(days=1)


def in_batch(eligible_at: datetime, market: MarketCodes, day: date) -> bool:
    """Whether batch ``day`` posts an order eligible at ``eligible_at`` (stragglers included)."""
    return business_day(eligible_at, market) <= day


def latest_due_day(now: datetime, market: MarketCodes) -> date:
    """The most recent batch day whose cut-off is at or before ``now``."""
    when = _aware(now, "now")
    day = when.astimezone(market.tz).date() + timedelta(days=1)
    while cutoff_instant(day, market) > when:
        day -= timedelta(days=1)
    return day


def due_batches(now: datetime, market: MarketCodes, last_posted_day: date | None) -> list[date]:
    """Batch days due at ``now`` and not yet run, oldest first.

    Every day after ``last_posted_day`` whose cut-off has passed; with no batch run yet, only
    the latest due day. A real-time market has no batches.
    """
    if market.mode != "daily":
        return []
    latest = latest_due_day(now, market)
    if last_posted_day is None:
        return [latest]
    days: list[date] = []
    day = last_posted_day + timedelta(days=1)
    while day <= latest:
        days.append(day)
        day += timedelta(days=1)
    return days
