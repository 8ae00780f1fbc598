"""Readiness: is this Seamline able to do its work right now?

``/healthz`` says the process lives; ``/readyz`` (:func:`assess`) says whether it can work:

- ``database``: reachable and at the latest migration;
- ``centra`` and ``bluecherry``: answered within the last N minutes (``[web].ready_max_age_min``).
  The evidence is real: the ``health.ping`` task (the ``health-ping`` schedule, every minute)
  makes one small read of each system through the same gateways the flows use and records the
  outcome in the store (cursors ``health:centra`` / ``health:bluecherry``: when it last
  answered, and the last error), so every process on the database sees the same answer;
- ``flows``: no flow parked by the Centra schema guard (``centra:parked-flows``).

Each system's check also says its outage circuit (``circuit``: ``open`` or ``closed``): while
it is open the system is down (not ok), whatever the last ping said, with when it went down.

The ping never raises: an outage is recorded, not turned into a failing job or an exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from seamline.exceptions import SeamlineError
from seamline.queue.circuit import SystemState
from seamline.queue.registry import TaskRegistry
from seamline.queue.worker import JobContext
from seamline.services.centra_guard import parked_flows
from seamline.services.unit_of_work import Store

__all__ = ["SYSTEMS", "Readiness", "assess", "ping", "register_health_tasks"]

#: The systems the ping reads, by the name /readyz reports them under.
SYSTEMS: tuple[str, ...] = ("centra", "bluecherry")


def _cursor(system: str) -> str:
    return f"health:{system}"


@dataclass(frozen=True, slots=True)
class Readiness:
    """The outcome: ready only when every check is ok."""

    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(c.get("ok") for c in self.checks.values())

    def body(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not ready",
                "failing": [name for name, c in self.checks.items() if not c.get("ok")],
                "checks": {name: dict(c) for name, c in self.checks.items()}}


class _Db(Protocol):
    def require_latest(self) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def _read(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def assess(db: _Db, store: Store, *, max_age: timedelta,
           clock: Callable[[], datetime] | None = None) -> Readiness:
    """Every check, each ``{"ok": bool, "detail": str, ...}``."""
    now = (clock or utcnow)()
    checks: dict[str, dict[str, Any]] = {}
    try:
        db.require_latest()
        with store.read() as uow:
            stored = {s: _read(uow.cursors.get(_cursor(s))) for s in SYSTEMS}
            circuits = {s: SystemState.from_json(s, uow.cursors.get(f"outage:{s}"))
                        for s in SYSTEMS}
            parked = sorted(parked_flows(uow))
    except SeamlineError as exc:
        checks["database"] = {"ok": False, "detail": exc.message}
        for s in SYSTEMS:
            checks[s] = {"ok": False, "detail": "unknown: the database cannot be read"}
        checks["flows"] = {"ok": False, "detail": "unknown: the database cannot be read"}
        return Readiness(checks)
    checks["database"] = {"ok": True, "detail": "reachable, at the latest migration"}
    minutes = round(max_age.total_seconds() / 60, 1)
    for s in SYSTEMS:
        rec = stored[s]
        ok_at = _when(rec.get("ok_at"))
        error = rec.get("error")
        if ok_at is None:
            detail = (f"no answer from {s} recorded yet (the health-ping schedule records one "
                      "each minute while the scheduler and a worker run)")
            if error:
                detail = f"{s} has not answered: {error}"
            checks[s] = {"ok": False, "detail": detail, "last_ok": None}
            continue
        age = now - ok_at
        fresh = age <= max_age
        if fresh:
            detail = f"answered {int(age.total_seconds())} s ago"
        else:
            detail = f"no answer for {int(age.total_seconds() // 60)} min (limit {minutes} min)"
            if error:
                detail += f"; last error: {error}"
        checks[s] = {"ok": fresh, "detail": detail, "last_ok": ok_at.isoformat()}
    for s in SYSTEMS:
        _circuit(checks[s], circuits[s], now)
    checks["flows"] = (
        {"ok": True, "detail": "no flow parked"} if not parked else
        {"ok": False, "parked": parked,
         "detail": (f"parked by the Centra schema check: {', '.join(parked)} (see the open "
                    "CENTRA_SCHEMA_MISMATCH exception)")})
    return Readiness(checks)


def _circuit(check: dict[str, Any], st: SystemState, now: datetime) -> None:
    """The outage circuit (``seamline.queue.circuit``) on the system's check: while it is open
    the system is down whatever the last ping said, and the jobs that need it wait."""
    check["circuit"] = "open" if st.down else "closed"
    if st.down and st.down_since is not None:
        minutes = int((now - st.down_since).total_seconds() // 60)
        probe = (f"; next probe {st.probe_at.isoformat(timespec='seconds')}"
                 if st.probe_at is not None else "")
        check["ok"] = False
        check["detail"] = (f"down for {minutes} min (the outage circuit is open: the jobs that "
                           f"need it wait and resume by themselves{probe}); last error: "
                           f"{st.last_error}")
        check["down_since"] = st.down_since.isoformat()


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def ping(ctx: JobContext, store: Store, probes: Mapping[str, Callable[[], object]],
         clock: Callable[[], datetime] | None = None) -> dict[str, str | None]:
    """Call each system's probe once and record the outcome; returns ``{system: error}``."""
    outcome: dict[str, str | None] = {}
    for system, probe in probes.items():
        try:
            probe()
        except Exception as exc:  # any failure is the system's state, recorded
            message = exc.message if isinstance(exc, SeamlineError) else str(exc)
            outcome[system] = " ".join(message.split())[:300] or type(exc).__name__
        else:
            outcome[system] = None
    now = (clock or utcnow)()
    with store.for_job(ctx) as uow:
        for system, error in outcome.items():
            rec = _read(uow.cursors.get(_cursor(system)))
            if error is None:
                rec["ok_at"] = now.isoformat()
            else:
                rec["error"] = error
                rec["error_at"] = now.isoformat()
            uow.cursors.set(_cursor(system), json.dumps(rec, sort_keys=True), now=now)
    return outcome


def register_health_tasks(registry: TaskRegistry, store: Store,
                          probes: Callable[[], Mapping[str, Callable[[], object]]],
                          clock: Callable[[], datetime] | None = None) -> None:
    """Register ``health.ping`` (one small read of each system, recorded) on the intake queue."""

    def task(ctx: JobContext, args: dict[str, Any]) -> None:
        failed = {s: e for s, e in ping(ctx, store, probes(), clock).items() if e}
        if failed:
            ctx.log.warning("a system did not answer the health ping", **failed)

    registry.register("health.ping", task, queue="intake")
