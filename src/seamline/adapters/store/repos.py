"""Small repositories over the store: the per-entity ledger, cursors and the audit log.

Every function takes the caller's ``Connection`` so its writes commit with whatever else the
caller does in that transaction (a ledger change and the job it implies commit together).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.db import json_dumps
from seamline.adapters.store.schema import (
    audit_log,
    cursors,
    exception_orders,
    exceptions,
    jobs,
    ledger,
)
from seamline.clock import utcnow  # re-exported: the store's callers take it from here
from seamline.domain.ledger import KEEP, Hold, LedgerEntry

__all__ = [
    "Hold",
    "LedgerEntry",
    "audit",
    "dialect_insert",
    "get_cursor",
    "get_ledger",
    "get_ledgers",
    "hold_order",
    "lock_name",
    "lock_open_exceptions",
    "merge_ledger_data",
    "open_holds",
    "orders_held",
    "release_held_order",
    "requeue_job",
    "set_cursor",
    "upsert_ledger",
    "utcnow",
]


def upsert_insert(conn: Connection) -> Callable[..., Any]:
    """The dialect's ``insert`` (with ``on_conflict_do_*``) for ``conn``: PostgreSQL or SQLite."""
    return dialect_insert(conn.dialect.name)


def dialect_insert(dialect: str) -> Callable[..., Any]:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

    return sqlite_insert



# Hot-path statements are built once with bound parameters: SQLAlchemy then reuses their
# compiled form and cache key instead of rebuilding both on every call.
_B = sa.bindparam


@functools.cache
def _get_ledger_stmt(for_update: bool) -> sa.Select[Any]:
    q = sa.select(ledger).where(ledger.c.kind == _B("kind"), ledger.c.business_key == _B("key"))
    return q.with_for_update() if for_update else q


def get_ledger(
    conn: Connection, kind: str, key: str, *, for_update: bool = False
) -> LedgerEntry | None:
    """The ledger entry for ``(kind, key)``, or None."""
    stmt = _get_ledger_stmt(for_update and conn.dialect.name == "postgresql")
    row = conn.execute(stmt, {"kind": kind, "key": key}).first()
    return LedgerEntry.from_row(row) if row is not None else None


@functools.cache
def _get_ledgers_stmt(for_update: bool) -> sa.Select[Any]:
    # In id order: concurrent transactions locking overlapping sets lock them in one order.
    q = (sa.select(ledger).where(ledger.c.kind == _B("kind"),
                                 ledger.c.business_key.in_(_B("keys", expanding=True)))
         .order_by(ledger.c.id))
    return q.with_for_update() if for_update else q


def get_ledgers(
    conn: Connection, kind: str, keys: Iterable[str], *, for_update: bool = False
) -> dict[str, LedgerEntry]:
    """The ledger entries for many keys of one kind, by key (absent keys are missing)."""
    keys = list(keys)
    if not keys:
        return {}
    stmt = _get_ledgers_stmt(for_update and conn.dialect.name == "postgresql")
    rows = conn.execute(stmt, {"kind": kind, "keys": keys})
    return {e.business_key: e for e in map(LedgerEntry.from_row, rows)}


_KEEP: Any = KEEP

@functools.cache
def _upsert_ledger_stmt(dialect: str, set_hash: bool) -> Any:
    insert = dialect_insert(dialect)
    stmt = insert(ledger).values(
        kind=_B("kind"), business_key=_B("key"), version=1, created_at=_B("now"),
        state=_B("state"), data=_B("data"), updated_at=_B("now"),
        posted_hash=_B("posted_hash") if set_hash else None,
    )
    set_: dict[str, Any] = {"state": stmt.excluded.state, "data": stmt.excluded.data,
                            "updated_at": stmt.excluded.updated_at,
                            "version": ledger.c.version + 1}
    if set_hash:
        set_["posted_hash"] = stmt.excluded.posted_hash
    return stmt.on_conflict_do_update(
        index_elements=[ledger.c.kind, ledger.c.business_key], set_=set_,
    ).returning(*ledger.c)


def upsert_ledger(
    conn: Connection,
    kind: str,
    key: str,
    *,
    state: str,
    data: Mapping[str, Any],
    posted_hash: str | object | None = _KEEP,
    now: datetime | None = None,
) -> LedgerEntry:
    """Insert or update the entry for ``(kind, key)``; every update bumps ``version`` by one.

    ``posted_hash`` is left as it is unless given (pass None to clear it).
    """
    now = now or utcnow()
    set_hash = posted_hash is not _KEEP
    params: dict[str, Any] = {"kind": kind, "key": key, "now": now, "state": state,
                              "data": dict(data)}
    if set_hash:
        params["posted_hash"] = posted_hash
    row = conn.execute(_upsert_ledger_stmt(conn.dialect.name, set_hash), params).one()
    return LedgerEntry.from_row(row)


_GET_CURSOR = sa.select(cursors.c.value).where(cursors.c.name == _B("name"))


@functools.cache
def _merge_ledger_stmt(dialect: str) -> sa.Update:
    patch = sa.bindparam("patch", type_=sa.String)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB  # noqa: PLC0415

        merged: Any = sa.cast(
            sa.cast(ledger.c.data, JSONB).op("||")(sa.cast(patch, JSONB)), sa.JSON)
    else:
        merged = sa.func.json_patch(ledger.c.data, patch)
    return (
        sa.update(ledger)
        .where(ledger.c.kind == _B("b_kind"),
               ledger.c.business_key.in_(_B("b_keys", expanding=True)))
        .values(data=merged, state=_B("new_state"), version=ledger.c.version + 1,
                updated_at=_B("now"))
    )


def merge_ledger_data(
    conn: Connection, kind: str, keys: Iterable[str], patch: Mapping[str, Any], *,
    state: str, now: datetime | None = None,
) -> int:
    """Set top-level ``patch`` fields in the ``data`` of many entries and move them to
    ``state``, in one statement and without reading them (each update bumps ``version``).
    ``patch`` values are scalars: not None (a JSON merge patch deletes a key given null), not
    objects or lists (SQLite's ``json_patch`` merges those deeply, PostgreSQL's ``||`` does
    not)."""
    keys = list(keys)
    if not keys:
        return 0
    if any(v is None for v in patch.values()):
        raise ValueError("merge_ledger_data: a None value would delete the key")
    if any(isinstance(v, Mapping | list | tuple) for v in patch.values()):
        raise ValueError("merge_ledger_data: values must be scalars")
    params = {"b_kind": kind, "b_keys": keys, "patch": json_dumps(dict(patch)),
              "new_state": state,
              "now": now or utcnow()}
    return int(conn.execute(_merge_ledger_stmt(conn.dialect.name), params).rowcount)


def get_cursor(conn: Connection, name: str) -> str | None:
    """The stored value of cursor ``name``, or None."""
    value = conn.execute(_GET_CURSOR, {"name": name}).scalar()
    return None if value is None else str(value)


def set_cursor(conn: Connection, name: str, value: str, *, now: datetime | None = None) -> None:
    """Store ``value`` as cursor ``name`` (insert or replace, in one statement: two writers of
    a new cursor cannot both insert it). A caller that compares before it writes (a cursor
    that only moves forward) holds ``lock_name(conn, name)`` around the read and the write."""
    now = now or utcnow()
    stmt = upsert_insert(conn)(cursors).values(name=name, value=value, updated_at=now)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[cursors.c.name],
        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}))


def audit(  # noqa: PLR0917 - the documented call shape is positional
    conn: Connection,
    kind: str,
    key: str,
    action: str,
    actor: str,
    detail: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Append one line to the audit log (never updated, never deleted)."""
    conn.execute(_AUDIT, {
        "at": now or utcnow(), "entity_kind": kind, "business_key": key, "action": action,
        "actor": actor, "detail": dict(detail) if detail is not None else None,
    })


_AUDIT = sa.insert(audit_log)


def requeue_job(conn: Connection, job_id: int, *, now: datetime | None = None) -> bool:
    """Put a failed or cancelled job back to ``todo`` with its attempts reset.

    Returns False when the job is not failed/cancelled, or when a live job with the same dedupe
    key already exists (that job will do the work).
    """
    now = now or utcnow()
    row = conn.execute(
        sa.select(jobs.c.status, jobs.c.dedupe_key).where(jobs.c.id == job_id)
    ).first()
    if row is None or row.status not in ("failed", "cancelled"):
        return False
    if row.dedupe_key is not None:
        live = conn.execute(
            sa.select(jobs.c.id).where(
                jobs.c.dedupe_key == row.dedupe_key, jobs.c.status.in_(("todo", "doing"))
            )
        ).first()
        if live is not None:
            return False
    conn.execute(
        sa.update(jobs)
        .where(jobs.c.id == job_id)
        .values(
            status="todo",
            attempts=0,
            run_at=now,
            updated_at=now,
            lease_token=None,
            lease_expires_at=None,
            worker_id=None,
        )
    )
    return True


# -- the orders an exception holds -----------------------------------------------------------
#
# Parking writes one row per (exception, order) and releasing deletes it, each in the
# transaction that changes the order's ledger row: two workers parking on one exception at once
# insert two rows (no read-modify-write of a shared list). Whoever decides "this exception holds
# no order any more" locks the open exception rows first (``FOR UPDATE`` on PostgreSQL, in
# business-key order; SQLite serialises writers at ``BEGIN IMMEDIATE``), and a parker holds the
# same row lock from its count increment until it commits, so the emptiness check always sees a
# concurrent park.


def lock_open_exceptions(
    conn: Connection, business_keys: Iterable[str] | None, *,
    types: Iterable[str] | None = None,
) -> list[tuple[int, str, str]]:
    """Lock the open exceptions for ``business_keys`` (None: any key; optionally only
    ``types``), in business key order; returns ``(id, type, business_key)`` of each."""
    q = (sa.select(exceptions.c.id, exceptions.c.type, exceptions.c.business_key)
         .where(exceptions.c.state == "open")
         .order_by(exceptions.c.business_key, exceptions.c.id))
    if business_keys is not None:
        keys = sorted(set(business_keys))
        if not keys:
            return []
        q = q.where(exceptions.c.business_key.in_(keys))
    if types is not None:
        q = q.where(exceptions.c.type.in_(list(types)))
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(of=exceptions)
    return [(int(i), str(t), str(k)) for i, t, k in conn.execute(q)]


def hold_order(
    conn: Connection, exception_id: int, order_key: str, *, now: datetime | None = None,
) -> bool:
    """Record that exception ``exception_id`` holds order ``order_key`` (a repeat is a no-op);
    True when the row is new."""
    stmt = (upsert_insert(conn)(exception_orders)
            .values(exception_id=exception_id, order_key=order_key,
                    held_since=now or utcnow())
            .on_conflict_do_nothing()
            .returning(exception_orders.c.exception_id))
    # RETURNING, not rowcount: psycopg reports a skipped conflicting row as a row.
    return conn.execute(stmt).first() is not None


def release_held_order(
    conn: Connection, order_key: str, *, keep: Iterable[int] = (),
) -> list[int]:
    """Take order ``order_key`` off every exception that holds it (except ``keep``).

    The open exceptions it leaves are locked first; returns the ids of those that now hold no
    order at all (the caller decides whether that resolves them).
    """
    kept = set(keep)
    held = conn.execute(
        sa.select(exception_orders.c.exception_id, exceptions.c.business_key,
                  exceptions.c.state)
        .join(exceptions, exceptions.c.id == exception_orders.c.exception_id)
        .where(exception_orders.c.order_key == order_key)
    ).all()
    leaving = [(int(i), str(k), str(st)) for i, k, st in held if int(i) not in kept]
    if not leaving:
        return []
    locked = lock_open_exceptions(conn, [k for _, k, st in leaving if st == "open"])
    open_ids = {i for i, _, _ in locked} & {i for i, _, _ in leaving}
    conn.execute(sa.delete(exception_orders).where(
        exception_orders.c.order_key == order_key,
        exception_orders.c.exception_id.in_([i for i, _, _ in leaving])))
    if not open_ids:
        return []
    still = set(conn.execute(
        sa.select(exception_orders.c.exception_id).distinct()
        .where(exception_orders.c.exception_id.in_(sorted(open_ids)))).scalars())
    return sorted(open_ids - {int(i) for i in still})


def orders_held(conn: Connection, exception_ids: Iterable[int]) -> dict[int, list[str]]:
    """The orders each exception holds (keys in ``order_key`` order; absent ids hold none)."""
    ids = sorted(set(exception_ids))
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    rows = conn.execute(
        sa.select(exception_orders.c.exception_id, exception_orders.c.order_key)
        .where(exception_orders.c.exception_id.in_(ids))
        .order_by(exception_orders.c.exception_id, exception_orders.c.order_key))
    for exc_id, key in rows:
        out.setdefault(int(exc_id), []).append(str(key))
    return out


def open_holds(conn: Connection, *, types: Iterable[str] | None = None) -> list[Hold]:
    """Every (open exception, order) hold, optionally only for exceptions of ``types``."""
    q = (sa.select(exceptions.c.id, exceptions.c.type, exceptions.c.business_key,
                   exception_orders.c.order_key)
         .join(exceptions, exceptions.c.id == exception_orders.c.exception_id)
         .where(exceptions.c.state == "open")
         .order_by(exceptions.c.business_key, exception_orders.c.order_key))
    if types is not None:
        q = q.where(exceptions.c.type.in_(list(types)))
    return [Hold(int(i), str(t), str(k), str(o)) for i, t, k, o in conn.execute(q)]


def lock_name(conn: Connection, name: str) -> None:
    """Serialise the transactions that take the lock ``name`` until this one ends.

    PostgreSQL: a transaction-scoped advisory lock keyed by a stable hash of the name. SQLite
    needs none: write transactions run one at a time (``BEGIN IMMEDIATE``).
    """
    if conn.dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
        int.from_bytes(digest, "big", signed=True))))
