"""What needs an alert, decided without I/O: exceptions past their threshold, outages and their
recoveries, orders stuck unposted, and each owner's daily digest.

Every alert has a **key** that names what it is about (``exception:<id>``,
``outage:<system>:<since>``, ``recovered:<system>:<since>``, ``stuck:<since>``,
``digest:<owner>:<date>``); the store keeps one delivery per (key, destination), so an alert is
sent once whatever the number of workers, restarts or repeats of the exception.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from seamline.domain.exception_records import ExceptionRecord

__all__ = [
    "SEVERITIES",
    "Alert",
    "AlertDelivery",
    "AlertRules",
    "SystemOutage",
    "digest_alerts",
    "exception_alerts",
    "group_alerts",
    "outage_alerts",
    "stuck_orders_alert",
]

#: Severities from least to most severe (an exception's ``severity``).
SEVERITIES = ("info", "warning", "error", "critical")
#: Exceptions the outage alert speaks for: no alert of their own while their system is down.
OUTAGE_TYPES = frozenset({"SYSTEM_UNAVAILABLE", "POST_FAILED"})
#: Never alerted one by one: an alert that cannot be delivered must not alert about itself.
SILENT_TYPES = frozenset({"SYSTEM_UNAVAILABLE", "ALERT_FAILED"})


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification for one owner's routes."""

    key: str
    owner: str
    kind: str
    title: str
    body: str
    #: The exception type, for an exception's alert.
    type: str = ""


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """One alert to one destination, as stored (the destination's URL redacted)."""

    id: int
    key: str
    owner: str
    kind: str
    destination: str
    destination_hash: str
    title: str
    body: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None = None
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class SystemOutage:
    """A system's circuit: down since when (None when it answers)."""

    system: str
    down_since: datetime | None
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class AlertRules:
    """``[alerts]`` as the decisions need it."""

    #: An exception is alerted once open this long (minutes), unless its type says otherwise.
    after_min: float = 0.0
    thresholds: Mapping[str, float] = field(default_factory=dict)
    min_severity: str = "warning"
    #: Orders not posted this long (minutes, batch-waiting ones excluded) raise one alert.
    order_stuck_min: float = 30.0
    digest_at: time | None = time(8, 0)
    timezone: str = "UTC"

    def threshold(self, exc_type: str) -> timedelta:
        return timedelta(minutes=self.thresholds.get(exc_type, self.after_min))


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else SEVERITIES.index("error")


def _age(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def exception_alerts(open_exceptions: Iterable[ExceptionRecord], rules: AlertRules,
                     now: datetime, *, down: Iterable[str] = ()) -> list[Alert]:
    """One alert per open exception past its type's threshold and at least ``min_severity``.
    While a system is down the outage alert speaks for the exceptions it causes."""
    any_down = bool(set(down))
    out: list[Alert] = []
    for e in open_exceptions:
        if e.type in SILENT_TYPES or (any_down and e.type in OUTAGE_TYPES):
            continue
        if _rank(e.severity) < _rank(rules.min_severity):
            continue
        if now - e.first_seen < rules.threshold(e.type):
            continue
        repeats = f" ({e.count} times)" if e.count > 1 else ""
        out.append(Alert(
            key=f"exception:{e.id}", owner=e.owner, kind="exception", type=e.type,
            title=f"Seamline: {e.type} {e.business_key}",
            body=(f"{e.type} ({e.severity}) for {e.business_key}, open "
                  f"{_age(e.first_seen, now)}{repeats}.\n{e.message}\n"
                  f"See it: seamline exceptions show {e.id}"),
        ))
    return out


def outage_alerts(outages: Sequence[SystemOutage], alerted: Mapping[str, str],
                  now: datetime, *, after: timedelta = timedelta(0),
                  owner: str = "operations") -> tuple[list[Alert], dict[str, str]]:
    """One alert when a system has been down ``after``, one when it answers again.

    ``alerted`` maps a system to the ``down_since`` (ISO) of the outage already announced;
    returns the alerts and the new map (the caller stores it with the deliveries)."""
    state = dict(alerted)
    out: list[Alert] = []
    for o in outages:
        announced = state.get(o.system)
        if o.down_since is not None:
            since = o.down_since.isoformat()
            if announced != since and now - o.down_since >= after:
                state[o.system] = since
                out.append(Alert(
                    key=f"outage:{o.system}:{since}", owner=owner, kind="outage",
                    title=f"Seamline: {o.system} is down",
                    body=(f"{o.system} has not answered since "
                          f"{o.down_since.isoformat(timespec='seconds')} "
                          f"({_age(o.down_since, now)}). The jobs that need it wait and resume "
                          f"by themselves; no order is lost. Last error: {o.last_error}"),
                ))
        elif announced is not None:
            del state[o.system]
            out.append(Alert(
                key=f"recovered:{o.system}:{announced}", owner=owner, kind="recovery",
                title=f"Seamline: {o.system} is back",
                body=(f"{o.system} answers again (down since {announced[:19]}). The waiting "
                      "jobs are running."),
            ))
    return out, state


def stuck_orders_alert(unposted_since: Mapping[int, datetime], rules: AlertRules,
                       now: datetime, *, announced: str | None,
                       owner: str = "ecommerce") -> tuple[Alert | None, str | None]:
    """One alert when orders have waited to post longer than ``order_stuck_min`` (none was
    announced), one when none is stuck any more; returns it and the new announcement."""
    limit = timedelta(minutes=rules.order_stuck_min)
    stuck = {n: at for n, at in unposted_since.items() if now - at >= limit}
    if stuck and announced is None:
        oldest_n, oldest_at = min(stuck.items(), key=lambda kv: (kv[1], kv[0]))
        since = oldest_at.isoformat()
        numbers = ", ".join(str(n) for n in sorted(stuck)[:20])
        more = f" and {len(stuck) - 20} more" if len(stuck) > 20 else ""
        return Alert(
            key=f"stuck:{since}", owner=owner, kind="stuck",
            title=f"Seamline: {len(stuck)} order(s) not posted after "
                  f"{int(rules.order_stuck_min)} min",
            body=(f"{len(stuck)} Centra order(s) have not reached BlueCherry within "
                  f"{int(rules.order_stuck_min)} min (orders waiting for their daily batch are "
                  f"not counted); the oldest, {oldest_n}, for {_age(oldest_at, now)}. "
                  f"Orders: {numbers}{more}. See seamline orders show NUMBER."),
        ), since
    if not stuck and announced is not None:
        return Alert(
            key=f"unstuck:{announced}", owner=owner, kind="recovery",
            title="Seamline: no order is stuck any more",
            body="Every order that was waiting to post has posted (or is waiting for its "
                 "daily batch).",
        ), None
    return None, announced


def digest_alerts(open_exceptions: Iterable[ExceptionRecord], owners: Iterable[str],
                  rules: AlertRules, now: datetime) -> list[Alert]:
    """Each owner's daily digest once the local time has passed ``digest_at`` (keyed by the
    local date, so it is sent once a day); an owner with nothing open hears that too."""
    if rules.digest_at is None:
        return []
    local = now.astimezone(ZoneInfo(rules.timezone))
    if local.time() < rules.digest_at:
        return []
    by_owner: dict[str, dict[str, list[ExceptionRecord]]] = defaultdict(lambda: defaultdict(list))
    for e in open_exceptions:
        by_owner[e.owner][e.type].append(e)
    out: list[Alert] = []
    day = local.date().isoformat()
    for owner in sorted(set(owners)):
        kinds = by_owner.get(owner, {})
        total = sum(len(v) for v in kinds.values())
        lines = [f"Open exceptions for {owner} on {day}: {total}."]
        for kind, rows in sorted(kinds.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            oldest = min(r.first_seen for r in rows)
            lines.append(f"- {kind}: {len(rows)} open, oldest {_age(oldest, now)}")
        if total:
            lines.append(f"See them: seamline exceptions list --owner {owner}")
        out.append(Alert(key=f"digest:{owner}:{day}", owner=owner, kind="digest",
                         title=f"Seamline daily digest ({owner}): {total} open",
                         body="\n".join(lines)))
    return out


def group_alerts(alerts: Sequence[Alert], *, limit: int) -> tuple[list[Alert], list[Alert]]:
    """No storm when many exceptions open at once (go-live, a catalogue gap): per owner, more
    than ``limit`` new exception alerts become **one** summary alert (by type, the first
    few named). Returns the alerts to send and those the summary speaks for."""
    by_owner: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        by_owner[a.owner].append(a)
    send: list[Alert] = []
    grouped: list[Alert] = []
    for owner, mine in by_owner.items():
        if len(mine) <= limit:
            send += mine
            continue
        grouped += mine
        types: dict[str, int] = defaultdict(int)
        for a in mine:
            types[a.type or a.kind] += 1
        digest = hashlib.sha256("|".join(sorted(a.key for a in mine)).encode()).hexdigest()
        lines = [f"{len(mine)} new exceptions for {owner}:"]
        lines += [f"- {t}: {n}" for t, n in sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))]
        lines += ["First ones:"] + [f"- {a.title.removeprefix('Seamline: ')}" for a in mine[:5]]
        lines.append(f"See them: seamline exceptions list --owner {owner}")
        send.append(Alert(key=f"exceptions:{owner}:{digest[:24]}", owner=owner, kind="summary",
                          title=f"Seamline: {len(mine)} new exceptions for {owner}",
                          body="\n".join(lines)))
    return send, grouped
