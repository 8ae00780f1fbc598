"""Exceptions: the work that needs a person, each with a type, an owner and a business key.

One open exception per ``(type, business_key)``: raising it again counts a repeat. States go
``open → resolved | skipped``; every change appends to ``exception_history``. An exception
resolves itself when the job for its business key later succeeds (the queue calls
:func:`resolve_for_key` from ``complete``). Payload snapshots pass through :func:`scrub` so no
token, key or password is ever stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.db import Database
from seamline.adapters.store.repos import (
    audit,
    orders_held,
    requeue_job,
    upsert_insert,
    utcnow,
)
from seamline.adapters.store.schema import exception_history, exceptions
from seamline.exceptions import OWNERS, SeamlineError

__all__ = [
    "ExceptionRecord",
    "ExceptionService",
    "HistoryEntry",
    "raise_exception",
    "resolve_for_key",
    "resolve_ids",
    "scrub",
]

_SECRET_WORDS = (
    "token",
    "api_key",
    "apikey",
    "authorization",
    "password",
    "passwd",
    "secret",
    "cookie",
    "credential",
    "private_key",
)
REDACTED = "***"


def _is_secret(key: str) -> bool:
    low = key.lower().replace("-", "_")
    return any(word in low for word in _SECRET_WORDS)


def scrub(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking key dropped (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items() if not _is_secret(str(k))}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change to an exception."""

    at: datetime
    action: str
    actor: str
    note: str
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """An exception as stored."""

    id: int
    type: str
    owner: str
    severity: str
    business_key: str
    state: str
    count: int
    message: str
    details: dict[str, Any] | None
    payload: dict[str, Any] | None
    job_id: int | None
    attempts: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    history: tuple[HistoryEntry, ...] = field(default=())
    #: The orders the exception holds (parked on it), from the exception–order relation.
    orders: tuple[int | str, ...] = field(default=())

    @classmethod
    def from_row(
        cls, row: Any, history: Iterable[HistoryEntry] = (), orders: Iterable[str] = (),
    ) -> ExceptionRecord:
        m = dict(row._mapping)
        held = tuple(sorted((_order_ref(o) for o in orders), key=_order_sort))
        if held:
            # The list is derived here, never stored: the stored message names the cause.
            m["message"] = f"{m['message']}; {_held_text(held)}"
        return cls(**m, history=tuple(history), orders=held)


def _order_ref(key: str) -> int | str:
    return int(key) if key.isdigit() else key


def _order_sort(ref: int | str) -> tuple[int, int, str]:
    return (0, ref, "") if isinstance(ref, int) else (1, 0, ref)


def _held_text(held: tuple[int | str, ...]) -> str:
    shown = ", ".join(str(n) for n in held[:10]) + (" …" if len(held) > 10 else "")
    return f"{len(held)} order(s) wait: {shown}"


def _history(
    conn: Connection,
    exception_id: int,
    action: str,
    actor: str,
    note: str = "",
    *,
    detail: Mapping[str, Any] | None = None,
    now: datetime,
) -> None:
    conn.execute(
        sa.insert(exception_history).values(
            exception_id=exception_id,
            at=now,
            action=action,
            actor=actor,
            note=note,
            detail=dict(detail) if detail is not None else None,
        )
    )


def raise_exception(
    conn: Connection,
    *,
    type: str,
    owner: str,
    business_key: str,
    message: str,
    severity: str = "error",
    details: Mapping[str, Any] | None = None,
    payload: Mapping[str, Any] | None = None,
    job_id: int | None = None,
    attempts: int = 0,
    now: datetime | None = None,
) -> int:
    """Open an exception, or count a repeat of the open one for ``(type, business_key)``.

    Runs in the caller's transaction. Returns the exception id.
    """
    if owner not in OWNERS:
        raise ValueError(f"unknown owner {owner!r}; one of {', '.join(OWNERS)}")
    now = now or utcnow()
    clean_details = scrub(dict(details)) if details is not None else None
    clean_payload = scrub(dict(payload)) if payload is not None else None
    open_row = sa.and_(
        exceptions.c.type == type,
        exceptions.c.business_key == business_key,
        exceptions.c.state == "open",
    )
    for _ in range(3):
        existing = conn.execute(sa.select(exceptions.c.id).where(open_row)).scalar()
        if existing is not None:
            # ``state = 'open'`` again in the UPDATE: under READ COMMITTED a concurrent resolve
            # may commit between the SELECT and here; the UPDATE then re-checks the row, matches
            # nothing, and the loop opens a new exception instead of counting on a closed one.
            counted = conn.execute(
                sa.update(exceptions)
                .where(exceptions.c.id == existing, exceptions.c.state == "open")
                .values(
                    count=exceptions.c.count + 1,
                    last_seen=now,
                    message=message,
                    details=clean_details,
                    payload=clean_payload,
                    job_id=sa.func.coalesce(job_id, exceptions.c.job_id),
                    attempts=attempts,
                    severity=severity,
                    owner=owner,
                )
            ).rowcount
            if not counted:
                continue
            _history(conn, int(existing), "repeated", "system", message, now=now)
            return int(existing)
        insert = (
            upsert_insert(conn)(exceptions)
            .values(
                type=type,
                owner=owner,
                severity=severity,
                business_key=business_key,
                state="open",
                count=1,
                message=message,
                details=clean_details,
                payload=clean_payload,
                job_id=job_id,
                attempts=attempts,
                first_seen=now,
                last_seen=now,
            )
            .on_conflict_do_nothing()
            .returning(exceptions.c.id)
        )
        new_id = conn.execute(insert).scalar()
        if new_id is not None:
            _history(conn, int(new_id), "opened", "system", message, now=now)
            return int(new_id)
    raise SeamlineError(f"could not record exception {type} for {business_key}")




#: Built once: every job completion asks it (SQLAlchemy reuses the compiled form).
_OPEN_FOR_KEY = sa.select(exceptions.c.id).where(
    exceptions.c.business_key == sa.bindparam("key"), exceptions.c.state == "open")


def resolve_for_key(
    conn: Connection,
    business_key: str,
    *,
    types: Iterable[str] | None = None,
    actor: str = "system",
    note: str = "",
    now: datetime | None = None,
) -> list[int]:
    """Resolve every open exception for ``business_key`` (optionally only ``types``)."""
    if types is None:
        found = conn.execute(_OPEN_FOR_KEY, {"key": business_key})
    else:
        found = conn.execute(sa.select(exceptions.c.id).where(
            exceptions.c.business_key == business_key, exceptions.c.state == "open",
            exceptions.c.type.in_(list(types))))
    ids = [int(i) for i in found.scalars()]
    if not ids:
        return []
    return resolve_ids(conn, ids, actor=actor, note=note, now=now)


def resolve_ids(
    conn: Connection,
    ids: Iterable[int],
    *,
    actor: str = "system",
    note: str = "",
    now: datetime | None = None,
) -> list[int]:
    """Resolve those of exceptions ``ids`` that are still open; returns the ones resolved.

    The UPDATE itself checks ``state = 'open'``, so two resolvers racing (or a person skipping
    while a job resolves) close an exception once, with one history entry.
    """
    ids = sorted(set(ids))
    if not ids:
        return []
    now = now or utcnow()
    ids = sorted(int(i) for i in conn.execute(
        sa.update(exceptions)
        .where(exceptions.c.id.in_(ids), exceptions.c.state == "open")
        .values(
            state="resolved",
            resolved_at=now,
            resolved_by=actor,
            resolution=note or "resolved automatically",
        )
        .returning(exceptions.c.id)
    ).scalars())
    for i in ids:
        _history(conn, i, "resolved", actor, note or "resolved automatically", now=now)
    return ids


class ExceptionService:
    """What people do with exceptions: list, show, retry, skip, resolve."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or utcnow

    def get(self, exception_id: int) -> ExceptionRecord | None:
        """One exception with its history, or None."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(exceptions).where(exceptions.c.id == exception_id)).first()
            if row is None:
                return None
            hist = conn.execute(
                sa.select(exception_history)
                .where(exception_history.c.exception_id == exception_id)
                .order_by(exception_history.c.id)
            ).all()
            held = orders_held(conn, [exception_id]).get(exception_id, [])
        return ExceptionRecord.from_row(
            row, (HistoryEntry(h.at, h.action, h.actor, h.note, h.detail) for h in hist), held
        )

    def list(
        self,
        state: str | None = "open",
        owner: str | None = None,
        type: str | None = None,
        *,
        business_key: str | None = None,
        limit: int = 200,
    ) -> list[ExceptionRecord]:
        """Exceptions, newest first, filtered by state, owner, type and business key."""
        q = sa.select(exceptions).order_by(exceptions.c.last_seen.desc(), exceptions.c.id.desc())
        if state is not None:
            q = q.where(exceptions.c.state == state)
        if owner is not None:
            q = q.where(exceptions.c.owner == owner)
        if type is not None:
            q = q.where(exceptions.c.type == type)
        if business_key is not None:
            q = q.where(exceptions.c.business_key == business_key)
        with self.db.read() as conn:
            rows = conn.execute(q.limit(limit)).all()
            held = orders_held(conn, [int(r.id) for r in rows])
        return [ExceptionRecord.from_row(r, orders=held.get(int(r.id), ())) for r in rows]

    def _close(self, exception_id: int, state: str, actor: str, note: str) -> ExceptionRecord:
        now = self.clock()
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(exceptions.c.state, exceptions.c.business_key, exceptions.c.type).where(
                    exceptions.c.id == exception_id
                )
            ).first()
            if row is None:
                raise SeamlineError(f"exception {exception_id} does not exist")
            if row.state != "open":
                raise SeamlineError(f"exception {exception_id} is already {row.state}")
            closed = conn.execute(
                sa.update(exceptions)
                .where(exceptions.c.id == exception_id, exceptions.c.state == "open")
                .values(
                    state=state,
                    resolved_at=now,
                    resolved_by=actor,
                    resolution=note,
                )
            ).rowcount
            if not closed:  # closed meanwhile (a job resolved it between the read and here)
                raise SeamlineError(f"exception {exception_id} is no longer open")
            action = "skipped" if state == "skipped" else "resolved"
            _history(conn, exception_id, action, actor, note, now=now)
            audit(
                conn,
                "exception",
                row.business_key,
                action,
                actor,
                {"exception_id": exception_id, "type": row.type, "note": note},
                now=now,
            )
        found = self.get(exception_id)
        assert found is not None
        return found

    def resolve(self, exception_id: int, actor: str, note: str = "") -> ExceptionRecord:
        """Mark an open exception resolved by a person."""
        return self._close(exception_id, "resolved", actor, note)

    def skip(self, exception_id: int, actor: str, note: str = "") -> ExceptionRecord:
        """Mark an open exception skipped (the item will not be processed)."""
        return self._close(exception_id, "skipped", actor, note)

    def retry(
        self,
        exception_id: int,
        *,
        actor: str = "operator",
        enqueue: Callable[[Connection], int | None] | None = None,
    ) -> int | None:
        """Re-queue the failed job linked to the exception (or run ``enqueue`` in the same
        transaction to supply one). The exception stays open until that job succeeds.

        Returns the job id re-queued (None when nothing could be re-queued).
        """
        now = self.clock()
        with self.db.begin() as conn:
            row = conn.execute(sa.select(exceptions).where(exceptions.c.id == exception_id)).first()
            if row is None:
                raise SeamlineError(f"exception {exception_id} does not exist")
            job_id: int | None = None
            if enqueue is not None:
                job_id = enqueue(conn)
            elif row.job_id is not None and requeue_job(conn, int(row.job_id), now=now):
                job_id = int(row.job_id)
            if job_id is None:
                return None
            _history(
                conn,
                exception_id,
                "retried",
                actor,
                f"job {job_id} re-queued",
                detail={"job_id": job_id},
                now=now,
            )
            audit(
                conn,
                "exception",
                row.business_key,
                "retried",
                actor,
                {"exception_id": exception_id, "job_id": job_id},
                now=now,
            )
        return job_id
