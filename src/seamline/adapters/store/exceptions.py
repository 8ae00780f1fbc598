"""Exceptions in the store: open or count a repeat, resolve, close, the history, and the orders
each exception holds (``exception_orders``).

One open exception per ``(type, business_key)``: raising it again counts a repeat. States go
``open → resolved | skipped``; every change appends to ``exception_history``. Details and payload
snapshots pass through :func:`scrub` before they are stored, so no token, key or password is
ever kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.repos import audit, orders_held, upsert_insert, utcnow
from seamline.adapters.store.schema import exception_history, exceptions
from seamline.domain.exception_records import ExceptionRecord, HistoryEntry
from seamline.exceptions import OWNERS, SeamlineError
from seamline.redaction import is_secret_key

__all__ = [
    "close_exception",
    "get_exception",
    "list_exceptions",
    "note_exception",
    "raise_exception",
    "resolve_for_key",
    "resolve_ids",
    "scrub",
]

REDACTED = "***"


def scrub(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking key dropped (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


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
    fields = {"message": message, "owner": owner, "severity": severity, "attempts": attempts,
              "details": scrub(dict(details)) if details is not None else None,
              "payload": scrub(dict(payload)) if payload is not None else None}
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
                .values(count=exceptions.c.count + 1, last_seen=now,
                        job_id=sa.func.coalesce(job_id, exceptions.c.job_id), **fields)
            ).rowcount
            if not counted:
                continue
            _history(conn, int(existing), "repeated", "system", message, now=now)
            return int(existing)
        insert = (
            upsert_insert(conn)(exceptions)
            .values(type=type, business_key=business_key, state="open", count=1,
                    job_id=job_id, first_seen=now, last_seen=now, **fields)
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


def note_exception(
    conn: Connection, exception_id: int, action: str, actor: str, note: str, *,
    detail: Mapping[str, Any] | None = None, now: datetime,
) -> None:
    """Append one line to an exception's history."""
    _history(conn, exception_id, action, actor, note, detail=detail, now=now)


def get_exception(conn: Connection, exception_id: int) -> ExceptionRecord | None:
    """One exception with its history and the orders it holds, or None."""
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


def list_exceptions(
    conn: Connection, *, state: str | None = "open", owner: str | None = None,
    type: str | None = None, business_key: str | None = None,
    business_keys: Sequence[str] = (), key_prefix: str | None = None, limit: int = 200,
    newest_first: bool = True, with_orders: bool = True,
) -> list[ExceptionRecord]:
    """Exceptions filtered by state, owner, type and business key (``business_key``, any of
    ``business_keys`` or under ``key_prefix``); newest first, or oldest first. Without
    ``with_orders`` the records carry the stored message and no held orders."""
    order = ((exceptions.c.last_seen.desc(), exceptions.c.id.desc()) if newest_first
             else (exceptions.c.id,))
    q = sa.select(exceptions).order_by(*order)
    if state is not None:
        q = q.where(exceptions.c.state == state)
    if owner is not None:
        q = q.where(exceptions.c.owner == owner)
    if type is not None:
        q = q.where(exceptions.c.type == type)
    if business_key is not None:
        q = q.where(exceptions.c.business_key == business_key)
    if business_keys or key_prefix is not None:
        q = q.where(sa.or_(
            exceptions.c.business_key.in_(list(business_keys)),
            exceptions.c.business_key.like(f"{key_prefix}%") if key_prefix is not None
            else sa.false()))
    rows = conn.execute(q.limit(limit)).all()
    held = orders_held(conn, [int(r.id) for r in rows]) if with_orders else {}
    return [ExceptionRecord.from_row(r, orders=held.get(int(r.id), ())) for r in rows]


def close_exception(
    conn: Connection, exception_id: int, *, state: str, actor: str, note: str, now: datetime,
) -> ExceptionRecord:
    """A person resolves or skips an open exception; ``SeamlineError`` when it is not open."""
    row = conn.execute(
        sa.select(exceptions.c.state, exceptions.c.business_key, exceptions.c.type).where(
            exceptions.c.id == exception_id)
    ).first()
    if row is None:
        raise SeamlineError(f"exception {exception_id} does not exist")
    if row.state != "open":
        raise SeamlineError(f"exception {exception_id} is already {row.state}")
    closed = conn.execute(
        sa.update(exceptions)
        .where(exceptions.c.id == exception_id, exceptions.c.state == "open")
        .values(state=state, resolved_at=now, resolved_by=actor, resolution=note)
    ).rowcount
    if not closed:  # closed meanwhile (a job resolved it between the read and here)
        raise SeamlineError(f"exception {exception_id} is no longer open")
    action = "skipped" if state == "skipped" else "resolved"
    _history(conn, exception_id, action, actor, note, now=now)
    audit(conn, "exception", row.business_key, action, actor,
          {"exception_id": exception_id, "type": row.type, "note": note}, now=now)
    found = get_exception(conn, exception_id)
    assert found is not None
    return found
