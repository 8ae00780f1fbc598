"""The dashboard service: each page's figures, shaped for people (local times without
microseconds, readable history), and the actions, with the signed-in person as the actor."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from seamline.clock import utcnow
from seamline.config import Settings
from seamline.domain.dashboard import (
    AGE_BUCKETS,
    ExceptionFilter,
    ExceptionRow,
    JobLine,
    TraceLine,
    age_bucket,
)
from seamline.domain.exception_records import ExceptionRecord
from seamline.exceptions import OWNERS, SeamlineError
from seamline.queue.circuit import SystemState
from seamline.redaction import is_secret_key
from seamline.services.dashboard.flows import FLOWS, Flow
from seamline.services.dashboard.reads import DashboardReads, NoReports, ReconciliationProvider
from seamline.services.exceptions import (
    ExceptionService,
    RetryOutcome,
    parse_payload,
)
from seamline.services.unit_of_work import Store

__all__ = ["BULK_MAX", "DashboardService", "Page", "readable"]

#: The most exceptions one bulk retry re-queues (the filtered set is narrowed beyond that).
BULK_MAX = 1000
#: Outcomes counted for a flow's failure rate: jobs that ended in this window.
RATE_WINDOW = timedelta(hours=24)
SYSTEMS = ("centra", "bluecherry")
POLL_CURSOR = "centra.orders.updated_at"
REDACTED = "***"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list."""

    rows: Sequence[Any]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


@dataclass(frozen=True, slots=True)
class FlowHealth:
    name: str
    label: str
    last_success: str
    lag: str
    backlog: int
    waiting: list[tuple[str, int, str]]
    failed: int
    failure_rate: str
    status: str


@dataclass(frozen=True, slots=True)
class SystemStatus:
    name: str
    reachable: str
    circuit: str
    last_ok: str
    last_error: str
    ok: bool


@dataclass
class BulkOutcome:
    matched: int = 0
    retried: int = 0
    orders: int = 0
    jobs: int = 0
    skipped: list[str] = field(default_factory=list)


def readable(value: Any) -> str:
    """A value as a person reads it: text as is, structures as indented JSON."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return json.dumps(value)
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(str(k)) and v not in (None, "", [], {})
                    else _redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def _span(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86_400} d {s % 86_400 // 3600} h"


class DashboardService:
    """What the dashboard's pages read and do."""

    def __init__(self, reads: DashboardReads, store: Store, exceptions: ExceptionService,
                 settings: Settings, *,
                 reconciliation: ReconciliationProvider | None = None,
                 clock: Callable[[], datetime] | None = None,
                 flows: Sequence[Flow] = FLOWS) -> None:
        self.reads = reads
        self.store = store
        self.exceptions = exceptions
        self.settings = settings
        self.reconciliation = reconciliation or NoReports()
        self.clock = clock or utcnow
        self.flows = tuple(flows)
        self.tz = ZoneInfo(settings.web.display_timezone)

    # -- formatting --------------------------------------------------------------------------

    def local(self, value: datetime | str | None) -> str:
        """A time in the display zone, to the second, with the zone's abbreviation."""
        if value is None or value == "":
            return "–"
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return value
            value = parsed
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S %Z")

    def ago(self, value: datetime | None) -> str:
        if value is None:
            return "–"
        return _span((self.clock() - value).total_seconds()) + " ago"

    # -- overview ----------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        now = self.clock()
        figures = {f.queue: f for f in self.reads.queue_figures(
            since=now - RATE_WINDOW, now=now,
            queues=sorted({q for flow in self.flows for q in flow.queues}))}
        flows = [self._flow(flow, figures, now) for flow in self.flows]
        known = {q for flow in self.flows for q in flow.queues}
        other = sorted(q for q in figures if q not in known)
        if other:
            flows.append(self._flow(Flow("other", "Other queues", tuple(other)), figures, now))
        by_owner: dict[str, dict[str, int]] = {o: dict.fromkeys(
            (label for _, label in AGE_BUCKETS), 0) for o in OWNERS}
        held_total = 0
        oldest: datetime | None = None
        for owner, first_seen, held in self.reads.open_exception_ages():
            bucket = age_bucket((now - first_seen).total_seconds() / 3600)
            by_owner.setdefault(owner, dict.fromkeys((lb for _, lb in AGE_BUCKETS), 0))
            by_owner[owner][bucket] += 1
            held_total += held
            oldest = first_seen if oldest is None or first_seen < oldest else oldest
        with self.store.read() as uow:
            raw = {s: (uow.cursors.get(f"health:{s}"), uow.cursors.get(f"outage:{s}"))
                   for s in SYSTEMS}
            poll = uow.cursors.get(POLL_CURSOR)
        return {
            "now": self.local(now),
            "flows": flows,
            "exceptions": by_owner,
            "buckets": [label for _, label in AGE_BUCKETS],
            "open_total": sum(sum(b.values()) for b in by_owner.values()),
            "held_total": held_total,
            "oldest_exception": self.ago(oldest),
            "systems": [self._system(s, *raw[s], now) for s in SYSTEMS],
            "last_poll": self.local(poll) if poll else "never",
        }

    def _flow(self, flow: Flow, figures: Mapping[str, Any], now: datetime) -> FlowHealth:
        qs = [figures[q] for q in flow.queues if q in figures]
        todo = sum(q.todo + q.doing for q in qs)
        failed = sum(q.failed for q in qs)
        ok_recent = sum(q.succeeded_recent for q in qs)
        bad_recent = sum(q.failed_recent for q in qs)
        last = max((q.last_success for q in qs if q.last_success), default=None)
        due = min((q.oldest_due for q in qs if q.oldest_due), default=None)
        waiting: list[tuple[str, int, str]] = []
        if flow.ledger_kind is not None:
            states = {s.state: s for s in self.reads.ledger_states(
                flow.ledger_kind, [state for state, _ in flow.waiting])}
            for state, label in flow.waiting:
                s = states.get(state)
                if s is not None and s.count:
                    waiting.append((label, s.count, self.ago(s.oldest)))
        backlog = todo + sum(n for _, n, _ in waiting)
        ended = ok_recent + bad_recent
        rate = f"{100 * bad_recent / ended:.1f}% of {ended}" if ended else "no jobs ended"
        status = "failing" if failed or bad_recent else ("behind" if due is not None and (
            now - due) > timedelta(minutes=15) else "ok")
        return FlowHealth(flow.name, flow.label,
                          f"{self.local(last)} ({self.ago(last)})" if last else "never",
                          _span((now - due).total_seconds()) if due else "none",
                          backlog, waiting, failed, rate, status)

    def _system(self, name: str, health: str | None, outage: str | None,
                now: datetime) -> SystemStatus:
        try:
            rec = json.loads(health) if health else {}
        except ValueError:
            rec = {}
        rec = rec if isinstance(rec, dict) else {}
        circuit = SystemState.from_json(name, outage)
        ok_at = rec.get("ok_at")
        fresh = False
        if isinstance(ok_at, str):
            try:
                age = now - datetime.fromisoformat(ok_at)
                fresh = age <= timedelta(minutes=self.settings.web.ready_max_age_min)
            except ValueError:
                ok_at = None
        if circuit.down:
            state = f"open: down since {self.local(circuit.down_since)}; next probe " + (
                self.local(circuit.probe_at) if circuit.probe_at else "soon")
        elif circuit.failures:
            state = f"closed; {circuit.failures} failure(s) in a row"
        else:
            state = "closed"
        reachable = ("down" if circuit.down else "answering" if fresh
                     else "no recent answer" if ok_at else "not checked yet")
        return SystemStatus(name, reachable, state, self.local(ok_at) if ok_at else "never",
                            circuit.last_error or str(rec.get("error") or ""),
                            fresh and not circuit.down)

    # -- exceptions --------------------------------------------------------------------------

    def owners(self) -> tuple[str, ...]:
        return OWNERS

    def exception_types(self) -> list[str]:
        return self.reads.exception_types()

    def exceptions_page(self, f: ExceptionFilter, page: int) -> Page:
        size = self.settings.web.page_size
        page = max(1, page)
        rows, total = self.reads.find_exceptions(f, now=self.clock(), offset=(page - 1) * size,
                                                 limit=size)
        return Page(rows, total, page, size)

    def exception(self, exception_id: int) -> dict[str, Any] | None:
        record = self.exceptions.get(exception_id)
        if record is None:
            return None
        jobs = self.reads.jobs([record.job_id]) if record.job_id is not None else []
        payload = self.exceptions.editable_payload(exception_id)
        return {"record": record, "history": self.history(record), "jobs": jobs,
                "details": readable(record.details), "payload": readable(record.payload),
                "editable": (json.dumps(payload, indent=2, sort_keys=True)
                             if payload is not None else None),
                "first_seen": self.local(record.first_seen),
                "last_seen": self.local(record.last_seen),
                "resolved_at": self.local(record.resolved_at)}

    def history(self, record: ExceptionRecord) -> list[dict[str, Any]]:
        return [{"at": self.local(h.at), "action": h.action, "actor": h.actor, "note": h.note,
                 "detail": [(k, readable(v)) for k, v in sorted((h.detail or {}).items())]}
                for h in record.history]

    def retry(self, exception_id: int, *, actor: str) -> RetryOutcome:
        outcome = self.exceptions.retry_all(exception_id, actor=actor)
        if not outcome.queued:
            raise SeamlineError(
                f"exception {exception_id} has no failed job and holds no order to queue "
                "again; fix the cause, then resolve it with a note")
        return outcome

    def edit_and_retry(self, exception_id: int, text: str, *, actor: str) -> RetryOutcome:
        return self.exceptions.edit_and_retry(exception_id, parse_payload(text), actor=actor)

    def skip(self, exception_id: int, *, actor: str, note: str) -> None:
        self.exceptions.skip(exception_id, actor=actor, note=note)

    def resolve(self, exception_id: int, *, actor: str, note: str) -> None:
        if not note.strip():
            raise SeamlineError("say how it was resolved: a note is required")
        self.exceptions.resolve(exception_id, actor=actor, note=note.strip())

    def bulk_retry(self, f: ExceptionFilter, *, actor: str) -> BulkOutcome:
        """Retry every open exception the filter matches (at most ``BULK_MAX``), one unit of
        work each, so one that cannot be retried does not stop the others."""
        f = ExceptionFilter(state="open", owner=f.owner, type=f.type,
                            older_than_h=f.older_than_h, q=f.q)
        ids = self.reads.exception_ids(f, now=self.clock(), limit=BULK_MAX)
        out = BulkOutcome(matched=len(ids))
        for exception_id in ids:
            try:
                outcome = self.exceptions.retry_all(exception_id, actor=actor)
            except SeamlineError as exc:
                out.skipped.append(f"{exception_id}: {exc.message}")
                continue
            if outcome.queued:
                out.retried += 1
                out.orders += len(outcome.orders)
                out.jobs += outcome.job_id is not None
            else:
                out.skipped.append(f"{exception_id}: nothing to queue")
        return out

    # -- one order ---------------------------------------------------------------------------

    def order_trace(self, number: int) -> dict[str, Any] | None:
        """The order's story from the ledger, its jobs and their attempts, the audit log, its
        exceptions and its shipments, on one time line."""
        key = f"order:{number}"
        with self.store.read() as uow:
            row = uow.orders.get(number)
            audit = uow.audit.for_entity("order", str(number))
        parks = row.data.parks if row is not None else []
        jobs = self.reads.order_jobs(key)
        excs = self.reads.order_exceptions(key, str(number), parks)
        shipments = self.reads.shipments_for(number)
        if row is None and not jobs and not excs:
            return None
        data: dict[str, Any] = row.raw if row is not None else {}
        lines = [*_ledger_lines(data), *_audit_lines(audit), *_job_lines(jobs),
                 *self._exception_lines(excs), *_shipment_lines(shipments)]
        lines.sort(key=lambda t: t.at)
        found = data.get("snapshot")
        snapshot: dict[str, Any] = found if isinstance(found, dict) else {}
        return {
            "number": number,
            "state": row.state.value if row is not None else "not in the ledger",
            "reason": data.get("reason") if row is not None and not row.state.is_done
            else None,
            "order_no": data.get("order_no"),
            "summary": [(k, self.local(v) if k == "created_at" else readable(v))
                        for k in ("status", "market", "currency", "store", "shipping_option",
                                  "created_at")
                        if (v := snapshot.get(k)) is not None],
            "timeline": [{"at": self.local(t.at), "source": t.source, "what": t.what,
                          "actor": t.actor,
                          "detail": [(k, readable(v)) for k, v in sorted((t.detail or {}).items())
                                     if not is_secret_key(str(k))]} for t in lines],
            "jobs": jobs, "exceptions": excs, "shipments": shipments,
            "frozen": readable(data.get("frozen")) if data.get("frozen") else None,
        }

    def _exception_lines(self, excs: Sequence[ExceptionRow]) -> list[TraceLine]:
        lines = []
        for e in excs:
            record = self.exceptions.get(e.id)
            history = record.history if record is not None else ()
            if not history:
                lines.append(TraceLine(e.first_seen, f"exception {e.id}",
                                       f"{e.type} opened ({e.owner})",
                                       detail={"message": e.message}))
            for h in history:
                what = (f"{e.type} {h.action} ({e.owner})" if h.action == "opened"
                        else f"{e.type} {h.action}")
                lines.append(TraceLine(h.at, f"exception {e.id}", what, h.actor,
                                       {"note": h.note} if h.note else None))
        return lines

    def waiting_orders(self, state: str, page: int) -> dict[str, Any]:
        """One page of the orders in a waiting state (longest waiting first), and each
        waiting state with how many orders are in it."""
        flow = next(f for f in self.flows if f.name == "orders")
        labels = dict(flow.waiting)
        counts = {s.state: s.count for s in self.reads.ledger_states("order", list(labels))}
        state = state if state in labels else "parked"
        size = self.settings.web.page_size
        page = max(1, page)
        rows, total = self.reads.ledger_page("order", state, offset=(page - 1) * size,
                                             limit=size)
        return {"state": state, "label": labels[state],
                "states": [(s, label, counts.get(s, 0)) for s, label in flow.waiting],
                "page": Page(rows, total, page, size),
                "rows": [{"number": r.key, "since": self.local(r.updated_at),
                          "waited": self.ago(r.updated_at), "reason": r.reason or "–"}
                         for r in rows]}

    def job_times(self, jobs: Sequence[JobLine]) -> list[dict[str, Any]]:
        return [{"job": j, "created": self.local(j.created_at),
                 "updated": self.local(j.updated_at)} for j in jobs]

    def exception_times(self, rows: Sequence[ExceptionRow]) -> list[dict[str, Any]]:
        now = self.clock()
        return [{"e": r, "first_seen": self.local(r.first_seen),
                 "last_seen": self.local(r.last_seen),
                 "age": _span((now - r.first_seen).total_seconds())} for r in rows]

    # -- stock, configuration, reconciliation -------------------------------------------------

    def stock(self) -> dict[str, Any]:
        from seamline.services.stock.watch import last_run  # noqa: PLC0415 - page only

        with self.store.read() as uow:
            summary = uow.stock.summary()
            last: dict[str, Any] = last_run(uow) or {}
        finished = _when(last.get("finished_at"))
        cycles = dict(last.get("cycles") or {}) if isinstance(last.get("cycles"), dict) else {}
        s = self.settings.stock
        return {
            "summary": summary,
            "last": last,
            "finished": (f"{self.local(finished)} ({self.ago(finished)})" if finished
                         else "never"),
            "cycles": sorted(cycles.items()),
            "lag": (_span(float(last["last_lag_s"])) if last.get("last_lag_s") is not None
                    else "–"),
            "published": self.local(last.get("cycle_published_at")),
            "buffers": [{"warehouse": b.warehouse if b.warehouse is not None else "any",
                         "sku": b.sku or "any", "units": b.units} for b in s.buffers],
            "default_buffer": s.default_buffer,
            "warehouses": sorted(self.settings.warehouses.items()),
            "enabled": s.enabled,
        }

    def configuration(self) -> str:
        """The settings as JSON with every secret (and every password hash) replaced."""
        raw = self.settings.model_dump(mode="json")
        return json.dumps(_redact(raw), indent=2, sort_keys=True)

    def reports(self) -> Sequence[Any]:
        return self.reconciliation.list_reports()

    def report(self, day: Any, market: str) -> str | None:
        return self.reconciliation.render_html(day, market)


#: The ledger's milestones of an order, in the order they happen.
_MILESTONES = (("first_seen", "received from Centra"), ("eligible_at", "eligible for posting"),
               ("posted_at", "posted to BlueCherry"),
               ("erp_created_at", "acknowledged by BlueCherry"),
               ("written_back_at", "written back to Centra"))


def _ledger_lines(data: Mapping[str, Any]) -> list[TraceLine]:
    lines = []
    for name, what in _MILESTONES:
        at = _when(data.get(name))
        if at is not None:
            detail = ({"BlueCherry order": data.get("order_no"), "how": data.get("posted_how")}
                      if name == "posted_at" else None)
            lines.append(TraceLine(at, "ledger", what, detail=detail))
    return lines


def _audit_lines(audit: Sequence[Mapping[str, Any]]) -> list[TraceLine]:
    out = []
    for a in audit:
        at = _when(a.get("at"))
        detail = a.get("detail")
        if at is not None:
            out.append(TraceLine(at, "audit", str(a.get("action")), str(a.get("actor")),
                                 detail if isinstance(detail, dict) else None))
    return out


def _job_lines(jobs: Sequence[JobLine]) -> list[TraceLine]:
    lines = []
    for j in jobs:
        where = f"job {j.id} {j.task}"
        lines.append(TraceLine(j.created_at, where, "queued"))
        lines.extend(TraceLine(e.at, where, e.what, e.actor, e.detail) for e in j.events)
        if j.status in ("succeeded", "failed", "cancelled"):
            lines.append(TraceLine(j.updated_at, where, f"{j.status} after {j.attempts} "
                                   "attempt(s)",
                                   detail={"error": j.last_error} if j.last_error else None))
    return lines


def _shipment_lines(shipments: Sequence[Mapping[str, Any]]) -> list[TraceLine]:
    return [TraceLine(s["updated_at"], "shipment", f"shipment {s['shipment']}: {s['state']}")
            for s in shipments if s.get("updated_at") is not None]


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            out = datetime.fromisoformat(value)
        except ValueError:
            return None
        return out if out.tzinfo else out.replace(tzinfo=UTC)
    return None
