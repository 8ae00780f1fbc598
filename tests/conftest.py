"""Shared fixtures: a clean ``SEAMLINE_*`` environment, SQLite files and fresh PostgreSQL
databases.

PostgreSQL: 127.0.0.1:5432, user ``postgres``, trust auth (override with ``TEST_PG_ADMIN_URL``).
Each ``pg_url`` is a database created for the test module and dropped after it. Without a
reachable server the PostgreSQL tests skip with the reason, unless ``CI=true``: then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from seamline.adapters.store.db import Database

# pytest-xdist's workers inherit COLUMNS=80 / LINES=24 from their pseudo-terminal, and the CLI
# honours COLUMNS (its consoles read it once, at import): the tests of full-width piped output
# would then see 80 columns. Tests that want a width set it in the command's environment.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _clean_seamline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own SEAMLINE_* settings."""
    for name in list(os.environ):
        if name.startswith("SEAMLINE_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    """A SQLite database file in the test's temporary directory."""
    return f"sqlite:///{os.fspath(tmp_path)}/seamline.db"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on the PostgreSQL server (skips, or fails in CI, if unreachable)."""
    engine = sa.create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = (
            f"PostgreSQL is not reachable at {sa.make_url(PG_ADMIN_URL).render_as_string()} "
            f"({str(exc.orig).splitlines()[0] if exc.orig else exc}); start it to run these tests"
        )
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def make_pg_database(pg_admin: sa.Engine) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases; all are dropped at the end."""
    created: list[str] = []

    def make() -> str:
        name = f"seamline_test_{uuid.uuid4().hex[:12]}"
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False
        )

    yield make
    with pg_admin.connect() as conn:
        for name in created:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_url(make_pg_database: Callable[[], str]) -> str:
    """A fresh PostgreSQL database for this test module."""
    return make_pg_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Database]:
    """A freshly migrated, empty database of each kind (SQLite, then PostgreSQL)."""
    if request.param == "sqlite":
        url = sqlite_url
    else:
        make: Callable[[], str] = request.getfixturevalue("make_pg_database")
        url = make()
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()
