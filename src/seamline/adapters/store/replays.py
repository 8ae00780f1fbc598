"""The webhook replay guard in the store: a verified signature is accepted once, whichever web
process sharing the database receives it."""

from __future__ import annotations

import sqlalchemy as sa

from seamline.adapters.store.db import Database
from seamline.adapters.store.schema import webhook_signatures

__all__ = ["StoreReplayGuard"]


class StoreReplayGuard:
    """Implements ``seamline.adapters.centra.webhooks.ReplayGuard`` on ``webhook_signatures``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, key: str, *, now: float, expires_at: float) -> bool:
        t = webhook_signatures
        with self.db.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.expires_at < now))
            if conn.execute(sa.select(t.c.signature).where(t.c.signature == key)).first():
                return False
            # The primary key settles a race between two processes: the loser's insert fails.
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(t).values(signature=key, expires_at=expires_at))
            except sa.exc.IntegrityError:
                return False
        return True

    def release(self, key: str) -> None:
        t = webhook_signatures
        with self.db.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.signature == key))
