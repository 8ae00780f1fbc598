"""The unit of work in memory, and a job runner over it: the service tests need no database.

``InMemoryStore`` keeps the ledger, cursors, audit log, exceptions (with their history and the
orders they hold) and the outbox's jobs in dictionaries. A write unit of work runs alone (one
lock, like SQLite's single writer) and is rolled back when its block raises. ``InMemoryWorker``
runs the registered handlers of due jobs as the queue's worker does: success completes the job
and resolves the open exceptions of its business key; failure goes through the same
``RetryPolicy`` (retry, release, or give up into an exception).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from seamline.domain.alerts import Alert, AlertDelivery
from seamline.domain.exception_records import ExceptionRecord, HistoryEntry
from seamline.domain.ledger import KEEP, Hold, LedgerEntry, OrderRecord, OrderState
from seamline.exceptions import OWNERS, SeamlineError
from seamline.logging import get_logger
from seamline.queue.models import Job, JobStatus
from seamline.queue.policy import RetryPolicy, describe_error
from seamline.queue.registry import TaskRegistry
from seamline.testing.payments import InMemoryPayments, PaymentsState
from seamline.testing.stock import InMemoryStock, StockState

__all__ = ["InMemoryStore", "InMemoryUnitOfWork", "InMemoryWorker"]

_SECRETS = ("token", "api_key", "apikey", "authorization", "password", "passwd", "secret",
            "cookie", "credential", "private_key")


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _scrub(v) for k, v in value.items()
                if not any(w in str(k).lower().replace("-", "_") for w in _SECRETS)}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _State:
    ledger: dict[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    exceptions: dict[int, dict[str, Any]] = field(default_factory=dict)
    history: dict[int, list[HistoryEntry]] = field(default_factory=dict)
    holds: dict[tuple[int, str], datetime] = field(default_factory=dict)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    stock: StockState = field(default_factory=StockState)
    payments: PaymentsState = field(default_factory=PaymentsState)
    alerts: dict[int, AlertDelivery] = field(default_factory=dict)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def __deepcopy__(self, memo: dict[int, Any]) -> _State:
        # Ledger entries and history entries are frozen: copying their containers is enough
        # (a long run's exception history would otherwise be copied whole by every unit of
        # work). Exceptions, holds and jobs are mutable dicts: copied deeply.
        return _State(
            ledger=dict(self.ledger), cursors=dict(self.cursors),
            audit=[dict(a) for a in self.audit],
            exceptions=copy.deepcopy(self.exceptions, memo),
            history={k: list(v) for k, v in self.history.items()},
            holds=dict(self.holds), jobs=copy.deepcopy(self.jobs, memo),
            stock=copy.deepcopy(self.stock, memo),
            payments=copy.deepcopy(self.payments, memo), alerts=dict(self.alerts),
            next_id=self.next_id)


class _Orders:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self.ledger = uow.ledger

    def get(self, number: int, *, for_update: bool = False) -> OrderRecord | None:
        e = self.ledger.get("order", str(number))
        return None if e is None else OrderRecord.from_entry(e)

    def get_many(self, numbers: Iterable[int], *,
                 for_update: bool = False) -> dict[int, OrderRecord]:
        found = (self.get(n) for n in numbers)
        return {r.number: r for r in found if r is not None}

    def save(self, number: int, *, state: OrderState, data: Mapping[str, Any], now: datetime,
             posted_hash: str | None = KEEP) -> OrderRecord:
        return OrderRecord.from_entry(self.ledger.save(
            "order", str(number), state=state.value, data=data, now=now,
            posted_hash=posted_hash))

    def mark(self, numbers: Iterable[int], patch: Mapping[str, Any], *, state: OrderState,
             now: datetime) -> int:
        n = 0
        for number in numbers:
            e = self.ledger.get("order", str(number))
            if e is not None:
                self.ledger.save("order", e.business_key, state=state.value,
                                 data={**e.data, **patch}, now=now)
                n += 1
        return n

    def in_state(self, state: OrderState, *, limit: int | None = None) -> list[OrderRecord]:
        rows = [OrderRecord.from_entry(e) for e in self.ledger.in_state("order", state.value)]
        return rows if limit is None else rows[:limit]

    def count_by_state(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (kind, _), e in self.ledger.s.ledger.items():
            if kind == "order":
                out[e.state] = out.get(e.state, 0) + 1
        return out


class _Ledger:
    def __init__(self, s: _State) -> None:
        self.s = s

    def get(self, kind: str, key: str, *, for_update: bool = False) -> LedgerEntry | None:
        e = self.s.ledger.get((kind, key))
        return None if e is None else copy.deepcopy(e)

    def save(self, kind: str, key: str, *, state: str, data: Mapping[str, Any], now: datetime,
             posted_hash: Any = KEEP) -> LedgerEntry:
        old = self.s.ledger.get((kind, key))
        kept = (old.posted_hash if old is not None else None) if posted_hash is KEEP \
            else posted_hash
        e = LedgerEntry(
            id=old.id if old is not None else self.s.new_id(), kind=kind, business_key=key,
            state=state, version=old.version + 1 if old is not None else 1,
            data=copy.deepcopy(dict(data)), posted_hash=kept,
            created_at=old.created_at if old is not None else now, updated_at=now)
        self.s.ledger[(kind, key)] = e
        return copy.deepcopy(e)

    def in_state(self, kind: str, state: str) -> list[LedgerEntry]:
        return sorted((copy.deepcopy(e) for (k, _), e in self.s.ledger.items()
                       if k == kind and e.state == state), key=lambda e: e.id)

    def page(self, kind: str, *, after_id: int, limit: int) -> list[LedgerEntry]:
        found = sorted((e for (k, _), e in self.s.ledger.items()
                        if k == kind and e.id > after_id), key=lambda e: e.id)
        return [copy.deepcopy(e) for e in found[:limit]]


class _Cursors:
    def __init__(self, s: _State) -> None:
        self.s = s

    def get(self, name: str) -> str | None:
        return self.s.cursors.get(name)

    def set(self, name: str, value: str, *, now: datetime | None = None) -> None:
        self.s.cursors[name] = value

    def lock(self, name: str) -> None:
        """Write units of work already run one at a time."""


class _Audit:
    def __init__(self, s: _State) -> None:
        self.s = s

    def append(self, kind: str, key: str, action: str, actor: str,
               detail: Mapping[str, Any] | None = None, *,
               now: datetime | None = None) -> None:
        self.s.audit.append({"kind": kind, "key": key, "at": now or _utcnow(),
                             "action": action, "actor": actor,
                             "detail": dict(detail) if detail is not None else None})

    def for_entity(self, kind: str, key: str) -> list[dict[str, Any]]:
        return [{k: a[k] for k in ("at", "action", "actor", "detail")}
                for a in self.s.audit if a["kind"] == kind and a["key"] == key]


class _Exceptions:
    def __init__(self, s: _State) -> None:
        self.s = s

    def _hist(self, i: int, action: str, actor: str, note: str, *, now: datetime,
              detail: Mapping[str, Any] | None = None) -> None:
        self.s.history.setdefault(i, []).append(HistoryEntry(
            now, action, actor, note, dict(detail) if detail is not None else None))

    def raise_(self, *, type: str, owner: str, business_key: str, message: str,
               severity: str = "error", details: Mapping[str, Any] | None = None,
               payload: Mapping[str, Any] | None = None, job_id: int | None = None,
               attempts: int = 0, now: datetime | None = None) -> int:
        if owner not in OWNERS:
            raise ValueError(f"unknown owner {owner!r}; one of {', '.join(OWNERS)}")
        now = now or _utcnow()
        fields = {"message": message, "owner": owner, "severity": severity,
                  "details": _scrub(dict(details)) if details is not None else None,
                  "payload": _scrub(dict(payload)) if payload is not None else None,
                  "attempts": attempts, "last_seen": now}
        for i, e in self.s.exceptions.items():
            if (e["type"], e["business_key"], e["state"]) == (type, business_key, "open"):
                e.update(fields, count=e["count"] + 1,
                         job_id=job_id if job_id is not None else e["job_id"])
                self._hist(i, "repeated", "system", message, now=now)
                return i
        i = self.s.new_id()
        self.s.exceptions[i] = {
            "id": i, "type": type, "business_key": business_key, "state": "open", "count": 1,
            "job_id": job_id, "first_seen": now, "resolved_at": None, "resolved_by": None,
            "resolution": None, **fields}
        self._hist(i, "opened", "system", message, now=now)
        return i

    def resolve_for_key(self, business_key: str, *, types: Iterable[str] | None = None,
                        actor: str = "system", note: str = "",
                        now: datetime | None = None) -> list[int]:
        wanted = None if types is None else set(types)
        ids = [i for i, e in self.s.exceptions.items()
               if e["business_key"] == business_key and e["state"] == "open"
               and (wanted is None or e["type"] in wanted)]
        return self.resolve_ids(ids, actor=actor, note=note, now=now)

    def resolve_ids(self, ids: Iterable[int], *, actor: str = "system", note: str = "",
                    now: datetime | None = None) -> list[int]:
        now = now or _utcnow()
        done = sorted(i for i in set(ids) if self.s.exceptions.get(i, {}).get("state") == "open")
        for i in done:
            self.s.exceptions[i].update(state="resolved", resolved_at=now, resolved_by=actor,
                                        resolution=note or "resolved automatically")
            self._hist(i, "resolved", actor, note or "resolved automatically", now=now)
        return done

    def close(self, exception_id: int, *, state: str, actor: str, note: str,
              now: datetime) -> ExceptionRecord:
        e = self.s.exceptions.get(exception_id)
        if e is None:
            raise SeamlineError(f"exception {exception_id} does not exist")
        if e["state"] != "open":
            raise SeamlineError(f"exception {exception_id} is already {e['state']}")
        e.update(state=state, resolved_at=now, resolved_by=actor, resolution=note)
        action = "skipped" if state == "skipped" else "resolved"
        self._hist(exception_id, action, actor, note, now=now)
        _Audit(self.s).append("exception", e["business_key"], action, actor,
                              {"exception_id": exception_id, "type": e["type"], "note": note},
                              now=now)
        found = self.get(exception_id)
        assert found is not None
        return found

    def note(self, exception_id: int, action: str, actor: str, note: str, *,
             detail: Mapping[str, Any] | None = None, now: datetime) -> None:
        self._hist(exception_id, action, actor, note, now=now, detail=detail)

    def _held(self, i: int) -> list[str]:
        return sorted(k for e, k in self.s.holds if e == i)

    def get(self, exception_id: int) -> ExceptionRecord | None:
        e = self.s.exceptions.get(exception_id)
        if e is None:
            return None
        return ExceptionRecord.from_mapping(e, self.s.history.get(exception_id, ()),
                                            self._held(exception_id))

    def find(self, *, state: str | None = "open", owner: str | None = None,
             type: str | None = None, business_key: str | None = None,
             business_keys: Sequence[str] = (), key_prefix: str | None = None,
             limit: int = 200, newest_first: bool = True,
             with_orders: bool = True) -> list[ExceptionRecord]:
        def keep(e: dict[str, Any]) -> bool:
            key = e["business_key"]
            by_keys = (not business_keys and key_prefix is None) or key in business_keys or (
                key_prefix is not None and key.startswith(key_prefix))
            return by_keys and all(want is None or e[f] == want for f, want in (
                ("state", state), ("owner", owner), ("type", type),
                ("business_key", business_key)))
        found = [e for e in self.s.exceptions.values() if keep(e)]
        found.sort(key=(lambda e: (e["last_seen"], e["id"])) if newest_first
                   else (lambda e: (0, e["id"])), reverse=newest_first)
        return [ExceptionRecord.from_mapping(e, orders=self._held(e["id"]) if with_orders
                                             else ()) for e in found[:limit]]

    def hold_order(self, exception_id: int, order_key: str, *,
                   now: datetime | None = None) -> bool:
        if (exception_id, order_key) in self.s.holds:
            return False
        self.s.holds[(exception_id, order_key)] = now or _utcnow()
        return True

    def release_order(self, order_key: str, *, keep: Iterable[int] = ()) -> list[int]:
        kept = set(keep)
        leaving = [e for e, k in self.s.holds if k == order_key and e not in kept]
        for e in leaving:
            del self.s.holds[(e, order_key)]
        still = {e for e, _ in self.s.holds}
        return sorted(e for e in set(leaving) if e not in still
                      and self.s.exceptions[e]["state"] == "open")

    def lock_open(self, business_keys: Iterable[str] | None, *,
                  types: Iterable[str] | None = None) -> list[tuple[int, str, str]]:
        keys = None if business_keys is None else set(business_keys)
        wanted = None if types is None else set(types)
        return sorted(((i, e["type"], e["business_key"]) for i, e in self.s.exceptions.items()
                       if e["state"] == "open" and (keys is None or e["business_key"] in keys)
                       and (wanted is None or e["type"] in wanted)), key=lambda t: (t[2], t[0]))

    def open_holds(self, *, types: Iterable[str] | None = None) -> list[Hold]:
        wanted = None if types is None else set(types)
        out = [Hold(i, self.s.exceptions[i]["type"], self.s.exceptions[i]["business_key"], k)
               for i, k in self.s.holds if self.s.exceptions[i]["state"] == "open"
               and (wanted is None or self.s.exceptions[i]["type"] in wanted)]
        return sorted(out, key=lambda h: (h.business_key, h.order_key))


class _Alerts:
    def __init__(self, s: _State) -> None:
        self.s = s

    def add(self, alert: Alert, destination: str, destination_hash: str, *,
            now: datetime, status: str = "pending") -> int | None:
        if any(d.key == alert.key and d.destination_hash == destination_hash
               for d in self.s.alerts.values()):
            return None
        i = self.s.new_id()
        self.s.alerts[i] = AlertDelivery(
            id=i, key=alert.key, owner=alert.owner, kind=alert.kind,
            destination=destination[:512], destination_hash=destination_hash,
            title=alert.title, body=alert.body, status=status, attempts=0, created_at=now)
        return i

    def has(self, keys: Iterable[str]) -> set[str]:
        wanted = set(keys)
        return {d.key for d in self.s.alerts.values() if d.key in wanted}

    def get(self, delivery_id: int) -> AlertDelivery | None:
        return self.s.alerts.get(delivery_id)

    def attempted(self, delivery_id: int, *, status: str, error: str = "",
                  now: datetime) -> None:
        d = self.s.alerts.get(delivery_id)
        if d is None:
            return
        self.s.alerts[delivery_id] = replace(
            d, status=status, attempts=d.attempts + 1, last_error=error[:1000],
            sent_at=now if status == "sent" else d.sent_at)

    def recent(self, *, limit: int = 50, owner: str | None = None) -> list[AlertDelivery]:
        rows = sorted((d for d in self.s.alerts.values() if owner is None or d.owner == owner),
                      key=lambda d: -d.id)
        return rows[:limit]

    def counts(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for d in self.s.alerts.values():
            out[(d.kind, d.status)] = out.get((d.kind, d.status), 0) + 1
        return out


class _Outbox:
    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.s = store.state

    def enqueue(self, task: str, args: Mapping[str, Any], *, queue: str | None = None,
                dedupe_key: str | None = None, business_key: str | None = None) -> int | None:
        if dedupe_key is not None and any(
                j["dedupe_key"] == dedupe_key and j["status"] in ("todo", "doing")
                for j in self.s.jobs.values()):
            return None
        spec = self.store.registry.find(task) if self.store.registry is not None else None
        now = self.store.clock()
        i = self.s.new_id()
        self.s.jobs[i] = {
            "id": i, "queue": queue or (spec.queue if spec else "default"), "task": task,
            "args": copy.deepcopy(dict(args)), "status": "todo", "priority": 0,
            "dedupe_key": dedupe_key, "business_key": business_key, "attempts": 0,
            "max_attempts": (spec.max_attempts if spec else None)
            or self.store.policy.max_attempts,
            "run_at": now, "created_at": now, "updated_at": now, "lease_token": None,
            "lease_expires_at": None, "worker_id": None, "last_error": None}
        return i

    def requeue(self, job_id: int, *, now: datetime | None = None) -> bool:
        j = self.s.jobs.get(job_id)
        if j is None or j["status"] not in ("failed", "cancelled"):
            return False
        if j["dedupe_key"] is not None and any(
                o["dedupe_key"] == j["dedupe_key"] and o["status"] in ("todo", "doing")
                for o in self.s.jobs.values()):
            return False
        j.update(status="todo", attempts=0, run_at=now or self.store.clock())
        return True

    def next_due(self, queues: Sequence[str]) -> datetime | None:
        due = [j["run_at"] for j in self.s.jobs.values()
               if j["queue"] in queues and j["status"] in ("todo", "doing")]
        return min(due) if due else None

    def jobs_for(self, business_key: str, dedupe_keys: Sequence[str]) -> list[Job]:
        return [Job.from_row(j) for j in sorted(self.s.jobs.values(), key=lambda j: j["id"])
                if j["business_key"] == business_key or j["dedupe_key"] in dedupe_keys]


class InMemoryUnitOfWork:
    """The repositories over the store's state (inside one unit of work)."""

    def __init__(self, store: InMemoryStore) -> None:
        s = store.state
        self.ledger = _Ledger(s)
        self.orders = _Orders(self)
        self.exceptions = _Exceptions(s)
        self.cursors = _Cursors(s)
        self.audit = _Audit(s)
        self.outbox = _Outbox(store)
        self.stock = InMemoryStock(s.stock)
        self.payments = InMemoryPayments(s.payments)
        self.alerts = _Alerts(s)


class InMemoryStore:
    """Units of work in memory; see the module docstring."""

    def __init__(self, *, clock: Callable[[], datetime] | None = None,
                 registry: TaskRegistry | None = None,
                 policy: RetryPolicy | None = None) -> None:
        self.state = _State()
        self.clock = clock or _utcnow
        self.registry = registry
        self.policy = policy or RetryPolicy()
        self._lock = threading.RLock()

    @contextmanager
    def begin(self) -> Iterator[InMemoryUnitOfWork]:
        with self._lock:
            saved = copy.deepcopy(self.state)
            try:
                yield InMemoryUnitOfWork(self)
            except BaseException:
                self.state.__dict__.update(saved.__dict__)
                raise

    @contextmanager
    def read(self) -> Iterator[InMemoryUnitOfWork]:
        with self._lock:
            yield InMemoryUnitOfWork(self)

    @contextmanager
    def for_job(self, ctx: Any, *, complete: bool = False) -> Iterator[InMemoryUnitOfWork]:
        with self.begin() as uow:
            job = self.state.jobs.get(ctx.job.id)
            if job is None or job["status"] != "doing":
                raise SeamlineError(f"job {ctx.job.id} is not running")
            yield uow
            if complete:
                _complete(uow, job)
        if complete:
            ctx.completed = True


def _complete(uow: InMemoryUnitOfWork, job: dict[str, Any]) -> None:
    job["status"] = "succeeded"
    if job["business_key"]:
        uow.exceptions.resolve_for_key(
            job["business_key"], actor=f"job:{job['id']}",
            note=f"job {job['id']} ({job['task']}) succeeded")


@dataclass
class _Context:
    job: Job
    log: Any
    completed: bool = False

    def heartbeat(self) -> bool:
        return True


class InMemoryWorker:
    """Runs due jobs of an ``InMemoryStore`` with the registered handlers, one at a time."""

    def __init__(self, store: InMemoryStore, registry: TaskRegistry) -> None:
        self.store = store
        self.registry = registry
        self.log = get_logger("seamline.testing.worker")

    def drain(self) -> int:
        """Run until nothing is due; returns how many jobs ran."""
        ran = 0
        while (job := self._claim()) is not None:
            self._run(job)
            ran += 1
        return ran

    def _claim(self) -> Job | None:
        with self.store.begin():
            now = self.store.clock()
            due = [j for j in self.store.state.jobs.values()
                   if j["status"] == "todo" and j["run_at"] <= now]
            if not due:
                return None
            j = min(due, key=lambda j: (-j["priority"], j["run_at"], j["id"]))
            j.update(status="doing", attempts=j["attempts"] + 1)
            return Job.from_row(j)

    def _run(self, job: Job) -> None:
        spec = self.registry.get(job.task)
        ctx = _Context(job, self.log.bind(job_id=job.id, task=job.task))
        try:
            spec.handler(ctx, dict(job.args))  # type: ignore[arg-type]
        except Exception as exc:  # the queue's failure path, as the SQL worker's
            self._fail(job, exc, spec.exception_type)
            return
        if not ctx.completed:
            with self.store.begin() as uow:
                _complete(uow, self.store.state.jobs[job.id])

    def _fail(self, job: Job, exc: Exception, exception_type: str | None) -> None:
        now = self.store.clock()
        decision = self.store.policy.decide(job, exc, now, exception_type=exception_type)
        with self.store.begin() as uow:
            row = self.store.state.jobs[job.id]
            row["last_error"] = describe_error(exc)
            if decision.action == "retry":
                row.update(status="todo", run_at=decision.run_at)
            elif decision.action == "release":
                row.update(status="todo", run_at=decision.run_at,
                           attempts=max(row["attempts"] - 1, 0))
            else:
                row["status"] = JobStatus.FAILED.value
                uow.exceptions.raise_(
                    type=decision.exception_type or "INTERNAL_ERROR",
                    owner=decision.owner or "integrator",
                    severity=getattr(exc, "severity", "error"),
                    business_key=(getattr(exc, "exception_key", None) or job.business_key
                                  or f"job:{job.id}"),
                    message=decision.reason,
                    details={"task": job.task, "queue": job.queue, "error": row["last_error"],
                             "error_class": type(exc).__name__},
                    payload=job.args, job_id=job.id, attempts=job.attempts, now=now)
