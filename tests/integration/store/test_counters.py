"""The shared counters (API calls for ``/metrics``) add up across flushes and processes, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from seamline.adapters.store.counters import StoreCallCounter, add_counters, read_counters
from seamline.adapters.store.db import Database

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_counters_add_up_over_flushes_and_counter_instances(db: Database) -> None:
    with db.begin() as conn:
        add_counters(conn, {"api:centra:ok": 3, "api:centra:rate_limited": 1}, now=NOW)
        add_counters(conn, {"api:centra:ok": 2}, now=NOW)
    one, two = StoreCallCounter(db, flush_every_s=60), StoreCallCounter(db, flush_every_s=60)
    for _ in range(4):
        one.count("bluecherry", "server_error")
    two.count("bluecherry", "server_error")
    two.count("centra", "ok")
    one.close()
    two.close()
    with db.read() as conn:
        assert read_counters(conn, "api:") == {
            "api:centra:ok": 6, "api:centra:rate_limited": 1, "api:bluecherry:server_error": 5}
        assert read_counters(conn, "api:bluecherry") == {"api:bluecherry:server_error": 5}
