"""The database schema, in SQLAlchemy Core (the Alembic migrations must match it exactly).

Times are stored as UTC. SQLite has no time zone type, so :class:`UtcDateTime` stores naive UTC
there and hands back aware datetimes on both dialects. JSON columns never hold float money:
amounts travel as strings (see :func:`seamline.adapters.store.db.json_dumps`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "ALERT_STATUSES",
    "EXCEPTION_STATES",
    "JOB_STATUSES",
    "UtcDateTime",
    "alert_deliveries",
    "audit_log",
    "counters",
    "cursors",
    "exception_history",
    "exception_orders",
    "exceptions",
    "job_events",
    "jobs",
    "ledger",
    "metadata",
    "payment_documents",
    "payment_invoices",
    "payment_records",
    "rate_buckets",
    "schedule_ticks",
    "stock_ats",
    "stock_demand",
    "stock_levels",
    "webhook_signatures",
]

JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled")
EXCEPTION_STATES = ("open", "resolved", "skipped")
ALERT_STATUSES = ("pending", "sent", "failed", "grouped")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime on every dialect (naive UTC on disk for SQLite)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: A nullable JSON column: Python None is stored as SQL NULL whether it comes as a bound
#: parameter or a literal (plain ``sa.JSON`` would store a bound None as JSON ``null``).
_NULLABLE_JSON = sa.JSON(none_as_null=True)


def _ts(name: str, *, nullable: bool = False, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, UtcDateTime(), nullable=nullable, index=index)


ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("business_key", sa.String(255), nullable=False),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("posted_hash", sa.String(128), nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    sa.UniqueConstraint("kind", "business_key"),
    sa.Index("ix_ledger_kind_state", "kind", "state"),
    # The dashboard's backlog: rows per state with the oldest one, from the index alone.
    sa.Index("ix_ledger_kind_state_updated", "kind", "state", "updated_at"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("task", sa.String(128), nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="todo"),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("dedupe_key", sa.String(255), nullable=True),
    sa.Column("business_key", sa.String(255), nullable=True, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    _ts("run_at"),
    _ts("created_at"),
    _ts("updated_at"),
    sa.Column("lease_token", sa.String(64), nullable=True),
    _ts("lease_expires_at", nullable=True),
    sa.Column("worker_id", sa.String(128), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.CheckConstraint(
        "status IN ('todo', 'doing', 'succeeded', 'failed', 'cancelled')", name="status"
    ),
    # The claim scan: live jobs of a queue in priority/run_at order.
    sa.Index("ix_jobs_claim", "queue", "status", "run_at"),
    # A second enqueue with the same live dedupe key is a no-op.
    sa.Index(
        "uq_jobs_dedupe_live",
        "dedupe_key",
        unique=True,
        sqlite_where=sa.text("status IN ('todo', 'doing')"),
        postgresql_where=sa.text("status IN ('todo', 'doing')"),
    ),
)

# Due work in claim order (priority, then run_at, then id) for one queue: a claim reads the first
# rows of this index instead of sorting every waiting job.
sa.Index("ix_jobs_due", jobs.c.queue, jobs.c.priority.desc(), jobs.c.run_at, jobs.c.id,
         postgresql_where=sa.text("status = 'todo'"), sqlite_where=sa.text("status = 'todo'"))

# The dashboard's overview, per queue: the jobs that ended lately (a range) and the last success
# (the range's end), read from this index alone.
sa.Index("ix_jobs_status_queue_updated", jobs.c.status, jobs.c.queue, jobs.c.updated_at)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Integer, nullable=False, index=True),
    _ts("at"),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker_id", sa.String(128), nullable=True),
    sa.Column("detail", _NULLABLE_JSON, nullable=True),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    _ts("updated_at"),
)

exceptions = sa.Table(
    "exceptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False, server_default="error"),
    sa.Column("business_key", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default="open"),
    sa.Column("count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("details", _NULLABLE_JSON, nullable=True),
    sa.Column("payload", _NULLABLE_JSON, nullable=True),
    sa.Column("job_id", sa.Integer, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    _ts("first_seen"),
    _ts("last_seen"),
    _ts("resolved_at", nullable=True),
    sa.Column("resolved_by", sa.String(128), nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
    sa.CheckConstraint("state IN ('open', 'resolved', 'skipped')", name="state"),
    sa.Index("ix_exceptions_business_key_state", "business_key", "state"),
    sa.Index("ix_exceptions_state_owner", "state", "owner"),
    sa.Index(
        "uq_exceptions_open",
        "type",
        "business_key",
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    ),
)

exception_history = sa.Table(
    "exception_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("exception_id", sa.Integer, nullable=False, index=True),
    _ts("at"),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("detail", _NULLABLE_JSON, nullable=True),
)

#: Which orders an open exception holds (parked on it): one row per (exception, order), written
#: in the transaction that parks or releases the order. A relation, not a list in ``details``, so
#: two workers parking on one exception at once cannot overwrite each other's order.
exception_orders = sa.Table(
    "exception_orders",
    metadata,
    sa.Column("exception_id", sa.Integer, primary_key=True),
    sa.Column("order_key", sa.String(255), primary_key=True),
    _ts("held_since"),
    sa.Index("ix_exception_orders_order_key", "order_key"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _ts("at"),
    sa.Column("entity_kind", sa.String(64), nullable=False),
    sa.Column("business_key", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("detail", _NULLABLE_JSON, nullable=True),
    sa.Index("ix_audit_log_entity", "entity_kind", "business_key"),
)

schedule_ticks = sa.Table(
    "schedule_ticks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("schedule", sa.String(128), nullable=False),
    _ts("tick"),
    sa.Column("job_id", sa.Integer, nullable=True),
    _ts("created_at"),
    sa.UniqueConstraint("schedule", "tick"),
)

rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    # A token count and a monotonic-ish epoch second: not money, so floats are right here.
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

#: Verified webhook signatures, each kept until its tolerance window closes, so a captured
#: request is accepted once (every web process sharing this database sees the same list).
webhook_signatures = sa.Table(
    "webhook_signatures",
    metadata,
    sa.Column("signature", sa.String(64), primary_key=True),
    # Epoch seconds, compared with the webhook's own signed Unix timestamp.
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

#: BlueCherry's available-to-sell as last read, per BlueCherry warehouse and SKU: a Centra
#: warehouse fed by several BlueCherry warehouses sums them, delta reads included.
stock_ats = sa.Table(
    "stock_ats",
    metadata,
    sa.Column("warehouse", sa.String(64), primary_key=True),
    sa.Column("sku", sa.String(128), primary_key=True),
    sa.Column("upc", sa.String(32), nullable=False, server_default=""),
    sa.Column("ats", sa.Integer, nullable=False),
    sa.Column("cycle_id", sa.Integer, nullable=False),
)

#: What each (Centra warehouse, BlueCherry SKU) should hold (``target``) and what Centra last
#: confirmed (``pushed``); a size is pending while they differ.
stock_levels = sa.Table(
    "stock_levels",
    metadata,
    sa.Column("centra_warehouse", sa.Integer, primary_key=True),
    sa.Column("sku", sa.String(128), primary_key=True),
    sa.Column("centra_key", sa.String(128), nullable=False),
    sa.Column("ats", sa.Integer, nullable=False),
    sa.Column("buffer", sa.Integer, nullable=False),
    sa.Column("counted", sa.Integer, nullable=False),
    sa.Column("target", sa.Integer, nullable=False),
    sa.Column("pushed", sa.Integer, nullable=True),
    sa.Column("cycle_id", sa.Integer, nullable=False),
    _ts("published_at", nullable=True),
    _ts("computed_at"),
    _ts("pushed_at", nullable=True),
    sa.Column("unknown", sa.Boolean, nullable=False, server_default=sa.false()),
)

#: Posted web order lines: the units Centra still holds allocated and the units it shipped, with
#: the time BlueCherry created the order (a cycle whose ``as_of`` is at or after it saw them).
stock_demand = sa.Table(
    "stock_demand",
    metadata,
    sa.Column("order_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("warehouse", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(128), nullable=False, index=True),
    sa.Column("units", sa.Integer, nullable=False),
    sa.Column("shipped", sa.Integer, nullable=False, server_default="0"),
    _ts("created_at"),
    _ts("changed_at", index=True),
)


#: Centra captures and refunds (``SUCCESS`` history entries) as the payment batch recorded them;
#: ``document`` is the receipt or memo that carries one (NULL: waiting for a batch).
payment_records = sa.Table(
    "payment_records",
    metadata,
    sa.Column("reference", sa.String(200), primary_key=True),
    sa.Column("order_number", sa.BigInteger, nullable=False, index=True),
    sa.Column("entry_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("market", sa.String(32), nullable=False),
    sa.Column("customer", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.String(32), nullable=False),
    sa.Column("method", sa.String(40), nullable=False),
    _ts("captured_at"),
    sa.Column("business_day", sa.String(10), nullable=False, index=True),
    sa.Column("document", sa.String(200), nullable=True, index=True),
    _ts("recorded_at"),
)

#: Cash receipts and credit memos a payment batch planned, with the payload frozen when planned
#: and BlueCherry's answer once posted.
payment_documents = sa.Table(
    "payment_documents",
    metadata,
    sa.Column("reference", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("business_day", sa.String(10), nullable=False, index=True),
    sa.Column("customer", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.String(32), nullable=False),
    sa.Column("unapplied", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("result", _NULLABLE_JSON, nullable=True),
    sa.Column("orders", sa.JSON, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

#: BlueCherry invoices mirrored from the invoices feed, with the cash Seamline applied to each.
payment_invoices = sa.Table(
    "payment_invoices",
    metadata,
    sa.Column("invoice_no", sa.String(64), primary_key=True),
    sa.Column("order_no", sa.String(64), nullable=False),
    sa.Column("customer_po", sa.String(64), nullable=False, index=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("total", sa.String(32), nullable=False),
    sa.Column("invoice_date", sa.String(10), nullable=False),
    sa.Column("applied", sa.String(32), nullable=False),
)
#: One alert to one destination (migration 0009): sent once per (key, destination).
alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("owner", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    #: The route's URL with its secrets redacted; the hash finds the configured URL again.
    sa.Column("destination", sa.String(512), nullable=False),
    sa.Column("destination_hash", sa.String(64), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    _ts("created_at", index=True),
    _ts("sent_at", nullable=True),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    sa.UniqueConstraint("key", "destination_hash"),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed', 'grouped')", name="status"),
)

#: Monotonic counters every process adds to (migration 0009): API calls per system and
#: outcome (``api:<system>:<outcome>``), read by ``/metrics``.
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False, server_default="0"),
    _ts("updated_at"),
)
