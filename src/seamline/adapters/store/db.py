"""The database handle: one engine, write transactions, migrations, a connection check.

SQLite is the embedded default: WAL journal, a busy timeout, foreign keys on, and every write
transaction opened with ``BEGIN IMMEDIATE`` so two writers queue on the lock at BEGIN instead of
failing on upgrade mid-transaction (SQLAlchemy's documented pysqlite recipe: turn pysqlite's own
transaction handling off and emit BEGIN from the ``begin`` event). PostgreSQL is reached through
psycopg 3 (``postgresql+psycopg://``; a bare ``postgresql://`` is taken to mean the same).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from seamline.exceptions import StoreError

__all__ = ["DEFAULT_DATABASE_URL", "Database", "json_dumps", "json_loads"]

DEFAULT_DATABASE_URL = "sqlite:///seamline.db"
_MIGRATIONS = Path(__file__).with_name("migrations")
_HINT = "check [store].database_url / SEAMLINE_DATABASE_URL"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Money travels as a string, never as a float.
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: Any) -> str:
    """JSON for the store: ``Decimal`` becomes a string (job args carry amounts as strings)."""
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def json_loads(text: str | bytes) -> Any:
    """JSON from the store: any number with a fraction comes back as ``Decimal``, never float."""
    return json.loads(text, parse_float=Decimal)


def _normalise_url(url: str) -> sa.URL:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            f"database URL {url.rsplit('@', maxsplit=1)[-1]!r} is not a valid URL; {_HINT}"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"database URL {parsed.render_as_string(hide_password=True)} is neither sqlite:// nor "
            f"postgresql+psycopg://; {_HINT}"
        )
    return parsed


#: The errors that mean the database could not be used (unreachable, connection lost or
#: closed), as opposed to a statement's own error (a constraint, a syntax error).
_LOST = (sa.exc.OperationalError, sa.exc.InterfaceError)


class Database:
    """One database (SQLite file or PostgreSQL) and its engine."""

    def __init__(self, url: str = DEFAULT_DATABASE_URL, *, echo: bool = False) -> None:
        self.url = _normalise_url(url)
        self.dialect: Literal["sqlite", "postgresql"] = (
            "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"
        )
        #: Held around every write transaction. On SQLite, one process's threads queue here
        #: for the database's single write lock instead of in SQLite's busy handler, which
        #: sleeps in growing steps and, with a dozen worker threads, spends most of the time
        #: asleep (the order flow ran 5x slower that way). PostgreSQL needs none.
        self.write_lock: AbstractContextManager[Any] = (
            threading.RLock() if self.dialect == "sqlite" else nullcontext()
        )
        if self.dialect == "sqlite":
            self.engine: Engine = sa.create_engine(
                self.url,
                echo=echo,
                json_serializer=json_dumps,
                json_deserializer=json_loads,
                connect_args={"timeout": 30, "check_same_thread": False},
                # Writers queue on ``write_lock`` before they take a connection, so a few
                # connections serve any number of threads (each holds its own page cache).
                pool_size=4,
                max_overflow=8,
            )
            _install_sqlite_recipe(self.engine)
        else:
            self.engine = sa.create_engine(
                self.url,
                echo=echo,
                json_serializer=json_dumps,
                json_deserializer=json_loads,
                pool_size=8,
                max_overflow=16,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 5},
            )

    @property
    def safe_url(self) -> str:
        """The URL with any password masked (safe to print)."""
        return self.url.render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL / in-memory SQLite."""
        if self.dialect != "sqlite" or not self.url.database or self.url.database == ":memory:":
            return None
        return Path(self.url.database).resolve()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        try:
            with self.write_lock, self.engine.begin() as conn:
                yield conn
        except _LOST as exc:
            raise StoreError(self._reason(exc)) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a read transaction (a plain deferred BEGIN on SQLite)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(seamline_sqlite_begin="DEFERRED")
                with conn.begin():
                    yield conn
        except _LOST as exc:
            raise StoreError(self._reason(exc)) from exc

    def connect(self) -> Connection:
        """A bare connection (the caller closes it); ``StoreError`` when none can be had."""
        try:
            return self.engine.connect()
        except _LOST as exc:
            raise StoreError(self._reason(exc)) from exc

    def check(self) -> None:
        """Connect once; raise ``StoreError`` with one actionable line if that fails."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.DBAPIError as exc:
            raise StoreError(self._reason(exc)) from None
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            raise StoreError(f"cannot use database {self.safe_url}: {exc}; {_HINT}") from None

    def _reason(self, exc: BaseException) -> str:
        orig = getattr(exc, "orig", None) or exc
        text = " ".join(str(orig).split())
        if self.url.password:
            text = text.replace(str(self.url.password), "***")
        if self.dialect == "postgresql":
            low = text.lower()
            if "refused" in low:
                why = "connection refused — is PostgreSQL running?"
            elif "does not exist" in low:
                why = f"{_first(text)} — create it (createdb) or fix the name"
            elif "password" in low or "authentication" in low:
                why = f"{_first(text)} — check the user and password in the URL"
            elif "timeout" in low or "timed out" in low:
                why = "connection timed out — is the host reachable?"
            else:
                why = _first(text)
            sep = " " if why.endswith("?") else "; "
            return f"cannot connect to {self.safe_url}: {why}{sep}{_HINT}"
        where = self.sqlite_path or self.url.database
        return (
            f"cannot use SQLite database {where}: {_first(text)} — does the directory exist and "
            f"is it writable? {_HINT}"
        )

    def migration_state(self) -> tuple[str | None, str]:
        """(the database's Alembic revision or None when never migrated, the latest revision)."""
        # Alembic logs its set-up at INFO; reading a revision is not worth a line in the log.
        alembic_log = logging.getLogger("alembic")
        level = alembic_log.level
        alembic_log.setLevel(logging.WARNING)
        try:
            from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - only here
            from alembic.script import ScriptDirectory  # noqa: PLC0415

            head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
            assert head is not None  # the package ships its migrations
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except sa.exc.DBAPIError as exc:
            raise StoreError(self._reason(exc)) from None
        finally:
            alembic_log.setLevel(level)
        return current, head

    def require_latest(self) -> None:
        """Raise ``StoreError`` (one line: run ``seamline db upgrade``) unless migrated to head."""
        current, head = self.migration_state()
        if current == head:
            return
        state = ("has no Seamline tables" if current is None
                 else f"is at revision {current}, not the latest ({head})")
        raise StoreError(f"database {self.safe_url} {state}: run `seamline db upgrade`")

    def upgrade(self, revision: str = "head") -> None:
        """Apply the packaged Alembic migrations up to ``revision``."""
        from alembic import command  # noqa: PLC0415 - Alembic is only needed to migrate
        from alembic.config import Config  # noqa: PLC0415

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.safe_url)
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except sa.exc.DBAPIError as exc:
            raise StoreError(self._reason(exc)) from None

    def dispose(self) -> None:
        """Close every pooled connection (call in a child process after fork)."""
        self.engine.dispose()


def _first(text: str) -> str:
    text = re.sub(r"^\(.*?\)\s*", "", text)
    return text[:200]


def _install_sqlite_recipe(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite; BEGIN is emitted below.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # A bounded 256 KiB page cache per connection (at most 3 MiB over the pool), so memory
        # stays flat however large the file grows; the OS page cache does the rest (a 2 MiB
        # cache cost 15 MB more at 20,000 orders and posted no faster).
        cur.execute("PRAGMA cache_size=-256")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("seamline_sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")
