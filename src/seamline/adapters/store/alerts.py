"""Alert deliveries on SQLite and PostgreSQL (table ``alert_deliveries``, migration 0009)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seamline.adapters.store.schema import alert_deliveries as t
from seamline.domain.alerts import Alert, AlertDelivery

__all__ = ["SqlAlerts"]


def _delivery(row: Any) -> AlertDelivery:
    return AlertDelivery(
        id=int(row.id), key=row.key, owner=row.owner, kind=row.kind,
        destination=row.destination, destination_hash=row.destination_hash, title=row.title,
        body=row.body, status=row.status, attempts=int(row.attempts),
        created_at=row.created_at, sent_at=row.sent_at, last_error=row.last_error or "")


class SqlAlerts:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, alert: Alert, destination: str, destination_hash: str, *,
            now: datetime, status: str = "pending") -> int | None:
        exists = self.conn.execute(sa.select(t.c.id).where(
            t.c.key == alert.key, t.c.destination_hash == destination_hash)).first()
        if exists is not None:
            return None
        # Two evaluators racing on one key: the unique constraint lets one insert win.
        stmt: Any
        values = {"key": alert.key, "owner": alert.owner, "kind": alert.kind,
                  "destination": destination[:512], "destination_hash": destination_hash,
                  "title": alert.title, "body": alert.body, "status": status, "attempts": 0,
                  "created_at": now, "last_error": ""}
        if self.conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # noqa: PLC0415
        stmt = insert(t).values(**values).on_conflict_do_nothing().returning(t.c.id)
        new = self.conn.execute(stmt).scalar()
        return None if new is None else int(new)

    def has(self, keys: Iterable[str]) -> set[str]:
        wanted = list(set(keys))
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            found.update(str(k) for k in self.conn.execute(
                sa.select(t.c.key).where(t.c.key.in_(wanted[i:i + 500])).distinct()).scalars())
        return found

    def get(self, delivery_id: int) -> AlertDelivery | None:
        row = self.conn.execute(sa.select(t).where(t.c.id == delivery_id)).first()
        return None if row is None else _delivery(row)

    def attempted(self, delivery_id: int, *, status: str, error: str = "",
                  now: datetime) -> None:
        values: dict[str, Any] = {"status": status, "attempts": t.c.attempts + 1,
                                  "last_error": error[:1000]}
        if status == "sent":
            values["sent_at"] = now
        self.conn.execute(sa.update(t).where(t.c.id == delivery_id).values(**values))

    def recent(self, *, limit: int = 50, owner: str | None = None) -> list[AlertDelivery]:
        q = sa.select(t).order_by(t.c.id.desc()).limit(limit)
        if owner is not None:
            q = q.where(t.c.owner == owner)
        return [_delivery(r) for r in self.conn.execute(q)]

    def counts(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute(sa.select(t.c.kind, t.c.status, sa.func.count())
                                 .group_by(t.c.kind, t.c.status))
        return {(str(k), str(s)): int(n) for k, s, n in rows}
