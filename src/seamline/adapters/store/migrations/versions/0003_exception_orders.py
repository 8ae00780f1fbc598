"""Exceptions: the orders an exception holds, as a relation (one row per exception and order).

Backfills the relation for every open exception from what was known before: the orders each
parked ledger row names in ``parks`` (the ledger is the truth of what is parked, so orders a
lost update dropped from an exception's list are held again) and the orders listed in the
exception's ``details["orders"]``, which is then removed (the relation replaces it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_exceptions = sa.table(
    "exceptions", sa.column("id", sa.Integer), sa.column("business_key", sa.String),
    sa.column("state", sa.String), sa.column("details", sa.JSON(none_as_null=True)),
)
_ledger = sa.table(
    "ledger", sa.column("kind", sa.String), sa.column("business_key", sa.String),
    sa.column("state", sa.String), sa.column("data", sa.JSON),
)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def upgrade() -> None:
    table = op.create_table(
        "exception_orders",
        sa.Column("exception_id", sa.Integer(), nullable=False),
        sa.Column("order_key", sa.String(length=255), nullable=False),
        sa.Column("held_since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exception_id", "order_key", name=op.f("pk_exception_orders")),
    )
    op.create_index(op.f("ix_exception_orders_order_key"), "exception_orders", ["order_key"],
                    unique=False)
    conn = op.get_bind()
    open_by_key: dict[str, list[int]] = {}
    holds: set[tuple[int, str]] = set()
    for exc_id, business_key, raw_details in conn.execute(
            sa.select(_exceptions.c.id, _exceptions.c.business_key, _exceptions.c.details)
            .where(_exceptions.c.state == "open")):
        open_by_key.setdefault(str(business_key), []).append(int(exc_id))
        details = _json(raw_details)
        if isinstance(details, dict) and "orders" in details:
            holds.update((int(exc_id), str(n)) for n in details.pop("orders") or [])
            conn.execute(sa.update(_exceptions).where(_exceptions.c.id == exc_id)
                         .values(details=details))
    for key, raw_data in conn.execute(
            sa.select(_ledger.c.business_key, _ledger.c.data)
            .where(_ledger.c.kind == "order", _ledger.c.state == "parked")):
        data = _json(raw_data) or {}
        for park in data.get("parks", []) if isinstance(data, dict) else []:
            holds.update((exc_id, str(key)) for exc_id in open_by_key.get(str(park), []))
    # SQLite stores naive UTC (the store's UtcDateTime does the same).
    now = datetime.now(UTC).replace(tzinfo=None) if conn.dialect.name == "sqlite" \
        else datetime.now(UTC)
    if holds:
        op.bulk_insert(table, [{"exception_id": e, "order_key": k, "held_since": now}
                               for e, k in sorted(holds)])


def downgrade() -> None:
    op.drop_index(op.f("ix_exception_orders_order_key"), table_name="exception_orders")
    op.drop_table("exception_orders")
