"""The store on SQLite and PostgreSQL: migrations match the schema, repositories, connection
errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from seamline.adapters.store.db import Database, json_dumps, json_loads
from seamline.adapters.store.exceptions import raise_exception, scrub
from seamline.adapters.store.repos import (
    audit,
    get_cursor,
    get_ledger,
    get_ledgers,
    merge_ledger_data,
    orders_held,
    set_cursor,
    upsert_ledger,
)
from seamline.adapters.store.schema import audit_log, exceptions, metadata
from seamline.exceptions import StoreError


def test_the_migrations_build_exactly_the_schema_the_code_declares(db: Database) -> None:
    """Alembic's autogenerate comparison finds no difference after upgrading to head."""
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_upgrading_twice_changes_nothing(db: Database) -> None:
    """A second upgrade is a no-op at head."""
    db.upgrade()
    head = db.migration_state()[1]
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                             marks=pytest.mark.postgres)])
def test_migrating_to_the_exception_order_relation_keeps_every_held_order(
    backend: str, request: pytest.FixtureRequest, sqlite_url: str,
) -> None:
    """0003 fills the relation from the orders an open exception listed and from the parked
    ledger rows that name it (an order a lost update dropped from the list is held again), and
    drops the stored list."""
    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("make_pg_database")()
    database = Database(url)
    try:
        database.upgrade("0002")
        when = datetime(2026, 12, 1, tzinfo=UTC)
        with database.begin() as conn:
            listed = raise_exception(conn, type="MAPPING_MISSING", owner="ecommerce",
                                     business_key="mapping:market:6/NOK", message="no market",
                                     details={"kind": "market", "orders": [1038, 1068]},
                                     now=when)
            for number, parks in ((1068, ["mapping:market:6/NOK"]),
                                  (1069, ["mapping:market:6/NOK"]), (1070, [])):
                upsert_ledger(conn, "order", str(number), state="parked",
                              data={"parks": parks}, now=when)
        database.upgrade()
        with database.begin() as conn:
            held = orders_held(conn, [listed])
            details = conn.execute(sa.select(exceptions.c.details)).scalar()
        assert held == {listed: ["1038", "1068", "1069"]}
        assert details == {"kind": "market"}
    finally:
        database.dispose()


def test_the_partial_unique_indexes_exist_in_the_database(db: Database) -> None:
    """Live dedupe keys and open exceptions are unique at the database level."""
    names = {ix["name"] for ix in sa.inspect(db.engine).get_indexes("jobs")}
    names |= {ix["name"] for ix in sa.inspect(db.engine).get_indexes("exceptions")}
    assert {"uq_jobs_dedupe_live", "uq_exceptions_open"} <= names


def test_a_ledger_upsert_bumps_the_version_each_time(db: Database) -> None:
    """Insert at version 1, each update +1; the posted hash stays unless given."""
    with db.begin() as conn:
        first = upsert_ledger(conn, "order", "centra:1:1001", state="new",
                              data={"total": Decimal("99.90")})
    with db.begin() as conn:
        second = upsert_ledger(conn, "order", "centra:1:1001", state="posted",
                               data={"total": "99.90"}, posted_hash="abc")
    with db.begin() as conn:
        third = upsert_ledger(conn, "order", "centra:1:1001", state="confirmed",
                              data={"total": "99.90"})
        found = get_ledger(conn, "order", "centra:1:1001")
    assert (first.version, second.version, third.version) == (1, 2, 3)
    assert first.data == {"total": "99.90"}
    assert third.posted_hash == "abc"
    assert found == third
    assert first.id == third.id


def test_many_entries_are_read_and_merged_in_one_statement_each(db: Database) -> None:
    """``get_ledgers`` finds what exists; ``merge_ledger_data`` sets fields of many rows and
    their state without touching the rest of their data, bumping each version once."""
    with db.begin() as conn:
        for n in ("1", "2", "3"):
            upsert_ledger(conn, "order", n, state="posted",
                          data={"snapshot": {"number": int(n)}, "order_no": f"SO{n}"})
        assert sorted(get_ledgers(conn, "order", ["1", "3", "404"])) == ["1", "3"]
        changed = merge_ledger_data(conn, "order", ["1", "3", "404"],
                                    {"written_back_at": "2026-11-28T10:00:00+00:00"},
                                    state="synced")
    with db.read() as conn:
        rows = get_ledgers(conn, "order", ["1", "2", "3"])
    assert changed == 2
    assert rows["1"].state == rows["3"].state == "synced"
    assert rows["1"].data == {"snapshot": {"number": 1}, "order_no": "SO1",
                              "written_back_at": "2026-11-28T10:00:00+00:00"}
    assert rows["1"].version == 2
    assert rows["2"].state == "posted"
    assert "written_back_at" not in rows["2"].data
    with pytest.raises(ValueError, match="delete"), db.begin() as conn:
        merge_ledger_data(conn, "order", ["1"], {"order_no": None}, state="synced")


def test_cursors_are_stored_and_replaced(db: Database) -> None:
    """A missing cursor is None; set twice, the last value wins."""
    with db.begin() as conn:
        assert get_cursor(conn, "centra.orders.updated_at") is None
        set_cursor(conn, "centra.orders.updated_at", "2026-03-01T00:00:00Z")
        set_cursor(conn, "centra.orders.updated_at", "2026-03-02T00:00:00Z")
    with db.begin() as conn:
        assert get_cursor(conn, "centra.orders.updated_at") == "2026-03-02T00:00:00Z"


def test_the_audit_log_appends_who_did_what(db: Database) -> None:
    """Each call is one row with the actor and the detail."""
    with db.begin() as conn:
        audit(conn, "order", "centra:1:1001", "posted", "worker", {"bc_order": "SO-1"})
        audit(conn, "order", "centra:1:1001", "confirmed", "worker", None)
    with db.begin() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
    assert [(r.action, r.actor, r.detail) for r in rows] == [
        ("posted", "worker", {"bc_order": "SO-1"}), ("confirmed", "worker", None)]
    with db.begin() as conn:  # a bound None is SQL NULL, not the JSON text 'null'
        nulls = conn.exec_driver_sql(
            "SELECT count(*) FROM audit_log WHERE detail IS NULL").scalar()
    assert nulls == 1


def test_exception_payloads_never_keep_secrets(db: Database) -> None:
    """Keys that look like credentials are dropped at any depth before storing."""
    with db.begin() as conn:
        exc_id = raise_exception(
            conn, type="AUTH_FAILED", owner="integrator", business_key="bluecherry",
            message="401", payload={"headers": {"Authorization": "Bearer x", "Accept": "json"},
                                    "api_key": "k", "password": "p", "order": "1"},
        )
        payload = conn.exec_driver_sql(
            f"SELECT payload FROM exceptions WHERE id = {int(exc_id)}").scalar()
    assert "Bearer" not in str(payload)
    assert scrub({"x": [{"client_secret": 1, "y": 2}]}) == {"x": [{"y": 2}]}


def test_json_in_the_store_carries_money_as_strings_and_reads_decimals() -> None:
    """Decimal → string on the way in; any fractional number → Decimal on the way out."""
    assert json_dumps({"amount": Decimal("10.10")}) == '{"amount":"10.10"}'
    assert json_loads('{"rate": 0.1}') == {"rate": Decimal("0.1")}


def test_an_unreachable_postgresql_is_one_actionable_line_without_the_password() -> None:
    """Connection refused names the URL (password masked), the cause and where to fix it."""
    db = Database("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/seamline")
    with pytest.raises(StoreError) as err:
        db.check()
    message = str(err.value)
    assert "\n" not in message
    assert "hunter2" not in message
    assert message.startswith("cannot connect to postgresql+psycopg://postgres:***@127.0.0.1:1/")
    assert "is PostgreSQL running?" in message
    assert "SEAMLINE_DATABASE_URL" in message


def test_a_sqlite_file_in_a_missing_directory_is_one_actionable_line(tmp_path) -> None:
    """The path and the likely cause, on one line."""
    db = Database(f"sqlite:///{tmp_path}/missing/dir/seamline.db")
    with pytest.raises(StoreError) as err:
        db.check()
    assert "\n" not in str(err.value)
    assert "missing/dir/seamline.db" in str(err.value)
    assert "writable" in str(err.value)


def test_a_url_for_an_unsupported_database_is_refused_up_front() -> None:
    """Only SQLite and PostgreSQL are supported."""
    with pytest.raises(StoreError, match="neither sqlite"):
        Database("mysql://root:pw@localhost/x")


def test_a_bare_postgresql_url_uses_psycopg() -> None:
    """postgresql:// means postgresql+psycopg:// (psycopg 3 is the driver we ship)."""
    assert Database("postgresql://u@h/db").url.drivername == "postgresql+psycopg"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    """The embedded default is tuned for one writer and concurrent readers."""
    db = Database(sqlite_url)
    with db.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
