"""The store: ledger, job queue tables, cursors, exceptions, audit — SQLite or PostgreSQL."""

from __future__ import annotations

from seamline.adapters.store.db import Database, json_dumps, json_loads

__all__ = ["Database", "json_dumps", "json_loads"]
